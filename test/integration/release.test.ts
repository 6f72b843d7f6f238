/**
 * The release build end to end: a clean clone of this repository (committed files only) with the
 * installed node_modules, network cut off (`unshare -n` when this user may), Bun's runtime cache
 * empty, runs `bun scripts/build.ts --all` ONCE per test run (test/helpers/release-build.ts);
 * every assertion below reuses its outputs.
 * Then: the four binaries and their formats, the archives read back (zip.js, the project's tar
 * reader), SHA256SUMS, and each Linux binary taken out of its archive (linux-arm64 under
 * qemu-user-static) running `kit version`, a pack/unpack round trip and the init container script.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { RELEASE_TARGETS, binaryFormatOf } from "../../scripts/build.ts";
import { sha256File } from "../../scripts/release.ts";
import { readTarGz, readZip } from "../release/archives.ts";
import { repoRoot, runKit } from "../helpers/kit.ts";
import { RELEASE_BUILD_TIMEOUT_MS, type ReleaseBuild, releaseBuild } from "../helpers/release-build.ts";

const pkgVersion = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;

let work = "";
let clone = "";
let build: ReleaseBuild;
const release = () => path.join(clone, "dist", "release");

beforeAll(async () => {
  build = await releaseBuild();
  ({ work, clone } = build);
}, RELEASE_BUILD_TIMEOUT_MS + 60_000);

/** Whether `needle` occurs in the file (streamed, chunks overlap by the needle's length). */
function fileContains(file: string, needle: string): boolean {
  const n = Buffer.from(needle);
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    let carry = Buffer.alloc(0);
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) return false;
      const hay = Buffer.concat([carry, buf.subarray(0, got)]);
      if (hay.includes(n)) return true;
      carry = hay.subarray(Math.max(0, hay.length - n.length + 1));
    }
  } finally {
    closeSync(fd);
  }
}

