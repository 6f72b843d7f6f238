/**
 * The targets `kit push` and `kit pull` hand to the generic copy (oras-style wrapping: the copy
 * code never knows about registries, resumption or the terminal).
 *
 * - {@link pushTarget}: a remote repository whose blob uploads can read the blob again from the
 *   local source when a fresh upload session is needed, with a progress bar per blob.
 * - {@link downloadBlobs}: a pull downloads its blobs itself before the copy records the manifest:
 *   each goes into `storage/ingest/<hex>` with `Range` requests, so a broken connection — or a
 *   killed process — continues where it stopped.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { digestHex, VerifyStream } from "../oci/digest.ts";
import type { LayoutStore } from "../store/layout.ts";
import { bytesStream, DEFAULT_MAX_METADATA_BYTES, isManifestType, readAll, type ReadOnlyStorage, type PushOptions, type ReadOnlyTarget, type StoreOptions, type Target } from "../store/target.ts";
import { AlreadyExistsError, CancelledError } from "../util/errors.ts";
import { abortReason, Pool } from "../util/pool.ts";
import type { Logger } from "../util/log.ts";
import { noProgress, type Progress, type ProgressTask } from "../util/progress.ts";
import { skipBytes } from "./blob-download.ts";
import type { RemoteRepository } from "./repository.ts";

/** kit's bar title for a blob: `Copying <first 8 hex of the digest>`. */
export function copyTitle(desc: Descriptor): string {
  return `Copying ${digestHex(desc.digest).slice(0, 8)}`;
}

function counted(s: ReadableStream<Uint8Array>, task: ProgressTask): ReadableStream<Uint8Array> {
  return s.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(c, ctl) {
      task.add(c.byteLength);
      ctl.enqueue(c);
    },
  }));
}

/** Bars are drawn for blobs of at least this size (manifests and configs would only flicker). */
const BAR_MIN_BYTES = 64 * 1024;

function taskFor(progress: Progress, desc: Descriptor): ProgressTask {
  return desc.size >= BAR_MIN_BYTES ? progress.task(copyTitle(desc), desc.size) : { add() {}, done() {} };
}

/**
 * The destination of a push: `remote`, with `source` used to read a blob again for a retried
 * upload, and a progress bar per blob.
 */
export function pushTarget(remote: RemoteRepository, source: ReadOnlyStorage, progress: Progress = noProgress): Target {
  // Manifests pushed here are kept (they are small) so tagging needs no download.
  const manifests = new Map<string, Uint8Array>();
  // Blobs the copy has just found missing: their upload needs no second HEAD.
  const missing = new Set<string>();
  return {
    async exists(d, o) {
      const found = await remote.exists(d, o);
      if (!found) missing.add(d.digest);
      return found;
    },
    fetch: (d, o) => remote.fetch(d, o),
    resolve: (r, o) => remote.resolve(r, o),
    async tag(desc, ref, opts) {
      const bytes = manifests.get(desc.digest);
      if (bytes && ref !== desc.digest) return remote.pushManifest(desc, bytes, ref, opts);
      return remote.tag(desc, ref, opts);
    },
    async push(desc, body, opts: PushOptions = {}) {
      if (isManifestType(desc.mediaType)) {
        const bytes = await readAll(opts.verified ? body : body.pipeThrough(new VerifyStream(desc)), DEFAULT_MAX_METADATA_BYTES, opts.signal);
        await remote.pushManifest(desc, bytes, desc.digest, opts);
        manifests.set(desc.digest, bytes);
        return;
      }
      const task = taskFor(progress, desc);
      // a verified push needs the blob read again for a retry to be verified as well
      const reread = async () => {
        const s = await source.fetch(desc, opts);
        return opts.verified && !source.verifiesFetch ? s.pipeThrough(new VerifyStream(desc)) : s;
      };
      try {
        await remote.push(desc, counted(body, task), {
          ...opts,
          reopen: async () => counted(await reread(), task),
          knownMissing: missing.has(desc.digest),
        });
      } finally {
        task.done();
      }
    },
  };
}

