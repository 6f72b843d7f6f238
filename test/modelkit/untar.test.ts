import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatPaxRecord } from "../../src/store/tar.ts";
import { extractTar } from "../../src/modelkit/untar.ts";
import { readTar, type TarReadEntry } from "../../src/store/tar-reader.ts";
import { CancelledError, KitError } from "../../src/util/errors.ts";
import { chunked, concat } from "../helpers/streams.ts";
import { fileEntry, padded, putStr, rawHeader, tarBytes } from "../helpers/tar.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A stream delivering `bytes` in chunks of `chunk` bytes (to exercise block boundaries). */
const streamOf = (bytes: Uint8Array, chunk = 100) => chunked(bytes, chunk);

function fileBlocks(name: string, content: string, mode = 0o644): Uint8Array[] {
  const data = enc.encode(content);
  return [rawHeader(name, "0", { size: data.length, mode }), padded(data)];
}
function paxBlocks(records: Record<string, string>): Uint8Array[] {
  const data = enc.encode(Object.entries(records).map(([k, v]) => formatPaxRecord(k, v)).join(""));
  return [rawHeader("PaxHeaders.0/x", "x", { size: data.length }), padded(data)];
}
function archive(...parts: (Uint8Array | Uint8Array[])[]): Uint8Array {
  return concat([...parts.flat(), new Uint8Array(1024)]);
}

async function entriesOf(bytes: Uint8Array, chunk?: number) {
  const out: Array<{ name: string; type: string; mode: number; size: number; linkname: string; data: string }> = [];
  for await (const e of readTar(streamOf(bytes, chunk))) {
    const parts: Uint8Array[] = [];
    for await (const c of e.chunks()) parts.push(c.slice());
    out.push({ name: e.name, type: e.type, mode: e.mode, size: e.size, linkname: e.linkname, data: dec.decode(concat(parts)) });
  }
  return out;
}