/** The Mach-O load command types of a 64-bit Mach-O file. */
function machoLoadCommands(file: string): number[] {
  const fd = openSync(file, "r");
  try {
    const h = Buffer.alloc(32);
    readSync(fd, h, 0, 32, 0);
    const ncmds = h.readUInt32LE(16);
    const sizeofcmds = h.readUInt32LE(20);
    const cmds = Buffer.alloc(sizeofcmds);
    readSync(fd, cmds, 0, sizeofcmds, 32);
    const out: number[] = [];
    for (let i = 0, off = 0; i < ncmds; i++) {
      out.push(cmds.readUInt32LE(off));
      off += cmds.readUInt32LE(off + 4);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

describe("bun scripts/build.ts --all (one build for the test run)", () => {
  test("succeeds offline and reports every binary and archive", () => {
    if (build.code !== 0) console.error(build.stdout, build.stderr);
    expect(build.code).toBe(0);
    const lines = build.stdout.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("built ")).map((l) => l.split(" ")[1])).toEqual([
      "dist/linux-x64/kit",
      "dist/linux-arm64/kit",
      "dist/darwin-arm64/kit",
      "dist/windows-x64/kit.exe",
    ]);
    expect(lines.filter((l) => l.startsWith("wrote ")).map((l) => l.split(" ")[1])).toEqual([
      "dist/release/kitops-linux-x64.zip",
      "dist/release/kitops-linux-x64.tar.gz",
      "dist/release/kitops-linux-arm64.zip",
      "dist/release/kitops-linux-arm64.tar.gz",
      "dist/release/kitops-darwin-arm64.zip",
      "dist/release/kitops-windows-x64.zip",
      "dist/release/install.sh",
      "dist/release/install.ps1",
    ]);
    for (const t of RELEASE_TARGETS) expect(build.stdout).toContain(`(${t.bunTarget}, llama.cpp ${t.llamaFolder}, `);
  });

  test("each binary has its platform's format and carries its platform's llama.cpp files (named in the index of the compressed set)", () => {
    for (const t of RELEASE_TARGETS) {
      const bin = path.join(clone, "dist", t.name, t.binaryName);
      expect(binaryFormatOf(bin)).toBe(t.format);
      expect(fileContains(bin, `nlc/bins/${t.llamaFolder}/llama-addon.node`)).toBe(true);
      for (const other of RELEASE_TARGETS.filter((o) => o !== t)) {
        expect(fileContains(bin, `nlc/bins/${other.llamaFolder}/llama-addon.node`)).toBe(false);
      }
    }
  });

  test("the macOS binary is code-signed (ad hoc; Apple silicon runs nothing unsigned)", () => {
    const LC_CODE_SIGNATURE = 0x1d;
    expect(machoLoadCommands(path.join(clone, "dist", "darwin-arm64", "kit"))).toContain(LC_CODE_SIGNATURE);
  });
});

describe("release archives", () => {
  const releaseFiles = [
    "install.ps1",
    "install.sh",
    "kitops-darwin-arm64.zip",
    "kitops-linux-arm64.tar.gz",
    "kitops-linux-arm64.zip",
    "kitops-linux-x64.tar.gz",
    "kitops-linux-x64.zip",
    "kitops-windows-x64.zip",
  ];

  test("dist/release holds the six archives, the install scripts and SHA256SUMS", () => {
    expect(readdirSync(release()).sort()).toEqual(["SHA256SUMS", ...releaseFiles]);
  });

  test("SHA256SUMS lists every file with its SHA-256, in sha256sum format", async () => {
    const text = readFileSync(path.join(release(), "SHA256SUMS"), "utf8");
    const lines = text.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => l.split("  ")[1])).toEqual(releaseFiles);
    for (const l of lines) {
      const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(l);
      expect(m, l).not.toBeNull();
      expect(await sha256File(path.join(release(), m![2]!))).toBe(m![1]!);
    }
    const check = spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: release(), encoding: "utf8" });
    if (check.error === undefined) {
      expect(check.status).toBe(0);
      expect(check.stdout).toBe(releaseFiles.map((n) => `${n}: OK\n`).join(""));
    }
  });

  for (const t of RELEASE_TARGETS) {
    test(`kitops-${t.name}.zip: ${t.binaryName} (0755), README.md and LICENSE (0644)`, async () => {
      const zip = await readZip(path.join(release(), `kitops-${t.name}.zip`));
      expect([...zip.keys()]).toEqual([t.binaryName, "README.md", "LICENSE"]);
      const bin = zip.get(t.binaryName)!;
      expect(bin.unixMode).toBe(0o100755);
      expect(bin.external >>> 16).toBe(0o100755);
      expect(bin.sha256).toBe(await sha256File(path.join(clone, "dist", t.name, t.binaryName)));
      for (const f of ["README.md", "LICENSE"]) {
        expect(zip.get(f)!.unixMode).toBe(0o100644);
        expect(zip.get(f)!.bytes).toEqual(new Uint8Array(readFileSync(path.join(clone, f))));
      }
    });
  }

  for (const t of RELEASE_TARGETS.filter((x) => x.os === "linux")) {
    test(`kitops-${t.name}.tar.gz: kit (0755, root), README.md and LICENSE (0644)`, async () => {
      const tar = await readTarGz(path.join(release(), `kitops-${t.name}.tar.gz`));
      expect([...tar.keys()]).toEqual(["kit", "README.md", "LICENSE"]);
      expect([tar.get("kit")!.mode, tar.get("kit")!.uid, tar.get("kit")!.gid, tar.get("kit")!.typeflag]).toEqual([0o755, 0, 0, "0"]);
      expect(tar.get("kit")!.sha256).toBe(await sha256File(path.join(clone, "dist", t.name, "kit")));
      expect(tar.get("LICENSE")!.mode).toBe(0o644);
      expect(tar.get("LICENSE")!.bytes).toEqual(new Uint8Array(readFileSync(path.join(clone, "LICENSE"))));
      expect(tar.get("README.md")!.mode).toBe(0o644);
    });
  }

  test("LICENSE is the Apache License 2.0", () => {
    const text = readFileSync(path.join(clone, "LICENSE"), "utf8");
    expect(text).toContain("Apache License\n                           Version 2.0, January 2004");
    expect(text).toContain("END OF TERMS AND CONDITIONS");
  });
});

/**
 * How a Linux binary runs here: directly on its own architecture; linux-arm64 on an x86-64 host
 * under Debian's qemu-user-static, which loads the binary with the multiarch arm64 loader and
 * libraries (`libc6:arm64`, `libstdc++6:arm64`; .ci/run installs them). binfmt_misc is often not
 * active in a container, so qemu is named explicitly, through a wrapper script: the tests (and the
 * init container script) run `kit` as they would on an arm64 machine.
 */
const QEMU_AARCH64 = "qemu-aarch64-static";
const ARM64_LOADER = "/lib/ld-linux-aarch64.so.1";
const haveQemuArm64 = spawnSync("sh", ["-c", `command -v ${QEMU_AARCH64}`]).status === 0 && existsSync(ARM64_LOADER);
const requireTools = process.env.KIT_TEST_REQUIRE_TOOLS === "1";
const hostArch = process.platform === "linux" ? process.arch : undefined;

function linuxBinaryRuns(arch: "x64" | "arm64"): "native" | "qemu" | "skip" {
  if (hostArch === arch) return "native";
  if (arch === "arm64" && hostArch === "x64" && (haveQemuArm64 || requireTools)) return "qemu";
  return "skip";
}

