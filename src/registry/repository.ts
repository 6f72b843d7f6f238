/**
 * A repository on an OCI registry as a {@link Target} (oras `remote.Repository`): manifests and
 * blobs are told apart by media type, every fetched byte is checked against its descriptor
 * (`Content-Length`, `Docker-Content-Digest`, the digest itself), blob downloads continue after a
 * broken connection, and blob uploads follow kit's rules (docs/format.md#uploads) with retries in a fresh
 * upload session.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { digestOf, isDigest, verified } from "../oci/digest.ts";
import { MANIFEST_ACCEPT, OCI_INDEX } from "../oci/media-types.ts";
import {
  checkDescriptor,
  DEFAULT_MAX_METADATA_BYTES,
  type Deleter,
  isManifestType,
  missingReference,
  type Mounter,
  notFound,
  type RangeFetcher,
  type ReferencePusher,
  type ReferrerLister,
  type StoreOptions,
  type TagLister,
  type Target,
  type Untagger,
} from "../store/target.ts";
import { CancelledError, IntegrityError, KitError, NotFoundError, TransientError, errorMessage } from "../util/errors.ts";
import { readAll, skipBytes } from "../util/streams.ts";
import type { Logger } from "../util/log.ts";
import { abortReason, throwIfAborted } from "../util/pool.ts";
import { type AuthClient, repositoryScope } from "./auth.ts";
import { resumingBody } from "./blob-download.ts";
import {
  abandonUpload,
  CHUNK_SIZE,
  isRetryableUploadError,
  startUpload,
  type UploadContext,
  uploadChunked,
  uploadMonolithic,
  uploadStatus,
  useMonolithic,
} from "./blob-upload.ts";
import { MemoryUploadSessions, sessionKey, type UploadSessionStore } from "./upload-sessions.ts";
import { discardBody, expectStatus, responseError } from "./http.ts";
import { listReferrers } from "./referrers.ts";
import { listTags } from "./tag-list.ts";

/** The API host of a registry: Docker Hub's API lives at `registry-1.docker.io`. */
export function apiHost(registry: string): string {
  return registry === "docker.io" ? "registry-1.docker.io" : registry;
}

export interface RemoteRepositoryOptions {
  /** The registry as named in references (`host[:port]`). */
  registry: string;
  repository: string;
  client: AuthClient;
  /** `--plain-http`. */
  plainHttp?: boolean;
  logger?: Logger;
  /**
   * Actions every request asks a token for. `["pull"]` for reads (the default); a push asks
   * for `["pull","push"]` from the start so one token serves the whole copy.
   */
  actions?: string[];
  /** Blobs up to this size are read into memory before upload, so a failed PUT can be resent (default 4 MiB). */
  bufferLimit?: number;
  /** Chunk size of chunked uploads, and the size from which they are used (default 100 MiB). */
  chunkSize?: number;
  /** Upload sessions tried per blob (default 5). */
  uploadAttempts?: number;
  /** Resumes per blob download (default 10). */
  maxResumes?: number;
  /** Stalled download reads time out after this (default 60 s). */
  idleTimeoutMs?: number;
  /** Where sessions of interrupted chunked uploads are kept to continue later (default: this process only). */
  uploadSessions?: UploadSessionStore;
}

/**
 * Wraps a (verifying) source stream for upload: a read failure is recorded (to blame the source)
 * and the upload can be stopped from outside. The chunk that completes `size` bytes is held back
 * until the source has ended — and so has been verified — so a registry never receives a complete
 * body for content that turns out to be wrong.
 */
function guardSource(s: ReadableStream<Uint8Array>, size: number, onError: (e: unknown) => void) {
  const reader = s.getReader();
  let finished = false;
  let n = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          finished = true;
          ctl.close();
          return;
        }
        n += value.byteLength;
        if (n >= size) {
          const end = await reader.read(); // runs the verification at the end of the source
          if (!end.done) throw new IntegrityError(`Content is larger than expected: more than ${size} bytes`);
          finished = true;
          ctl.enqueue(value);
          ctl.close();
          return;
        }
        ctl.enqueue(value);
      } catch (e) {
        finished = true;
        onError(e);
        ctl.error(e);
      }
    },
    cancel(reason) {
      finished = true;
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    /** Cancels the source (also while a read is pending). */
    stop: (reason?: unknown) => finished ? Promise.resolve() : reader.cancel(reason).catch(() => {}),
  };
}

