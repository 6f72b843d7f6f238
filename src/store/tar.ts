/**
 * The project's tar writer (pack's layers, oci-archive files), whose bytes equal Go `archive/tar` output as kit uses it (docs/format.md#tar):
 * USTAR whenever possible, PAX records for long/non-ASCII names and sizes ≥ 8 GiB, uid 1000, gid 0,
 * mtime 0, data padded to 512 and two zero blocks at the end. File data is streamed through; at most
 * a bounded amount of small pieces is staged to make large output chunks.
 * @module
 */
import { KitError } from "../util/errors.ts";
import type { ChunkPool } from "../util/chunk-pool.ts";
import { throwIfAborted } from "../util/pool.ts";
import { chunksOf, iterableStream } from "../util/streams.ts";
import { cleanPath } from "../kitfile/paths.ts";

export const BLOCK_SIZE = 512;
/** The uid kit writes into every header (`0001750`). */
export const KIT_TAR_UID = 1000;
/** Sizes from here on do not fit 11 octal digits and go into a PAX `size` record. */
const PAX_SIZE_LIMIT = 8 ** 11;

/** Bytes of file data: a Web stream or any async iterable of chunks. */
export type TarSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** A directory entry: header only. */
export interface TarDirEntry {
  type: "dir";
  /** Path relative to the layer root, `/`-separated, no `./` prefix, no trailing `/`. */
  name: string;
  /** Permission bits plus setuid/setgid/sticky; file-type bits are dropped. */
  mode: number;
}

/** A regular file entry; `open()` is called once, when the entry is written. */
export interface TarFileEntry {
  type: "file";
  name: string;
  mode: number;
  /** The size written into the header; the data must have exactly this many bytes. */
  size: number;
  open(): TarSource | Promise<TarSource>;
}

export type TarEntry = TarDirEntry | TarFileEntry;

export interface TarWriteOptions {
  signal?: AbortSignal;
  /** Data chunks at least this large are passed through without copying (default 64 KiB). */
  passThroughBytes?: number;
  /** Small pieces (headers, padding, small files) are gathered into chunks of about this size (default 1 MiB). */
  stagingBytes?: number;
  /**
   * Buffers to stage into (taken when a staging buffer fits one) and to give source chunks back
   * to once they have been copied into the staging buffer. Chunks handed on (full staging
   * buffers, chunks passed through) are the consumer's to release; nothing is garbage then but
   * small copied-out pieces.
   */
  pool?: ChunkPool;
}

const ENC = new TextEncoder();
const ZERO_BLOCK = new Uint8Array(BLOCK_SIZE);
const END_OF_ARCHIVE = new Uint8Array(2 * BLOCK_SIZE);

// Header field offsets and sizes (V7 + USTAR).
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

type Field = keyof typeof F;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Go tar's `toASCII`: drops every non-ASCII character (and NUL) when the string is not pure ASCII. */
function toAscii(s: string): string {
  if (isAscii(s)) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80 && c !== 0) out += ch;
  }
  return out;
}

/** Go tar's `formatter.formatString`: copy, NUL-terminate if room, never leave a cut name ending in `/`. */
function putString(blk: Uint8Array, field: Field, s: string | Uint8Array): void {
  const [off, len] = F[field];
  const bytes = typeof s === "string" ? ENC.encode(s) : s;
  blk.set(bytes.subarray(0, len), off);
  if (bytes.length < len) blk[off + bytes.length] = 0;
  if (bytes.length > len && blk[off + len - 1] === 0x2f) {
    let n = len - 1;
    while (n > 0 && bytes[n - 1] === 0x2f) n--;
    blk[off + n] = 0;
  }
}

/** Go tar's `formatter.formatOctal`: zero-padded octal leaving room for a NUL; 0 when it does not fit. */
function putOctal(blk: Uint8Array, field: Field, x: number, width = F[field][1]): void {
  if (!fitsInOctal(width, x)) x = 0;
  const s = x.toString(8).padStart(width - 1, "0");
  const [off] = F[field];
  for (let i = 0; i < s.length && i < width; i++) blk[off + i] = s.charCodeAt(i);
  if (s.length < width) blk[off + s.length] = 0;
}

function fitsInOctal(width: number, x: number): boolean {
  return x >= 0 && (width >= 22 || x < 8 ** (width - 1));
}

