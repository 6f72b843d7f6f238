/**
 * Resumable downloads into `ingest/<hex>` (docs/format.md#pull): the partial file survives across
 * runs and may hold several filled regions (parts fetched in parallel), listed in the journal
 * `ingest/<hex>.regions`. The content is hashed as one stream from byte 0 — bytes that arrive at
 * the hash cursor from memory, bytes that arrived ahead of it read back from the file when the
 * cursor reaches them — so the whole is verified once, also across runs, before it is moved into
 * `blobs/`.
 *
 * Crash safety (kill -9 at any moment): the journal only ever lists bytes whose writes have
 * completed — it is written (temporary file + rename) before the first write outside the
 * contiguous prefix and then at most every {@link JOURNAL_INTERVAL_MS}, always listing regions
 * filled before the write began. Without a journal the file is a plain prefix (the format of
 * earlier versions). A journal that cannot be read counts as nothing received. Whatever the file
 * holds is checked against the digest at the end, so a lost write (power failure) costs a
 * download, never a wrong blob.
 * @module
 */
import fsp from "node:fs/promises";
import type { Descriptor } from "../oci/descriptor.ts";
import { sha256, type Sha256 } from "../runtime/runtime.ts";
import { IntegrityError, KitError } from "../util/errors.ts";
import { errnoCode, type LockHandle, randomHex, writeAllSync } from "../util/fs.ts";
import { eachChunk } from "../util/streams.ts";
import { throwIfAborted } from "../util/pool.ts";

/** Bytes `[start, end)` of a blob. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface WriteOptions {
  signal?: AbortSignal;
  /** Called with the size of each chunk once it is on disk. */
  onBytes?: (n: number) => void;
}

/** A resumable download into `ingest/<hex>` (see {@link LayoutStore.openPartial}). */
export interface PartialDownload {
  /** Bytes from 0 on already on disk (hashed again on open): where a single stream continues. */
  readonly offset: number;
  /** Bytes on disk in all filled regions. */
  readonly received: number;
  /** False when another process is downloading the same blob: this one writes a private temp file from 0. */
  readonly resumable: boolean;
  /** The regions still missing, in order. */
  missing(): ByteRange[];
  /**
   * Writes `body` as the content from byte `start` on, until it ends, and returns the number of
   * bytes written. Bytes past `end` (default: the blob's size) throw IntegrityError, bytes over
   * bytes already received KitError. Several writes may run at once on disjoint regions.
   * A failing `body` leaves what arrived in place for a later resume.
   */
  writeAt(start: number, body: ReadableStream<Uint8Array>, opts?: WriteOptions & { end?: number }): Promise<number>;
  /**
   * With nothing missing: verifies the whole content against the descriptor and moves it to
   * `blobs/` (mode 0600). A mismatch deletes the partial file and throws IntegrityError
   * `downloaded file hash does not match descriptor`.
   */
  commit(): Promise<void>;
  /**
   * Appends `body`, which must be the content from {@link offset} to the end, then commits. If
   * `body` fails or is aborted the bytes received so far stay for a later resume; too many bytes
   * delete the partial file as a digest mismatch does.
   */
  write(body: ReadableStream<Uint8Array>, opts?: WriteOptions): Promise<void>;
  /** Drops what is on disk so the next write starts at 0 (a server that ignored Range). */
  restart(): Promise<void>;
  /** Stops without committing, keeping the partial file (and its journal) for a later run. */
  close(): Promise<void>;
  /** Stops and deletes the partial file. */
  discard(): Promise<void>;
}

/** Longest time the journal lags behind the bytes written. */
export const JOURNAL_INTERVAL_MS = 500;
const READ_BACK = 1 << 20;

/** Sorted, disjoint, non-adjacent regions. */
class RegionSet {
  readonly list: ByteRange[] = [];

  add(start: number, end: number): void {
    if (end <= start) return;
    const l = this.list;
    let i = 0;
    while (i < l.length && l[i]!.end < start) i++;
    let j = i;
    while (j < l.length && l[j]!.start <= end) {
      start = Math.min(start, l[j]!.start);
      end = Math.max(end, l[j]!.end);
      j++;
    }
    l.splice(i, j - i, { start, end });
  }

  /** True when any byte of `[start, end)` is in the set. */
  intersects(start: number, end: number): boolean {
    return this.list.some((r) => r.start < end && start < r.end);
  }

  /** The end of the region containing `pos`, or `pos` when none does. */
  endFrom(pos: number): number {
    const r = this.list.find((x) => x.start <= pos && pos < x.end);
    return r ? r.end : pos;
  }

  total(): number {
    return this.list.reduce((n, r) => n + r.end - r.start, 0);
  }

  gaps(size: number): ByteRange[] {
    const out: ByteRange[] = [];
    let at = 0;
    for (const r of this.list) {
      if (r.start > at) out.push({ start: at, end: r.start });
      at = r.end;
    }
    if (at < size) out.push({ start: at, end: size });
    return out;
  }

