/**
 * A streaming tar reader (USTAR, PAX, GNU long names; read tolerantly like Go `archive/tar`) and kit's
 * extraction rules with its safety checks (docs/format.md#extraction). Files are written to a temporary name in
 * their directory and renamed into place once complete, so an interrupted unpack never leaves a
 * half-written file under its final name.
 * @module
 */
import { closeSync, fchmodSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, type Stats, statSync, unlinkSync, write, writeSync } from "node:fs";
import * as nodePath from "node:path";
import { cleanPath } from "../kitfile/paths.ts";
import { asKitError, CancelledError, CorruptDataError, IntegrityError, KitError } from "../util/errors.ts";
import { isWithinDir, ownedTempName } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { throwIfAborted } from "../util/pool.ts";
import { iterableStream } from "../util/streams.ts";
import { joinPath } from "./ignore.ts";

export type TarEntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo" | "other";

/** One archive member. Its data must be read before the next entry is requested, or it is skipped. */
export interface TarReadEntry {
  /** The member name after PAX/GNU overrides, as stored (not cleaned). */
  name: string;
  type: TarEntryType;
  /** The raw type flag character (`0`, `5`, `2`, …). */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  size: number;
  linkname: string;
  /** The member's data as chunks (zero-copy views of the input). Can be iterated once. */
  chunks(): AsyncGenerator<Uint8Array>;
  /** The member's data as a Web stream. */
  readonly body: ReadableStream<Uint8Array>;
}

const BLOCK = 512;
/** Go's `maxSpecialFileSize`: PAX and GNU long-name data larger than this is refused. */
const MAX_SPECIAL_FILE = 1 << 20;
const dec = new TextDecoder();

/** Input chunks a {@link ByteSource} keeps before handing them to `release`: see {@link TarReadOptions.release}. */
const KEPT_CHUNKS = 2;

/** Pulls exact or bounded amounts of bytes from a stream, without copying when it can. */
class ByteSource {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #eof = false;
  #signal: AbortSignal | undefined;
  #release: ((chunk: Uint8Array) => void) | undefined;
  #kept: Uint8Array[] = [];

  constructor(stream: ReadableStream<Uint8Array>, signal?: AbortSignal, release?: (chunk: Uint8Array) => void) {
    this.#reader = stream.getReader();
    this.#signal = signal;
    this.#release = release;
  }