describe("readTar", () => {
  test("release: a chunk is handed back only once the reader is two chunks past it, the rest at the end, none after a failure", async () => {
    const tar = await tarBytes([fileEntry("a.bin", new Uint8Array(5000).fill(1)), fileEntry("b.bin", new Uint8Array(3000).fill(2))]);
    const pulled: Uint8Array[] = [];
    const released: Array<{ chunk: Uint8Array; pulledSoFar: number }> = [];
    const stream = () => {
      let off = 0;
      return new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (off >= tar.length) return ctl.close();
          const c = tar.slice(off, off + 1000);
          off += 1000;
          pulled.push(c);
          ctl.enqueue(c);
        },
      }, { highWaterMark: 0 });
    };
    const release = (chunk: Uint8Array) => released.push({ chunk, pulledSoFar: pulled.length });
    for await (const e of readTar(stream(), { release })) for await (const _ of e.chunks()) { /* consume */ }
    expect(released.map((r) => pulled.indexOf(r.chunk))).toEqual(pulled.map((_, i) => i));
    for (const r of released.slice(0, -2)) expect(r.pulledSoFar).toBeGreaterThanOrEqual(pulled.indexOf(r.chunk) + 3);
    pulled.length = 0;
    released.length = 0;
    const broken = new ReadableStream<Uint8Array>({ start: (ctl) => ctl.enqueue(tar.slice(0, 1000)), pull: (ctl) => ctl.error(new Error("cut")) });
    await expect((async () => { for await (const e of readTar(broken, { release })) for await (const _ of e.chunks()) { /* consume */ } })()).rejects.toThrow("cut");
    expect(released).toEqual([]);
  });

  test("round-trips our writer, including PAX and split names, across odd chunk sizes", async () => {
    const long = "d/" + "n".repeat(120);
    const split = "p".repeat(60) + "/" + "q".repeat(60);
    const bytes = await tarBytes([
      { type: "dir", name: "d", mode: 0o750 },
      fileEntry(long, "long"),
      fileEntry(split, "split", 0o600),
      fileEntry("données/é.txt", "accent"),
      fileEntry("empty", ""),
    ]);
    for (const chunk of [1, 7, 512, 100000]) {
      expect(await entriesOf(bytes, chunk)).toEqual([
        { name: "d", type: "dir", mode: 0o750, size: 0, linkname: "", data: "" },
        { name: long, type: "file", mode: 0o644, size: 4, linkname: "", data: "long" },
        { name: split, type: "file", mode: 0o600, size: 5, linkname: "", data: "split" },
        { name: "données/é.txt", type: "file", mode: 0o644, size: 6, linkname: "", data: "accent" },
        { name: "empty", type: "file", mode: 0o644, size: 0, linkname: "", data: "" },
      ]);
    }
  });

  test("entries whose data is not read are skipped", async () => {
    const bytes = archive(fileBlocks("a", "x".repeat(700)), fileBlocks("b", "bee"));
    const names: string[] = [];
    let last = "";
    for await (const e of readTar(streamOf(bytes))) {
      names.push(e.name);
      if (e.name === "b") last = await new Response(e.body).text();
    }
    expect(names).toEqual(["a", "b"]);
    expect(last).toBe("bee");
  });

  test("GNU long names and long links, types, base-256 numbers", async () => {
    const longName = "g/" + "l".repeat(200);
    const ln = enc.encode(longName + "\0");
    const size = new Uint8Array(512);
    size.set(rawHeader("f", "0"));
    // base-256 size = 3
    size.fill(0, 124, 136);
    size[124] = 0x80;
    size[135] = 3;
    size.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of size) sum += x;
    putStr(size, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    const bytes = archive(
      rawHeader("././@LongLink", "L", { size: ln.length, gnu: true }),
      padded(ln),
      rawHeader("short", "0", { size: 2, gnu: true }),
      padded(enc.encode("hi")),
      rawHeader("sl", "2", { linkname: "target" }),
      rawHeader("hl", "1", { linkname: "sl" }),
      rawHeader("dev", "3"),
      rawHeader("fifo", "6"),
      rawHeader("olddir/", "\0"),
      size,
      padded(enc.encode("abc")),
      rawHeader("name", "0", { prefix: "pre/fix", size: 0 }),
    );
    expect((await entriesOf(bytes)).map((e) => [e.name, e.type, e.linkname, e.data])).toEqual([
      [longName, "file", "", "hi"],
      ["sl", "symlink", "target", ""],
      ["hl", "hardlink", "sl", ""],
      ["dev", "char", "", ""],
      ["fifo", "fifo", "", ""],
      ["olddir/", "dir", "", ""],
      ["f", "file", "", "abc"],
      ["pre/fix/name", "file", "", ""],
    ]);
  });

  test("reads archives written by GNU tar and Python", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-untar-"));
    try {
      const deep = "a".repeat(80) + "/" + "b".repeat(80) + "/" + "c".repeat(80);
      fs.mkdirSync(path.join(dir, "src", deep), { recursive: true });
      fs.writeFileSync(path.join(dir, "src", deep, "f.txt"), "deep");
      fs.writeFileSync(path.join(dir, "src", "ü.txt"), "uml");
      for (const format of ["gnu", "posix"]) {
        const r = spawnSync("tar", ["cf", "-", `--format=${format}`, "-C", path.join(dir, "src"), "."], {
          maxBuffer: 1 << 26,
        });
        expect(r.status).toBe(0);
        const got = (await entriesOf(new Uint8Array(r.stdout))).filter((e) => e.type === "file");
        expect(got.map((e) => [e.name, e.data]).sort()).toEqual([
          [`./${deep}/f.txt`, "deep"],
          ["./ü.txt", "uml"],
        ]);
      }
      const py = spawnSync("python3", [
        "-c",
        "import tarfile,sys,io\n" +
          "for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):\n" +
          "  b=io.BytesIO()\n" +
          "  t=tarfile.open(fileobj=b,mode='w',format=fmt)\n" +
          "  ti=tarfile.TarInfo('x/'+'y'*150+'/é.bin'); ti.size=3\n" +
          "  t.addfile(ti, io.BytesIO(b'abc')); t.close()\n" +
          "  sys.stdout.buffer.write(b.getvalue())\n",
      ]);
      expect(py.status).toBe(0);
      const both = new Uint8Array(py.stdout);
      // Python pads archives to 10240-byte records; two archives back to back
      const first = await entriesOf(both.subarray(0, both.length / 2));
      const second = await entriesOf(both.subarray(both.length / 2));
      for (const list of [first, second]) {
        expect(list.map((e) => [e.name, e.size, e.data])).toEqual([["x/" + "y".repeat(150) + "/é.bin", 3, "abc"]]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reads to the end of the input after the end-of-archive marker", async () => {
    const bytes = concat([archive(fileBlocks("a", "b")), new Uint8Array(8192)]);
    let pulledToEnd = false;
    let off = 0;
    const s = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= bytes.length) {
          pulledToEnd = true;
          return c.close();
        }
        c.enqueue(bytes.slice(off, off + 1000));
        off += 1000;
      },
    });
    for await (const _ of readTar(s)) {
      /* nothing */
    }
    expect(pulledToEnd).toBe(true);
  });

  test("corrupt input", async () => {
    const good = archive(fileBlocks("a", "x".repeat(1000)));
    await expect(entriesOf(good.subarray(0, 900))).rejects.toThrow("Failed to read tar archive: unexpected end of data");
    await expect(entriesOf(good.subarray(0, 300))).rejects.toThrow("Failed to read tar archive: unexpected end of data");
    const bad = good.slice();
    bad[0] = "b".charCodeAt(0);
    await expect(entriesOf(bad)).rejects.toThrow("Failed to read tar archive: invalid tar header (checksum mismatch)");
    const zeroThenData = concat([new Uint8Array(512), fileBlocks("a", "b")[0]!]);
    await expect(entriesOf(zeroThenData)).rejects.toThrow("invalid tar header (zero block followed by data)");
    // ending right after the last entry, without zero blocks, is tolerated (like Go)
    expect((await entriesOf(concat(fileBlocks("a", "b")))).map((e) => e.data)).toEqual(["b"]);
  });
});

