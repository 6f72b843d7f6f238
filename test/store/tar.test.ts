import { describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { digestOf } from "../../src/oci/digest.ts";
import {
  encodeHeader,
  fileTarFrame,
  formatPaxRecord,
  splitUstarPath,
  type TarEntry,
  tarChunks,
  tarStream,
} from "../../src/store/tar.ts";
import { KitError } from "../../src/util/errors.ts";
import { readFileChunks } from "../../src/util/fs.ts";
import { concat } from "../helpers/streams.ts";
import { fileEntry as file, tarBytes } from "../helpers/tar.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Field `[off,len)` of a header block as text up to the first NUL. */
function field(blk: Uint8Array, off: number, len: number): string {
  const b = blk.subarray(off, off + len);
  const nul = b.indexOf(0);
  return dec.decode(nul < 0 ? b : b.subarray(0, nul));
}
function raw(blk: Uint8Array, off: number, len: number): string {
  return dec.decode(blk.subarray(off, off + len));
}

function checksumOk(blk: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : blk[i]!;
  return parseInt(field(blk, 148, 8), 8) === sum && blk[155] === 0x20 && blk[154] === 0;
}

function pythonList(bytes: Uint8Array): Array<[string, number, number, number, number, number, string]> {
  const script =
    "import tarfile,sys,json\n" +
    "t=tarfile.open(fileobj=sys.stdin.buffer,mode='r|')\n" +
    "print(json.dumps([[m.name,m.size,m.mode,m.uid,m.gid,m.mtime,m.type.decode()] for m in t]))";
  const r = spawnSync("python3", ["-c", script], { input: bytes });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return JSON.parse(String(r.stdout));
}

function gnuList(bytes: Uint8Array): string[] {
  const r = spawnSync("tar", ["tvf", "-", "--numeric-owner"], { input: bytes, env: { ...process.env, TZ: "UTC", LC_ALL: "C.UTF-8" } });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return String(r.stdout).trimEnd().split("\n").filter(Boolean);
}

describe("tar writer: exact bytes", () => {
  test("empty archive is 1024 zero bytes", async () => {
    const b = await tarBytes([]);
    expect(b.length).toBe(1024);
    expect(digestOf(b)).toBe("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
  });

  test("Appendix A: model.bin = hello", async () => {
    const b = await tarBytes([file("model.bin", "hello", 0o644)]);
    expect(b.length).toBe(2048);
    expect(digestOf(b)).toBe("sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce");
  });

  test("header fields", async () => {
    const b = await tarBytes([{ type: "dir", name: "models", mode: 0o40755 }, file("models/m.bin", "x".repeat(600), 0o4755)]);
    const d = b.subarray(0, 512);
    expect(field(d, 0, 100)).toBe("models");
    expect(raw(d, 100, 8)).toBe("0000755\0");
    expect(raw(d, 108, 8)).toBe("0001750\0");
    expect(raw(d, 116, 8)).toBe("0000000\0");
    expect(raw(d, 124, 12)).toBe("00000000000\0");
    expect(raw(d, 136, 12)).toBe("00000000000\0");
    expect(raw(d, 156, 1)).toBe("5");
    expect(raw(d, 257, 8)).toBe("ustar\u000000");
    expect(d.subarray(157, 257).every((x) => x === 0)).toBe(true);
    expect(d.subarray(265, 329).every((x) => x === 0)).toBe(true);
    expect(raw(d, 329, 16)).toBe("0000000\u00000000000\0");
    expect(d.subarray(345, 512).every((x) => x === 0)).toBe(true);
    expect(checksumOk(d)).toBe(true);
    const f = b.subarray(512, 1024);
    expect(field(f, 0, 100)).toBe("models/m.bin");
    expect(raw(f, 100, 8)).toBe("0004755\0");
    expect(raw(f, 124, 12)).toBe("00000001130\0");
    expect(raw(f, 156, 1)).toBe("0");
    expect(checksumOk(f)).toBe(true);
    // 600 bytes of data padded to 1024, then two zero blocks
    expect(b.length).toBe(512 + 512 + 1024 + 1024);
    expect(dec.decode(b.subarray(1024, 1624))).toBe("x".repeat(600));
    expect(b.subarray(1624).every((x) => x === 0)).toBe(true);
  });

  test("data that fills whole blocks gets no padding", async () => {
    const b = await tarBytes([file("a", new Uint8Array(1024).fill(7))]);
    expect(b.length).toBe(512 + 1024 + 1024);
  });

  test("fileTarFrame: head + data + tail is the writer's archive of the same entries", async () => {
    const long = `${"d".repeat(120)}/${"é".repeat(30)}.bin`;
    for (const [dirs, name, size] of [[[], "model.bin", 5], [["a", "a/b"], "a/b/c.safetensors", 1024], [[long.split("/")[0]!], long, 513]] as const) {
      const data = new Uint8Array(size).map((_, i) => i % 253);
      const entries: TarEntry[] = [...dirs.map((d): TarEntry => ({ type: "dir", name: d, mode: 0o755 })), file(name, data, 0o644)];
      const { head, tail } = fileTarFrame(dirs.map((d) => ({ name: d, mode: 0o755 })), { name, mode: 0o644, size });
      expect(concat([head, data, tail])).toEqual(await tarBytes(entries));
    }
  });
});

describe("USTAR name split and PAX", () => {
  test("splitUstarPath boundaries", () => {
    const n100 = "n".repeat(100);
    expect(splitUstarPath(n100)).toBeUndefined(); // fits the name field as is
    expect(splitUstarPath("p/" + n100)).toEqual(["p", n100]);
    expect(splitUstarPath("p/" + n100 + "x")).toBeUndefined(); // suffix 101
    const p155 = "p".repeat(155);
    expect(splitUstarPath(p155 + "/" + n100)).toEqual([p155, n100]);
    expect(splitUstarPath("p".repeat(156) + "/n")).toBeUndefined(); // prefix 156
    expect(splitUstarPath("/" + n100)).toBeUndefined(); // empty prefix
    expect(splitUstarPath("a/" + "é".repeat(60))).toBeUndefined(); // non-ASCII
    // last slash within the first 156 bytes is used
    const s = "a".repeat(50) + "/" + "b".repeat(50) + "/" + "c".repeat(60);
    expect(splitUstarPath(s)).toEqual(["a".repeat(50) + "/" + "b".repeat(50), "c".repeat(60)]);
  });

  test("exactly 100 bytes: name field full, no NUL, USTAR", () => {
    const name = "d/" + "f".repeat(98);
    const h = encodeHeader(name, 0o644, 0, "0");
    expect(h.length).toBe(512);
    expect(raw(h, 0, 100)).toBe(name);
    expect(h.subarray(345, 500).every((x) => x === 0)).toBe(true);
  });

  test("150-char name is split into prefix and name", async () => {
    const name = "dir".repeat(16) + "/" + "x".repeat(101); // 48 + 1 + 101: suffix too long at the last slash…
    expect(encodeHeader(name, 0o644, 0, "0").length).toBeGreaterThan(512); // …so PAX
    const name2 = "d".repeat(49) + "/" + "f".repeat(100); // 150 chars
    const h = encodeHeader(name2, 0o644, 5, "0");
    expect(h.length).toBe(512);
    expect(raw(h, 0, 100)).toBe("f".repeat(100));
    expect(field(h, 345, 155)).toBe("d".repeat(49));
    expect(checksumOk(h)).toBe(true);
    const b = await tarBytes([file(name2, "hello")]);
    expect(pythonList(b)).toEqual([[name2, 5, 0o644, 1000, 0, 0, "0"]]);
  });

  test("unsplittable long name uses a PAX path record", () => {
    const name = "a/" + "b".repeat(120);
    const h = encodeHeader(name, 0o644, 3, "0");
    expect(h.length).toBe(512 * 3);
    const x = h.subarray(0, 512);
    expect(field(x, 0, 100)).toBe("a/PaxHeaders.0/" + "b".repeat(85));
    expect(raw(x, 100, 24)).toBe("0000000\u00000000000\u00000000000\0");
    expect(raw(x, 136, 12)).toBe("00000000000\0");
    expect(raw(x, 156, 1)).toBe("x");
    expect(raw(x, 257, 8)).toBe("ustar\u000000");
    expect(x.subarray(265, 345).every((v) => v === 0)).toBe(true); // uname/gname/devmajor/devminor left NUL
    expect(checksumOk(x)).toBe(true);
    const rec = formatPaxRecord("path", name);
    expect(rec).toBe(`132 path=${name}\n`);
    expect(parseInt(field(x, 124, 12), 8)).toBe(rec.length);
    expect(dec.decode(h.subarray(512, 512 + rec.length))).toBe(rec);
    expect(h.subarray(512 + rec.length, 1024).every((v) => v === 0)).toBe(true);
    const real = h.subarray(1024);
    expect(raw(real, 0, 100)).toBe(name.slice(0, 100)); // truncated, no NUL
    expect(raw(real, 124, 12)).toBe("00000000003\0");
    expect(raw(real, 329, 16)).toBe("0000000\u00000000000\0");
    expect(checksumOk(real)).toBe(true);
  });

  test("PAX record length counting its own digits", () => {
    expect(formatPaxRecord("path", "a")).toBe("9 path=a\n");
    // 3+4+1+...: a value making the length cross from 2 to 3 digits
    expect(formatPaxRecord("path", "v".repeat(90))).toBe(`99 path=${"v".repeat(90)}\n`);
    expect(formatPaxRecord("path", "v".repeat(91))).toBe(`101 path=${"v".repeat(91)}\n`);
    expect(formatPaxRecord("path", "v".repeat(92))).toBe(`102 path=${"v".repeat(92)}\n`);
    expect(formatPaxRecord("path", "é")).toBe("11 path=é\n"); // lengths are in bytes
  });

  test("non-ASCII names: PAX path, ASCII-only header names", async () => {
    const name = "données/modèle.bin";
    const h = encodeHeader(name, 0o644, 5, "0");
    expect(field(h, 0, 100)).toBe("donnes/PaxHeaders.0/modle.bin");
    const rec = formatPaxRecord("path", name);
    expect(dec.decode(h.subarray(512, 512 + enc.encode(rec).length))).toBe(rec);
    expect(field(h.subarray(1024), 0, 100)).toBe("donnes/modle.bin");
    const noDir = encodeHeader("日本.txt", 0o644, 0, "0");
    expect(field(noDir, 0, 100)).toBe("PaxHeaders.0/.txt");
    const b = await tarBytes([{ type: "dir", name: "données", mode: 0o755 }, file(name, "hello")]);
    expect(pythonList(b)).toEqual([
      ["données", 0, 0o755, 1000, 0, 0, "5"],
      [name, 5, 0o644, 1000, 0, 0, "0"],
    ]);
  });

  test("a truncated name never ends with a slash in the header", () => {
    const name = "a".repeat(99) + "//" + "é"; // non-ASCII → PAX; ASCII form is 101 bytes with '/' at 99
    const real = encodeHeader(name, 0o644, 0, "0").subarray(-512);
    expect(field(real, 0, 100)).toBe("a".repeat(99));
  });

  test("size ≥ 8 GiB goes into a PAX size record; below stays USTAR", () => {
    const below = encodeHeader("big.bin", 0o644, 8 ** 11 - 1, "0");
    expect(below.length).toBe(512);
    expect(raw(below, 124, 12)).toBe("77777777777\0");
    const at = encodeHeader("big.bin", 0o644, 8 ** 11, "0");
    expect(at.length).toBe(1536);
    expect(field(at, 0, 100)).toBe("PaxHeaders.0/big.bin");
    expect(dec.decode(at.subarray(512, 512 + 20))).toBe("19 size=8589934592\n\0");
    expect(raw(at.subarray(1024), 124, 12)).toBe("00000000000\0");
    // long name and big size: both records, sorted
    const both = encodeHeader("d/" + "n".repeat(120), 0o644, 8 ** 11 + 1, "0");
    const recs = dec.decode(both.subarray(512, 1024)).replace(/\0+$/, "");
    expect(recs).toBe(formatPaxRecord("path", "d/" + "n".repeat(120)) + "19 size=8589934593\n");
  });
});

describe("tar writer: streaming and errors", () => {
  test("GNU tar and Python read our archives", async () => {
    const long = "deep/" + "x".repeat(60) + "/" + "y".repeat(70) + ".bin"; // 140: split
    const b = await tarBytes([
      { type: "dir", name: "deep", mode: 0o755 },
      { type: "dir", name: "deep/" + "x".repeat(60), mode: 0o700 },
      file(long, "abc", 0o600),
      file("empty", ""),
      file("dir with space/ü.txt", "ü"),
    ]);
    const listing = gnuList(b);
    expect(listing.length).toBe(5);
    expect(listing[0]).toMatch(/^drwxr-xr-x 1000\/0 +0 1970-01-01 00:00 deep$/);
    expect(listing[2]).toMatch(new RegExp(`^-rw------- 1000/0 +3 1970-01-01 00:00 ${long.replace(/\./g, "\\.")}$`));
    expect(listing[4]).toMatch(/ dir with space\/ü\.txt$/);
    expect(pythonList(b).map((m) => [m[0], m[1], m[2], m[6]])).toEqual([
      ["deep", 0, 0o755, "5"],
      ["deep/" + "x".repeat(60), 0, 0o700, "5"],
      [long, 3, 0o600, "0"],
      ["empty", 0, 0o644, "0"],
      ["dir with space/ü.txt", 2, 0o644, "0"],
    ]);
    // extract with GNU tar
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-tar-"));
    try {
      const r = spawnSync("tar", ["xf", "-", "-C", dir], { input: b });
      expect(r.status).toBe(0);
      expect(fs.readFileSync(path.join(dir, long), "utf8")).toBe("abc");
      expect(fs.statSync(path.join(dir, long)).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(dir, "dir with space/ü.txt"), "utf8")).toBe("ü");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a file shorter than its header size fails", async () => {
    const e: TarEntry = { type: "file", name: "f", mode: 0o644, size: 10, open: () => new Blob(["abc"]).stream() };
    const p = tarBytes([e]);
    await expect(p).rejects.toBeInstanceOf(KitError);
    await expect(tarBytes([e])).rejects.toThrow("File f changed size while it was being packed: expected 10 bytes, read 3");
  });

  test("a file longer than its header size fails", async () => {
    const e: TarEntry = { type: "file", name: "f", mode: 0o644, size: 2, open: () => new Blob(["abc"]).stream() };
    await expect(tarBytes([e])).rejects.toThrow("File f changed size while it was being packed: expected 2 bytes, read more");
  });

  test("async iterable sources and entry lists; large chunks pass through unchanged", async () => {
    const big = new Uint8Array(300 * 1024).fill(1);
    async function* src() {
      yield big;
      yield new Uint8Array([2, 3]);
    }
    async function* entries(): AsyncGenerator<TarEntry> {
      yield { type: "file", name: "big", mode: 0o644, size: big.length + 2, open: () => src() };
    }
    const chunks: Uint8Array[] = [];
    for await (const c of tarChunks(entries())) chunks.push(c);
    expect(chunks.some((c) => c === big)).toBe(true);
    const all = concat(chunks);
    expect(all.length).toBe(512 + big.length + 512 + 1024);
    expect(all[512 + big.length]).toBe(2);
    expect(all[512 + big.length + 1]).toBe(3);
  });

  test("cancelling the stream closes the source", async () => {
    let cancelled = false;
    const src = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new Uint8Array(128 * 1024));
      },
      cancel() {
        cancelled = true;
      },
    });
    const s = tarStream([{ type: "file", name: "x", mode: 0o644, size: 1 << 30, open: () => src }]);
    const r = s.getReader();
    await r.read();
    await r.cancel();
    expect(cancelled).toBe(true);
  });

  test("an aborted signal stops the writer", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(new Response(tarStream([file("a", "b")], { signal: ac.signal })).arrayBuffer()).rejects.toThrow(
      "Operation cancelled",
    );
  });

  test("readFileChunks reads whole files in fresh chunks", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-tar-"));
    try {
      const p = path.join(dir, "f");
      const data = new Uint8Array(10_000).map((_, i) => i % 251);
      fs.writeFileSync(p, data);
      const chunks: Uint8Array[] = [];
      for await (const c of readFileChunks(p, { chunkSize: 4096 })) chunks.push(c);
      expect(chunks.map((c) => c.length)).toEqual([4096, 4096, 1808]);
      expect(concat(chunks)).toEqual(data);
      const b = await tarBytes([{ type: "file", name: "f", mode: 0o644, size: data.length, open: () => readFileChunks(p) }]);
      expect(b.length).toBe(512 + 10240 + 1024);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("8 GiB + 1 byte file", () => {
  test(
    "streams into GNU tar with a PAX size record, memory bounded",
    async () => {
      const size = 8 * 1024 ** 3 + 1;
      const zeros = new Uint8Array(4 * 1024 * 1024);
      async function* source() {
        let left = size;
        while (left > 0) {
          const n = Math.min(left, zeros.length);
          yield n === zeros.length ? zeros : zeros.subarray(0, n);
          left -= n;
        }
      }
      const child = spawn("tar", ["tvf", "-", "--numeric-owner"], {
        env: { ...process.env, TZ: "UTC", LC_ALL: "C" },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      const exited = new Promise<number | null>((res) => child.on("close", res));
      const rssBefore = process.memoryUsage().rss;
      let maxRss = rssBefore;
      let n = 0;
      for await (const chunk of tarChunks([{ type: "file", name: "huge.bin", mode: 0o644, size, open: () => source() }])) {
        if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once("drain", r));
        if (++n % 256 === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
      }
      child.stdin.end();
      expect(await exited).toBe(0);
      expect(err).toBe("");
      expect(out.trim()).toMatch(/^-rw-r--r-- 1000\/0 +8589934593 1970-01-01 00:00 huge\.bin$/);
      // generous bound: the archive is 8 GiB, we must not hold more than a few chunks
      expect(maxRss - rssBefore).toBeLessThan(512 * 1024 * 1024);
    },
    { timeout: 600_000 },
  );
});