  async #fill(): Promise<boolean> {
    while (this.#buf.length === 0) {
      if (this.#eof) return false;
      throwIfAborted(this.#signal);
      const r = await this.#reader.read();
      if (r.done) {
        this.#eof = true;
        return false;
      }
      this.#buf = r.value;
      if (this.#release) {
        this.#kept.push(r.value);
        while (this.#kept.length > KEPT_CHUNKS) this.#release(this.#kept.shift()!);
      }
    }
    return true;
  }

  /** Hands the chunks still kept to `release` (at the end, once nothing uses them). */
  releaseKept(): void {
    for (const c of this.#kept.splice(0)) this.#release?.(c);
  }

  /** Up to `max` bytes, or undefined at the end of the stream. */
  async readSome(max: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill())) return undefined;
    const n = Math.min(max, this.#buf.length);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Exactly `n` bytes; undefined when the stream ends before the first byte; throws when it ends midway. */
  async readExact(n: number): Promise<Uint8Array | undefined> {
    const first = await this.readSome(n);
    if (!first) return undefined;
    if (first.length === n) return first;
    const out = new Uint8Array(n);
    out.set(first);
    let off = first.length;
    while (off < n) {
      const more = await this.readSome(n - off);
      if (!more) throw unexpectedEof();
      out.set(more, off);
      off += more.length;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const got = await this.readSome(n);
      if (!got) throw unexpectedEof();
      n -= got.length;
    }
  }

  /** Reads and discards everything left (so a digest check upstream sees the whole blob). */
  async drain(): Promise<void> {
    while (await this.readSome(Number.MAX_SAFE_INTEGER)) {
      /* discard */
    }
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason).catch(() => {});
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

function unexpectedEof(): KitError {
  return new CorruptDataError("Failed to read tar archive: unexpected end of data", {
    hint: "The layer is truncated or corrupt; fetch it again",
  });
}

function invalidHeader(why: string): KitError {
  return new CorruptDataError(`Failed to read tar archive: invalid tar header (${why})`);
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return dec.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** Go tar's `parseNumeric`: base-256 when the high bit is set, else octal with spaces/NULs trimmed. */
function parseNumeric(b: Uint8Array, what: string): number {
  if (b.length > 0 && b[0]! & 0x80) {
    const negative = (b[0]! & 0x40) !== 0;
    let x = 0;
    for (let i = 0; i < b.length; i++) {
      let byte = b[i]!;
      if (negative) byte ^= 0xff;
      if (i === 0) byte &= 0x7f;
      x = x * 256 + byte;
    }
    if (!Number.isSafeInteger(x)) throw invalidHeader(`${what} out of range`);
    return negative ? -(x + 1) : x;
  }
  const s = dec.decode(b).replace(/^[ \0]+|[ \0]+$/g, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw invalidHeader(`bad ${what} field`);
  const x = parseInt(s, 8);
  if (!Number.isSafeInteger(x)) throw invalidHeader(`${what} out of range`);
  return x;
}

function checksumMatches(blk: Uint8Array): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : blk[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  const want = parseNumeric(blk.subarray(148, 156), "checksum");
  return want === unsigned || want === signed;
}

function parsePaxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) throw invalidHeader("bad PAX record");
    const lenText = dec.decode(data.subarray(off, sp));
    if (!/^[0-9]+$/.test(lenText)) throw invalidHeader("bad PAX record length");
    const len = parseInt(lenText, 10);
    const end = off + len;
    if (len <= sp - off + 1 || end > data.length || data[end - 1] !== 0x0a) throw invalidHeader("bad PAX record");
    const rec = dec.decode(data.subarray(sp + 1, end - 1));
    const eq = rec.indexOf("=");
    if (eq < 0) throw invalidHeader("bad PAX record");
    const key = rec.slice(0, eq);
    const value = rec.slice(eq + 1);
    if (value === "") out.delete(key);
    else out.set(key, value);
    off = end;
  }
  return out;
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case "0":
    case "\0":
    case "7":
      return "file";
    case "5":
      return "dir";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "3":
      return "char";
    case "4":
      return "block";
    case "6":
      return "fifo";
    default:
      return "other";
  }
}

/** Types whose size field describes no data (Go `isHeaderOnlyType`). */
function isHeaderOnly(flag: string): boolean {
  return "123456".includes(flag) && flag.length === 1;
}

/**
 * Reads a tar stream entry by entry. After the end-of-archive marker the rest of the input is read and
 * discarded, so digest checks on the input stream complete. Cancelling (breaking out) cancels the input.
 */
export interface TarReadOptions {
  signal?: AbortSignal;
  /**
   * Called with each input chunk once the reader is two chunks past it (and with the last ones
   * after the end of the archive): the chunk's buffer may then be reused. Only for a consumer
   * that has finished with an entry's data pieces by the time it asks for the piece after the
   * next, as extraction does (at most one write in flight). Not called after a failure.
   */
  release?: (chunk: Uint8Array) => void;
}

export async function* readTar(
  stream: ReadableStream<Uint8Array>,
  opts: TarReadOptions = {},
): AsyncGenerator<TarReadEntry> {
  const src = new ByteSource(stream, opts.signal, opts.release);
  let finished = false;
  try {
    let pax = new Map<string, string>();
    let gnuLongName: string | undefined;
    let gnuLongLink: string | undefined;
    for (;;) {
      const blk = await src.readExact(BLOCK);
      if (!blk) break; // end of data at a block boundary: tolerated like Go
      if (blk.every((b) => b === 0)) {
        const next = await src.readExact(BLOCK);
        if (next && !next.every((b) => b === 0)) throw invalidHeader("zero block followed by data");
        break;
      }
      if (!checksumMatches(blk)) throw invalidHeader("checksum mismatch");
      let flag = String.fromCharCode(blk[156]!);
      const magic = dec.decode(blk.subarray(257, 263));
      const version = dec.decode(blk.subarray(263, 265));
      let name = cString(blk.subarray(0, 100));
      const isUstar = magic === "ustar\0" && version === "00";
      if (isUstar) {
        const star = dec.decode(blk.subarray(508, 512)) === "tar\0";
        const prefix = cString(blk.subarray(345, star ? 345 + 131 : 500));
        if (prefix !== "") name = prefix + "/" + name;
      }
      let size = parseNumeric(blk.subarray(124, 136), "size");
      if (size < 0) throw invalidHeader("negative size");

      // Extended headers apply to the next real entry.
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        if (size > MAX_SPECIAL_FILE) throw invalidHeader("extended header too large");
        const data = size === 0 ? new Uint8Array(0) : ((await src.readExact(size)) ?? new Uint8Array(0));
        if (data.length !== size) throw unexpectedEof();
        await src.skip((BLOCK - (size % BLOCK)) % BLOCK);
        if (flag === "x") for (const [k, v] of parsePaxRecords(data)) pax.set(k, v);
        else if (flag === "L") gnuLongName = cString(data);
        else if (flag === "K") gnuLongLink = cString(data);
        // "g" (global) records are ignored, as kit never writes them.
        continue;
      }

      let linkname = cString(blk.subarray(157, 257));
      let uid = parseNumeric(blk.subarray(108, 116), "uid");
      let gid = parseNumeric(blk.subarray(116, 124), "gid");
      let mtime = parseNumeric(blk.subarray(136, 148), "mtime");
      if (gnuLongName !== undefined) name = gnuLongName;
      if (gnuLongLink !== undefined) linkname = gnuLongLink;
      const paxPath = pax.get("path");
      if (paxPath !== undefined) name = paxPath;
      const paxLink = pax.get("linkpath");
      if (paxLink !== undefined) linkname = paxLink;
      const num = (k: string, cur: number) => {
        const v = pax.get(k);
        if (v === undefined) return cur;
        const n = Number(v.split(".")[0]);
        if (!Number.isSafeInteger(n)) throw invalidHeader(`bad PAX ${k}`);
        return n;
      };
      size = num("size", size);
      uid = num("uid", uid);
      gid = num("gid", gid);
      mtime = num("mtime", mtime);
      pax = new Map();
      gnuLongName = undefined;
      gnuLongLink = undefined;

      if (flag === "\0") flag = name.endsWith("/") ? "5" : "0";
      const dataSize = isHeaderOnly(flag) ? 0 : size;
      let remaining = dataSize;
      let started = false;
      const chunks = async function* (): AsyncGenerator<Uint8Array> {
        if (started) throw new Error(`The data of tar entry ${name} can only be read once`);
        started = true;
        while (remaining > 0) {
          const got = await src.readSome(remaining);
          if (!got) throw unexpectedEof();
          remaining -= got.length;
          yield got;
        }
      };
      let bodyStream: ReadableStream<Uint8Array> | undefined;
      const entry: TarReadEntry = {
        name,
        type: typeOf(flag),
        typeflag: flag,
        mode: parseNumeric(blk.subarray(100, 108), "mode") & 0o7777,
        uid,
        gid,
        mtime,
        size,
        linkname,
        chunks,
        get body() {
          return (bodyStream ??= iterableStream(chunks()));
        },
      };
      yield entry;
      if (remaining > 0) await src.skip(remaining);
      await src.skip((BLOCK - (dataSize % BLOCK)) % BLOCK);
    }
    await src.drain();
    src.releaseKept();
    finished = true;
  } finally {
    if (!finished) await src.cancel();
    src.release();
  }
}

// ---- extraction ----

/**
 * The mode bits extraction ever sets: permissions only. Setuid, setgid and sticky bits from an
 * archive (or a raw layer's metadata) are dropped, whoever runs the unpack.
 */
export const EXTRACT_MODE_MASK = 0o777;

export interface ExtractOptions {
  /** `-o`: replace existing regular files. */
  overwrite: boolean;
  /** `-i`: leave existing files alone (takes precedence over overwrite, as in kit). */
  ignoreExisting: boolean;
  /** A directory (relative to the target) the entry names are joined to (pre-v0.5.0 layers). */
  subdir?: string;
  /** Called with the path (relative to the target) of each file once it is in place. */
  onFile?: (path: string) => void;
  signal?: AbortSignal;
  logger?: Logger;
  /** See {@link TarReadOptions.release}: extraction keeps at most one write in flight. */
  release?: (chunk: Uint8Array) => void;
  /**
   * Settles when the files of this archive may be put in place: once the layers before it, being
   * extracted at the same time, have put theirs (a rejection means one of them failed: nothing of
   * this archive is put in place). Files that appeared meanwhile are then what they would have
   * been for a layer extracted after the others: existing files.
   */
  before?: Promise<void>;
}

export interface ExtractResult {
  files: number;
  dirs: number;
  /** Existing files left alone because of `ignoreExisting`. */
  skipped: number;
  bytes: number;
}

// File-system calls are synchronous except large data writes: through the thread pool each call
// costs ~50 µs, and unpacking makes several per file (20,000 small files: 7 s → 3 s).

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * kit's `VerifySubpath` for an entry: returns the real on-disk location (symlinks in the existing part
 * resolved), or throws `illegal file path: <p>: <why>`.
 */
