/** scripts/release.ts: the zip and tar.gz writers, SHA256SUMS, the release layout (on small fake binaries). */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RELEASE_TARGETS } from "../../scripts/build.ts";
import { type ArchiveMember, archiveMembers, sha256File, sha256sums, ustarHeader, writeRelease, writeTarGz, writeZip } from "../../scripts/release.ts";
import { readTarGz, readZip } from "./archives.ts";

const repoRoot = path.resolve(import.meta.dir, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "kit-release-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

function members(): ArchiveMember[] {
  const dir = mkdtempSync(path.join(tmp, "src-"));
  const bin = path.join(dir, "kit");
  // larger than one read chunk and not a multiple of 512, so padding and chunking are exercised
  const big = new Uint8Array(3 * 1024 * 1024 + 77);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 9)) & 0xff;
  writeFileSync(bin, big);
  writeFileSync(path.join(dir, "README.md"), "# readme\n");
  writeFileSync(path.join(dir, "LICENSE"), "");
  return [
    { name: "kit", mode: 0o755, source: bin },
    { name: "README.md", mode: 0o644, source: path.join(dir, "README.md") },
    { name: "LICENSE", mode: 0o644, source: path.join(dir, "LICENSE") },
  ];
}

const when = new Date("2024-05-06T07:08:10Z");

describe("ustarHeader", () => {
  test("fields, owner root and a valid checksum", () => {
    const h = ustarHeader("kit", 0o755, 1234, 1700000000);
    const str = (off: number, len: number) => new TextDecoder().decode(h.subarray(off, off + len));
    expect(str(0, 4)).toBe("kit\0");
    expect(str(100, 8)).toBe("0000755\0");
    expect(str(108, 8)).toBe("0000000\0");
    expect(str(116, 8)).toBe("0000000\0");
    expect(str(124, 12)).toBe("00000002322\0");
    expect(str(136, 12)).toBe((1700000000).toString(8).padStart(11, "0") + "\0");
    expect(str(156, 1)).toBe("0");
    expect(str(257, 8)).toBe("ustar\x0000");
    expect(str(265, 5)).toBe("root\0");
    expect(str(297, 5)).toBe("root\0");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    expect(str(148, 8)).toBe(sum.toString(8).padStart(6, "0") + "\0 ");
  });

  test("names over 100 bytes and sizes of 8 GiB are refused (release members are neither)", () => {
    expect(() => ustarHeader("x".repeat(101), 0o644, 0, 0)).toThrow("tar member name too long");
    expect(() => ustarHeader("big", 0o644, 8 ** 11, 0)).toThrow("tar member too large for ustar: big");
  });
});

describe("writeTarGz", () => {
  test("members, modes, owner and times; GNU tar agrees", async () => {
    const ms = members();
    const out = path.join(tmp, "a.tar.gz");
    await writeTarGz(out, ms, when);
    const got = await readTarGz(out);
    expect([...got.keys()]).toEqual(["kit", "README.md", "LICENSE"]);
    for (const m of ms) {
      const e = got.get(m.name)!;
      expect(e.mode).toBe(m.mode);
      expect([e.uid, e.gid, e.typeflag, e.mtime]).toEqual([0, 0, "0", when.getTime() / 1000]);
      expect(e.sha256).toBe(sha(readFileSync(m.source)));
    }
    const tar = spawnSync("tar", ["-tvzf", out], { encoding: "utf8" });
    if (tar.status === 0) {
      expect(tar.stdout.split("\n").filter(Boolean).map((l) => l.split(/\s+/).slice(0, 3).concat(l.split(/\s+/).at(-1)!))).toEqual([
        ["-rwxr-xr-x", "root/root", String(3 * 1024 * 1024 + 77), "kit"],
        ["-rw-r--r--", "root/root", "9", "README.md"],
        ["-rw-r--r--", "root/root", "0", "LICENSE"],
      ]);
    }
  });

  test("the same inputs give the same bytes", async () => {
    const ms = members();
    await writeTarGz(path.join(tmp, "r1.tar.gz"), ms, when);
    await writeTarGz(path.join(tmp, "r2.tar.gz"), ms, when);
    expect(await sha256File(path.join(tmp, "r1.tar.gz"))).toBe(await sha256File(path.join(tmp, "r2.tar.gz")));
  });

  test("a missing source fails and leaves no archive", async () => {
    const out = path.join(tmp, "missing.tar.gz");
    await expect(writeTarGz(out, [{ name: "kit", mode: 0o755, source: path.join(tmp, "nope") }], when)).rejects.toThrow("ENOENT");
    expect(readdirSync(tmp).filter((f) => f.startsWith("missing.tar.gz"))).toEqual([]);
  });
});

