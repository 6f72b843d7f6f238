/**
 * Blob uploads as kit does them (docs/format.md#uploads): `POST /blobs/uploads/` opens a session, then either
 * one monolithic `PUT <location>?digest=` (reusing the POST's authorization) or 100 MiB `PATCH`
 * chunks with `Content-Range` and a final empty `PUT`, depending on the registry host and the
 * size. Cross-repository mounts (`POST ?mount=&from=`) skip the upload when the registry already
 * holds the blob in another repository.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { AuthClient } from "./auth.ts";
import { discardBody, expectStatus, RegistryError, redactUrl } from "./http.ts";

/** kit's chunk size for chunked uploads, and the size from which they are used. */
export const CHUNK_SIZE = 100 * 1024 * 1024;
/** Smallest chunk of a chunked upload (below `chunkSize`). */
export const MIN_CHUNK = 16 * 1024 * 1024;
/** A chunked upload is acknowledged at least this many times, so an interruption loses little. */
const CHECKPOINTS = 8;

/**
 * The chunk length for a blob of `size` bytes: an eighth of it, at least {@link MIN_CHUNK}, at
 * most `chunkSize` — where a registry can only continue a session at an acknowledged chunk, an
 * interrupted upload loses at most that much.
 */
export function chunkLength(size: number, chunkSize = CHUNK_SIZE): number {
  return Math.min(chunkSize, Math.max(Math.ceil(size / CHECKPOINTS), MIN_CHUNK));
}

/**
 * True when kit uploads to `host` in one request whatever the size: GHCR (rejects PATCH bodies
 * over 4 MiB), Google Artifact Registry / GCR (no chunked upload) and ECR (answers 201 after the
 * first chunk). Matching is case-insensitive on the host name without port.
 */
export function alwaysMonolithic(host: string): boolean {
  const h = host.replace(/:\d+$/, "").toLowerCase();
  return h === "ghcr.io" || /\.pkg\.dev$/.test(h) || /\.?gcr\.io$/.test(h) || /\.?amazonaws\.com(\.cn)?$/.test(h);
}

/** Whether a blob of `size` bytes goes up in one PUT (else chunked). */
export function useMonolithic(host: string, size: number, chunkSize = CHUNK_SIZE): boolean {
  return alwaysMonolithic(host) || size < chunkSize;
}

/**
 * The next URL of an upload session from a `Location` header, resolved against the request URL.
 * (kit re-adds an explicit `:443` so its credential lookup keeps matching; web URLs drop default
 * ports anyway, and credentials are looked up by registry name — see `AuthClient.alias`.)
 */
export function resolveLocation(requestUrl: URL, location: string | null): URL {
  if (!location) throw new KitError(`The registry answered ${redactUrl(requestUrl)} without a Location header`);
  const u = new URL(location, requestUrl);
  if (u.protocol !== requestUrl.protocol && requestUrl.protocol === "https:") {
    throw new KitError(`The registry sent an upload location that downgrades to ${u.protocol}`);
  }
  return u;
}

export interface UploadContext {
  client: AuthClient;
  /** Scopes of the push (pull,push on the destination). */
  scopes: string[];
  /** The registry as named in the reference (`host[:port]`). */
  registry: string;
  logger?: Logger;
  signal?: AbortSignal;
  chunkSize?: number;
}

export type StartResult = { mounted: true } | { mounted: false; location: URL };

/**
 * Opens an upload session (`POST <uploadsUrl>`); with `mountFrom`, asks for a cross-repository
 * mount first: 201 means the blob is now there, 202 is an ordinary session.
 */
export async function startUpload(ctx: UploadContext, uploadsUrl: URL, desc: Descriptor, mountFrom?: string): Promise<StartResult> {
  const url = new URL(uploadsUrl);
  const scopes = [...ctx.scopes];
  if (mountFrom) {
    url.searchParams.set("mount", desc.digest);
    url.searchParams.set("from", mountFrom);
    scopes.push(`repository:${mountFrom}:pull`);
  }
  const res = await ctx.client.send({ method: "POST", url, signal: ctx.signal, headers: new Headers({ "content-length": "0" }) }, scopes);
  if (mountFrom && res.status === 201) {
    await discardBody(res);
    return { mounted: true };
  }
  await expectStatus(res, "POST", url, 202);
  await discardBody(res);
  return { mounted: false, location: resolveLocation(url, res.headers.get("location")) };
}

function withDigest(location: URL, desc: Descriptor): URL {
  const u = new URL(location);
  u.searchParams.set("digest", desc.digest);
  return u;
}

async function checkCommitted(res: Response, method: string, url: URL, desc: Descriptor): Promise<void> {
  await expectStatus(res, method, url, 201);
  await discardBody(res);
  const got = res.headers.get("docker-content-digest");
  if (got && got !== desc.digest) {
    throw new KitError(`The registry stored ${desc.digest} under a different digest ${got}`);
  }
}

/** `PUT <location>?digest=` with the whole blob. */
export async function uploadMonolithic(
  ctx: UploadContext,
  location: URL,
  desc: Descriptor,
  body: Uint8Array | ReadableStream<Uint8Array>,
): Promise<void> {
  const url = withDigest(location, desc);
  const headers = new Headers({ "content-type": "application/octet-stream", "content-length": String(desc.size) });
  const res = await ctx.client.send({ method: "PUT", url, headers, body, signal: ctx.signal }, ctx.scopes);
  await checkCommitted(res, "PUT", url, desc);
}

