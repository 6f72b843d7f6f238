/**
 * The HTTP layer under the registry client: `fetch` with kit's User-Agent, TLS settings
 * (`--tls-verify`, `--tls-cert`, `--cert`/`--key`), proxies (`--proxy`, else `HTTP(S)_PROXY` /
 * `NO_PROXY` with Go's rules), redirects that never carry credentials to another origin, a timeout
 * for the wait on response headers, and retries with capped exponential backoff and jitter for
 * failures worth retrying — only for requests whose body can be sent again (compat §6.2).
 * @module
 */
import { readFile } from "node:fs/promises";
import { fetchWith, type FetchTransportOptions } from "../runtime/runtime.ts";
import { CancelledError, KitError, errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { abortReason, sleep, throwIfAborted } from "../util/pool.ts";
import { redactUrl } from "./http.ts";

/** What the network flags of every remote command say (compat §1.2, addendum §4). */
export interface NetworkOptions {
  /** `--plain-http`: talk `http://` to the registry. */
  plainHttp: boolean;
  /** `--tls-verify` (default true). */
  tlsVerify: boolean;
  /** `--tls-cert`: PEM files of extra trusted CAs. */
  tlsCerts: string[];
  /** `--cert` / `KITOPS_CLIENT_CERT`: client certificate file (mTLS only with a key too). */
  clientCert: string;
  /** `--key` / `KITOPS_CLIENT_KEY`: client key file. */
  clientKey: string;
  /** `--proxy`: every request goes through it; empty means the environment decides. */
  proxy: string;
  /** `--concurrency`: blobs transferred at once. */
  concurrency: number;
}

export const DEFAULT_NETWORK_OPTIONS: NetworkOptions = {
  plainHttp: false,
  tlsVerify: true,
  tlsCerts: [],
  clientCert: "",
  clientKey: "",
  proxy: "",
  concurrency: 5,
};

/** A request as the registry client builds it. A `Uint8Array` (or no) body can be sent again; a stream cannot. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Headers;
  body?: Uint8Array | ReadableStream<Uint8Array> | null;
  signal?: AbortSignal;
  /** Sees every response of an attempt, redirects included (their headers are otherwise lost). */
  onResponse?: (res: Response, url: URL) => void;
}

/** True when the request can be sent again unchanged (no body, or a buffered one). */
export function isReplayable(req: HttpRequest): boolean {
  return !(req.body instanceof ReadableStream);
}

export interface RetryPolicy {
  /** Retries after the first attempt (oras: 5). */
  maxRetries: number;
  /** First backoff; doubled each attempt (oras: 250 ms). */
  baseDelayMs: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Longest `Retry-After` honoured. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxRetries: 5,
  baseDelayMs: 250,
  minDelayMs: 200,
  maxDelayMs: 3000,
  maxRetryAfterMs: 60_000,
};

/** The fetch a transport calls; injectable so tests can answer in process. */
export type FetchFn = (url: URL, init: RequestInit, tls: FetchTransportOptions) => Promise<Response>;

export interface TransportOptions {
  /** `kitops-cli/<version>`. */
  userAgent: string;
  /** TLS material (file contents, not paths). */
  tls?: Omit<FetchTransportOptions, "proxy">;
  /** Explicit proxy (`--proxy`): used for every request. */
  proxy?: string;
  /** Environment for `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`. */
  env?: Record<string, string | undefined>;
  /** Receives `<METHOD> <URL> -> <status> -- duration <ms> ms` at trace level (never any secret). */
  logger?: Logger;
  retry?: Partial<RetryPolicy>;
  /** Longest wait for response headers of a replayable request (default 120 s; 0 = none). */
  headerTimeoutMs?: number;
  fetch?: FetchFn;
  /** Waits between retries (injectable for tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random number in [0,1) for jitter (injectable for tests). */
  random?: () => number;
}

/**
 * Failures that another attempt will not fix: no such host, nothing listening, TLS refused or
 * an untrusted certificate. Resets, timeouts and unknown failures are worth retrying.
 */
