/**
 * OCI image layouts in a tar file (`oci-archive:FILE`, docs/format.md#oci-layouts), read and
 * written without unpacking them.
 *
 * Reading ({@link OciArchive}) indexes the archive once, headers only (store/tar-reader.ts reads
 * the file at positions, so an archive of any size is indexed in a few reads per entry), and then
 * streams each blob from its place in the file, verified against its descriptor. Entries that are
 * not plain files or directories, and names that are absolute or climb out with `..`, make the
 * whole archive refused; so does a truncated one.
 *
 * Writing ({@link OciArchiveWriter}) streams each blob into a temporary tar file next to the
 * destination as it is pushed (pushes are written one at a time, memory stays bounded; a push
 * that fails is cut off the file again), keeps the
 * blobs and tags of an archive already there, and on {@link OciArchiveWriter.commit} adds those,
 * writes `index.json` and renames the file over the destination. An inter-process lock
 * (`FILE.lock`) keeps two writers from losing each other's ModelKits.
 * @module
 */
import type { Stats } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Descriptor } from "../oci/descriptor.ts";
import { verified } from "../oci/digest.ts";
import { OCI_INDEX } from "../oci/media-types.ts";
import type { ChunkPool } from "../util/chunk-pool.ts";
import { CorruptDataError, IntegrityError, KitError, NotFoundError } from "../util/errors.ts";
import { acquireLock, errnoCode, fileReadableStream, type LockHandle, ownedTempName, syncDir, writeStreamToHandle } from "../util/fs.ts";
import { throwIfAborted } from "../util/pool.ts";
import { iterableStream, readAll } from "../util/streams.ts";
import { encodeIndex, type IndexFile, type StoredDescriptor } from "./index-file.ts";
import {
  blobName,
  checkLayoutFile,
  LayoutError,
  type LayoutSource,
  MAX_INDEX_BYTES,
  MAX_LAYOUT_FILE_BYTES,
  missingBlob,
  OCI_LAYOUT_FILE_JSON,
  parseLayoutIndex,
  resolveEntry,
  retag,
  withManifest,
} from "./oci-layout.ts";
import { encodeHeader, endOfArchive, tarPadding } from "./tar.ts";
import { readTarFile } from "./tar-reader.ts";
import {
  alreadyExists,
  bytesStream,
  checkDescriptor,
  isManifestType,
  missingReference,
  type PooledPusher,
  type StoreOptions,
  type Target,
  verifiedFileStream,
} from "./target.ts";

/** Where a blob's bytes are in the tar file. */
interface Extent {
  offset: number;
  size: number;
}

/** The file an archive was indexed from: reads refuse a file replaced since. */
interface Identity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

function identityOf(st: Stats): Identity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

const BLOB_RE = /^blobs\/([a-z0-9]+)\/([0-9a-f]+)$/;

/**
 * The name of an archive entry inside the layout: a leading `./` dropped, and refused when it is
 * absolute or has a `..` element (an OCI archive has no reason for either).
 */
function entryName(archive: string, raw: string): string {
  const bad = (why: string) => new LayoutError(`${archive}: refusing the archive: entry ${JSON.stringify(raw)} ${why}`, {
    hint: "An OCI archive holds oci-layout, index.json and blobs/ only; this one was not written by an OCI tool",
  });
  if (raw.startsWith("/") || /^[A-Za-z]:[\\/]/.test(raw)) throw bad("has an absolute path");
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw bad("climbs out of the archive with '..'");
  return parts.join("/");
}

/** An OCI archive opened for reading: a {@link LayoutSource} over the tar file, nothing extracted. */
export class OciArchive implements LayoutSource {
  readonly path: string;
  readonly name: string;
  readonly #blobs: Map<string, Extent>;
  readonly #entries: StoredDescriptor[];
  readonly #index: IndexFile;
  readonly #identity: Identity;

  private constructor(file: string, blobs: Map<string, Extent>, index: IndexFile, identity: Identity) {
    this.path = file;
    this.name = `oci-archive:${file}`;
    this.#blobs = blobs;
    this.#index = index;
    this.#entries = index.manifests ?? [];
    this.#identity = identity;
  }