/** Reads exactly `n` bytes from `reader` as a stream, keeping any surplus of the last chunk in `carry`. */
function take(reader: ReadableStreamDefaultReader<Uint8Array>, n: number, carry: { rest?: Uint8Array }): ReadableStream<Uint8Array> {
  let left = n;
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (left === 0) return ctl.close();
      let chunk = carry.rest;
      carry.rest = undefined;
      if (!chunk) {
        const r = await reader.read();
        if (r.done) {
          ctl.error(new KitError(`The blob ended ${left} bytes before the end of an upload chunk`));
          return;
        }
        chunk = r.value;
      }
      if (chunk.byteLength > left) {
        carry.rest = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.byteLength;
      ctl.enqueue(chunk);
      if (left === 0) ctl.close();
    },
  }, { highWaterMark: 0 });
}

export interface ChunkedOptions {
  /** Bytes the session already holds: `body` is the content from here on (default 0). */
  start?: number;
  /** After each acknowledged chunk: the session's next location and the bytes it holds. */
  onChunk?: (location: URL, offset: number) => Promise<void> | void;
}

/**
 * `PATCH` chunks ({@link chunkLength}) with `Content-Range: <start>-<end>`, then `PUT ?digest=`
 * with no body. `body` is the content from `opts.start` on.
 */
export async function uploadChunked(
  ctx: UploadContext,
  first: URL,
  desc: Descriptor,
  body: ReadableStream<Uint8Array>,
  opts: ChunkedOptions = {},
): Promise<void> {
  const chunkSize = chunkLength(desc.size, ctx.chunkSize ?? CHUNK_SIZE);
  const reader = body.getReader();
  const carry: { rest?: Uint8Array } = {};
  let location = first;
  try {
    for (let offset = opts.start ?? 0; offset < desc.size;) {
      const n = Math.min(chunkSize, desc.size - offset);
      const end = offset + n - 1;
      const headers = new Headers({
        "content-type": "application/octet-stream",
        "content-range": `${offset}-${end}`,
        "content-length": String(n),
      });
      ctx.logger?.debug(`Uploading chunk ${offset}-${end} of ${desc.digest}`);
      const res = await ctx.client.send({ method: "PATCH", url: location, headers, body: take(reader, n, carry), signal: ctx.signal }, ctx.scopes);
      await expectStatus(res, "PATCH", location, 202);
      await discardBody(res);
      const range = res.headers.get("range");
      if (range !== `0-${end}` && range !== `bytes=0-${end}`) {
        throw new RegistryError(`The registry acknowledged range ${range ?? "(none)"} instead of 0-${end}`, {
          status: res.status,
          method: "PATCH",
          url: redactUrl(location),
        });
      }
      location = resolveLocation(location, res.headers.get("location"));
      offset += n;
      await opts.onChunk?.(location, offset);
    }
    // Reading the end lets the digest check of the source run before anything is committed.
    if (carry.rest?.byteLength) throw new KitError(`The blob ${desc.digest} is longer than ${desc.size} bytes`);
    const last = await reader.read();
    if (!last.done) throw new KitError(`The blob ${desc.digest} is longer than ${desc.size} bytes`);
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
  const url = withDigest(location, desc);
  const res = await ctx.client.send({
    method: "PUT",
    url,
    headers: new Headers({ "content-type": "application/octet-stream", "content-length": "0" }),
    body: new Uint8Array(0),
    signal: ctx.signal,
  }, ctx.scopes);
  await checkCommitted(res, "PUT", url, desc);
}

/**
 * How far an upload session got (`GET <location>`: 204 with `Range: 0-<last byte>`): the offset to
 * continue at and the session's next location; undefined when the registry no longer knows the
 * session or cannot say (`0-0` means nothing or one byte with distribution; nothing is lost by
 * starting again then).
 */
export async function uploadStatus(ctx: UploadContext, location: URL): Promise<{ location: URL; offset: number } | undefined> {
  const res = await ctx.client.send({ method: "GET", url: location, signal: ctx.signal }, ctx.scopes);
  await discardBody(res);
  if (res.status !== 204 && res.status !== 202 && res.status !== 200) {
    if (res.status === 404 || res.status === 400 || res.status === 416) return undefined;
    await expectStatus(res, "GET", location, 204);
  }
  const m = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get("range") ?? "");
  if (!m || m[1] === "0") return undefined;
  const next = res.headers.get("location");
  return { location: next ? resolveLocation(location, next) : location, offset: Number(m[1]) + 1 };
}

/** Best-effort `DELETE` of an abandoned upload session (errors ignored: it expires anyway). */
export async function abandonUpload(ctx: UploadContext, location: URL): Promise<void> {
  try {
    const res = await ctx.client.send({ method: "DELETE", url: location }, ctx.scopes);
    await discardBody(res);
  } catch {
    // The registry cleans up stale sessions itself.
  }
}

/** Errors after which a fresh upload session may succeed. */
export function isRetryableUploadError(e: unknown): boolean {
  if (e instanceof RegistryError) {
    const s = e.status;
    if (s === 408 || s === 429 || (s >= 500 && s !== 501 && s !== 505)) return true;
    if (s === 404 || s === 400) return e.hasCode("BLOB_UPLOAD_UNKNOWN") || e.hasCode("BLOB_UPLOAD_INVALID");
    if (s === 416) return true;
    return false;
  }
  const n = e as { name?: string; retryable?: boolean } | null;
  return n?.name === "NetworkError" && n.retryable !== false;
}