const PERMANENT_CODES = /^(ENOTFOUND|ECONNREFUSED|EPROTO|EHOSTUNREACH|ENETUNREACH|ERR_TLS_.*|.*CERT.*|.*SIGNATURE.*|UNABLE_TO_.*|FailedToOpenSocket|ConnectionRefused)$/;

/** A failure to get any answer from the server (refused, reset, timed out, TLS, DNS). */
export class NetworkError extends KitError {
  override name = "NetworkError";
  readonly method: string;
  readonly url: string;
  /** False for failures another attempt will not fix (see PERMANENT_CODES). */
  readonly retryable: boolean;
  constructor(method: string, url: string | URL, cause: unknown) {
    super(`${method} "${redactUrl(url)}": ${describeCause(cause)}`, { cause });
    this.method = method;
    this.url = redactUrl(url);
    const code = (cause as { code?: unknown } | null)?.code;
    this.retryable = !(typeof code === "string" && PERMANENT_CODES.test(code));
    if (typeof code === "string") {
      if (/CERT|SIGNATURE|UNABLE_TO_|ERR_TLS_CERT/.test(code)) {
        this.hint = "The registry's certificate is not trusted: pass its CA with --tls-cert <file>, or skip verification with --tls-verify=false";
      } else if (code === "EPROTO") {
        this.hint = "If the registry serves plain HTTP, use --plain-http; if it requires a client certificate, use --cert and --key";
      }
    }
  }
}

function describeCause(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = errorMessage(e);
  if (typeof code === "string" && code && !msg.includes(code)) return `${code}: ${msg}`;
  return msg;
}

const SECRET_PARAM = /sig|token|state|credential|password|secret|key|auth/i;

/** The URL as logged: no user info, and query values that may carry secrets masked. */
export function logUrl(url: URL): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  const masked = new URLSearchParams();
  for (const [k, v] of u.searchParams) masked.append(k, SECRET_PARAM.test(k) ? "***" : v);
  u.search = masked.toString();
  return u.toString();
}

export { sleep };

const defaultFetch: FetchFn = (url, init, tls) => fetchWith(url, init, tls);

const MAX_REDIRECTS = 10;

/** Sends requests with retries; see the module comment. One per command is enough. */
export class Transport {
  readonly userAgent: string;
  readonly #opts: TransportOptions;
  readonly #retry: RetryPolicy;
  readonly #fetch: FetchFn;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;

  constructor(opts: TransportOptions) {
    this.userAgent = opts.userAgent;
    this.#opts = opts;
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#fetch = opts.fetch ?? defaultFetch;
    this.#sleep = opts.sleep ?? sleep;
    this.#random = opts.random ?? Math.random;
  }