for (const arch of ["x64", "arm64"] as const) {
  const how = linuxBinaryRuns(arch);
  describe.skipIf(how === "skip")(`the linux-${arch} binary out of its archive${how === "qemu" ? " (under qemu-user-static)" : ""}`, () => {
    let dir = "";
    let kit = "";
    const home = () => path.join(dir, "home");

    beforeAll(async () => {
      dir = mkdtempSync(path.join(work, "run-"));
      mkdirSync(path.join(dir, "bin"));
      kit = path.join(dir, "bin", "kit");
      if (how === "native") {
        await readTarGz(path.join(release(), `kitops-linux-${arch}.tar.gz`), { name: "kit", file: kit });
      } else {
        const real = path.join(dir, "bin", `kit-linux-${arch}`);
        await readTarGz(path.join(release(), `kitops-linux-${arch}.tar.gz`), { name: "kit", file: real });
        writeFileSync(kit, `#!/bin/sh\nexec ${QEMU_AARCH64} '${real}' "$@"\n`, { mode: 0o755 });
      }
    });

    if (how === "qemu") {
      // with KIT_TEST_REQUIRE_TOOLS=1 (CI) a missing qemu fails here instead of skipping the tests
      test(`${QEMU_AARCH64} and the arm64 loader (${ARM64_LOADER}) are installed`, () => {
        expect({ qemu: haveQemuArm64 }).toEqual({ qemu: true });
      });
    }

    test("kit version shows the version, the clone's commit and the build time", async () => {
      const commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: clone, encoding: "utf8" }).trim();
      const cwd = mkdtempSync(path.join(dir, "empty-"));
      const r = await runKit(["version"], { bin: kit, cwd, env: { KITOPS_HOME: home() } });
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines.slice(0, 2)).toEqual([`Version: ${pkgVersion}`, `Commit: ${commit}`]);
      expect(lines[2]).toMatch(/^Built: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(lines[3]).toBe("Runtime: bun 1.4.5");
    });

    test("pack and unpack round trip from an empty directory", async () => {
      const project = mkdtempSync(path.join(dir, "project-"));
      mkdirSync(path.join(project, "model"));
      mkdirSync(path.join(project, "data"));
      const weights = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
      writeFileSync(path.join(project, "model", "weights.bin"), weights);
      writeFileSync(path.join(project, "data", "train.csv"), "x,y\n1,2\n");
      writeFileSync(
        path.join(project, "Kitfile"),
        "manifestVersion: 1.0.0\npackage:\n  name: release-check\nmodel:\n  name: tiny\n  path: model/weights.bin\ndatasets:\n  - name: train\n    path: data/train.csv\n",
      );
      const pack = await runKit(["pack", ".", "-t", "release/check:v1"], { bin: kit, cwd: project, env: { KITOPS_HOME: home() } });
      expect(pack.stderr).not.toContain("ERROR");
      expect(pack.code).toBe(0);
      const out = mkdtempSync(path.join(dir, "out-"));
      const unpack = await runKit(["unpack", "release/check:v1", "-d", out], { bin: kit, cwd: mkdtempSync(path.join(dir, "empty-")), env: { KITOPS_HOME: home() } });
      expect(unpack.code).toBe(0);
      expect(new Uint8Array(readFileSync(path.join(out, "model", "weights.bin")))).toEqual(weights);
      expect(readFileSync(path.join(out, "data", "train.csv"), "utf8")).toBe("x,y\n1,2\n");
      expect(readFileSync(path.join(out, "Kitfile"), "utf8")).toContain("name: release-check");
    });

    test("the init container script with this binary: only the model, into UNPACK_PATH; a second run keeps the files", () => {
      const script = path.join(clone, "build", "init", "entrypoint.sh");
      const target = path.join(dir, "modelkit");
      const env = { PATH: `${path.dirname(kit)}:/usr/bin:/bin`, HOME: dir, KITOPS_HOME: home(), MODELKIT_REF: "release/check:v1", UNPACK_PATH: target };
      const first = spawnSync(script, [], { env, encoding: "utf8", cwd: dir });
      expect(first.status).toBe(0);
      expect(first.stdout).toContain(`Version: ${pkgVersion}\n`);
      expect(first.stdout).toContain(`Unpacking modelkit release/check:v1 to ${target} with filter 'model'. Additional flags: --ignore-existing\n`);
      expect(readdirSync(target).sort()).toEqual(["model"]);
      expect(statSync(path.join(target, "model", "weights.bin")).size).toBe(300_000);
      const again = spawnSync(script, [], { env, encoding: "utf8", cwd: dir });
      expect(again.status).toBe(0);

      const own = path.join(dir, "own-dir");
      const third = spawnSync(script, [], { env: { ...env, EXTRA_FLAGS: `--dir ${own} --filter datasets` }, encoding: "utf8", cwd: dir });
      expect(third.status).toBe(0);
      expect(readdirSync(own).sort()).toEqual(["data", "model"]);
      expect(existsSync(path.join(target, "data"))).toBe(false);
    });
  });
}