function resolveEntryPath(rel: string, display: string, rootReal: string): string {
  const fail = (why: string) => new KitError(`illegal file path: ${display}: ${why}`);
  if (rel.startsWith("/")) throw fail(`absolute paths are not supported (${display})`);
  if (rel.includes("\0")) throw fail("a path cannot contain a NUL byte");
  const cleaned = cleanPath(rel);
  if (rel === "" || cleaned === ".." || cleaned.startsWith("../")) {
    throw fail("layer paths must stay within context directory");
  }
  if (cleaned === ".") return rootReal;
  let current = rootReal;
  const parts = cleaned.split("/");
  for (let i = 0; i < parts.length; i++) {
    const next = nodePath.join(current, parts[i]!);
    const st = lstatOrUndefined(next);
    if (!st) return nodePath.join(next, ...parts.slice(i + 1));
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = realpathSync(next);
      } catch {
        throw fail("paths must be within context directory"); // dangling or looping link
      }
      if (!isWithinDir(target, rootReal)) throw fail("paths must be within context directory");
      current = target;
    } else {
      current = next;
    }
  }
  return current;
}

/** Chunks at least this large are written on the thread pool while the next one is read and hashed. */
const ASYNC_WRITE_BYTES = 64 * 1024;

function writeAllSync(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
}

