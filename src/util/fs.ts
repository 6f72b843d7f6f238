/**
 * File-system helpers: atomic writes, directories, file streams, and an inter-process lock.
 * Node `fs` APIs only, so the same code runs under Bun and Deno.
 * @module
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { KitError } from "./errors.ts";
import type { ChunkPool } from "./chunk-pool.ts";
import { abortReason, sleep, throwIfAborted } from "./pool.ts";
import { eachChunk, iterableStream } from "./streams.ts";

/** The `code` of a Node system error, if any. */
export function errnoCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** Creates `dir` and its parents (0777 minus umask, like Go's `os.MkdirAll(p, 0777)`). */
export async function ensureDir(dir: string, mode = 0o777): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode });
}

/**
 * True when the absolute path `child` is `root` or lies below it, comparing whole segments (both
 * already resolved, e.g. by `realpath`). A name that merely starts with `..` is inside.
 */
export function isWithinDir(child: string, root: string): boolean {
  if (child === root) return true;
  return child.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** True when `p` exists (follows symlinks). */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return false;
    throw e;
  }
}

/** A random lower-case hex string of `bytes` bytes. */
export function randomHex(bytes = 8): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** This host, as 8 hex digits (FNV-1a of its name): temporary file names record it. */
const HOST_TAG = (() => {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(os.hostname())) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
})();
const OWNED_TEMP = /\.kit-(\d+)-([0-9a-f]{8})-[0-9a-f]+\.tmp$/;

/**
 * A hidden temporary file name next to `base` that records its owner, this process on this host:
 * `.<base>.kit-<pid>-<host>-<random>.tmp`. A file left behind by a killed process is then
 * recognised ({@link isAbandonedTemp}) and removed by the next kit that looks.
 */
export function ownedTempName(base: string): string {
  return `.${base}.kit-${process.pid}-${HOST_TAG}-${randomHex(4)}.tmp`;
}

/** True for an {@link ownedTempName} whose process, on this host, is gone. */
export function isAbandonedTemp(name: string): boolean {
  const m = OWNED_TEMP.exec(name);
  return !!m && m[2] === HOST_TAG && !processAlive(Number(m[1]));
}

/**
 * Removes the abandoned temporary files ({@link isAbandonedTemp}) in `dir`, and with `recursive`
 * in its subdirectories (symlinks are not followed). Returns how many were removed; a directory
 * that cannot be read is skipped.
 */
export async function removeAbandonedTemps(dir: string, opts: { recursive?: boolean } = {}): Promise<number> {
  let n = 0;
  const todo = [dir];
  while (todo.length > 0) {
    const d = todo.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (opts.recursive) todo.push(p);
      } else if (e.isFile() && isAbandonedTemp(e.name)) {
        await fsp.rm(p, { force: true });
        n++;
      }
    }
  }
  return n;
}

export type WriteData = Uint8Array | string | ReadableStream<Uint8Array>;

/**
 * Writes `data` to `file` so that readers see either the old or the new content, never a mix:
 * a temporary file in the same directory is written, fsynced and renamed over `file`.
 * `mode` is the creation mode (umask applies), 0666 by default as Go's `os.WriteFile` callers use.
 * `release` gets each chunk of a stream once it is written (see {@link writeStreamToHandle}).
 */
export async function atomicWriteFile(
  file: string,
  data: WriteData,
  mode = 0o666,
  opts: { signal?: AbortSignal; release?: (chunk: Uint8Array) => void } = {},
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, ownedTempName(path.basename(file)));
  const fh = await fsp.open(tmp, "wx", mode);
  let ok = false;
  try {
    try {
      if (data instanceof ReadableStream) {
        await writeStreamToHandle(data, fh, opts.signal, undefined, opts.release);
      } else {
        throwIfAborted(opts.signal);
        await fh.writeFile(typeof data === "string" ? new TextEncoder().encode(data) : data);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    throwIfAborted(opts.signal);
    await fsp.rename(tmp, file);
    ok = true;
  } finally {
    if (!ok) await fsp.rm(tmp, { force: true });
  }
  await syncDir(dir);
}

/** Best-effort fsync of a directory so a rename inside it is durable (not possible on Windows). */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  try {
    const d = await fsp.open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; durability then rests on the OS.
  }
}