  /**
   * Indexes the archive `file`: its `oci-layout` and `index.json` are read, every blob's place
   * noted. Throws {@link LayoutError} for anything that is not a readable OCI archive.
   */
  static async open(file: string, opts: StoreOptions = {}): Promise<OciArchive> {
    const abs = path.resolve(file);
    const name = `oci-archive:${abs}`;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(abs, "r");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw new NotFoundError(`${name}: no such file`);
      if (errnoCode(e) === "EISDIR") throw new LayoutError(`${name}: is a directory`, { hint: "oci-archive: names a tar file; use oci: for a layout directory" });
      throw e;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new LayoutError(`${name}: not a regular file`);
      const blobs = new Map<string, Extent>();
      const seen = new Set<string>();
      let layoutFile: Uint8Array | undefined;
      let indexFile: Uint8Array | undefined;
      const small = async (chunks: AsyncGenerator<Uint8Array>, size: number, limit: number, what: string) => {
        if (size > limit) throw new LayoutError(`${name}: ${what} is larger than ${limit} bytes`);
        return readAll(iterableStream(chunks), limit, opts.signal);
      };
      try {
        for await (const e of readTarFile(fh, st.size, { signal: opts.signal })) {
          const n = entryName(name, e.name);
          if (e.type === "dir") continue;
          if (e.type !== "file") {
            const what = e.type === "symlink" || e.type === "hardlink" ? `a ${e.type} to ${JSON.stringify(e.linkname)}` : `a ${e.type} entry`;
            throw new LayoutError(`${name}: refusing the archive: entry ${JSON.stringify(e.name)} is ${what}`, {
              hint: "An OCI archive holds regular files and directories only",
            });
          }
          if (seen.has(n)) throw new LayoutError(`${name}: refusing the archive: it holds ${JSON.stringify(n)} twice`);
          seen.add(n);
          if (n === "oci-layout") layoutFile = await small(e.chunks(), e.size, MAX_LAYOUT_FILE_BYTES, "oci-layout");
          else if (n === "index.json") indexFile = await small(e.chunks(), e.size, MAX_INDEX_BYTES, "index.json");
          else {
            const m = BLOB_RE.exec(n);
            if (m && m[1] === "sha256" && m[2]!.length === 64) blobs.set(`sha256:${m[2]}`, { offset: e.offset, size: e.size });
          }
        }
      } catch (e) {
        if (e instanceof CorruptDataError) {
          throw new LayoutError(`${name}: the archive is truncated or damaged: ${e.message}`, { cause: e, hint: "Copy the archive again from its source" });
        }
        throw e;
      }
      if (!layoutFile) {
        throw new LayoutError(`${name} is not an OCI archive: it has no oci-layout file`, {
          hint: "Name a tar file written by kit push, skopeo or oras (oci-archive:), or use oci: for a layout directory",
        });
      }
      checkLayoutFile(name, layoutFile);
      if (!indexFile) throw new LayoutError(`${name} is not an OCI archive: it has no index.json`);
      const index = parseLayoutIndex(name, new TextDecoder().decode(indexFile));
      return new OciArchive(abs, blobs, index, identityOf(st));
    } finally {
      await fh.close();
    }
  }

  async entries(opts: StoreOptions = {}): Promise<StoredDescriptor[]> {
    throwIfAborted(opts.signal);
    return this.#entries.map((d) => ({ ...d }));
  }

  /** The archive's `index.json` (for a writer keeping it). */
  get index(): IndexFile {
    return this.#index;
  }

  /** Digests of the blobs the archive holds, with their sizes. */
  blobs(): Array<{ digest: string; size: number }> {
    return [...this.#blobs].map(([digest, e]) => ({ digest, size: e.size }));
  }

  /** True when the archive holds the blob `digest` (any size). */
  hasBlob(digest: string): boolean {
    return this.#blobs.has(digest);
  }

  /** A blob's bytes as stored, unverified (a writer copying the archive's blobs into a new one). */
  rawBlob(digest: string, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const e = this.#blobs.get(digest);
    if (!e) throw new NotFoundError(`${this.name}: blob ${digest} is missing`);
    return this.#range(e, opts);
  }

  /** Refuses the archive file when it is not the one indexed (replaced or changed since). */
  #check = (st: Stats): void => {
    const want = this.#identity;
    const got = identityOf(st);
    if (got.dev !== want.dev || got.ino !== want.ino || got.size !== want.size || got.mtimeMs !== want.mtimeMs) {
      throw new LayoutError(`${this.name}: the archive changed while kit was reading it`, { hint: "Run the command again" });
    }
  };

  #range(e: Extent, opts: StoreOptions): Promise<ReadableStream<Uint8Array>> {
    return fileReadableStream(this.path, { start: e.offset, length: e.size, signal: opts.signal, check: this.#check });
  }

  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    const e = this.#blobs.get(desc.digest);
    if (!e) throw missingBlob(this.name, desc);
    if (e.size !== desc.size) {
      throw new IntegrityError(`${this.name}: blob ${desc.digest} has ${e.size} bytes, but ${desc.size} are expected`, {
        hint: "The archive is damaged: write it again from the original",
      });
    }
    return verifiedFileStream(this.path, desc, opts, { start: e.offset, length: e.size, check: this.#check });
  }

  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    return this.#blobs.has(desc.digest);
  }

  async resolve(ref: string, opts: StoreOptions = {}): Promise<Descriptor> {
    throwIfAborted(opts.signal);
    return resolveEntry(this.name, this.#entries, ref);
  }
}

/**
 * Writes an OCI archive: a {@link Target} whose content goes into a new tar file beside `file`,
 * which {@link commit} renames over it (keeping what an archive there held) and {@link discard}
 * removes. Not reusable after either.
 */
export class OciArchiveWriter implements Target, PooledPusher {
  readonly path: string;
  readonly name: string;
  readonly #old: OciArchive | undefined;
  readonly #lock: LockHandle;
  readonly #tmp: string;
  readonly #fh: fsp.FileHandle;
  #offset = 0;
  readonly #written = new Map<string, Extent>();
  #entries: StoredDescriptor[];
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when the file could not be brought back after a failed entry: nothing more can be added. */
  #failed: unknown;
  #closed = false;

  private constructor(file: string, old: OciArchive | undefined, lock: LockHandle, tmp: string, fh: fsp.FileHandle) {
    this.path = file;
    this.name = `oci-archive:${file}`;
    this.#old = old;
    this.#lock = lock;
    this.#tmp = tmp;
    this.#fh = fh;
    this.#entries = old ? old.index.manifests ?? [] : [];
  }

  /**
   * Starts writing the archive `file`. An existing file must be an OCI archive (its ModelKits are
   * kept); the lock `FILE.lock` is held until commit or discard.
   */
  static async create(file: string, opts: StoreOptions = {}): Promise<OciArchiveWriter> {
    const abs = path.resolve(file);
    const lock = await acquireLock(`${abs}.lock`, { signal: opts.signal });
    try {
      let old: OciArchive | undefined;
      try {
        old = await OciArchive.open(abs, opts);
      } catch (e) {
        if (!(e instanceof NotFoundError)) {
          if (e instanceof LayoutError) {
            throw new LayoutError(`${e.message}; refusing to replace it`, { cause: e, hint: "Write to a new file, or remove this one first" });
          }
          throw e;
        }
      }
      const tmp = path.join(path.dirname(abs), ownedTempName(path.basename(abs)));
      const fh = await fsp.open(tmp, "ax", 0o644); // appending: a failed entry is cut off with a truncate
      const w = new OciArchiveWriter(abs, old, lock, tmp, fh);
      const layout = new TextEncoder().encode(OCI_LAYOUT_FILE_JSON);
      try {
        await w.#append("oci-layout", layout.length, async () => bytesStream(layout), opts.signal);
        await w.#append("blobs", 0, undefined, opts.signal);
        await w.#append("blobs/sha256", 0, undefined, opts.signal);
      } catch (e) {
        await w.discard();
        throw e;
      }
      return w;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /**
   * Appends a file entry with the content `open` gives (exactly `size` bytes) or, without
   * `open`, a directory entry; one append after another. Returns where the entry's data starts.
   */
  #append(
    name: string,
    size: number,
    open: (() => Promise<ReadableStream<Uint8Array>>) | undefined,
    signal?: AbortSignal,
    release?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    const run = async () => {
      if (this.#failed !== undefined) throw this.#failed;
      if (this.#closed) throw new KitError(`${this.name}: the archive is already written`);
      const start = this.#offset;
      try {
        throwIfAborted(signal);
        const header = encodeHeader(name, open ? 0o644 : 0o755, size, open ? "0" : "5");
        await this.#fh.write(header, 0, header.length);
        let n = 0;
        if (open) n = await writeStreamToHandle(await open(), this.#fh, signal, undefined, release);
        if (n !== size) throw new KitError(`${this.name}: ${name} has ${n} bytes instead of ${size}`);
        const pad = tarPadding(size);
        if (pad > 0) await this.#fh.write(new Uint8Array(pad), 0, pad);
        this.#offset = start + header.length + size + pad;
        return start + header.length;
      } catch (e) {
        // Cut off what was written of the failed entry (the file is opened for appending).
        await this.#fh.truncate(start).catch((t) => (this.#failed = t));
        throw e;
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }

  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    return this.#written.has(desc.digest) || (this.#old?.hasBlob(desc.digest) ?? false);
  }

  async push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}): Promise<void> {
    return this.#push(desc, body, opts);
  }

  /** {@link push}, giving each chunk back to `pool` once written ({@link PooledPusher}). */
  async pushPooled(desc: Descriptor, body: ReadableStream<Uint8Array>, pool: ChunkPool, opts: StoreOptions = {}): Promise<void> {
    return this.#push(desc, body, opts, (c) => pool.release(c));
  }

  async #push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions, release?: (chunk: Uint8Array) => void): Promise<void> {
    try {
      checkDescriptor(desc);
      throwIfAborted(opts.signal);
      if (await this.exists(desc)) throw alreadyExists(desc);
    } catch (e) {
      await body.cancel(e).catch(() => {});
      throw e;
    }
    let offset: number;
    try {
      offset = await this.#append(blobName(desc.digest), desc.size, async () => verified(body, desc), opts.signal, release);
    } catch (e) {
      await body.cancel(e).catch(() => {});
      throw e;
    }
    this.#written.set(desc.digest, { offset, size: desc.size });
    if (isManifestType(desc.mediaType)) this.#entries = withManifest(this.#entries, desc);
  }

  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkDescriptor(desc);
    const e = this.#written.get(desc.digest);
    if (e) return verifiedFileStream(this.#tmp, desc, opts, { start: e.offset, length: e.size });
    if (this.#old) return this.#old.fetch(desc, opts);
    throw missingBlob(this.name, desc);
  }

  async resolve(ref: string, opts: StoreOptions = {}): Promise<Descriptor> {
    throwIfAborted(opts.signal);
    return resolveEntry(this.name, this.#entries, ref);
  }

  async tag(desc: Descriptor, ref: string, opts: StoreOptions = {}): Promise<void> {
    if (ref === "") throw missingReference();
    checkDescriptor(desc);
    if (!(await this.exists(desc, opts))) throw missingBlob(this.name, desc);
    this.#entries = retag(this.#entries, desc, ref);
  }

  /**
   * Finishes the archive: the blobs of the archive that was there (copied as they are), then
   * `index.json` and the end marker; the file is renamed over the destination (synced first when
   * it replaces an archive).
   */
  async commit(opts: StoreOptions = {}): Promise<void> {
    try {
      const old = this.#old;
      for (const b of old?.blobs() ?? []) {
        if (!this.#written.has(b.digest)) await this.#append(blobName(b.digest), b.size, () => old!.rawBlob(b.digest, opts), opts.signal);
      }
      const index = new TextEncoder().encode(encodeIndex({ ...(old?.index ?? { schemaVersion: 2, mediaType: OCI_INDEX }), manifests: this.#entries }));
      await this.#append("index.json", index.length, async () => bytesStream(index), opts.signal);
      await this.#queue;
      if (this.#failed !== undefined) throw this.#failed;
      const end = endOfArchive();
      await this.#fh.write(end, 0, end.length);
      // Replacing an archive: on disk before the rename, or a crash could lose the kits it held.
      // A new file is not synced, as blobs written into local storage are not.
      if (old) await this.#fh.sync();
      this.#closed = true;
      await this.#fh.close();
      throwIfAborted(opts.signal);
      await fsp.rename(this.#tmp, this.path);
      if (old) await syncDir(path.dirname(this.path));
    } catch (e) {
      await this.discard();
      throw e;
    }
    await this.#lock.release();
  }

  /** Drops the temporary file; the destination stays as it was. */
  async discard(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#queue;
      await this.#fh.close().catch(() => {});
    }
    await fsp.rm(this.#tmp, { force: true });
    await this.#lock.release();
  }
}