async function writeAllAsync(fd: number, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    off += await new Promise<number>((resolve, reject) =>
      write(fd, chunk, off, chunk.length - off, null, (e, n) => (e ? reject(e) : resolve(n))),
    );
  }
}

/** Writes every chunk to `fd`, one large write in flight while the next chunk is read; returns the byte count. */
async function writeChunks(fd: number, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let written = 0;
  let pending: Promise<void> | undefined;
  try {
    for await (const chunk of chunks) {
      if (pending) await pending;
      pending = undefined;
      if (chunk.length < ASYNC_WRITE_BYTES) {
        writeAllSync(fd, chunk);
      } else {
        pending = writeAllAsync(fd, chunk);
        pending.catch(() => {}); // awaited above or below
      }
      written += chunk.length;
    }
    if (pending) await pending;
    pending = undefined;
  } finally {
    // Never let the caller close the file while a write is still running.
    if (pending) await pending.catch(() => {});
  }
  return written;
}

/**
 * kit's rules for a file to unpack whose path exists: leave it (`ignoreExisting`), replace a
 * regular file (`overwrite`), or fail.
 */
export function onExisting(st: Stats, o: { overwrite: boolean; ignoreExisting: boolean }, display: string): "skip" | "replace" {
  if (o.ignoreExisting) return "skip";
  if (!o.overwrite) {
    throw new KitError(`path '${display}' already exists`, {
      hint: "Use --overwrite to replace existing files, or --ignore-existing to keep them",
    });
  }
  if (!st.isFile()) throw new KitError(`path '${display}' already exists and is not a regular file`);
  return "replace";
}

/**
 * Extracts a tar stream into `targetDir` with kit's rules (docs/format.md#extraction): names must
 * stay inside the target (also through existing symlinks), only directories and regular files are
 * accepted, directories and new files get the header's permission bits (umask applies; existing
 * files keep theirs; never setuid, setgid or sticky), `ignoreExisting` skips existing files,
 * otherwise they are an error unless `overwrite` is set.
 */
