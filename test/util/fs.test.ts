import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CancelledError, KitError } from "../../src/util/errors.ts";
import {
  acquireLock,
  atomicWriteFile,
  ensureDir,
  fileReadableStream,
  isAbandonedTemp,
  ownedTempName,
  pathExists,
  readFileChunks,
  removeAbandonedTemps,
  tryLock,
  withLock,
  WRITE_SLICE,
  writeAllAt,
  writeAllSync,
  writeStreamToHandle,
} from "../../src/util/fs.ts";
import { deadPid } from "../helpers/kit.ts";

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-fs-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const fsModule = path.resolve(import.meta.dir, "../../src/util/fs.ts");


describe("temporary files that name their owner", () => {
  /** An ownedTempName as a process that has exited would have made it. */
  const deadName = (base: string) => ownedTempName(base).replace(`.kit-${process.pid}-`, `.kit-${deadPid()}-`);

  test("a name of a live process is kept, one of a dead process is abandoned; other names are never touched", async () => {
    const mine = ownedTempName("m.bin");
    expect(mine).toMatch(new RegExp(`^\\.m\\.bin\\.kit-${process.pid}-[0-9a-f]{8}-[0-9a-f]{8}\\.tmp$`));
    expect(isAbandonedTemp(mine)).toBe(false);
    expect(isAbandonedTemp(deadName("m.bin"))).toBe(true);
    // another host's file: its pid means nothing here
    expect(isAbandonedTemp(deadName("m.bin").replace(/-[0-9a-f]{8}-([0-9a-f]{8}\.tmp)$/, "-00000000-$1"))).toBe(false);
    for (const n of ["m.bin", ".m.bin.tmp", "x.kit-1-abc.tmp"]) expect(isAbandonedTemp(n)).toBe(false);

    fs.mkdirSync(path.join(dir, "a/b"), { recursive: true });
    const dead = [deadName("top"), path.join("a/b", deadName("deep"))];
    const kept = [mine, "data.csv", path.join("a", ".hidden.tmp")];
    for (const f of [...dead, ...kept]) fs.writeFileSync(path.join(dir, f), "x");
    fs.symlinkSync(path.join(dir, "a"), path.join(dir, "link"));
    expect(await removeAbandonedTemps(dir)).toBe(1);
    expect(await removeAbandonedTemps(dir, { recursive: true })).toBe(1);
    for (const f of kept) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    for (const f of dead) expect(fs.existsSync(path.join(dir, f))).toBe(false);
  });
});

describe("atomicWriteFile", () => {
  test("writes, replaces, applies the mode and leaves no temporary file", async () => {
    const f = path.join(dir, "index.json");
    await atomicWriteFile(f, '{"a":1}');
    expect(fs.readFileSync(f, "utf8")).toBe('{"a":1}');
    await atomicWriteFile(f, new TextEncoder().encode("second"), 0o600);
    expect(fs.readFileSync(f, "utf8")).toBe("second");
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    await atomicWriteFile(f, new Blob(["from ", "a stream"]).stream());
    expect(fs.readFileSync(f, "utf8")).toBe("from a stream");
    expect(fs.readdirSync(dir)).toEqual(["index.json"]);
  });

  test("a failing stream leaves the old content and no temporary file", async () => {
    const f = path.join(dir, "x");
    fs.writeFileSync(f, "old");
    let n = 0;
    const bad = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (n++ === 0) ctl.enqueue(new Uint8Array([1, 2, 3]));
        else ctl.error(new Error("broken"));
      },
    });
    await expect(atomicWriteFile(f, bad)).rejects.toThrow("broken");
    expect(fs.readFileSync(f, "utf8")).toBe("old");
    expect(fs.readdirSync(dir)).toEqual(["x"]);
  });
});