/**
 * Largest piece handed to one write call. On the 2-vCPU bench guest (Linux 6.18, ext4) writing
 * 1 GiB into the page cache in 1 MiB calls took anywhere from 0.24 to 3.5 s (nearly all of it
 * system time), in 256 KiB calls 0.23–0.30 s in every one of 23 interleaved `dd` rounds (see
 * docs/benchmarks.md; why large calls are slow there was not established). Smaller pieces only
 * cost more calls.
 */
export const WRITE_SLICE = 256 * 1024;

/**
 * Writes all of `data` to `fd` synchronously (at `position`, or at the file's current position
 * when it is null or undefined), in calls of at most {@link WRITE_SLICE} bytes.
 */
export function writeAllSync(fd: number, data: Uint8Array, position?: number | null): void {
  let off = 0;
  while (off < data.byteLength) {
    const n = Math.min(WRITE_SLICE, data.byteLength - off);
    off += position === undefined || position === null ? fs.writeSync(fd, data, off, n) : fs.writeSync(fd, data, off, n, position + off);
  }
}

/**
 * Copies a stream into an open file handle, chunk by chunk (memory stays bounded).
 * Returns the number of bytes written. An abort cancels the stream and throws CancelledError.
 *
 * Writes are synchronous, on the thread that just read (and hashed) the chunk, for the reason
 * reads are ({@link readChunks}): the bytes are still in that core's cache. Handed to the thread
 * pool, the kernel's copy of a cold 1 MiB buffer into the page cache costs several times more
 * (a 1 GiB copy with hashing on the 2-vCPU bench machine: 2.7 s with the write in flight beside
 * the next read, 1.15 s synchronous; `tar xf` of the same bytes 1.0 s). One write blocks for at
 * most one chunk.
 *
 * `release` gets each chunk once it is written (a pooled buffer can then be reused).
 */
export async function writeStreamToHandle(
  stream: ReadableStream<Uint8Array>,
  fh: fsp.FileHandle,
  signal?: AbortSignal,
  onChunk?: (n: number) => void,
  release?: (chunk: Uint8Array) => void,
): Promise<number> {
  let n = 0;
  await eachChunk(stream, signal, (value) => {
    writeAllSync(fh.fd, value);
    n += value.byteLength;
    onChunk?.(value.byteLength);
    release?.(value);
  });
  return n;
}

/**
 * Writes all of `data` to `fd` at `position` (null: the file's current position) on the thread
 * pool, in calls of at most {@link WRITE_SLICE} bytes.
 */
export async function writeAllAt(fd: number, data: Uint8Array, position: number | null): Promise<void> {
  let off = 0;
  while (off < data.byteLength) {
    const n = Math.min(WRITE_SLICE, data.byteLength - off);
    const at = position === null ? null : position + off;
    off += await new Promise<number>((resolve, reject) => fs.write(fd, data, off, n, at, (e, w) => (e ? reject(e) : resolve(w))));
  }
}

const READ_CHUNK = 1 << 20;

export interface ReadChunksOptions {
  /** Where reading starts (default 0). */
  start?: number;
  /** Read at most this many bytes (default: to the end of the file). */
  length?: number;
  /** Largest chunk (default 1 MiB). */
  chunkSize?: number;
  signal?: AbortSignal;
  /**
   * A buffer to read small chunks into instead of a fresh one, for a consumer that copies each
   * chunk before asking for the next (as the tar writer does with small pieces).
   */
  scratch?: Uint8Array;
  /**
   * Where other chunks are read into: buffers of this pool (chunks at most its `chunkSize`), which
   * the consumer gives back with `pool.release` once it is done with them.
   */
  pool?: ChunkPool;
  /**
   * Fresh chunks are SharedArrayBuffer views (without a pool), so that a worker thread can hash
   * them in place (src/runtime/hash-worker.ts).
   */
  shared?: boolean;
}

