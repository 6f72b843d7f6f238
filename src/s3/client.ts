/**
 * A minimal S3 client for remote datasets (docs/format.md#remote-datasets): HEAD and (ranged,
 * conditional) GET of one object, signed with AWS Signature V4 (aws4fetch) and sent through
 * kit's HTTP stack (proxy rules, retries of transient failures, connection errors in words).
 *
 * Settings come from the environment as kit reads them: `S3_API_ENDPOINT` (then path-style
 * addressing, e.g. MinIO), `S3_REGION`, `S3_ACCESS_KEY_ID` + `S3_SECRET_KEY`; without those, the
 * AWS variables (`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`
 * [+ `AWS_SESSION_TOKEN`]); without any credentials, requests are sent unsigned (public buckets).
 * @module
 */
import { AwsV4Signer } from "aws4fetch";
import { discardBody, redactUrl } from "../registry/http.ts";
import { NetworkError, type RoundTripper } from "../registry/transport.ts";
import { KitError, NotFoundError } from "../util/errors.ts";
import { readAll } from "../util/streams.ts";

/** `s3://<bucket>/<key>[?versionId=<v>]`, parsed. */
export interface S3Location {
  bucket: string;
  key: string;
  versionId?: string;
  /** The URL as written in the Kitfile. */
  url: string;
}

export interface S3Settings {
  /** `S3_API_ENDPOINT`: an `http(s)://host[:port]` URL; objects are addressed path-style there. */
  endpoint?: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** An object's identity: its ETag (without quotes) and size. */
export interface S3ObjectInfo {
  etag: string;
  size: number;
}

const ENDPOINT_HINT = "Check S3_API_ENDPOINT (and S3_REGION), and that the S3 service is reachable";
const CREDENTIALS_HINT = "Set S3_ACCESS_KEY_ID and S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) to credentials that may read the object";

export function parseS3Url(url: string): S3Location {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KitError(`invalid S3 URL ${url}`);
  }
  const key = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (u.protocol !== "s3:" || !u.hostname || !key || key.endsWith("/")) {
    throw new KitError(`invalid S3 URL ${url}: expected s3://<bucket>/<key>`);
  }
  const loc: S3Location = { bucket: u.hostname, key, url };
  const v = u.searchParams.get("versionId");
  if (v) loc.versionId = v;
  return loc;
}

/** The settings in `env` (see the module comment). */
export function s3SettingsFromEnv(env: Record<string, string | undefined>): S3Settings {
  const s: S3Settings = { region: env.S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1" };
  const endpoint = env.S3_API_ENDPOINT;
  if (endpoint) s.endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
  if (env.S3_ACCESS_KEY_ID && env.S3_SECRET_KEY) {
    s.credentials = { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_KEY };
  } else if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    s.credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
    if (env.AWS_SESSION_TOKEN) s.credentials.sessionToken = env.AWS_SESSION_TOKEN;
  }
  return s;
}

