/**
 * The targets `kit push` and `kit pull` hand to the generic copy (oras-style wrapping: the copy
 * code never knows about registries, resumption or the terminal).
 *
 * - {@link pushTarget}: a remote repository whose blob uploads can read the blob again from the
 *   local source when a fresh upload session is needed, with a progress bar per blob.
 * - {@link PullSource} + {@link PullTarget}: blobs are not streamed through the copy; the
 *   destination downloads each one itself into `storage/ingest/<hex>` with `Range` requests, so a
 *   broken connection — or a killed process — continues where it stopped.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { digestHex } from "../oci/digest.ts";
import type { LocalRepository } from "../store/local.ts";
import { bytesStream, isManifestType, type ReadOnlyStorage, type ReadOnlyTarget, type StoreOptions, type Target } from "../store/target.ts";
import { AlreadyExistsError } from "../util/errors.ts";
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
  return {
    exists: (d, o) => remote.exists(d, o),
    fetch: (d, o) => remote.fetch(d, o),
    resolve: (r, o) => remote.resolve(r, o),
    tag: (d, r, o) => remote.tag(d, r, o),
    async push(desc, body, opts: StoreOptions = {}) {
      const task = taskFor(progress, desc);
      try {
        await remote.push(desc, counted(body, task), {
          ...opts,
          reopen: async () => counted(await source.fetch(desc, opts), task),
        });
      } finally {
        task.done();
      }
    },
  };
}

/**
 * The source of a pull: manifests are fetched (each once: the pull command hands over the root it
 * already checked); a blob's stream is only opened if someone reads it — {@link PullTarget} never
 * does, it downloads the blob itself.
 */
export class PullSource implements ReadOnlyTarget {
  readonly remote: RemoteRepository;
  readonly #manifests = new Map<string, Uint8Array>();

  constructor(remote: RemoteRepository) {
    this.remote = remote;
  }

  /** Keeps a manifest already fetched and verified, so the copy does not download it again. */
  remember(desc: Descriptor, bytes: Uint8Array): void {
    this.#manifests.set(desc.digest, bytes);
  }

  resolve(r: string, o?: StoreOptions) {
    return this.remote.resolve(r, o);
  }
  exists(d: Descriptor, o?: StoreOptions) {
    return this.remote.exists(d, o);
  }

  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    if (isManifestType(desc.mediaType)) {
      const cached = this.#manifests.get(desc.digest);
      return cached ? bytesStream(cached) : this.remote.fetch(desc, opts);
    }
    const remote = this.remote;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      async pull(ctl) {
        reader ??= (await remote.fetch(desc, opts)).getReader();
        const { done, value } = await reader.read();
        if (done) ctl.close();
        else ctl.enqueue(value);
      },
      cancel(reason) {
        return reader?.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }
}

/** The destination of a pull: a local repository whose blobs come straight from `remote`, resumably. */
export class PullTarget implements Target {
  readonly local: LocalRepository;
  readonly remote: RemoteRepository;
  readonly #progress: Progress;
  readonly #logger?: Logger;

  constructor(local: LocalRepository, remote: RemoteRepository, opts: { progress?: Progress; logger?: Logger } = {}) {
    this.local = local;
    this.remote = remote;
    this.#progress = opts.progress ?? noProgress;
    this.#logger = opts.logger;
  }

  exists(d: Descriptor, o?: StoreOptions) {
    return this.local.exists(d, o);
  }
  fetch(d: Descriptor, o?: StoreOptions) {
    return this.local.fetch(d, o);
  }
  resolve(r: string, o?: StoreOptions) {
    return this.local.resolve(r, o);
  }
  tag(d: Descriptor, r: string, o?: StoreOptions) {
    return this.local.tag(d, r, o);
  }

  async push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}): Promise<void> {
    if (isManifestType(desc.mediaType)) return this.local.push(desc, body, opts);
    await body.cancel().catch(() => {}); // never opened: see PullSource
    const partial = await this.local.layout.openPartial(desc, opts); // AlreadyExistsError when stored meanwhile
    const task = taskFor(this.#progress, desc);
    try {
      if (partial.offset > 0) {
        this.#logger?.debug(`Resuming download of ${desc.digest} at byte ${partial.offset} of ${desc.size}`);
        task.add(partial.offset);
      }
      let { body: data, offset } = await this.remote.fetchFrom(desc, partial.offset, opts);
      if (offset < partial.offset) data = skipBytes(data, partial.offset - offset);
      await partial.write(data, { signal: opts.signal, onBytes: (n) => task.add(n) });
    } catch (e) {
      await partial.close();
      if (e instanceof AlreadyExistsError) return;
      throw e;
    } finally {
      task.done();
    }
  }
}