/**
 * Reads the open file `fd` from `opts.start` on, in chunks of at most `chunkSize`, until its end,
 * whatever size it had when reading began. Each chunk is a fresh buffer (unless `scratch` serves)
 * never larger than what is left of that size plus one byte, so a small file costs a small
 * buffer, not a whole chunk. An abort of `signal` throws CancelledError before the next read.
 *
 * Reads are synchronous on purpose: the bytes land in the cache of the core that hashes them next.
 * Through the thread pool (`fs/promises`) the read runs on another thread and hashing the cold
 * buffer is much slower (the pack pipeline over a 2 GiB file: 3.8 s → 2.5 s; verifying a 1 GiB
 * blob: 1.5 s → 0.6 s). One read blocks for at most one chunk. 1 MiB rather than 2 MiB chunks:
 * same speed, about 60 MB less peak RSS (fewer large buffers waiting for the garbage collector).
 */
export async function* readChunks(fd: number, opts: ReadChunksOptions = {}): AsyncGenerator<Uint8Array> {
  const { pool } = opts;
  const chunkSize = Math.min(opts.chunkSize ?? READ_CHUNK, pool?.chunkSize ?? Infinity);
  let pos = opts.start ?? 0;
  let left = Math.max(0, fs.fstatSync(fd).size - pos);
  // A range ends at `length` bytes; otherwise one byte more than the size is asked for, to read a file that grew.
  const probe = opts.length === undefined ? 1 : 0;
  if (opts.length !== undefined) left = Math.min(left, opts.length);
  for (;;) {
    throwIfAborted(opts.signal);
    const size = Math.min(chunkSize, left + probe);
    if (size === 0) return;
    // Not zero-filled: every byte handed on is one just read (zeroing 1 MiB per chunk cost ~13%
    // of pack time).
    let buf: Uint8Array;
    if (opts.scratch && size <= opts.scratch.length) buf = opts.scratch.subarray(0, size);
    else if (pool) buf = (await pool.acquire(opts.signal)).subarray(0, size);
    else if (opts.shared) buf = new Uint8Array(new SharedArrayBuffer(size));
    else buf = Buffer.allocUnsafeSlow(size);
    let filled = 0;
    try {
      while (filled < size) {
        const bytesRead = fs.readSync(fd, buf, filled, size - filled, pos);
        if (bytesRead === 0) break;
        filled += bytesRead;
        pos += bytesRead;
      }
    } catch (e) {
      pool?.release(buf);
      throw e;
    }
    left = Math.max(0, left - filled);
    if (filled > 0) yield filled === size ? buf : buf.subarray(0, filled);
    else pool?.release(buf);
    if (filled < size) return;
  }
}

/**
 * The file at `path` in chunks (see {@link readChunks}), opened when the first chunk is asked for
 * and closed as soon as the end is reached or the consumer stops.
 */
export async function* readFileChunks(path: string, opts: ReadChunksOptions = {}): AsyncGenerator<Uint8Array> {
  const fd = fs.openSync(path, "r");
  try {
    yield* readChunks(fd, opts);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A file as a byte stream, read in 1 MiB chunks from `start` on, at most `length` bytes (see
 * {@link readChunks}); nothing is read before the consumer asks. Opening errors (e.g. ENOENT) are
 * thrown here, not on the first read, and so are those of `check`, which sees the opened file's
 * stats (to refuse a file replaced since it was indexed). Cancelling the stream, reaching its end
 * or aborting `signal` closes the file.
 */
export async function fileReadableStream(
  file: string,
  opts: { start?: number; length?: number; signal?: AbortSignal; check?: (st: fs.Stats) => void; shared?: boolean; pool?: ChunkPool } = {},
): Promise<ReadableStream<Uint8Array>> {
  throwIfAborted(opts.signal);
  const fh = await fsp.open(file, "r");
  if (opts.check) {
    try {
      opts.check(fs.fstatSync(fh.fd));
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      yield* readChunks(fh.fd, opts);
    } finally {
      await fh.close().catch(() => {});
    }
  }
  return iterableStream(chunks(), { highWaterMark: 0 });
}

// ---------------------------------------------------------------------------------------------
// Inter-process lock

export interface LockOptions {
  signal?: AbortSignal;
  /** Give up waiting after this long (default 2 minutes); the error names the holder. */
  timeoutMs?: number;
  /**
   * A lock file whose owner cannot be checked (written on another host, or unreadable) counts as
   * abandoned once it is older than this (default 10 minutes).
   */
  staleMs?: number;
}

/** A held lock; {@link LockHandle.release} is idempotent. */
export interface LockHandle {
  readonly path: string;
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
}

const HOST = os.hostname();
/** Lock files this process holds (absolute path → token), removed on process exit. */
const held = new Map<string, string>();
/** In-process queue per lock path, so tasks of one process do not poll each other. */
const local = new Map<string, Promise<void>>();
/** Tokens of lock files this process is creating right now (written, not yet registered as held). */
const creating = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const [p, token] of held) {
      try {
        if (readLockSync(p)?.token === token) fs.unlinkSync(p);
      } catch {
        // Nothing more can be done while exiting.
      }
    }
    held.clear();
  });
}