/** An ETag without its quotes (and weak marker): what a Kitfile's `remoteHash` holds. */
export function normaliseEtag(etag: string): string {
  return etag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

/** Longest S3 error body read (an XML document with Code and Message). */
const MAX_ERROR_BODY = 8 * 1024;

export class S3Client {
  constructor(readonly settings: S3Settings, private readonly transport: RoundTripper) {}

  /** Path-style on `S3_API_ENDPOINT`, else AWS's virtual-hosted address in the region. */
  objectUrl(loc: S3Location): URL {
    const key = loc.key.split("/").map(encodeURIComponent).join("/");
    const base = this.settings.endpoint
      ? `${this.settings.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(loc.bucket)}/${key}`
      : `https://${loc.bucket}.s3.${this.settings.region}.amazonaws.com/${key}`;
    const u = new URL(base);
    if (loc.versionId) u.searchParams.set("versionId", loc.versionId);
    return u;
  }

  /** HEAD of the object: its ETag and size. NotFoundError when it does not exist. */
  async head(loc: S3Location, opts: { signal?: AbortSignal } = {}): Promise<S3ObjectInfo> {
    const res = await this.#send("HEAD", loc, new Headers(), opts.signal);
    await discardBody(res);
    if (res.status !== 200) throw await this.#error(res, loc);
    return { etag: normaliseEtag(res.headers.get("etag") ?? ""), size: Number(res.headers.get("content-length") ?? NaN) };
  }

  /**
   * GET of the object from byte `offset` on, only while its ETag is `etag` (`If-Match`). The
   * response's ETag is checked too (not every server honours `If-Match`). `offset` in the result
   * is where the body really starts: 0 when the server sent the whole object.
   */
  async get(loc: S3Location, o: { etag: string; offset?: number; signal?: AbortSignal }): Promise<{ body: ReadableStream<Uint8Array>; offset: number; size?: number }> {
    const headers = new Headers({ "if-match": `"${o.etag}"` });
    if (o.offset) headers.set("range", `bytes=${o.offset}-`);
    const res = await this.#send("GET", loc, headers, o.signal);
    if (res.status === 416 && o.offset) {
      // Nothing after `offset`: what was kept is not a prefix of this object; fetch it whole.
      await discardBody(res);
      return this.get(loc, { ...o, offset: 0 });
    }
    if (res.status !== 200 && res.status !== 206) throw await this.#error(res, loc, o.etag);
    const got = normaliseEtag(res.headers.get("etag") ?? "");
    if (got && got !== o.etag) {
      await discardBody(res);
      throw new EtagMismatchError(loc, got, o.etag);
    }
    const length = Number(res.headers.get("content-length") ?? NaN);
    let offset = 0;
    let size = Number.isFinite(length) ? length : undefined;
    if (res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (!m) {
        await discardBody(res);
        throw new KitError(`S3 answered a range request for ${loc.url} without a valid Content-Range`);
      }
      offset = Number(m[1]);
      size = m[2] === "*" ? undefined : Number(m[2]);
    }
    return { body: res.body ?? new ReadableStream({ start: (c) => c.close() }), offset, size };
  }

  async #send(method: string, loc: S3Location, headers: Headers, signal?: AbortSignal): Promise<Response> {
    let url = this.objectUrl(loc);
    if (this.settings.credentials) {
      const signed = await new AwsV4Signer({ method, url: url.toString(), headers, service: "s3", region: this.settings.region, ...this.settings.credentials }).sign();
      url = new URL(signed.url.toString());
      headers = signed.headers;
    }
    try {
      return await this.transport.roundTrip({ method, url, headers, signal });
    } catch (e) {
      if (e instanceof NetworkError) {
        throw new KitError(`cannot read remote dataset ${loc.url}: ${e.message}`, { cause: e, hint: ENDPOINT_HINT });
      }
      throw e;
    }
  }

  async #error(res: Response, loc: S3Location, etag?: string): Promise<KitError> {
    let detail = "";
    if (res.body) {
      const text = new TextDecoder().decode(await readAll(res.body, MAX_ERROR_BODY).catch(() => new Uint8Array()));
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
      detail = [code, message].filter(Boolean).join(": ");
    }
    const what = detail ? ` (${detail})` : "";
    const where = redactUrl(this.objectUrl(loc), { query: "mask" });
    if (res.status === 404) return new NotFoundError(`remote dataset ${loc.url} not found${what}`, { hint: `Looked for it at ${where}` });
    if (res.status === 412 && etag) return new EtagMismatchError(loc, undefined, etag);
    if (res.status === 401 || res.status === 403) {
      return new KitError(`access to remote dataset ${loc.url} denied: ${res.status} ${res.statusText}${what}`, { hint: CREDENTIALS_HINT });
    }
    return new KitError(`reading remote dataset ${loc.url} failed: ${res.status} ${res.statusText}${what}`, { hint: ENDPOINT_HINT });
  }
}

/** The object is no longer the one the Kitfile recorded. */
export class EtagMismatchError extends KitError {
  override name = "EtagMismatchError";
  constructor(loc: S3Location, actual: string | undefined, expected: string) {
    super(
      actual === undefined
        ? `remote dataset ${loc.url} has changed: its ETag is no longer ${expected}`
        : `remote dataset ${loc.url} has changed: its ETag is ${actual}, the Kitfile records ${expected}`,
      { hint: "Update the dataset's remoteHash (and repack) if the new object is the one you want" },
    );
  }
}
