/**
 * The project's tar reader (USTAR, PAX, GNU long names; read tolerantly like Go `archive/tar`):
 * unpack reads layers with it as a stream, and the oci-archive store indexes archives with it
 * straight from the file, skipping entry data by position instead of reading it
 * (docs/format.md#oci-layouts).
 * @module
 */
import fsp from "node:fs/promises";
import { CorruptDataError, KitError } from "../util/errors.ts";
import { throwIfAborted } from "../util/pool.ts";
import { iterableStream } from "../util/streams.ts";

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
  /** Where the member's data starts in the input (bytes from its start). */
  offset: number;
  /** The member's data as chunks (zero-copy views of the input). Can be iterated once. */
  chunks(): AsyncGenerator<Uint8Array>;
  /** The member's data as a Web stream. */
  readonly body: ReadableStream<Uint8Array>;
}

const BLOCK = 512;
/** Go's `maxSpecialFileSize`: PAX and GNU long-name data larger than this is refused. */
const MAX_SPECIAL_FILE = 1 << 20;
const dec = new TextDecoder();

/** Where {@link readTar} takes its bytes from: a stream, or a file read at positions. */
interface TarInput {
  /** Bytes consumed so far. */
  readonly position: number;
  /** Up to `max` bytes, or undefined at the end of the input. */
  readSome(max: number): Promise<Uint8Array | undefined>;
  /** Exactly `n` bytes; undefined when the input ends before the first byte; throws when it ends midway. */
  readExact(n: number): Promise<Uint8Array | undefined>;
  skip(n: number): Promise<void>;
  /** Consumes what is left after the end-of-archive marker. */
  drain(): Promise<void>;
  cancel(reason?: unknown): Promise<void>;
  release(): void;
}

/** {@link TarInput.readExact} on top of `readSome`. */
async function readExactFrom(input: TarInput, n: number): Promise<Uint8Array | undefined> {
  const first = await input.readSome(n);
  if (!first) return undefined;
  if (first.length === n) return first;
  const out = new Uint8Array(n);
  out.set(first);
  let off = first.length;
  while (off < n) {
    const more = await input.readSome(n - off);
    if (!more) throw unexpectedEof();
    out.set(more, off);
    off += more.length;
  }
  return out;
}

/** Input chunks a {@link ByteSource} keeps before handing them to `release`: see {@link TarReadOptions.release}. */
const KEPT_CHUNKS = 2;

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

/** Pulls exact or bounded amounts of bytes from a stream, without copying when it can. */
class ByteSource implements TarInput {
  position = 0;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #eof = false;
  #signal: AbortSignal | undefined;
  #release: ((chunk: Uint8Array) => void) | undefined;
  #kept: Uint8Array[] = [];

  constructor(stream: ReadableStream<Uint8Array>, opts: TarReadOptions = {}) {
    this.#reader = stream.getReader();
    this.#signal = opts.signal;
    this.#release = opts.release;
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

  /** Up to `max` bytes, or undefined at the end of the stream. */
  async readSome(max: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill())) return undefined;
    const n = Math.min(max, this.#buf.length);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    this.position += n;
    return out;
  }

  readExact(n: number): Promise<Uint8Array | undefined> {
    return readExactFrom(this, n);
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const got = await this.readSome(n);
      if (!got) throw unexpectedEof();
      n -= got.length;
    }
  }

  /**
   * Reads and discards everything left (so a digest check upstream sees the whole blob); then
   * nothing uses the chunks still kept, and they are released.
   */
  async drain(): Promise<void> {
    while (await this.readSome(Number.MAX_SAFE_INTEGER)) {
      /* discard */
    }
    for (const c of this.#kept.splice(0)) this.#release?.(c);
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason).catch(() => {});
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

/**
 * Reads an open file at positions: skipping entry data costs nothing, so an archive of any size is
 * indexed by reading its headers only.
 */
class FileInput implements TarInput {
  position = 0;
  readonly #fh: fsp.FileHandle;
  readonly #size: number;
  readonly #signal: AbortSignal | undefined;

  constructor(fh: fsp.FileHandle, size: number, signal?: AbortSignal) {
    this.#fh = fh;
    this.#size = size;
    this.#signal = signal;
  }

  async readSome(max: number): Promise<Uint8Array | undefined> {
    throwIfAborted(this.#signal);
    const n = Math.min(max, this.#size - this.position, 1 << 20);
    if (n <= 0) return undefined;
    const buf = new Uint8Array(n);
    const { bytesRead } = await this.#fh.read(buf, 0, n, this.position);
    if (bytesRead === 0) return undefined;
    this.position += bytesRead;
    return bytesRead === n ? buf : buf.subarray(0, bytesRead);
  }

  readExact(n: number): Promise<Uint8Array | undefined> {
    return readExactFrom(this, n);
  }

  async skip(n: number): Promise<void> {
    if (this.position + n > this.#size) throw unexpectedEof();
    this.position += n;
  }

  async drain(): Promise<void> {
    // Nothing to verify after the end-of-archive marker of a file.
  }

  async cancel(): Promise<void> {}

  release(): void {}
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
export function readTar(stream: ReadableStream<Uint8Array>, opts: TarReadOptions = {}): AsyncGenerator<TarReadEntry> {
  return readEntries(new ByteSource(stream, opts), false);
}

/**
 * The entries of the tar file open as `fh` (`size` bytes long), their data skipped unless read:
 * each entry's `offset` says where its data is. A file that ends before its end-of-archive marker,
 * or inside an entry, is refused as truncated.
 */
export function readTarFile(fh: fsp.FileHandle, size: number, opts: { signal?: AbortSignal } = {}): AsyncGenerator<TarReadEntry> {
  return readEntries(new FileInput(fh, size, opts.signal), true);
}

/** {@link readTar} over any input; `requireEnd`: an input without the end-of-archive marker is truncated. */
async function* readEntries(src: TarInput, requireEnd: boolean): AsyncGenerator<TarReadEntry> {
  let finished = false;
  try {
    let pax = new Map<string, string>();
    let gnuLongName: string | undefined;
    let gnuLongLink: string | undefined;
    for (;;) {
      const blk = await src.readExact(BLOCK);
      if (!blk) {
        if (requireEnd) throw unexpectedEof();
        break; // end of data at a block boundary: tolerated like Go
      }
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
        offset: src.position,
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
    finished = true;
  } finally {
    if (!finished) await src.cancel();
    src.release();
  }
}