  /** Waits between attempts (the injected sleep, so tests need not wait). */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#sleep(ms, signal);
  }

  /** The backoff before retry number `attempt` (0-based): 250 ms·2^attempt ±10 %, within [200 ms, 3 s]. */
  backoff(attempt: number): number {
    const p = this.#retry;
    const d = p.baseDelayMs * 2 ** attempt;
    const jittered = d + d * 0.1 * (this.#random() * 2 - 1);
    return Math.round(Math.min(p.maxDelayMs, Math.max(p.minDelayMs, jittered)));
  }

  /**
   * Sends `req`; a replayable request is retried on network failures, timeouts, 408, 429 and 5xx
   * (not 501/505). The final response is returned whatever its status; a network failure after the
   * last attempt throws {@link NetworkError}, an abort CancelledError.
   */
  async send(req: HttpRequest): Promise<Response> {
    const replayable = isReplayable(req);
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(req.signal);
      let res: Response | undefined;
      let err: unknown;
      try {
        res = await this.#follow(req, replayable);
      } catch (e) {
        if (req.signal?.aborted) throw abortReason(req.signal);
        if (e instanceof CancelledError) throw e;
        err = e;
      }
      const delay = replayable ? this.#retryDelay(attempt, res, err) : -1;
      if (delay < 0) {
        if (res) return res;
        throw err instanceof NetworkError ? err : new NetworkError(req.method, req.url, err);
      }
      if (res) await res.body?.cancel().catch(() => {});
      this.#opts.logger?.debug(
        `Retrying ${req.method} ${logUrl(req.url)} in ${delay} ms (${res ? `status ${res.status}` : describeCause(err)})`,
      );
      await this.#sleep(delay, req.signal);
    }
  }

  /** Milliseconds to wait before the next attempt, or -1 to stop. */
  #retryDelay(attempt: number, res: Response | undefined, err: unknown): number {
    const p = this.#retry;
    if (attempt >= p.maxRetries) return -1;
    const backoff = () => this.backoff(attempt);
    if (!res) return err instanceof NetworkError && !err.retryable ? -1 : backoff();
    const s = res.status;
    if (s === 429) {
      const ra = parseRetryAfter(res.headers.get("retry-after"));
      return ra === undefined ? backoff() : Math.min(ra, p.maxRetryAfterMs);
    }
    if (s === 408 || (s >= 500 && s <= 599 && s !== 501 && s !== 505)) return backoff();
    return -1;
  }

  /** One attempt, following redirects for GET and HEAD (credentials are dropped when the origin changes). */
  async #follow(req: HttpRequest, replayable: boolean): Promise<Response> {
    let url = req.url;
    let headers = new Headers(req.headers);
    for (let hop = 0; ; hop++) {
      const res = await this.#once({ ...req, url, headers }, replayable);
      req.onResponse?.(res, url);
      const loc = res.headers.get("location");
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && loc !== null &&
        (req.method === "GET" || req.method === "HEAD");
      if (!redirect) return res;
      if (hop >= MAX_REDIRECTS) {
        await res.body?.cancel().catch(() => {});
        throw new KitError(`${req.method} "${redactUrl(req.url)}": stopped after ${MAX_REDIRECTS} redirects`);
      }
      await res.body?.cancel().catch(() => {});
      const next = new URL(loc!, url);
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new KitError(`${req.method} "${redactUrl(req.url)}": redirected to an unsupported URL scheme ${next.protocol}`);
      }
      if (next.origin !== url.origin) {
        headers = new Headers(headers);
        headers.delete("authorization");
      }
      url = next;
    }
  }

  async #once(req: HttpRequest, replayable: boolean): Promise<Response> {
    const headers = new Headers(req.headers);
    headers.set("user-agent", this.userAgent);
    const timeoutMs = this.#opts.headerTimeoutMs ?? 120_000;
    const timer = new AbortController();
    const signals = [timer.signal, ...(req.signal ? [req.signal] : [])];
    const signal = signals.length === 1 ? timer.signal : AbortSignal.any(signals);
    let timedOut = false;
    const t = replayable && timeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        timer.abort(new KitError(`timed out after ${timeoutMs} ms waiting for response headers`));
      }, timeoutMs)
      : undefined;
    const init: RequestInit & { duplex?: string } = { method: req.method, headers, redirect: "manual", signal };
    if (req.body instanceof ReadableStream) {
      init.body = req.body;
      init.duplex = "half";
    } else if (req.body) {
      init.body = req.body as unknown as BodyInit;
    }
    const started = performance.now();
    const log = this.#opts.logger;
    const ms = () => (performance.now() - started).toFixed(2);
    try {
      const res = await this.#fetch(req.url, init, { ...this.#opts.tls, proxy: this.proxyFor(req.url) });
      log?.trace(`${req.method} ${logUrl(req.url)} -> ${res.status} -- duration ${ms()} ms`);
      return res;
    } catch (e) {
      log?.trace(`${req.method} ${logUrl(req.url)} -> ERROR -- duration ${ms()} ms`);
      if (req.signal?.aborted) throw abortReason(req.signal);
      if (timedOut) throw new NetworkError(req.method, req.url, timer.signal.reason);
      throw new NetworkError(req.method, req.url, e);
    } finally {
      if (t) clearTimeout(t);
    }
  }

  /** The proxy for `url`: `--proxy`, else the environment with Go's rules; `null` = direct. */
  proxyFor(url: URL): string | null {
    if (this.#opts.proxy) return this.#opts.proxy;
    return proxyFromEnvironment(url, this.#opts.env ?? {});
  }
}

/** `Retry-After` in milliseconds: delta seconds or an HTTP date. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

function envGet(env: Record<string, string | undefined>, name: string): string {
  return env[name] || env[name.toLowerCase()] || "";
}

/**
 * Go's `http.ProxyFromEnvironment`: `HTTPS_PROXY` for https, `HTTP_PROXY` for http (upper case
 * first), never for localhost or loopback addresses, and not for hosts matched by `NO_PROXY`.
 */
export function proxyFromEnvironment(url: URL, env: Record<string, string | undefined>): string | null {
  const raw = url.protocol === "https:" ? envGet(env, "HTTPS_PROXY") : envGet(env, "HTTP_PROXY");
  if (!raw) return null;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || isLoopback(host)) return null;
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  if (noProxyMatches(host, port, envGet(env, "NO_PROXY"))) return null;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
}

