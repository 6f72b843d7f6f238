/**
 * kit's shared OCI image layout under `<home>/storage` (docs/format.md#storage-layout), as oras' `oci.Store`
 * keeps it: `oci-layout`, `index.json` (one plain descriptor per manifest), `blobs/sha256/<hex>`
 * (read-only once stored) and `ingest/` for temporary files. Differences from oras, on purpose:
 * every `index.json` change is a read-modify-write under an inter-process lock, written to a
 * temporary file and renamed, so concurrent kit processes never lose an update.
 * @module
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { type Descriptor, plainDescriptor } from "../oci/descriptor.ts";
import { type Digest, DigestStream, digestHex, tapStream, verified } from "../oci/digest.ts";
import { offloadedSha256 } from "../runtime/hash-worker.ts";
import { OCI_INDEX } from "../oci/media-types.ts";
import { AlreadyExistsError, IntegrityError, KitError } from "../util/errors.ts";
import {
  atomicWriteFile,
  ensureDir,
  errnoCode,
  fileReadableStream,
  isAbandonedTemp,
  type LockOptions,
  ownedTempName,
  pathExists,
  removeAbandonedTemps,
  removeStaleLock,
  tryLock,
  withLock,
  writeAllAt,
  writeStreamToHandle,
} from "../util/fs.ts";
import type { ChunkPool } from "../util/chunk-pool.ts";
import { chunksOf, eachChunk } from "../util/streams.ts";
import { throwIfAborted } from "../util/pool.ts";
import { GraphReader } from "./graph.ts";
import { encodeIndex, type IndexFile, parseIndex, type StoredDescriptor } from "./index-file.ts";
import { IngestDownload, type PartialDownload } from "./partial.ts";
import {
  alreadyExists,
  checkDescriptor,
  isManifestType,
  notFound,
  type PooledPusher,
  type Resumer,
  type Storage,
  type StoreOptions,
  verifiedFileStream,
} from "./target.ts";

/** A blob that did not match its digest and was removed from local storage. */
export class DamagedBlobError extends IntegrityError {
  override name = "DamagedBlobError";
}

/** The error for a blob that did not match its digest and was removed from local storage. */
export function damagedBlobRemoved(why: string, cause?: unknown): DamagedBlobError {
  return new DamagedBlobError(`${why}; the damaged blob was removed from local storage`, {
    cause,
    hint: "Pull the ModelKit again to fetch the blob (or pack it again); kit fsck checks the rest of local storage",
  });
}

/** Contents of `oci-layout` (Go `json.Marshal(ocispec.ImageLayout)`). */
export const OCI_LAYOUT_JSON = '{"imageLayoutVersion":"1.0.0"}';
/** Contents of a freshly created `index.json`. */
export const EMPTY_SHARED_INDEX_JSON = `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[]}`;
/** Name of the lock file guarding every index and tags file in the storage directory. */
export const LOCK_FILE = ".kit.lock";

export interface LayoutOptions {
  /** How long to wait for the storage lock, and when to consider it abandoned. */
  lock?: Omit<LockOptions, "signal">;
}

export interface IngestOptions extends StoreOptions {
  /** Mode of the stored blob: 0600 by default, as kit's pack layers (pushed blobs get 0444). */
  mode?: number;
  /** Called with the size of each chunk once it is written and hashed. */
  onBytes?: (n: number) => void;
  /** Hash on a worker thread (worth it for large content; SharedArrayBuffer chunks, as a chunk pool's, are not copied). */
  offload?: boolean;
  /** Called with each chunk once it is written and hashed: the chunk's buffer may be reused. */
  release?: (chunk: Uint8Array) => void;
}

/** Most bytes written or hashed but not yet done: the reader waits beyond this. */
const INGEST_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
const INGEST_IN_FLIGHT_CHUNKS = 16;

/**
 * Writes `chunks` to `fh` one after another (on the thread pool) while hashing them (inline or
 * on a worker), a bounded number of chunks ahead; returns the digest and size.
 */