/**
 * The source of a pull: the remote repository, with the manifests the pull command already
 * fetched and checked kept in memory so the copy does not download them again.
 */
export class PullSource implements ReadOnlyTarget {
  /** Remembered manifests were verified when fetched; everything else comes from the registry's verified fetch. */
  readonly verifiesFetch = true;
  readonly remote: RemoteRepository;
  readonly #manifests = new Map<string, { desc: Descriptor; bytes: Uint8Array }>();

  constructor(remote: RemoteRepository) {
    this.remote = remote;
  }

  /** Keeps a manifest already fetched and verified (resolving its digest then needs no request either). */
  remember(desc: Descriptor, bytes: Uint8Array): void {
    this.#manifests.set(desc.digest, { desc, bytes });
  }

  async resolve(r: string, o?: StoreOptions): Promise<Descriptor> {
    return this.#manifests.get(r)?.desc ?? this.remote.resolve(r, o);
  }
  exists(d: Descriptor, o?: StoreOptions) {
    return this.remote.exists(d, o);
  }
  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const cached = this.#manifests.get(desc.digest);
    return cached ? bytesStream(cached.bytes) : this.remote.fetch(desc, opts);
  }
}

export interface DownloadOptions {
  signal?: AbortSignal;
  progress?: Progress;
  logger?: Logger;
}

/**
 * Downloads one blob into local storage, resumably: into `storage/ingest/<hex>` (continuing
 * what an earlier run left there, with `Range`), verified as a whole, then moved into `blobs/`.
 * A broken connection keeps the bytes received so far for the next run. Returns false when the
 * blob was already stored.
 */
export async function downloadBlob(layout: LayoutStore, remote: RemoteRepository, desc: Descriptor, opts: DownloadOptions = {}): Promise<boolean> {
  if (await layout.exists(desc, opts)) return false;
  let partial;
  try {
    partial = await layout.openPartial(desc, opts);
  } catch (e) {
    if (e instanceof AlreadyExistsError) return false;
    throw e;
  }
  const task = taskFor(opts.progress ?? noProgress, desc);
  try {
    if (partial.offset > 0) {
      opts.logger?.debug(`Resuming download of ${desc.digest} at byte ${partial.offset} of ${desc.size}`);
      task.add(partial.offset);
    }
    let { body, offset } = await remote.fetchFrom(desc, partial.offset, opts);
    if (offset < partial.offset) body = skipBytes(body, partial.offset - offset);
    await partial.write(body, { signal: opts.signal, onBytes: (n) => task.add(n) });
    return true;
  } finally {
    await partial.close(); // after a failure: keeps the bytes for a later resume; after success: nothing to do
    task.done();
  }
}

/**
 * Downloads the blobs a pull needs (`concurrency` at a time) before the manifest is copied: the
 * copy then finds them present and only records the manifest and the tag. The first failure
 * stops the other downloads (each keeps what it received).
 */
export async function downloadBlobs(
  layout: LayoutStore,
  remote: RemoteRepository,
  blobs: Descriptor[],
  opts: DownloadOptions & { concurrency?: number } = {},
): Promise<void> {
  const pool = new Pool(opts.concurrency ?? 5);
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(opts.signal!.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const seen = new Set<string>();
  let first: unknown;
  try {
    await Promise.all(blobs.filter((d) => !seen.has(d.digest) && seen.add(d.digest)).map((d) =>
      pool.run(() => downloadBlob(layout, remote, d, { ...opts, signal: ctl.signal }), ctl.signal).catch((e) => {
        if (first === undefined) {
          first = e;
          ctl.abort(new CancelledError());
        }
        throw e;
      })
    ));
  } catch (e) {
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    throw first ?? e;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}