function readLockSync(p: string): LockInfo | undefined {
  try {
    return parseLock(fs.readFileSync(p, "utf8"));
  } catch {
    return undefined;
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === "number" && typeof v.host === "string" && typeof v.token === "string") {
      return { pid: v.pid, host: v.host, token: v.token };
    }
  } catch {
    // Not (yet) written or not ours: judged by age.
  }
  return undefined;
}

/** Whether process `pid` on this host is alive (EPERM means alive but owned by someone else). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) !== "ESRCH";
  }
}

/**
 * Creates lock file `p` exclusively with this process's pid, host and a fresh token. Returns the
 * token, or undefined when the file exists. The token stays in `creating` until the caller
 * registers it (makeHandle) or gives up, so this process's other tasks see the lock as live.
 */
async function tryCreate(p: string): Promise<string | undefined> {
  const token = randomHex(8);
  const info: LockInfo = { pid: process.pid, host: HOST, token };
  let fh: fsp.FileHandle;
  creating.add(token);
  let ok = false;
  try {
    try {
      fh = await fsp.open(p, "wx", 0o644);
    } catch (e) {
      if (errnoCode(e) === "EEXIST") return undefined;
      if (errnoCode(e) === "ENOENT") {
        await ensureDir(path.dirname(p));
        return await tryCreate(p);
      }
      throw e;
    }
    try {
      await fh.writeFile(JSON.stringify(info));
    } finally {
      await fh.close();
    }
    ok = true;
    return token;
  } finally {
    if (!ok) creating.delete(token);
  }
}

type LockState =
  | { state: "absent" }
  | { state: "live"; who: string }
  | { state: "stale"; raw: string };

/** Whether the lock file at `p` is free, held by a live process, or left behind by a dead one. */
async function lockState(p: string, staleMs: number): Promise<LockState> {
  let raw: string;
  let mtime: number;
  try {
    [raw, mtime] = await Promise.all([fsp.readFile(p, "utf8"), fsp.stat(p).then((s) => s.mtimeMs)]);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return { state: "absent" };
    throw e;
  }
  const info = parseLock(raw);
  if (info && info.host === HOST) {
    if (info.pid === process.pid) {
      // Ours: live while this process holds it or is still creating it.
      return held.get(p) === info.token || creating.has(info.token)
        ? { state: "live", who: `this process (${info.pid})` }
        : { state: "stale", raw };
    }
    return processAlive(info.pid) ? { state: "live", who: `process ${info.pid}` } : { state: "stale", raw };
  }
  // Written on another host (pid unknowable) or not written yet: judged by age.
  if (Date.now() - mtime <= staleMs) {
    return { state: "live", who: info ? `process ${info.pid} on ${info.host}` : "another process" };
  }
  return { state: "stale", raw };
}

/**
 * Removes the lock at `p` if its holder is gone. Returns true when the caller should retry at
 * once (the lock was removed, or was already free).
 */