describe("extractTar", () => {
  let root: string;
  let target: string;
  let outside: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "kit-extract-"));
    target = path.join(root, "target");
    outside = path.join(root, "outside");
    fs.mkdirSync(target);
    fs.mkdirSync(outside);
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });
  const opts = { overwrite: false, ignoreExisting: false };
  const ls = (d: string) => fs.readdirSync(d, { recursive: true }).map(String).sort();
  async function refuse(bytes: Uint8Array, message: string) {
    let err: unknown;
    try {
      await extractTar(streamOf(bytes), target, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KitError);
    expect((err as Error).message).toBe(message);
    expect(ls(outside)).toEqual([]);
    expect(fs.readdirSync(root).sort()).toEqual(["outside", "target"]);
  }

  test("writes dirs and files with header modes, reports files", async () => {
    const files: string[] = [];
    const bytes = await tarBytes([
      { type: "dir", name: "models", mode: 0o750 },
      fileEntry("models/m.bin", "weights", 0o640),
      fileEntry("README.md", "read me"),
    ]);
    const res = await extractTar(streamOf(bytes, 333), target, { ...opts, onFile: (p) => files.push(p) });
    expect(res).toEqual({ files: 2, dirs: 1, skipped: 0, bytes: 14 });
    expect(files).toEqual(["models/m.bin", "README.md"]);
    expect(ls(target)).toEqual(["README.md", "models", "models/m.bin"]);
    expect(fs.statSync(path.join(target, "models")).mode & 0o777).toBe(0o750 & ~process.umask());
    expect(fs.statSync(path.join(target, "models/m.bin")).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(fs.readFileSync(path.join(target, "models/m.bin"), "utf8")).toBe("weights");
  });

  test("existing files: error, -i skips, -o replaces and keeps the existing mode", async () => {
    const p = path.join(target, "a.txt");
    fs.writeFileSync(p, "old");
    fs.chmodSync(p, 0o600);
    const bytes = await tarBytes([fileEntry("a.txt", "new content", 0o644), fileEntry("b.txt", "b")]);
    await expect(extractTar(streamOf(bytes), target, opts)).rejects.toThrow("path 'a.txt' already exists");
    const skipped = await extractTar(streamOf(bytes), target, { overwrite: false, ignoreExisting: true });
    expect(skipped).toEqual({ files: 1, dirs: 0, skipped: 1, bytes: 1 });
    expect(fs.readFileSync(p, "utf8")).toBe("old");
    fs.rmSync(path.join(target, "b.txt"));
    const replaced = await extractTar(streamOf(bytes), target, { overwrite: true, ignoreExisting: false });
    expect(replaced.files).toBe(2);
    expect(fs.readFileSync(p, "utf8")).toBe("new content");
    expect(fs.statSync(p).mode & 0o777).toBe(0o600);
    expect(ls(target)).toEqual(["a.txt", "b.txt"]); // no temp files left
  });

  test("type conflicts", async () => {
    fs.mkdirSync(path.join(target, "isdir"));
    fs.writeFileSync(path.join(target, "isfile"), "");
    await expect(
      extractTar(streamOf(await tarBytes([fileEntry("isdir", "x")])), target, { overwrite: true, ignoreExisting: false }),
    ).rejects.toThrow("path 'isdir' already exists and is not a regular file");
    await expect(
      extractTar(streamOf(await tarBytes([{ type: "dir", name: "isfile", mode: 0o755 }])), target, opts),
    ).rejects.toThrow("path 'isfile' already exists and is not a directory");
    // an existing directory is fine for a directory entry
    await extractTar(streamOf(await tarBytes([{ type: "dir", name: "isdir", mode: 0o700 }])), target, opts);
  });

  test("subdir joins entry names (pre-v0.5.0 layers)", async () => {
    const bytes = await tarBytes([fileEntry("m.bin", "m")]);
    await extractTar(streamOf(bytes), target, { ...opts, subdir: "models" });
    expect(fs.readFileSync(path.join(target, "models/m.bin"), "utf8")).toBe("m");
    await expect(
      extractTar(streamOf(archive(fileBlocks("../../x", "e"))), target, { ...opts, subdir: "models" }),
    ).rejects.toThrow("illegal file path: ../x: layer paths must stay within context directory");
  });

  test("a symlink inside the target that stays inside is followed", async () => {
    fs.mkdirSync(path.join(target, "real"));
    fs.symlinkSync("real", path.join(target, "link"));
    await extractTar(streamOf(archive(fileBlocks("link/f", "via link"))), target, opts);
    expect(fs.readFileSync(path.join(target, "real/f"), "utf8")).toBe("via link");
  });

  describe("hostile archives are refused and nothing is written outside", () => {
    test("absolute path", () =>
      refuse(archive(fileBlocks("/tmp/kit-evil", "e")), "illegal file path: /tmp/kit-evil: absolute paths are not supported (/tmp/kit-evil)"));
    test("../x", () => refuse(archive(fileBlocks("../x", "e")), "illegal file path: ../x: layer paths must stay within context directory"));
    test("a/../../x", () =>
      refuse(archive(fileBlocks("a/../../x", "e")), "illegal file path: a/../../x: layer paths must stay within context directory"));
    test("empty name", () => refuse(archive(fileBlocks("", "e")), "illegal file path: : layer paths must stay within context directory"));
    test("symlink entry", () => refuse(archive(rawHeader("link", "2", { linkname: "../outside" })), "unrecognized type in archive: link"));
    test("symlink entry escaping by name", () =>
      refuse(archive(rawHeader("../link", "2", { linkname: "/" })), "illegal file path: ../link: layer paths must stay within context directory"));
    test("hard link entry", () => refuse(archive(rawHeader("hard", "1", { linkname: "/etc/passwd" })), "unrecognized type in archive: hard"));
    test("char device", () => refuse(archive(rawHeader("dev", "3")), "unrecognized type in archive: dev"));
    test("fifo", () => refuse(archive(rawHeader("pipe", "6")), "unrecognized type in archive: pipe"));
    test("path through an existing symlink pointing outside", async () => {
      fs.symlinkSync(outside, path.join(target, "evil"));
      await refuse(archive(fileBlocks("evil/x", "e")), "illegal file path: evil/x: paths must be within context directory");
      await refuse(
        archive(rawHeader("evil/sub", "5")),
        "illegal file path: evil/sub: paths must be within context directory",
      );
    });
    test("file over an existing symlink pointing outside", async () => {
      fs.writeFileSync(path.join(outside, "victim"), "safe");
      fs.symlinkSync(path.join(outside, "victim"), path.join(target, "victim"));
      let err: unknown;
      try {
        await extractTar(streamOf(archive(fileBlocks("victim", "pwned"))), target, { overwrite: true, ignoreExisting: false });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).toBe("illegal file path: victim: paths must be within context directory");
      expect(fs.readFileSync(path.join(outside, "victim"), "utf8")).toBe("safe");
    });
    test("a symlink met deep in a directory already written through is still checked", async () => {
      // Directories seen during an extraction are not looked at again; a symlink beside them must be.
      fs.mkdirSync(path.join(target, "d", "e"), { recursive: true });
      fs.symlinkSync(outside, path.join(target, "d", "e", "evil"));
      await refuse(
        archive(fileBlocks("d/e/ok", "fine"), rawHeader("d/e/new/", "5"), fileBlocks("d/e/new/f", "fine"), fileBlocks("d/e/evil/x", "e")),
        "illegal file path: d/e/evil/x: paths must be within context directory",
      );
      await refuse(archive(rawHeader("d/", "5"), rawHeader("d/e/", "5"), fileBlocks("d/e/evil", "e")), "illegal file path: d/e/evil: paths must be within context directory");
    });
    test("dangling symlink in the path", async () => {
      fs.symlinkSync(path.join(outside, "nothing-here"), path.join(target, "dangling"));
      await refuse(archive(fileBlocks("dangling", "e")), "illegal file path: dangling: paths must be within context directory");
      await refuse(archive(fileBlocks("dangling/x", "e")), "illegal file path: dangling/x: paths must be within context directory");
    });
    test("PAX path escaping", () =>
      refuse(
        archive(paxBlocks({ path: "../../kit-pax-evil" }), fileBlocks("innocent", "e")),
        "illegal file path: ../../kit-pax-evil: layer paths must stay within context directory",
      ));
    test("a NUL byte in a PAX path is a one-line error", () =>
      refuse(archive(paxBlocks({ path: "a\0b" }), fileBlocks("innocent", "e")), "illegal file path: a\0b: a path cannot contain a NUL byte"));
    test("GNU long name escaping", () => {
      const ln = enc.encode("../" + "x".repeat(120) + "\0");
      return refuse(
        archive(rawHeader("././@LongLink", "L", { size: ln.length, gnu: true }), padded(ln), fileBlocks("ok", "e")),
        `illegal file path: ../${"x".repeat(120)}: layer paths must stay within context directory`,
      );
    });
    test("a bad entry aborts the layer: files before it are not committed either", async () => {
      await expect(
        extractTar(streamOf(archive(fileBlocks("good", "g"), fileBlocks("../bad", "b"))), target, opts),
      ).rejects.toThrow("layer paths must stay within context directory");
      expect(ls(target)).toEqual([]);
      expect(ls(outside)).toEqual([]);
    });
  });

  test("an interrupted stream leaves no file under its final name and no temp file", async () => {
    const full = archive(fileBlocks("done.txt", "ok"), fileBlocks("partial.bin", "z".repeat(5000)));
    const cut = full.subarray(0, 1024 + 512 + 2048);
    await expect(extractTar(streamOf(cut), target, opts)).rejects.toThrow(
      "could not unpack file partial.bin: Failed to read tar archive: unexpected end of data",
    );
    // Nothing is renamed into place until the whole (verified) stream has been read.
    expect(ls(target)).toEqual([]);
  });

  test("a failing source stream propagates and cleans up", async () => {
    const head = archive(fileBlocks("big", "y".repeat(4000))).subarray(0, 2048);
    let sent = false;
    const s = new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sent) {
          sent = true;
          c.enqueue(head);
        } else c.error(new Error("network down"));
      },
    });
    await expect(extractTar(s, target, opts)).rejects.toThrow("could not unpack file big: network down");
    expect(ls(target)).toEqual([]);
  });

  test("abort signal cancels the extraction", async () => {
    const ac = new AbortController();
    ac.abort();
    const bytes = await tarBytes([fileEntry("a", "b")]);
    await expect(extractTar(streamOf(bytes), target, { ...opts, signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(ls(target)).toEqual([]);
  });

  test("reading an entry's data twice is an error", async () => {
    const bytes = archive(fileBlocks("a", "b"));
    let err: unknown;
    for await (const e of readTar(streamOf(bytes)) as AsyncGenerator<TarReadEntry>) {
      for await (const _ of e.chunks()) {
        /* consume */
      }
      try {
        for await (const _ of e.chunks()) {
          /* again */
        }
      } catch (x) {
        err = x;
      }
    }
    expect((err as Error).message).toBe("The data of tar entry a can only be read once");
  });
});