async function writeHashed(chunks: AsyncIterable<Uint8Array>, fh: fsp.FileHandle, opts: IngestOptions): Promise<{ digest: Digest; size: number }> {
  const hasher = offloadedSha256(opts.offload === true);
  const inFlight: Array<{ done: Promise<void>; bytes: number }> = [];
  let inFlightBytes = 0;
  let writes: Promise<void> = Promise.resolve();
  let size = 0;
  let failure: { error: unknown } | undefined;
  let ok = false;
  const settle = async () => {
    const f = inFlight.shift()!;
    inFlightBytes -= f.bytes;
    await f.done;
  };
  try {
    for await (const chunk of chunks) {
      if (failure) throw failure.error;
      throwIfAborted(opts.signal);
      const at = size;
      size += chunk.byteLength;
      const hashed = hasher.update(chunk);
      writes = writes.then(() => writeAllAt(fh.fd, chunk, at));
      // The buffer goes back once both are over, also after a failure (the reader may be waiting
      // for it); the first failure ends the loop at the next chunk.
      const done = Promise.allSettled([hashed, writes]).then(([h, w]) => {
        opts.release?.(chunk);
        if (w.status === "rejected") throw w.reason;
        if (h.status === "rejected") throw h.reason;
        opts.onBytes?.(chunk.byteLength);
      });
      done.catch((error) => void (failure ??= { error }));
      inFlight.push({ done, bytes: chunk.byteLength });
      inFlightBytes += chunk.byteLength;
      while (inFlight.length > INGEST_IN_FLIGHT_CHUNKS || inFlightBytes > INGEST_IN_FLIGHT_BYTES) await settle();
    }
    while (inFlight.length > 0) await settle();
    const digest: Digest = `sha256:${await hasher.hex()}`;
    ok = true;
    return { digest, size };
  } finally {
    if (!ok) {
      hasher.close();
      // Never let the caller close the file while a write is still running.
      await Promise.allSettled([writes, ...inFlight.map((f) => f.done)]);
    }
  }
}

export interface DeleteResult {
  /** Blobs removed from `blobs/`, the target first. */
  deleted: Descriptor[];
  /** Blobs that should have been removed but were already missing. */
  missing: Descriptor[];
}

/**
 * The shared OCI layout store. Implements {@link Storage} (no tags: kit keeps those per
 * repository) and {@link Resumer} (partial downloads continue across runs).
 */
export class LayoutStore implements Storage, Resumer, PooledPusher {
  readonly root: string;
  readonly #lockOpts: Omit<LockOptions, "signal">;

  /** Use {@link LayoutStore.open}, which creates the layout files. */
  constructor(root: string, opts: LayoutOptions = {}) {
    this.root = path.resolve(root);
    this.#lockOpts = opts.lock ?? {};
  }

  /** Opens (creating when needed) the layout at `root`: `blobs/`, `oci-layout`, `index.json`. */
  static async open(root: string, opts: LayoutOptions = {}): Promise<LayoutStore> {
    const s = new LayoutStore(root, opts);
    await ensureDir(path.join(s.root, "blobs"));
    await s.#ensureLayoutFile();
    if (!(await pathExists(s.indexPath))) {
      await s.withLock(async () => {
        if (!(await pathExists(s.indexPath))) await atomicWriteFile(s.indexPath, EMPTY_SHARED_INDEX_JSON);
      });
    }
    return s;
  }

  get indexPath(): string {
    return path.join(this.root, "index.json");
  }
  get ingestDir(): string {
    return path.join(this.root, "ingest");
  }
  get lockPath(): string {
    return path.join(this.root, LOCK_FILE);
  }

  /** `blobs/sha256/<hex>` for a validated sha256 digest. */
  blobPath(digest: string): string {
    checkDescriptor({ mediaType: "", digest: digest as Digest, size: 0 });
    return path.join(this.root, "blobs", "sha256", digestHex(digest as Digest));
  }