test("ensureDir, pathExists and fileReadableStream", async () => {
  const d = path.join(dir, "a", "b", "c");
  await ensureDir(d);
  await ensureDir(d);
  expect(await pathExists(d)).toBe(true);
  expect(await pathExists(path.join(d, "nope"))).toBe(false);
  const f = path.join(d, "data");
  const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => i & 0xff);
  fs.writeFileSync(f, data);
  const chunks: number[] = [];
  const got = new Uint8Array(await new Response((await fileReadableStream(f)).pipeThrough(new TransformStream({
    transform(c, ctl) {
      chunks.push(c.byteLength);
      ctl.enqueue(c);
    },
  }))).arrayBuffer());
  expect(got).toEqual(data);
  expect(chunks).toEqual([1 << 20, 1 << 20, 1 << 20, 5]);
  const tail = new Uint8Array(await new Response(await fileReadableStream(f, { start: data.byteLength - 3 })).arrayBuffer());
  expect([...tail]).toEqual([...data.slice(-3)]);
  await expect(fileReadableStream(path.join(d, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
});

test("readFileChunks: small chunks go into the scratch buffer, large ones into fresh buffers, from start on", async () => {
  const f = path.join(dir, "chunks");
  fs.writeFileSync(f, "0123456789");
  const scratch = new Uint8Array(8);
  const seen: Array<[string, boolean]> = [];
  for await (const c of readFileChunks(f, { start: 2, chunkSize: 4, scratch })) {
    seen.push([new TextDecoder().decode(c), c.buffer === scratch.buffer]);
  }
  expect(seen).toEqual([["2345", true], ["6789", true]]);
  const big: Array<[number, boolean]> = [];
  for await (const c of readFileChunks(f, { chunkSize: 16, scratch })) big.push([c.byteLength, c.buffer === scratch.buffer]);
  expect(big).toEqual([[10, false]]);
});

describe("withLock", () => {
  test("tasks of one process never overlap", async () => {
    const lock = path.join(dir, ".lock");
    let inside = 0;
    let overlaps = 0;
    const seen: number[] = [];
    await Promise.all(Array.from({ length: 10 }, (_, i) => withLock(lock, async () => {
      inside++;
      if (inside > 1) overlaps++;
      await new Promise((r) => setTimeout(r, 1));
      seen.push(i);
      inside--;
    })));
    expect(overlaps).toBe(0);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test("the lock is released when fn throws, and its error is passed on", async () => {
    const lock = path.join(dir, "sub", ".lock");
    await expect(withLock(lock, async () => { throw new KitError("inner"); })).rejects.toThrow("inner");
    expect(fs.existsSync(lock)).toBe(false);
    expect(await withLock(lock, async () => 42)).toBe(42);
  });

  test("a lock left by a dead process is broken", async () => {
    const lock = path.join(dir, ".lock");
    fs.writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: os.hostname(), token: "dead" }));
    expect(await withLock(lock, async () => fs.readFileSync(lock, "utf8"))).toContain(`"pid":${process.pid}`);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test("a lock from another host counts as live until it is old", async () => {
    const lock = path.join(dir, ".lock");
    fs.writeFileSync(lock, JSON.stringify({ pid: 1, host: "elsewhere.example", token: "t" }));
    expect(await tryLock(lock)).toBeUndefined();
    const e = await acquireLock(lock, { timeoutMs: 20 }).catch((x) => x);
    expect(e).toBeInstanceOf(KitError);
    expect(e.message).toBe(`Timed out waiting for lock ${lock} held by process 1 on elsewhere.example`);
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(lock, old, old);
    const h = await tryLock(lock, { staleMs: 60_000 });
    expect(h).toBeDefined();
    await h!.release();
    expect(fs.existsSync(lock)).toBe(false);
  });

  test("a live holder is waited for; the wait honours the abort signal", async () => {
    const lock = path.join(dir, ".lock");
    const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      fs.writeFileSync(lock, JSON.stringify({ pid: holder.pid, host: os.hostname(), token: "live" }));
      const ctl = new AbortController();
      let ran = false;
      const p = withLock(lock, async () => { ran = true; }, { signal: ctl.signal }).catch((x) => x);
      await new Promise((r) => setTimeout(r, 30));
      ctl.abort();
      expect(await p).toBeInstanceOf(CancelledError);
      expect(ran).toBe(false);
      expect(JSON.parse(fs.readFileSync(lock, "utf8")).token).toBe("live");
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
    }
    // Its holder is dead now: the lock is taken over.
    expect(await withLock(lock, async () => "got it")).toBe("got it");
  });

  test("a process exiting inside fn releases its lock", async () => {
    const lock = path.join(dir, ".lock");
    const script = `import { withLock } from ${JSON.stringify(fsModule)};
      await withLock(${JSON.stringify(lock)}, async () => { process.exit(3); });`;
    const r = spawnSync(process.execPath, ["-e", script]);
    expect(r.status).toBe(3);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test("tryLock does not wait", async () => {
    const lock = path.join(dir, ".lock");
    const a = await tryLock(lock);
    expect(a).toBeDefined();
    expect(await tryLock(lock)).toBeUndefined();
    await a!.release();
    await a!.release();
    const b = await tryLock(lock);
    expect(b).toBeDefined();
    await b!.release();
  });
});

describe("large writes go to the kernel in slices of at most WRITE_SLICE bytes", () => {
  // 1 MiB write calls made this guest's page cache erratically slow (0.3–3.5 s per GiB against
  // 0.25–0.3 s in 256 KiB calls); every bulk write of kit goes through these helpers.
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-slices-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = new Uint8Array(WRITE_SLICE * 4 + 12345).map((_, i) => (i * 7) & 0xff);

  function watchWrites(): { sizes: number[]; restore(): void } {
    const sizes: number[] = [];
    const orig = fs.writeSync;
    const spy = spyOn(fs, "writeSync").mockImplementation(((fd: number, buf: Uint8Array, off?: number, len?: number, pos?: number | null) => {
      const n = orig(fd, buf, off, len, pos);
      sizes.push(n);
      return n;
    }) as typeof fs.writeSync);
    return { sizes, restore: () => spy.mockRestore() };
  }

  test("writeAllSync, appending and at a position", () => {
    const file = path.join(dir, "a");
    const fd = fs.openSync(file, "w+");
    const w = watchWrites();
    try {
      writeAllSync(fd, data);
      writeAllSync(fd, data.subarray(0, 1000), 10);
    } finally {
      w.restore();
      fs.closeSync(fd);
    }
    expect(Math.max(...w.sizes)).toBeLessThanOrEqual(WRITE_SLICE);
    expect(w.sizes.length).toBe(6);
    const expected = Buffer.from(data);
    expected.set(data.subarray(0, 1000), 10);
    expect(Buffer.compare(fs.readFileSync(file), expected)).toBe(0);
  });

  test("writeStreamToHandle and writeAllAt", async () => {
    const file = path.join(dir, "b");
    const fh = await fs.promises.open(file, "w+");
    const w = watchWrites();
    try {
      await writeStreamToHandle(new Blob([data]).stream(), fh);
    } finally {
      w.restore();
    }
    expect(w.sizes.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...w.sizes)).toBeLessThanOrEqual(WRITE_SLICE);
    const asyncSizes: number[] = [];
    const origWrite = fs.write;
    const spy = spyOn(fs, "write").mockImplementation(((fd: number, buf: Uint8Array, off: number, len: number, pos: number | null, cb: never) => {
      asyncSizes.push(len);
      return origWrite(fd, buf, off, len, pos, cb);
    }) as unknown as typeof fs.write);
    try {
      await writeAllAt(fh.fd, data, data.length);
    } finally {
      spy.mockRestore();
    }
    await fh.close();
    expect(asyncSizes.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...asyncSizes)).toBeLessThanOrEqual(WRITE_SLICE);
    expect(Buffer.compare(fs.readFileSync(file), Buffer.concat([data, data]))).toBe(0);
  });
});