export async function extractTar(
  stream: ReadableStream<Uint8Array>,
  targetDir: string,
  opts: ExtractOptions,
): Promise<ExtractResult> {
  const result: ExtractResult = { files: 0, dirs: 0, skipped: 0, bytes: 0 };
  mkdirSync(targetDir, { recursive: true });
  const rootReal = realpathSync(targetDir);
  const subdir = opts.subdir ?? "";
  // Files are written under temporary names and only renamed into place once the whole stream has
  // been read, and so digest-verified: a corrupted or truncated layer leaves no file behind.
  const pending: Array<{ tmp: string; dest: string; display: string; existed: boolean; bytes: number }> = [];
  let complete = false;
  try {
  for await (const entry of readTar(stream, { signal: opts.signal, release: opts.release })) {
    const rel = subdir === "" ? entry.name : joinPath(subdir, entry.name);
    const display = subdir === "" ? entry.name : rel;
    const dest = resolveEntryPath(rel, display, rootReal);
    if (entry.type === "dir") {
      const st = statOrUndefined(dest);
      if (st) {
        if (!st.isDirectory()) throw new KitError(`path '${display}' already exists and is not a directory`);
      } else {
        opts.logger?.debug(`Creating directory ${display}`);
        mkdirSync(dest, { recursive: true, mode: entry.mode & EXTRACT_MODE_MASK });
      }
      result.dirs++;
      continue;
    }
    if (entry.type !== "file") throw new KitError(`unrecognized type in archive: ${entry.name}`);

    const existing = statOrUndefined(dest);
    if (existing && onExisting(existing, opts, display) === "skip") {
      opts.logger?.debug(`Skipping existing file ${display}`);
      result.skipped++;
      continue; // the reader skips the data
    }
    opts.logger?.debug(`Unpacking file ${display}`);
    const dir = nodePath.dirname(dest);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const tmp = nodePath.join(dir, ownedTempName(nodePath.basename(dest)));
    const fd = openSync(tmp, "wx", entry.mode & EXTRACT_MODE_MASK);
    let closed = false;
    let committed = false;
    try {
      let written: number;
      try {
        written = await writeChunks(fd, entry.chunks());
      } catch (e) {
        // The layer's own failures keep their type (a cut or corrupt stream, damaged bytes, a cancel).
        if (e instanceof CancelledError || e instanceof IntegrityError) throw e;
        if (e instanceof CorruptDataError) throw new CorruptDataError(`could not unpack file ${display}: ${e.message}`, { cause: e, hint: e.hint });
        const k = asKitError(e);
        throw new KitError(`could not unpack file ${display}: ${(k as Error).message}`, { cause: e, hint: k instanceof KitError ? k.hint : undefined });
      }
      if (written !== entry.size) throw new KitError(`could not unpack file ${display}`);
      if (existing) fchmodSync(fd, existing.mode & EXTRACT_MODE_MASK);
      closed = true;
      closeSync(fd);
      pending.push({ tmp, dest, display, existed: existing !== undefined, bytes: written });
      committed = true;
      result.files++;
      result.bytes += written;
    } finally {
      if (!committed) {
        if (!closed) {
          try {
            closeSync(fd);
          } catch {
            // already failing; the file is removed below
          }
        }
        try {
          unlinkSync(tmp);
        } catch {
          // best effort: the temporary file may not exist
        }
      }
    }
  }
  if (opts.before) {
    await opts.before;
    // Files another layer put in place meanwhile: the same rules as for files found at the start,
    // all checked before any file of this archive is put in place.
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!;
      if (p.existed) continue;
      const st = statOrUndefined(p.dest);
      if (st && onExisting(st, opts, p.display) === "skip") {
        opts.logger?.debug(`Skipping existing file ${p.display}`);
        unlinkSync(p.tmp);
        pending.splice(i--, 1);
        result.files--;
        result.bytes -= p.bytes;
        result.skipped++;
      }
    }
  }
  for (const p of pending) {
    renameSync(p.tmp, p.dest);
    opts.onFile?.(p.display);
  }
  complete = true;
  } finally {
    if (!complete) {
      for (const p of pending) {
        try {
          unlinkSync(p.tmp);
        } catch {
          // best effort
        }
      }
    }
  }
  return result;
}

/**
 * Exposed for callers that verify a Kitfile-declared path the same way (legacy layers,
 * docs/format.md#pairing).
 */
export async function verifySubpath(targetDir: string, rel: string): Promise<string> {
  return resolveEntryPath(rel, rel, realpathSync(targetDir));
}