async function breakIfStale(p: string, staleMs: number): Promise<boolean> {
  const first = await lockState(p, staleMs);
  if (first.state !== "stale") return first.state === "absent";
  // Only one breaker at a time, and only the very lock judged stale is removed: otherwise two
  // processes could judge the same stale lock and the slower one would delete the lock that the
  // faster one had just taken.
  const breaker = p + ".break";
  const bt = await tryCreate(breaker);
  if (bt === undefined) {
    try {
      const st = await fsp.stat(breaker);
      if (Date.now() - st.mtimeMs > 10_000) await fsp.rm(breaker, { force: true });
    } catch {
      // Gone already.
    }
    return false;
  }
  try {
    const again = await lockState(p, staleMs);
    if (again.state === "absent") return true;
    if (again.state !== "stale" || again.raw !== first.raw) return false;
    await fsp.rm(p, { force: true });
    return true;
  } finally {
    await fsp.rm(breaker, { force: true });
    creating.delete(bt);
  }
}


/** Removes the lock file `lockPath` when its holder is gone (a killed process); true when it is no longer there. */
export async function removeStaleLock(lockPath: string, opts: { staleMs?: number } = {}): Promise<boolean> {
  return breakIfStale(path.resolve(lockPath), opts.staleMs ?? 600_000);
}

/**
 * Takes the lock file `lockPath` once without waiting; undefined when another live holder has
 * it. A lock left by a dead process is removed and taken.
 */
export async function tryLock(lockPath: string, opts: { staleMs?: number } = {}): Promise<LockHandle | undefined> {
  const p = path.resolve(lockPath);
  const staleMs = opts.staleMs ?? 600_000;
  if (held.has(p)) return undefined;
  for (let i = 0; i < 3; i++) {
    const token = await tryCreate(p);
    if (token !== undefined) return makeHandle(p, token);
    if (!(await breakIfStale(p, staleMs))) return undefined;
  }
  return undefined;
}

function makeHandle(p: string, token: string): LockHandle {
  installExitHook();
  held.set(p, token);
  creating.delete(token);
  let released = false;
  return {
    path: p,
    async release() {
      if (released) return;
      released = true;
      held.delete(p);
      try {
        if (parseLock(await fsp.readFile(p, "utf8"))?.token === token) await fsp.rm(p, { force: true });
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw e;
      }
    },
  };
}

/**
 * Waits for and takes the lock file `lockPath`: exclusive creation of a file holding this
 * process's pid, host and a token. A lock whose process is dead is broken; otherwise retries
 * with a growing, jittered delay until the lock is free, `signal` aborts (CancelledError) or
 * `timeoutMs` passes (KitError naming the holder).
 */
export async function acquireLock(lockPath: string, opts: LockOptions = {}): Promise<LockHandle> {
  const p = path.resolve(lockPath);
  const staleMs = opts.staleMs ?? 600_000;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const start = Date.now();
  let delay = 2;
  for (;;) {
    throwIfAborted(opts.signal);
    if (!held.has(p)) {
      const token = await tryCreate(p);
      if (token !== undefined) return makeHandle(p, token);
      if (await breakIfStale(p, staleMs)) continue;
    }
    if (Date.now() - start > timeoutMs) {
      const st = await lockState(p, staleMs).catch(() => undefined);
      const who = st?.state === "live" ? st.who : undefined;
      throw new KitError(`Timed out waiting for lock ${p}${who ? ` held by ${who}` : ""}`, {
        hint: "If no other kit process is running, delete the lock file and try again",
      });
    }
    await sleep(delay + Math.random() * delay, opts.signal);
    delay = Math.min(delay * 2, 100);
  }
}

/**
 * Runs `fn` while holding the inter-process lock `lockPath`; the lock is released when `fn`
 * settles and, should the process exit first, by an exit hook. Not re-entrant: `fn` must not
 * take the same lock again. Tasks of one process queue in memory before touching the file.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const p = path.resolve(lockPath);
  const prev = local.get(p) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const tail = prev.then(() => mine);
  local.set(p, tail);
  try {
    await waitOrAbort(prev, opts.signal);
    const handle = await acquireLock(p, opts);
    try {
      return await fn();
    } finally {
      await handle.release();
    }
  } finally {
    done();
    if (local.get(p) === tail) local.delete(p);
  }
}

/** Waits for `p`, or rejects with CancelledError as soon as `signal` aborts. */
function waitOrAbort(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, reject);
  });
}