function mediaTypeOf(res: Response): string {
  return (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
}

/**
 * A repository on a registry: a {@link Target} with the optional capabilities of a registry
 * (range reads, cross-repository mounts, push by reference, delete, untag, tag listing, referrers).
 */
/**
 * Statuses meaning "no referrers API here" rather than a failure: 404 (docker-registry 2.8), and
 * what other registries and proxies answer for a path or method they do not serve (400, 405, 406,
 * 501). Signatures are then read and written under their tags only.
 */
const NO_REFERRERS_API = new Set([400, 404, 405, 406, 501]);

export class RemoteRepository implements Target, RangeFetcher, Mounter, ReferencePusher, Deleter, Untagger, TagLister, ReferrerLister {
  readonly registry: string;
  readonly repository: string;
  readonly client: AuthClient;
  readonly plainHttp: boolean;
  readonly logger?: Logger;
  readonly #actions: string[];
  readonly #bufferLimit: number;
  readonly #chunkSize: number;
  readonly #uploadAttempts: number;
  readonly #maxResumes: number;
  readonly #idleTimeoutMs: number;
  readonly #sessions: UploadSessionStore;

  constructor(opts: RemoteRepositoryOptions) {
    this.registry = opts.registry;
    this.repository = opts.repository;
    this.client = opts.client;
    this.plainHttp = opts.plainHttp ?? false;
    this.logger = opts.logger;
    this.#actions = opts.actions ?? ["pull"];
    this.#bufferLimit = opts.bufferLimit ?? DEFAULT_MAX_METADATA_BYTES;
    this.#chunkSize = opts.chunkSize ?? CHUNK_SIZE;
    this.#uploadAttempts = opts.uploadAttempts ?? 5;
    this.#maxResumes = opts.maxResumes ?? 10;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    this.#sessions = opts.uploadSessions ?? new MemoryUploadSessions();
    this.client.alias(new URL(this.baseUrl), this.registry);
  }

  /** `<scheme>://<api host>/v2/`. */
  get baseUrl(): string {
    return `${this.plainHttp ? "http" : "https"}://${apiHost(this.registry)}/v2/`;
  }

  #url(path: string): URL {
    return new URL(`${this.repository}/${path}`, this.baseUrl);
  }

  #scopes(...extra: string[]): string[] {
    return [repositoryScope(this.repository, ...new Set([...this.#actions, ...extra]))];
  }

  #send(method: string, url: URL, init: { headers?: Record<string, string>; body?: Uint8Array; signal?: AbortSignal } = {}, extraActions: string[] = []) {
    return this.client.send({ method, url, headers: new Headers(init.headers), body: init.body, signal: init.signal }, this.#scopes(...extraActions));
  }

  // ----- reads ---------------------------------------------------------------------------------

  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    const manifest = isManifestType(desc.mediaType);
    const url = this.#url(`${manifest ? "manifests" : "blobs"}/${desc.digest}`);
    const res = await this.#send("HEAD", url, { headers: manifest ? { accept: MANIFEST_ACCEPT } : {}, signal: opts.signal });
    await discardBody(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await responseError(res, "HEAD", url);
  }

  /** The content of `desc`, verified as it streams; a blob continues after a broken connection. */
  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    if (isManifestType(desc.mediaType)) {
      const url = this.#url(`manifests/${desc.digest}`);
      const res = await this.#send("GET", url, { headers: { accept: MANIFEST_ACCEPT }, signal: opts.signal });
      if (res.status === 404) {
        await discardBody(res);
        throw notFound(desc);
      }
      await expectStatus(res, "GET", url, 200);
      this.#checkLength(res, desc.size, desc, url);
      return verified(res.body!, desc);
    }
    const { body } = await this.fetchFrom(desc, 0, opts);
    return verified(body, desc);
  }

  #checkLength(res: Response, expected: number, desc: Descriptor, url: URL): void {
    const len = res.headers.get("content-length");
    if (len !== null && len !== "" && Number(len) !== expected) {
      void discardBody(res);
      throw new IntegrityError(`${url.pathname}: the registry announced ${len} bytes for ${desc.digest}, expected ${expected}`);
    }
  }

  /**
   * The blob from byte `offset` on, to `opts.end` (for resumable and parallel downloads into local
   * storage): the body is NOT verified here — the caller hashes the whole content — and continues
   * after a broken connection. `offset` in the result is where the body really starts (0 when the
   * registry ignored the range); `ranged` is true when it answered 206 with the range asked for.
   */
  async fetchFrom(
    desc: Descriptor,
    offset: number,
    opts: StoreOptions & { end?: number } = {},
  ): Promise<{ body: ReadableStream<Uint8Array>; offset: number; ranged: boolean }> {
    checkDescriptor(desc);
    const end = Math.min(opts.end ?? desc.size, desc.size);
    // A range is asked for whenever the caller may want parts: its answer says whether the registry has ranges.
    const first = await this.#openBlob(desc, offset, end, offset > 0 || opts.end !== undefined, opts.signal);
    const body = resumingBody(desc, first.body, first.offset, (at, signal) => this.#openBlob(desc, at, end, true, signal), {
      end,
      maxResumes: this.#maxResumes,
      idleTimeoutMs: this.#idleTimeoutMs,
      signal: opts.signal,
      logger: this.logger,
      backoff: (n) => this.client.transport.backoff(n - 1),
      sleep: (ms, signal) => this.client.transport.wait(ms, signal),
    });
    return { body, offset: first.offset, ranged: first.ranged };
  }

  async #openBlob(
    desc: Descriptor,
    offset: number,
    end: number,
    askRange: boolean,
    signal?: AbortSignal,
  ): Promise<{ body: ReadableStream<Uint8Array>; offset: number; ranged: boolean }> {
    throwIfAborted(signal);
    const url = this.#url(`blobs/${desc.digest}`);
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (askRange) headers.range = `bytes=${offset}-${end < desc.size ? end - 1 : ""}`;
    const res = await this.#send("GET", url, { headers, signal });
    if (res.status === 404) {
      await discardBody(res);
      throw notFound(desc);
    }
    if (offset > 0 && res.status === 416) {
      // Our partial copy is no use to this server; start over.
      await discardBody(res);
      return this.#openBlob(desc, 0, desc.size, false, signal);
    }
    await expectStatus(res, "GET", url, 200, 206);
    const got = res.headers.get("docker-content-digest");
    if (got && got !== desc.digest) {
      await discardBody(res);
      throw new IntegrityError(`The registry answered ${desc.digest} with content of ${got}`);
    }
    let start = 0;
    let stop = desc.size;
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== offset || Number(m[2]) >= end) {
        await discardBody(res);
        throw new KitError(`The registry answered a range request for ${desc.digest} with range ${res.headers.get("content-range") ?? "(none)"}`);
      }
      start = offset;
      stop = Number(m[2]) + 1; // a shorter part than asked for is continued by the resuming body
    }
    this.#checkLength(res, stop - start, desc, url);
    if (!res.body) throw new KitError(`The registry sent no content for ${desc.digest}`);
    return { body: res.body, offset: start, ranged: res.status === 206 };
  }

  /**
   * `GET manifests/<ref>`: the manifest's descriptor (media type from `Content-Type`) and bytes,
   * verified against the digest when `ref` is one or the registry names one. At most 4 MiB.
   */
  async fetchManifest(ref: string, opts: StoreOptions = {}): Promise<{ desc: Descriptor; bytes: Uint8Array }> {
    if (ref === "") throw missingReference();
    throwIfAborted(opts.signal);
    const url = this.#url(`manifests/${ref}`);
    const res = await this.#send("GET", url, { headers: { accept: MANIFEST_ACCEPT }, signal: opts.signal });
    if (res.status === 404) {
      await discardBody(res);
      throw new NotFoundError(`${ref}: not found`);
    }
    await expectStatus(res, "GET", url, 200);
    const tooLarge = () => new KitError(`The manifest ${ref} from the registry is larger than ${DEFAULT_MAX_METADATA_BYTES / (1024 * 1024)} MiB`);
    const bytes = await readAll(res.body!, DEFAULT_MAX_METADATA_BYTES, opts.signal, tooLarge);
    const digest = digestOf(bytes);
    const claimed = isDigest(ref) ? ref : res.headers.get("docker-content-digest");
    if (claimed && claimed !== digest) {
      throw new IntegrityError(`Content of ${claimed} does not match its digest: got ${digest}`);
    }
    return { desc: { mediaType: mediaTypeOf(res), digest, size: bytes.byteLength }, bytes };
  }

  /** A tag or digest → manifest descriptor (`HEAD`, falling back to `GET` when headers are missing). */
  async resolve(ref: string, opts: StoreOptions = {}): Promise<Descriptor> {
    if (ref === "") throw missingReference();
    throwIfAborted(opts.signal);
    const url = this.#url(`manifests/${ref}`);
    const res = await this.#send("HEAD", url, { headers: { accept: MANIFEST_ACCEPT }, signal: opts.signal });
    await discardBody(res);
    if (res.status === 404) throw new NotFoundError(`${ref}: not found`);
    // A refusal of HEAD has no body to explain it: ask with GET, whose error the registry explains.
    if (res.status !== 200) return (await this.fetchManifest(ref, opts)).desc;
    const digest = res.headers.get("docker-content-digest");
    const len = res.headers.get("content-length");
    const mediaType = mediaTypeOf(res);
    if (digest && isDigest(digest) && len && /^\d+$/.test(len) && mediaType) {
      if (isDigest(ref) && digest !== ref) throw new IntegrityError(`The registry resolved ${ref} to a different digest ${digest}`);
      return { mediaType, digest, size: Number(len) };
    }
    return (await this.fetchManifest(ref, opts)).desc;
  }

  /**
   * Every tag of the repository, following `Link` pagination within the limits of `tag-list.ts`.
   * NotFoundError for an unknown repository.
   */
  async tags(opts: StoreOptions & { pageSize?: number } = {}): Promise<string[]> {
    const first = this.#url("tags/list");
    if (opts.pageSize) first.searchParams.set("n", String(opts.pageSize));
    const name = `${this.registry}/${this.repository}`;
    return listTags(name, first, async (url) => {
      const res = await this.#send("GET", url, { headers: { accept: "application/json" }, signal: opts.signal });
      if (res.status === 404) {
        const err = await responseError(res, "GET", url);
        throw new NotFoundError(`repository ${name} not found: ${err.message}`);
      }
      return expectStatus(res, "GET", url, 200);
    }, { signal: opts.signal, logger: this.logger });
  }

  /**
   * The manifests whose subject is `desc` (`GET referrers/<digest>`, OCI distribution 1.1), of
   * `artifactType` when given, within the limits of `referrers.ts`; undefined when the registry
   * has no referrers API: it answers 404 (docker-registry 2.8) or another status registries give
   * an endpoint they do not know ({@link NO_REFERRERS_API}).
   */
  async referrers(desc: Descriptor, artifactType?: string, opts: StoreOptions = {}): Promise<Descriptor[] | undefined> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    const first = this.#url(`referrers/${desc.digest}`);
    if (artifactType) first.searchParams.set("artifactType", artifactType);
    return listReferrers(`${this.registry}/${this.repository}@${desc.digest}`, first, async (url) => {
      const res = await this.#send("GET", url, { headers: { accept: OCI_INDEX }, signal: opts.signal });
      if (NO_REFERRERS_API.has(res.status)) {
        await discardBody(res);
        return undefined;
      }
      return expectStatus(res, "GET", url, 200);
    }, { artifactType, signal: opts.signal });
  }

  // ----- writes --------------------------------------------------------------------------------

  /**
   * Uploads a blob, or `PUT`s a manifest under its digest. A blob of at most `bufferLimit` bytes is
   * read first and retried in fresh sessions here; a larger one is streamed once, and a failure
   * worth retrying throws {@link TransientError} (the copy fetches the content again).
   */
  async push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}): Promise<void> {
    await this.pushReference(desc, body, desc.digest, opts);
  }

  /** A manifest stored and tagged `ref` in one `PUT`; a blob is uploaded (`ref` unused). */
  async pushReference(desc: Descriptor, body: ReadableStream<Uint8Array>, ref: string, opts: StoreOptions = {}): Promise<void> {
    try {
      checkDescriptor(desc);
      throwIfAborted(opts.signal);
    } catch (e) {
      await body.cancel(e).catch(() => {});
      throw e;
    }
    if (isManifestType(desc.mediaType)) {
      const bytes = await readAll(verified(body, desc), DEFAULT_MAX_METADATA_BYTES, opts.signal);
      await this.pushManifest(desc, bytes, ref, opts);
      return;
    }
    await this.#pushBlob(desc, body, undefined, opts.signal);
  }

  /**
   * Cross-repository mount (`POST blobs/uploads/?mount=<digest>&from=<repo>`); when the registry
   * declines, the session it opened takes the upload of what `getContent` gives.
   */
  async mount(desc: Descriptor, from: string, getContent: () => Promise<ReadableStream<Uint8Array>>, opts: StoreOptions = {}): Promise<void> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    const r = await startUpload(this.#uploadContext(opts.signal), this.#url("blobs/uploads/"), desc, from);
    if (r.mounted) {
      this.logger?.debug(`Mounted ${desc.digest} from ${this.registry}/${from}`);
      return;
    }
    let body: ReadableStream<Uint8Array>;
    try {
      body = await getContent();
    } catch (e) {
      await abandonUpload(this.#uploadContext(), r.location);
      throw e;
    }
    await this.#pushBlob(desc, body, r.location, opts.signal);
  }

  /** `PUT manifests/<ref>` with the manifest's media type; checks the digest the registry reports. */
  async pushManifest(desc: Descriptor, bytes: Uint8Array, ref: string = desc.digest, opts: StoreOptions = {}): Promise<void> {
    const url = this.#url(`manifests/${ref}`);
    const res = await this.#send("PUT", url, { headers: { "content-type": desc.mediaType }, body: bytes, signal: opts.signal }, ["push"]);
    await expectStatus(res, "PUT", url, 201);
    await discardBody(res);
    const got = res.headers.get("docker-content-digest");
    if (got && got !== desc.digest) throw new IntegrityError(`The registry stored manifest ${desc.digest} under a different digest ${got}`);
  }

  #uploadContext(signal?: AbortSignal): UploadContext {
    return {
      client: this.client,
      scopes: this.#scopes("push"),
      registry: this.registry,
      logger: this.logger,
      signal,
      chunkSize: this.#chunkSize,
    };
  }

  /**
   * The session an earlier, interrupted upload of `desc` left, if the registry still has it: where
   * to continue and from which byte. A session the registry forgot (or cannot report) is dropped.
   */
  async #savedSession(ctx: UploadContext, key: string, desc: Descriptor): Promise<{ location: URL; offset: number } | undefined> {
    const saved = await this.#sessions.get(key);
    if (!saved) return undefined;
    const location = new URL(saved.location);
    // Only ever where this registry's API is: a location elsewhere is not asked.
    const status = location.origin === new URL(this.baseUrl).origin ? await uploadStatus(ctx, location) : undefined;
    if (status && status.offset <= desc.size) return status;
    await this.#sessions.delete(key);
    if (location.origin === new URL(this.baseUrl).origin) await abandonUpload(ctx, location);
    this.logger?.debug(`The registry no longer has the upload session of ${desc.digest}; starting again`);
    return undefined;
  }

  async #pushBlob(desc: Descriptor, body: ReadableStream<Uint8Array>, session: URL | undefined, signal?: AbortSignal): Promise<void> {
    const ctx = this.#uploadContext(signal);
    const uploads = this.#url("blobs/uploads/");
    // Small blobs are read (and verified) first, so every request can be sent again.
    let data: Uint8Array | undefined;
    if (desc.size <= this.#bufferLimit) {
      data = await readAll(verified(body, desc), this.#bufferLimit, signal);
    }
    // Chunked uploads are acknowledged chunk by chunk: their session is kept to continue later.
    const chunked = !data && !useMonolithic(this.registry, desc.size, this.#chunkSize);
    const key = sessionKey(this.registry, this.repository, desc.digest);
    for (let attempt = 1; ; attempt++) {
      let location: URL | undefined = session;
      session = undefined;
      let start = 0;
      let sourceError: unknown;
      const abort = new AbortController();
      const guarded = data ? undefined : guardSource(verified(body, desc), desc.size, (e) => {
        sourceError = e;
        abort.abort(e);
      });
      const onOuterAbort = () => {
        void guarded?.stop(abortReason(signal!));
        abort.abort(abortReason(signal!));
      };
      signal?.addEventListener("abort", onOuterAbort, { once: true });
      const attemptCtx: UploadContext = { ...ctx, signal: signal ? AbortSignal.any([signal, abort.signal]) : abort.signal };
      try {
        throwIfAborted(signal);
        if (!location && chunked) {
          const saved = await this.#savedSession(attemptCtx, key, desc);
          if (saved) [location, start] = [saved.location, saved.offset];
        }
        if (!location) {
          const r = await startUpload(attemptCtx, uploads, desc);
          if (r.mounted) return; // cannot happen without a mount request
          location = r.location;
        }
        if (data) {
          await uploadMonolithic(attemptCtx, location, desc, data);
        } else if (!chunked) {
          await uploadMonolithic(attemptCtx, location, desc, guarded!.stream);
        } else {
          await this.#sessions.put(key, { location: location.href, offset: start });
          if (start > 0) this.logger?.debug(`Resuming upload of ${desc.digest} at byte ${start} of ${desc.size}`);
          // The bytes the registry has are still read, so the digest check covers the whole blob.
          const rest = start > 0 ? skipBytes(guarded!.stream, start) : guarded!.stream;
          await uploadChunked(attemptCtx, location, desc, rest, {
            start,
            onChunk: (next, offset) => {
              location = next;
              return this.#sessions.put(key, { location: next.href, offset });
            },
          });
          await this.#sessions.delete(key);
        }
        return;
      } catch (e) {
        await guarded?.stop(e);
        // Interrupted: the session stays for the next push.
        if (signal?.aborted) throw abortReason(signal);
        const retry = sourceError === undefined && !(e instanceof CancelledError || e instanceof IntegrityError) && isRetryableUploadError(e);
        if (chunked && retry) {
          // The copy sends the content again; that attempt continues the session where the registry says it stopped.
          const delay = this.client.transport.backoff(attempt - 1);
          this.logger?.debug(`Upload of ${desc.digest} failed (${errorMessage(e)}); it continues in ${delay} ms`);
          throw new TransientError(`Upload of ${desc.digest} failed: ${errorMessage(e)}`, { cause: e, retryAfterMs: delay });
        }
        if (chunked) await this.#sessions.delete(key);
        if (sourceError !== undefined) throw sourceError instanceof Error ? sourceError : new KitError(String(sourceError));
        if (e instanceof CancelledError || e instanceof IntegrityError) throw e;
        if (location) await abandonUpload(ctx, location);
        const delay = this.client.transport.backoff(attempt - 1);
        if (retry && !data) {
          // The streamed body is spent: the caller (the copy) sends the content again.
          this.logger?.debug(`Upload of ${desc.digest} failed (${errorMessage(e)}); it is sent again in a new session in ${delay} ms`);
          throw new TransientError(`Upload of ${desc.digest} failed: ${errorMessage(e)}`, { cause: e, retryAfterMs: delay });
        }
        if (attempt >= this.#uploadAttempts || !retry) throw e;
        this.logger?.debug(`Upload of ${desc.digest} failed (${errorMessage(e)}); retrying in a new session in ${delay} ms`);
        await this.client.transport.wait(delay, signal);
      } finally {
        signal?.removeEventListener("abort", onOuterAbort);
      }
    }
  }

  /** Points `ref` at the manifest `desc` (fetched by digest, then `PUT` under the tag). */
  async tag(desc: Descriptor, ref: string, opts: StoreOptions = {}): Promise<void> {
    if (ref === "") throw missingReference();
    checkDescriptor(desc);
    if (ref === desc.digest) return;
    const body = await this.fetch(desc, opts);
    const bytes = await readAll(body, DEFAULT_MAX_METADATA_BYTES, opts.signal);
    await this.pushManifest(desc, bytes, ref, opts);
  }

  /** `DELETE manifests/<digest>` (or `blobs/<digest>`). NotFoundError when absent; other refusals (405) as RegistryError. */
  async delete(desc: Descriptor, opts: StoreOptions = {}): Promise<void> {
    checkDescriptor(desc);
    const url = this.#url(`${isManifestType(desc.mediaType) ? "manifests" : "blobs"}/${desc.digest}`);
    const res = await this.#send("DELETE", url, { signal: opts.signal }, ["delete"]);
    if (res.status === 404) {
      await discardBody(res);
      throw notFound(desc);
    }
    await expectStatus(res, "DELETE", url, 200, 202, 204);
    await discardBody(res);
  }

  /** `DELETE manifests/<tag>`: removes a tag where the registry supports it (OCI distribution 1.1). */
  async untag(tag: string, opts: StoreOptions = {}): Promise<void> {
    if (tag === "") throw missingReference();
    const url = this.#url(`manifests/${tag}`);
    const res = await this.#send("DELETE", url, { signal: opts.signal }, ["delete"]);
    if (res.status === 404) {
      await discardBody(res);
      throw new NotFoundError(`${tag}: not found`);
    }
    await expectStatus(res, "DELETE", url, 200, 202, 204);
    await discardBody(res);
  }
}