/** Sets magic `ustar\0`, version `00` and the checksum (6 octal digits, NUL, space). */
function finishBlock(blk: Uint8Array): void {
  putString(blk, "magic", "ustar\0");
  putString(blk, "version", "00");
  blk.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += blk[i]!;
  const s = sum.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) blk[148 + i] = s.charCodeAt(i);
  blk[154] = 0;
  blk[155] = 0x20;
}

/** Go tar's `splitUSTARPath`: prefix ≤ 155 bytes and name ≤ 100 bytes split at a `/`, ASCII only. */
export function splitUstarPath(name: string): [prefix: string, suffix: string] | undefined {
  let length = name.length;
  if (length <= 100 || !isAscii(name)) return undefined;
  if (length > 156) length = 156;
  else if (name[length - 1] === "/") length--;
  const i = name.lastIndexOf("/", length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > 100 || nlen === 0 || i > 155) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

/** Go `formatPAXRecord`: `"<len> key=value\n"`, the length counting itself. */
export function formatPaxRecord(key: string, value: string): string {
  const kv = ENC.encode(key).length + ENC.encode(value).length + 3;
  let size = kv + String(kv).length;
  if (String(size).length + kv !== size) size = String(size).length + kv;
  return `${size} ${key}=${value}\n`;
}

function templateBlock(name: string, mode: number, size: number, typeflag: string): Uint8Array {
  const blk = new Uint8Array(BLOCK_SIZE);
  blk[156] = typeflag.charCodeAt(0);
  putString(blk, "name", name);
  putString(blk, "linkname", "");
  putOctal(blk, "mode", mode);
  putOctal(blk, "uid", KIT_TAR_UID);
  putOctal(blk, "gid", 0);
  putOctal(blk, "size", size);
  putOctal(blk, "mtime", 0);
  putString(blk, "uname", "");
  putString(blk, "gname", "");
  putOctal(blk, "devmajor", 0);
  putOctal(blk, "devminor", 0);
  return blk;
}

function padLength(n: number): number {
  return (BLOCK_SIZE - (n % BLOCK_SIZE)) % BLOCK_SIZE;
}

/**
 * The header block(s) Go's `tar.Writer.WriteHeader` emits for one kit entry: one USTAR block, or a
 * PAX extended header (block + padded records) followed by the real header.
 */
export function encodeHeader(name: string, mode: number, size: number, typeflag: "0" | "5"): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Invalid tar entry size ${size} for "${name}"`);
  mode &= 0o7777;
  const pax = new Map<string, string>();
  let ustar = true;
  const nameLen = ENC.encode(name).length;
  if (!isAscii(name) || nameLen > 100) {
    if (!splitUstarPath(name)) ustar = false;
    pax.set("path", name);
  }
  if (size >= PAX_SIZE_LIMIT) {
    ustar = false;
    pax.set("size", String(size));
  }
  if (ustar) {
    const split = splitUstarPath(name);
    const blk = templateBlock(split ? split[1] : name, mode, size, typeflag);
    putString(blk, "prefix", split ? split[0] : "");
    finishBlock(blk);
    return blk;
  }
  // PAX: records sorted by key (Go sort.Strings: byte order; only ASCII keys here).
  const records = ENC.encode(
    [...pax.keys()]
      .sort()
      .map((k) => formatPaxRecord(k, pax.get(k)!))
      .join(""),
  );
  const slash = name.lastIndexOf("/");
  const paxParts = [name.slice(0, slash + 1), "PaxHeaders.0", name.slice(slash + 1)].filter((p) => p !== "");
  let paxName = toAscii(cleanPath(paxParts.join("/")));
  if (paxName.length > 100) paxName = paxName.slice(0, 100);
  paxName = paxName.replace(/\/+$/, "");
  const xhdr = new Uint8Array(BLOCK_SIZE);
  xhdr[156] = "x".charCodeAt(0);
  putString(xhdr, "name", paxName);
  putOctal(xhdr, "mode", 0);
  putOctal(xhdr, "uid", 0);
  putOctal(xhdr, "gid", 0);
  putOctal(xhdr, "size", records.length);
  putOctal(xhdr, "mtime", 0);
  finishBlock(xhdr);
  const real = templateBlock(toAscii(name), mode, size, typeflag);
  finishBlock(real);
  const out = new Uint8Array(BLOCK_SIZE + records.length + padLength(records.length) + BLOCK_SIZE);
  out.set(xhdr, 0);
  out.set(records, BLOCK_SIZE);
  out.set(real, out.length - BLOCK_SIZE);
  return out;
}

function changedSize(entry: TarFileEntry, read: string): KitError {
  return new KitError(`File ${entry.name} changed size while it was being packed: expected ${entry.size} bytes, read ${read}`, {
    hint: "Make sure no other program writes to the files being packed",
  });
}

/**
 * Produces the tar bytes for `entries` as a sequence of chunks. Small pieces are copied into
 * chunks of about `stagingBytes`; large data chunks pass through as they are (never reused here).
 */
export async function* tarChunks(
  entries: AsyncIterable<TarEntry> | Iterable<TarEntry>,
  opts: TarWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const passThrough = opts.passThroughBytes ?? 64 * 1024;
  const staging = opts.stagingBytes ?? 1024 * 1024;
  // Small pieces are copied into one staging buffer as they come (so a source may reuse its own
  // buffers). A full buffer is handed on as it is; a nearly empty one (a header before a large
  // chunk) is copied out and kept, so a large file does not cost a whole staging buffer.
  const pool = opts.pool;
  let buf: Uint8Array = new Uint8Array(0);
  let pendingLen = 0;
  const take = (): Uint8Array => {
    let out: Uint8Array;
    if (pendingLen < staging / 2) {
      out = buf.slice(0, pendingLen);
    } else {
      out = buf.subarray(0, pendingLen);
      buf = new Uint8Array(0);
    }
    pendingLen = 0;
    return out;
  };
  const stage = async (b: Uint8Array) => {
    if (pendingLen + b.length > buf.length) {
      const size = Math.max(staging + passThrough, pendingLen + b.length);
      const grown = pool && size <= pool.chunkSize ? await pool.acquire(opts.signal) : new Uint8Array(size);
      grown.set(buf.subarray(0, pendingLen));
      pool?.release(buf);
      buf = grown;
    }
    buf.set(b, pendingLen);
    pendingLen += b.length;
  };

  for await (const entry of entries) {
    throwIfAborted(opts.signal);
    if (entry.type === "dir") {
      await stage(encodeHeader(entry.name, entry.mode, 0, "5"));
    } else {
      await stage(encodeHeader(entry.name, entry.mode, entry.size, "0"));
      let n = 0;
      for await (const chunk of chunksOf(await entry.open())) {
        throwIfAborted(opts.signal);
        n += chunk.length;
        if (n > entry.size) throw changedSize(entry, "more");
        if (chunk.length >= passThrough) {
          if (pendingLen > 0) yield take();
          yield chunk;
        } else {
          if (chunk.length > 0) await stage(chunk);
          pool?.release(chunk);
          if (pendingLen >= staging) yield take();
        }
      }
      if (n !== entry.size) throw changedSize(entry, String(n));
      const pad = padLength(entry.size);
      if (pad > 0) await stage(ZERO_BLOCK.subarray(0, pad));
    }
    if (pendingLen >= staging) yield take();
  }
  throwIfAborted(opts.signal);
  await stage(END_OF_ARCHIVE);
  yield take();
  pool?.release(buf); // the staging buffer kept after the last copy-out, if any
}

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Uint8Array {
  return new Uint8Array(END_OF_ARCHIVE.length);
}

/** Bytes of padding after `size` bytes of entry data (to the next 512-byte block). */
export function tarPadding(size: number): number {
  return padLength(size);
}

/**
 * The bytes {@link tarStream} writes around the data of a layer that holds directories without
 * data (`dirs`, in order) and then one file: `head` before the file's data, `tail` after it
 * (padding and the end of the archive). A layer built as `head`, the data, `tail` is byte for
 * byte the tar of the same entries.
 */
export function fileTarFrame(
  dirs: ReadonlyArray<{ name: string; mode: number }>,
  file: { name: string; mode: number; size: number },
): { head: Uint8Array; tail: Uint8Array } {
  const parts = [...dirs.map((d) => encodeHeader(d.name, d.mode, 0, "5")), encodeHeader(file.name, file.mode, file.size, "0")];
  const head = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    head.set(p, off);
    off += p.length;
  }
  const tail = new Uint8Array(padLength(file.size) + END_OF_ARCHIVE.length);
  return { head, tail };
}

/** {@link tarChunks} as a Web stream; cancelling it closes the file being read. */
export function tarStream(
  entries: AsyncIterable<TarEntry> | Iterable<TarEntry>,
  opts: TarWriteOptions = {},
): ReadableStream<Uint8Array> {
  return iterableStream(tarChunks(entries, opts));
}