describe("writeZip", () => {
  test("Unix modes in the external attributes, dates, contents", async () => {
    const ms = members();
    const out = path.join(tmp, "a.zip");
    await writeZip(out, ms, when);
    const got = await readZip(out);
    expect([...got.keys()]).toEqual(["kit", "README.md", "LICENSE"]);
    for (const m of ms) {
      const e = got.get(m.name)!;
      expect(e.unixMode).toBe(0o100000 | m.mode);
      expect(e.external >>> 16).toBe(0o100000 | m.mode);
      expect(e.date.getTime()).toBe(when.getTime());
      expect(e.sha256).toBe(sha(readFileSync(m.source)));
    }
    // Info-ZIP's view: made on Unix, the binary executable
    const zi = spawnSync("zipinfo", [out], { encoding: "utf8" });
    if (zi.status === 0) {
      const lines = zi.stdout.split("\n").filter((l) => /^[-d]r/.test(l));
      expect(lines.map((l) => [l.split(/\s+/)[0], l.split(/\s+/)[2], l.split(/\s+/).at(-1)])).toEqual([
        ["-rwxr-xr-x", "unx", "kit"],
        ["-rw-r--r--", "unx", "README.md"],
        ["-rw-r--r--", "unx", "LICENSE"],
      ]);
    }
  });
});

describe("SHA256SUMS", () => {
  test("sha256sum format, sorted by file name", () => {
    const text = sha256sums([
      { file: "/x/kitops-windows-x64.zip", size: 1, sha256: "b".repeat(64) },
      { file: "/x/kitops-darwin-arm64.zip", size: 1, sha256: "a".repeat(64) },
      { file: "/x/kitops-linux-x64.tar.gz", size: 1, sha256: "c".repeat(64) },
      { file: "/x/install.sh", size: 1, sha256: "d".repeat(64) },
    ]);
    expect(text).toBe(`${"d".repeat(64)}  install.sh\n${"a".repeat(64)}  kitops-darwin-arm64.zip\n${"c".repeat(64)}  kitops-linux-x64.tar.gz\n${"b".repeat(64)}  kitops-windows-x64.zip\n`);
  });
});