  /** Runs `fn` holding the storage-wide lock (every index/tags read-modify-write goes through it). */
  withLock<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withLock(this.lockPath, fn, { ...this.#lockOpts, signal });
  }

  async #ensureLayoutFile(): Promise<void> {
    const p = path.join(this.root, "oci-layout");
    let text: string;
    try {
      text = await fsp.readFile(p, "utf8");
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
      await atomicWriteFile(p, OCI_LAYOUT_JSON);
      return;
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (e) {
      throw new KitError(`invalid OCI Image Layout: failed to decode OCI layout file: ${(e as Error).message}`);
    }
    if (version !== "1.0.0") throw new KitError("invalid OCI Image Layout: unsupported version");
  }

  // ----- Storage -------------------------------------------------------------------------------

  /**
   * The blob's bytes, verified against `desc` as they stream. A damaged blob (its bytes no longer
   * hash to its name) errors the stream with IntegrityError and is removed from the store, so
   * fetching it again from a registry can replace it. A large blob is hashed on a worker thread
   * while the consumer works on the chunks.
   */
  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    let s: ReadableStream<Uint8Array>;
    try {
      s = await verifiedFileStream(this.blobPath(desc.digest), desc, opts);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw notFound(desc);
      throw e;
    }
    return tapStream(s, { mapError: (e) => (e instanceof IntegrityError ? this.#removeIfDamaged(desc, e) : e) });
  }

  /**
   * What is wrong with the stored blob `digest`, hashed as it streams (bounded memory): `missing`,
   * `damaged` (its bytes hash to something else, with the reason), or undefined when it is sound.
   * With `size`, a blob of another size is damaged too.
   */
  async checkBlob(digest: string, opts: { size?: number; signal?: AbortSignal } = {}): Promise<{ problem: "missing" | "damaged"; reason: string } | undefined> {
    let s: ReadableStream<Uint8Array>;
    try {
      s = await fileReadableStream(this.blobPath(digest), { signal: opts.signal });
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return { problem: "missing", reason: "the blob file is missing" };
      throw e;
    }
    const ds = new DigestStream();
    await eachChunk(s.pipeThrough(ds), opts.signal, () => {}); // hashing as it streams
    if (ds.digest !== digest) return { problem: "damaged", reason: `its content hashes to ${ds.digest}` };
    if (opts.size !== undefined && ds.size !== opts.size) return { problem: "damaged", reason: `it has ${ds.size} bytes, expected ${opts.size}` };
    return undefined;
  }

  /** Every blob file under `blobs/sha256/` (names that are not a sha256 hex digest are skipped). */
  async listBlobs(): Promise<Array<{ digest: Digest; size: number; mtimeMs: number }>> {
    const dir = path.join(this.root, "blobs", "sha256");
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return [];
      throw e;
    }
    const out: Array<{ digest: Digest; size: number; mtimeMs: number }> = [];
    for (const name of names.sort()) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      try {
        const st = await fsp.stat(path.join(dir, name));
        if (st.isFile()) out.push({ digest: `sha256:${name}`, size: st.size, mtimeMs: st.mtimeMs });
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw e;
      }
    }
    return out;
  }

  /** Removes one blob file (not `index.json` entries); false when it was not there. */
  async removeBlob(digest: string): Promise<boolean> {
    try {
      await fsp.rm(this.blobPath(digest));
      return true;
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return false;
      throw e;
    }
  }

  /** Removes a blob whose bytes do not hash to its name; returns the error to report. */
  async #removeIfDamaged(desc: Descriptor, e: IntegrityError): Promise<unknown> {
    try {
      const check = await this.checkBlob(desc.digest);
      if (check?.problem !== "damaged") return e; // sound bytes, wrong descriptor: nothing to repair here
      await this.removeBlob(desc.digest);
    } catch {
      return e;
    }
    return damagedBlobRemoved(e.message, e);
  }