  clear(): void {
    this.list.length = 0;
  }
}

/** Reads a journal: its regions (clamped to `fileSize`), or undefined when absent; [] when unreadable. */
async function readJournal(file: string, size: number, fileSize: number): Promise<ByteRange[] | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    return [];
  }
  try {
    const j = JSON.parse(text) as { size?: unknown; regions?: unknown };
    if (j.size !== size || !Array.isArray(j.regions)) return [];
    const out: ByteRange[] = [];
    let last = -1;
    for (const r of j.regions) {
      if (!Array.isArray(r) || r.length !== 2 || !Number.isSafeInteger(r[0]) || !Number.isSafeInteger(r[1])) return [];
      const [s, e] = r as [number, number];
      if (s <= last || s < 0 || e <= s || e > size) return [];
      last = e;
      if (s < fileSize) out.push({ start: s, end: Math.min(e, fileSize) });
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * Replaces the journal by rename. Not fsynced on purpose: forcing the file system to commit every
 * half second would also flush the partial file's pages; the digest covers what a power loss breaks.
 */
async function writeJournal(file: string, text: string): Promise<void> {
  const tmp = `${file}_${randomHex(4)}`; // a leftover is removed by LayoutStore.pruneIngest
  try {
    await fsp.writeFile(tmp, text, { mode: 0o644 });
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** The resumable download behind `LayoutStore.openPartial`. */
export class IngestDownload implements PartialDownload {
  readonly #filled = new RegionSet();
  #hash: Sha256 = sha256();
  /** Bytes hashed, from 0. */
  #hashed = 0;
  #catchUp: Promise<void> | undefined;
  #hashError: unknown;
  #finished = false;
  /** The journal: its path (resumable downloads only), whether one is on disk, when it was last written. */
  readonly #journal: string | undefined;
  #journaled = false;
  #journalAt = 0;
  #journalWrite: Promise<void> = Promise.resolve();

  private constructor(
    private readonly desc: Descriptor,
    private readonly file: string,
    private readonly fh: fsp.FileHandle,
    private readonly target: string,
    private readonly lock: LockHandle | undefined,
  ) {
    this.#journal = lock ? `${file}.regions` : undefined;
  }

  static async open(
    desc: Descriptor,
    file: string,
    fh: fsp.FileHandle,
    target: string,
    lock: LockHandle | undefined,
    signal?: AbortSignal,
  ): Promise<IngestDownload> {
    const d = new IngestDownload(desc, file, fh, target, lock);
    try {
      const size = (await fh.stat()).size;
      const regions = d.#journal ? await readJournal(d.#journal, desc.size, size) : undefined;
      if (regions) {
        d.#journaled = true;
        for (const r of regions) d.#filled.add(r.start, r.end);
      } else if (size > desc.size) {
        await fh.truncate(0);
      } else {
        d.#filled.add(0, size);
      }
      // Hash what is contiguous from 0 now; regions further on are hashed when the cursor gets there.
      await d.#advance(signal);
      if (d.#hashError !== undefined) throw d.#hashError;
      return d;
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  get offset(): number {
    return this.#filled.endFrom(0);
  }
  get received(): number {
    return this.#filled.total();
  }
  get resumable(): boolean {
    return this.lock !== undefined;
  }

  missing(): ByteRange[] {
    return this.#filled.gaps(this.desc.size);
  }

  async restart(): Promise<void> {
    this.#assertOpen();
    await this.#catchUp;
    // Truncate first: a crash in between leaves a journal that is clamped to an empty file.
    await this.fh.truncate(0);
    await this.#journalWrite;
    if (this.#journal) await fsp.rm(this.#journal, { force: true });
    this.#journaled = false;
    this.#filled.clear();
    this.#hash = sha256();
    this.#hashed = 0;
  }

  async writeAt(start: number, body: ReadableStream<Uint8Array>, opts: WriteOptions & { end?: number } = {}): Promise<number> {
    this.#assertOpen();
    const end = Math.min(opts.end ?? this.desc.size, this.desc.size);
    let pos = start;
    try {
      throwIfAborted(opts.signal);
      // Bytes outside the contiguous prefix need a journal on disk before they are written.
      if (start !== this.offset) await this.#ensureJournal();
    } catch (e) {
      await body.cancel(e).catch(() => {});
      throw e;
    }
    await eachChunk(body, opts.signal, (value) => {
      if (value.byteLength === 0) return;
      const range = { start: pos, end: pos + value.byteLength };
      if (range.end > end) throw new IntegrityError(`Content of ${this.desc.digest} is larger than expected: more than ${end - start} bytes from byte ${start}`);
      if (this.#filled.intersects(range.start, range.end)) {
        throw new KitError(`Bytes ${range.start}-${range.end - 1} of ${this.desc.digest} were written twice`);
      }
      this.#writeChunk(range, value);
      pos = range.end;
      opts.onBytes?.(value.byteLength);
    });
    return pos - start;
  }


  /**
   * Writes a chunk at its place, synchronously on the thread that received it (for the reason
   * `writeStreamToHandle` in util/fs.ts gives: the bytes are still in this core's cache), and
   * hashes it when it is next in line.
   */
  #writeChunk(range: ByteRange, value: Uint8Array): void {
    writeAllSync(this.fh.fd, value, range.start);
    this.#filled.add(range.start, range.end);
    if (!this.#catchUp && range.start === this.#hashed) {
      this.#hash.update(value);
      this.#hashed = range.end;
    }
    if (!this.#catchUp && this.#filled.endFrom(this.#hashed) > this.#hashed) {
      this.#catchUp = this.#advance().finally(() => (this.#catchUp = undefined));
    }
    this.#maybeJournal();
  }

  /** Hashes filled bytes from the cursor on, read back from the file (the cursor reached bytes that came early). */
  async #advance(signal?: AbortSignal): Promise<void> {
    if (this.#hashError !== undefined) return;
    const buf = new Uint8Array(READ_BACK);
    try {
      for (;;) {
        const end = this.#filled.endFrom(this.#hashed);
        if (end <= this.#hashed) return;
        throwIfAborted(signal);
        const n = Math.min(buf.byteLength, end - this.#hashed);
        const { bytesRead } = await this.fh.read(buf, 0, n, this.#hashed);
        if (bytesRead === 0) throw new KitError(`The partial file of ${this.desc.digest} is shorter than its journal says`);
        this.#hash.update(buf.subarray(0, bytesRead));
        this.#hashed += bytesRead;
      }
    } catch (e) {
      this.#hashError = e;
    }
  }

  async #ensureJournal(): Promise<void> {
    if (!this.#journal || this.#journaled) return;
    this.#journaled = true;
    await this.#persist();
  }

  #maybeJournal(): void {
    if (!this.#journaled || Date.now() - this.#journalAt < JOURNAL_INTERVAL_MS) return;
    this.#journalAt = Date.now();
    void this.#persist().catch(() => {});
  }

  /** Writes the journal with the regions filled now (serialized: the last write wins). */
  #persist(): Promise<void> {
    const file = this.#journal;
    if (!file) return Promise.resolve();
    const regions = this.#filled.list.map((r) => [r.start, r.end]);
    const text = JSON.stringify({ size: this.desc.size, regions });
    this.#journalAt = Date.now();
    this.#journalWrite = this.#journalWrite.catch(() => {}).then(() => writeJournal(file, text));
    return this.#journalWrite;
  }

  async write(body: ReadableStream<Uint8Array>, opts: WriteOptions = {}): Promise<void> {
    this.#assertOpen();
    try {
      await this.writeAt(this.offset, body, opts);
    } catch (e) {
      if (e instanceof IntegrityError) {
        await this.discard();
        throw new IntegrityError("downloaded file hash does not match descriptor");
      }
      await this.close(); // keep what arrived for a later resume
      throw e;
    }
    if (this.received < this.desc.size) {
      await this.close();
      throw new IntegrityError(
        `Content of ${this.desc.digest} is truncated: got ${this.received} of ${this.desc.size} bytes`,
        { hint: "Run the command again to resume the download" },
      );
    }
    await this.commit();
  }

  async commit(): Promise<void> {
    this.#assertOpen();
    if (this.received < this.desc.size) throw new KitError(`Download of ${this.desc.digest} is not complete`);
    await this.#catchUp;
    await this.#advance();
    if (this.#hashError !== undefined) {
      await this.close();
      throw this.#hashError;
    }
    const got = `sha256:${this.#hash.hex()}`;
    if (got !== this.desc.digest) {
      await this.discard();
      throw new IntegrityError("downloaded file hash does not match descriptor");
    }
    this.#finished = true;
    try {
      await this.fh.close();
      await fsp.chmod(this.file, 0o600);
      await fsp.rename(this.file, this.target);
    } catch (e) {
      await fsp.rm(this.file, { force: true });
      throw e;
    } finally {
      await this.#dropJournal();
      await this.lock?.release();
    }
  }

  async close(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.#catchUp;
    if (this.#journaled) await this.#persist().catch(() => {});
    await this.fh.close().catch(() => {});
    if (!this.lock) await fsp.rm(this.file, { force: true }); // a private temp file cannot be resumed
    await this.lock?.release();
  }

  async discard(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.#catchUp;
    await this.fh.close().catch(() => {});
    await fsp.rm(this.file, { force: true });
    await this.#dropJournal();
    await this.lock?.release();
  }

  async #dropJournal(): Promise<void> {
    await this.#journalWrite.catch(() => {});
    if (this.#journal) await fsp.rm(this.#journal, { force: true });
  }

  #assertOpen(): void {
    if (this.#finished) throw new KitError(`Download of ${this.desc.digest} is already finished`);
  }
}