function isLoopback(host: string): boolean {
  if (/^127\.\d+\.\d+\.\d+$/.test(host)) return true;
  return host === "::1" || host === "0:0:0:0:0:0:0:1";
}

function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function noProxyMatches(host: string, port: string, noProxy: string): boolean {
  for (let entry of noProxy.split(",")) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    const cidr = /^([\d.]+)\/(\d+)$/.exec(entry);
    if (cidr) {
      const net = ipv4ToInt(cidr[1]!);
      const ip = ipv4ToInt(host);
      const bits = Number(cidr[2]);
      if (net !== undefined && ip !== undefined && bits <= 32) {
        const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
        if (((net & mask) >>> 0) === ((ip & mask) >>> 0)) return true;
      }
      continue;
    }
    let entryHost = entry;
    let entryPort = "";
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !entry.startsWith("[")) {
      entryHost = m[1]!;
      entryPort = m[2]!;
    }
    entryHost = entryHost.replace(/^\[|\]$/g, "");
    if (entryPort && entryPort !== port) continue;
    if (entryHost === host) return true;
    if (entryHost.startsWith("*.")) entryHost = entryHost.slice(1);
    if (entryHost.startsWith(".")) {
      if (host.endsWith(entryHost)) return true;
    } else if (host.endsWith("." + entryHost)) {
      return true;
    }
  }
  return false;
}

/** Where `createTransport` gets its context from. */
export interface TransportContext {
  version: string;
  env: Record<string, string | undefined>;
  logger?: Logger;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new KitError(`Failed to read ${what} ${file}: ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * A transport for the network flags: reads the CA, client certificate and key files, and applies
 * `KITOPS_CLIENT_CERT`/`KITOPS_CLIENT_KEY` (they override `--cert`/`--key`, as in kit).
 */
export async function createTransport(
  net: NetworkOptions,
  ctx: TransportContext,
  extra: Partial<TransportOptions> = {},
): Promise<Transport> {
  const certPath = ctx.env.KITOPS_CLIENT_CERT || net.clientCert;
  const keyPath = ctx.env.KITOPS_CLIENT_KEY || net.clientKey;
  const tls: Omit<FetchTransportOptions, "proxy"> = {};
  if (!net.tlsVerify) tls.verify = false;
  if (net.tlsCerts.length) {
    tls.extraCAs = await Promise.all(net.tlsCerts.map((f) => readPem(f, "CA certificate")));
  }
  if (certPath && keyPath) {
    tls.clientCert = await readPem(certPath, "client certificate");
    tls.clientKey = await readPem(keyPath, "client key");
  }
  if (net.proxy) {
    try {
      new URL(net.proxy);
    } catch {
      throw new KitError(`Invalid proxy URL ${JSON.stringify(net.proxy)}`, { hint: "Use a URL such as http://proxy.example.com:3128" });
    }
  }
  return new Transport({
    userAgent: `kitops-cli/${ctx.version}`,
    tls,
    proxy: net.proxy || undefined,
    env: ctx.env,
    logger: ctx.logger,
    ...extra,
  });
}