  /** The size of a stored blob, or undefined when it is not stored. */
  async blobSize(digest: string): Promise<number | undefined> {
    try {
      return (await fsp.stat(this.blobPath(digest))).size;
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw e;
    }
  }

  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    return pathExists(this.blobPath(desc.digest));
  }

  /** Stores a blob; a manifest is also recorded in `index.json` (oras tags it by digest). */
  async push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}): Promise<void> {
    await this.pushBlob(desc, body, opts);
    if (isManifestType(desc.mediaType)) await this.addToIndex([desc], opts.signal);
  }

  /** {@link push}, giving each chunk back to `pool` once written ({@link PooledPusher}). */
  async pushPooled(desc: Descriptor, body: ReadableStream<Uint8Array>, pool: ChunkPool, opts: StoreOptions = {}): Promise<void> {
    await this.pushBlob(desc, body, opts, (c) => pool.release(c));
    if (isManifestType(desc.mediaType)) await this.addToIndex([desc], opts.signal);
  }

  /**
   * Stores a blob without touching `index.json`: streamed into `ingest/<hex>_<random>` while
   * verified, made read-only (0444) and renamed into `blobs/sha256/<hex>`.
   */
  async pushBlob(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}, release?: (chunk: Uint8Array) => void): Promise<void> {
    let target: string;
    try {
      checkDescriptor(desc);
      throwIfAborted(opts.signal);
      target = this.blobPath(desc.digest);
      if (await pathExists(target)) throw alreadyExists(desc);
      await ensureDir(path.dirname(target));
      await ensureDir(this.ingestDir);
    } catch (e) {
      await body.cancel(e).catch(() => {});
      throw e;
    }
    await this.#pruneOnce();
    const tmp = path.join(this.ingestDir, ownedTempName(digestHex(desc.digest)));
    let done = false;
    try {
      const fh = await fsp.open(tmp, "wx", 0o644);
      try {
        await writeStreamToHandle(verified(body, desc), fh, opts.signal, undefined, release);
      } finally {
        await fh.close();
      }
      throwIfAborted(opts.signal);
      await fsp.chmod(tmp, 0o444);
      if (await pathExists(target)) throw alreadyExists(desc);
      await fsp.rename(tmp, target);
      done = true;
    } finally {
      if (!done) await fsp.rm(tmp, { force: true });
    }
  }

  /**
   * Stores content whose digest is known only at the end (pack's layers): the chunks are hashed
   * while written straight into `ingest/`, then renamed into `blobs/` — no second copy. If the
   * blob already exists the temporary file is dropped. Returns the digest, the size, and whether
   * the blob was already stored (`existed`).
   *
   * With `offload` the hashing runs on a worker thread while this thread goes on reading and
   * the thread pool writes: each chunk is written and hashed at the same time and handed to
   * `release` once both are done (at most a few MiB are in flight).
   */
  async ingest(
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    opts: IngestOptions = {},
  ): Promise<{ digest: Digest; size: number; existed: boolean }> {
    try {
      throwIfAborted(opts.signal);
      await ensureDir(path.join(this.root, "blobs", "sha256"));
      await ensureDir(this.ingestDir);
    } catch (e) {
      if (source instanceof ReadableStream) await source.cancel(e).catch(() => {});
      else await (source as AsyncGenerator<Uint8Array>).return?.(undefined).catch(() => {});
      throw e;
    }
    await this.#pruneOnce();
    const tmp = path.join(this.ingestDir, ownedTempName("ingest"));
    let done = false;
    try {
      const fh = await fsp.open(tmp, "wx", 0o644);
      let written: { digest: Digest; size: number };
      try {
        written = await writeHashed(chunksOf(source, opts.signal), fh, opts);
      } finally {
        await fh.close();
      }
      throwIfAborted(opts.signal);
      const { digest, size } = written;
      const target = this.blobPath(digest);
      const existed = await pathExists(target);
      if (!existed) {
        await fsp.chmod(tmp, opts.mode ?? 0o600);
        await fsp.rename(tmp, target);
        done = true;
      }
      return { digest, size, existed };
    } finally {
      if (!done) await fsp.rm(tmp, { force: true });
    }
  }

  /**
   * Moves a finished file whose digest the caller computed while writing it (the layers `kit
   * import` builds from downloads) into `blobs/` (mode 0600): no copy, no second read. When the
   * blob is already stored the file is left where it is and `existed` is true. Across file
   * systems the file is copied into `ingest/` (verified on the way) and the original left in place.
   */
  async adopt(file: string, desc: Descriptor, opts: StoreOptions = {}): Promise<{ existed: boolean }> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    const target = this.blobPath(desc.digest);
    if (await pathExists(target)) return { existed: true };
    const size = (await fsp.stat(file)).size;
    if (size !== desc.size) throw new KitError(`Cannot store ${file} as ${desc.digest}: it has ${size} bytes, not ${desc.size}`);
    await ensureDir(path.dirname(target));
    await fsp.chmod(file, 0o600);
    try {
      await fsp.rename(file, target);
    } catch (e) {
      if (errnoCode(e) !== "EXDEV") throw e;
      try {
        await this.pushBlob(desc, await fileReadableStream(file, { signal: opts.signal }), opts);
      } catch (e2) {
        if (!(e2 instanceof AlreadyExistsError)) throw e2;
        return { existed: true };
      }
      await fsp.chmod(target, 0o600);
    }
    return { existed: false };
  }

  /**
   * Opens the resumable download file `ingest/<hex>` for `desc`, re-hashing whatever an earlier
   * run left there. Only one process downloads a given blob resumably at a time (a lock file
   * `ingest/<hex>.lock`); a second one gets a private temporary file starting at 0. Partial files
   * of other blobs are never touched.
   */
  async openPartial(desc: Descriptor, opts: StoreOptions = {}): Promise<PartialDownload> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    const target = this.blobPath(desc.digest);
    if (await pathExists(target)) throw alreadyExists(desc);
    await ensureDir(path.dirname(target));
    await ensureDir(this.ingestDir);
    await this.#pruneOnce();
    const hex = digestHex(desc.digest);
    const lock = await tryLock(path.join(this.ingestDir, `${hex}.lock`));
    const file = lock ? path.join(this.ingestDir, hex) : path.join(this.ingestDir, ownedTempName(hex));
    try {
      const { O_RDWR, O_CREAT, O_EXCL } = fs.constants;
      const fh = await fsp.open(file, lock ? O_RDWR | O_CREAT : O_RDWR | O_CREAT | O_EXCL, 0o644);
      return await IngestDownload.open(desc, file, fh, target, lock, opts.signal);
    } catch (e) {
      await lock?.release();
      if (!lock) await fsp.rm(file, { force: true });
      throw e;
    }
  }

  /** Prunes leftovers once per process, before this store first writes (see {@link pruneIngest}). */
  #pruned?: Promise<unknown>;
  #pruneOnce(): Promise<unknown> {
    return (this.#pruned ??= this.pruneIngest().catch(() => 0));
  }

  /**
   * Removes what killed processes left behind: temporary files in `ingest/` and in the storage
   * directory whose process is gone (at once), or older than `olderThanMs` (written on another
   * host, or by an older kit as `<name>_<random>`); lock files of dead processes; and resumable
   * partial files (`ingest/<hex>`) of blobs that are stored by now. The partial file of a blob not
   * yet stored is kept for a later resume. Runs before the first write of each process.
   */
  async pruneIngest(olderThanMs = 24 * 3600_000): Promise<number> {
    let n = await removeAbandonedTemps(this.root);
    if (await pathExists(this.lockPath) && (await removeStaleLock(this.lockPath))) n++;
    let names: string[];
    try {
      names = await fsp.readdir(this.ingestDir);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return n;
      throw e;
    }
    for (const name of names) {
      const p = path.join(this.ingestDir, name);
      try {
        if (name.endsWith(".lock")) {
          if (await removeStaleLock(p)) n++;
          continue;
        }
        const st = await fsp.stat(p);
        if (!st.isFile()) continue;
        const temp = isAbandonedTemp(name) || ((name.includes("_") || name.endsWith(".tmp")) && Date.now() - st.mtimeMs > olderThanMs);
        if (temp) {
          await fsp.rm(p, { force: true });
          n++;
        } else if (/^[0-9a-f]{64}$/.test(name) && (await pathExists(path.join(this.root, "blobs", "sha256", name)))) {
          // A partial download whose blob is stored by now: garbage, unless a download still runs.
          const lock = await tryLock(`${p}.lock`);
          if (!lock) continue;
          try {
            await fsp.rm(p, { force: true });
            n++;
          } finally {
            await lock.release();
          }
        }
      } catch {
        // Raced with its owner finishing; fine.
      }
    }
    return n;
  }

  // ----- index.json ----------------------------------------------------------------------------

  /** The shared index as on disk (a missing file reads as empty). */
  async readIndex(): Promise<IndexFile> {
    let text: string;
    try {
      text = await fsp.readFile(this.indexPath, "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
      throw e;
    }
    return parseIndex(text, this.indexPath);
  }

  /** Writes the shared index atomically. Caller holds the lock. */
  async writeIndexLocked(idx: IndexFile): Promise<void> {
    await atomicWriteFile(this.indexPath, encodeIndex(idx));
  }

  /** Adds a plain descriptor for each manifest not yet in `index.json` (under the lock). */
  addToIndex(descs: Descriptor[], signal?: AbortSignal): Promise<void> {
    return this.withLock(() => this.addToIndexLocked(descs), signal);
  }

  /** {@link addToIndex} for a caller already holding the lock. */
  async addToIndexLocked(descs: Descriptor[]): Promise<void> {
    const idx = await this.readIndex();
    const list = idx.manifests ?? [];
    const have = new Set(list.map((d) => d.digest));
    let changed = false;
    for (const d of descs) {
      if (have.has(d.digest)) continue;
      have.add(d.digest);
      list.push(plainDescriptor(d));
      changed = true;
    }
    if (!changed) return;
    idx.manifests = list;
    await this.writeIndexLocked(idx);
  }

  // ----- delete and garbage collection ---------------------------------------------------------

  /**
   * Deletes `target` as oras' `oci.Store.Delete` with AutoGC does: drops it (and any manifest
   * whose `subject` it is) from `index.json`, removes its blob, then every successor no longer
   * reachable from a manifest still listed in `index.json`, recursively. Blobs shared with a
   * listed manifest survive. Throws NotFoundError when the target blob is missing.
   */
  async delete(target: Descriptor, signal?: AbortSignal): Promise<DeleteResult> {
    const r = await this.withLock(() => this.deleteLocked(target), signal);
    if (r.missing.some((d) => d.digest === target.digest)) throw notFound(target);
    return r;
  }

  /** {@link delete} for a caller holding the lock; missing blobs are reported, not thrown. */
  async deleteLocked(target: Descriptor): Promise<DeleteResult> {
    checkDescriptor(target);
    const idx = await this.readIndex();
    const roots = idx.manifests ?? [];
    const graph = new GraphReader(this);

    // The target plus, to a fixpoint, every listed manifest whose subject is being deleted.
    const doomed = new Map<string, Descriptor>([[target.digest, target]]);
    for (let grew = true; grew;) {
      grew = false;
      for (const r of roots) {
        if (doomed.has(r.digest)) continue;
        const subject = await graph.subject(r);
        if (subject && doomed.has(subject.digest)) {
          doomed.set(r.digest, r);
          grew = true;
        }
      }
    }
    const remaining = roots.filter((r) => !doomed.has(r.digest));
    const keep = await graph.closure(remaining, true);
    const order = await graph.closureOrdered([...doomed.values()], false);
    const victims = order.filter((d) => doomed.has(d.digest) || !keep.has(d.digest));

    if (remaining.length !== roots.length) {
      idx.manifests = remaining.length > 0 ? remaining : null; // oras writes a nil slice as null
      await this.writeIndexLocked(idx);
    }
    const result: DeleteResult = { deleted: [], missing: [] };
    for (const d of victims) {
      try {
        await fsp.rm(this.blobPath(d.digest));
        result.deleted.push(d);
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw e;
        result.missing.push(d);
      }
    }
    return result;
  }
}

export type { PartialDownload, StoredDescriptor };