describe("writeRelease", () => {
  /** Tiny files with each target's magic bytes stand in for the binaries. */
  function fakeDist(): string {
    const dist = mkdtempSync(path.join(tmp, "dist-"));
    for (const t of RELEASE_TARGETS) {
      const b = new Uint8Array(600);
      const dv = new DataView(b.buffer);
      if (t.format.startsWith("elf")) {
        b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
        dv.setUint16(18, t.format === "elf-x86-64" ? 0x3e : 0xb7, true);
      } else if (t.format === "macho-arm64") {
        dv.setUint32(0, 0xfeedfacf, true);
        dv.setUint32(4, 0x0100000c, true);
      } else {
        b.set([0x4d, 0x5a]);
        dv.setUint32(0x3c, 0x80, true);
        b.set([0x50, 0x45, 0, 0], 0x80);
        dv.setUint16(0x84, 0x8664, true);
        dv.setUint16(0x98, 0x20b, true);
      }
      b.set(new TextEncoder().encode(t.name), 300);
      mkdirSync(path.join(dist, t.name));
      writeFileSync(path.join(dist, t.name, t.binaryName), b);
    }
    return dist;
  }

  test("a zip per target, a tar.gz per Linux target, the install scripts, SHA256SUMS over all of them", async () => {
    const dist = fakeDist();
    const prev = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = "1700000000";
    try {
      const archives = await writeRelease({ distDir: dist });
      const names = readdirSync(path.join(dist, "release")).sort();
      expect(names).toEqual([
        "SHA256SUMS",
        "kitops-darwin-arm64.zip",
        "kitops-linux-arm64.tar.gz",
        "kitops-linux-arm64.zip",
        "kitops-linux-x64.tar.gz",
        "kitops-linux-x64.zip",
        "kitops-windows-x64.zip",
        "install.ps1",
        "install.sh",
      ].sort());
      expect(archives.map((a) => ("target" in a ? `${a.target} ${a.kind}` : path.basename(a.file)))).toEqual([
        "linux-x64 zip",
        "linux-x64 tar.gz",
        "linux-arm64 zip",
        "linux-arm64 tar.gz",
        "darwin-arm64 zip",
        "windows-x64 zip",
        "install.sh",
        "install.ps1",
      ]);
      for (const [name, mode] of [["install.sh", 0o755], ["install.ps1", 0o644]] as const) {
        expect(readFileSync(path.join(dist, "release", name))).toEqual(readFileSync(path.join(repoRoot, "scripts", name)));
        expect(statSync(path.join(dist, "release", name)).mode & 0o777).toBe(mode);
      }
      const sums = readFileSync(path.join(dist, "release", "SHA256SUMS"), "utf8");
      const lines = sums.trimEnd().split("\n");
      expect(lines.map((l) => l.slice(66))).toEqual(names.filter((n) => n !== "SHA256SUMS"));
      for (const l of lines) {
        const [hex, name] = l.split("  ");
        expect(hex).toBe(sha(readFileSync(path.join(dist, "release", name!))));
      }
      const win = await readZip(path.join(dist, "release", "kitops-windows-x64.zip"));
      expect([...win.keys()]).toEqual(["kit.exe", "README.md", "LICENSE"]);
      expect(win.get("README.md")!.bytes).toEqual(new Uint8Array(readFileSync(path.join(repoRoot, "README.md"))));
      expect(win.get("LICENSE")!.bytes).toEqual(new Uint8Array(readFileSync(path.join(repoRoot, "LICENSE"))));
      expect(win.get("kit.exe")!.date.getTime()).toBe(1700000000 * 1000);
      const arm = await readTarGz(path.join(dist, "release", "kitops-linux-arm64.tar.gz"));
      expect(new TextDecoder().decode(arm.get("kit")!.bytes!.subarray(300, 311))).toBe("linux-arm64");

      // stale archives are replaced, and the same binaries give the same archives
      writeFileSync(path.join(dist, "release", "kitops-old.zip"), "old");
      const again = await writeRelease({ distDir: dist });
      expect(readdirSync(path.join(dist, "release")).sort()).toEqual(names);
      expect(again.map((a) => a.sha256)).toEqual(archives.map((a) => a.sha256));
      expect(statSync(path.join(dist, "release", "SHA256SUMS")).size).toBe(sums.length);
    } finally {
      if (prev === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = prev;
    }
  });

  test("a binary of the wrong format or a missing one is refused", async () => {
    const dist = fakeDist();
    const good = readFileSync(path.join(dist, "darwin-arm64", "kit"));
    writeFileSync(path.join(dist, "darwin-arm64", "kit"), readFileSync(path.join(dist, "linux-x64", "kit")));
    await expect(writeRelease({ distDir: dist })).rejects.toThrow(
      `Wrong executable format for ${path.join(dist, "darwin-arm64", "kit")}: found elf-x86-64, expected macho-arm64`,
    );
    writeFileSync(path.join(dist, "darwin-arm64", "kit"), good);
    rmSync(path.join(dist, "windows-x64", "kit.exe"));
    await expect(writeRelease({ distDir: dist })).rejects.toThrow(`${path.join(dist, "windows-x64", "kit.exe")} is missing: run bun scripts/build.ts --all`);
  });

  test("archiveMembers: the binary 0755, README.md and LICENSE 0644", () => {
    expect(archiveMembers("/d/windows-x64/kit.exe", "/repo")).toEqual([
      { name: "kit.exe", mode: 0o755, source: "/d/windows-x64/kit.exe" },
      { name: "README.md", mode: 0o644, source: "/repo/README.md" },
      { name: "LICENSE", mode: 0o644, source: "/repo/LICENSE" },
    ]);
  });
});
