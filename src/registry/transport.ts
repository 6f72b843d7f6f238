/**
 * The HTTP stack under the registry client, as small decorators with one concern each (the
 * shape of go-containerregistry's transport package): every layer is a {@link RoundTripper}
 * wrapping the next, and {@link Transport} composes them in one place —
 *
 *   retry → redirects → logging → user agent → wire
 *
 * - {@link RetryTransport}: capped exponential backoff with jitter for failures worth retrying,
 *   only for requests whose body can be sent again.
 * - {@link RedirectTransport}: follows redirects of GET and HEAD; credentials never go to another
 *   origin.
 * - {@link LoggingTransport}: one trace line per request (`<METHOD> <URL> -> <status> -- duration`),
 *   never a secret.
 * - {@link UserAgentTransport}: kit's User-Agent on every request.
 * - {@link WireTransport}: `fetch` with the TLS settings and the proxy for the URL, a timeout for
 *   the wait on response headers, and failures turned into {@link NetworkError}.
 *
 * Authentication wraps the whole stack (`auth.ts`); the network flags that configure it are in
 * `network-options.ts`, the proxy rules in `proxy.ts`.
 * @module
 */
import { fetchWith, type FetchTransportOptions } from "../runtime/runtime.ts";
import { CancelledError, KitError, errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { abortReason, sleep, throwIfAborted } from "../util/pool.ts";
import { discardBody, redactUrl } from "./http.ts";
import { type ProxyFn, proxyRules } from "./proxy.ts";

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

/** One layer of the stack: sends a request and returns the response (Go's `http.RoundTripper`). */
export interface RoundTripper {
  roundTrip(req: HttpRequest): Promise<Response>;
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

/** The fetch the wire calls; injectable so tests can answer in process. */
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

// ----- network failures ----------------------------------------------------------------------

/**
 * Failures that another attempt will not fix: no such host, nothing listening, TLS refused, an
 * untrusted certificate, a malformed response. Resets, timeouts and unknown failures are worth
 * retrying.
 */
const PERMANENT_CODES = /^(ENOTFOUND|ECONNREFUSED|EPROTO|EHOSTUNREACH|ENETUNREACH|ERR_TLS_.*|.*CERT.*|.*SIGNATURE.*|UNABLE_TO_.*|FailedToOpenSocket|ConnectionRefused|Malformed_HTTP_Response)$/;

/** What a failure code means, in words (Go's wording where Go has one). */
const CODE_TEXT: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ConnectionRefused: "connection refused",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "temporary failure in name resolution",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network is unreachable",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  EPROTO: "TLS handshake failed",
  ERR_TLS_CERT_ALTNAME_INVALID: "its certificate is not valid for this host name",
  CERT_HAS_EXPIRED: "its certificate has expired",
  // e.g. control characters in a header: the runtime refuses the whole response
  Malformed_HTTP_Response: "the server sent a malformed HTTP response",
};

/** Codes of failures after the connection was made: "connection to X failed", not "could not connect". */
const AFTER_CONNECT = new Set(["ECONNRESET", "EPIPE", "Malformed_HTTP_Response"]);

const PLAIN_HTTP_HINT = "If the registry serves plain HTTP, use --plain-http; if it requires a client certificate, use --cert and --key";
const UNTRUSTED_HINT = "The registry's certificate is not trusted: pass its CA with --tls-cert <file>, or skip verification with --tls-verify=false";

/** The runtime's message without its advice to the programmer (`For more information, pass verbose…`). */
function plainMessage(e: unknown): string {
  return errorMessage(e)
    .replace(/\s*For more information, pass `verbose: true`.*$/s, "")
    .replace(/\s+fetching "[^"]*"\.?/, "")
    .replace(/^[A-Z_]+: /, "")
    .trim();
}

/**
 * A failure to get any answer from the server (refused, reset, timed out, TLS, DNS). The message
 * names the host and what went wrong — `could not connect to reg.example.com: connection refused`
 * — never the method or the path; those are in `method` and `url` (and the debug log).
 */
export class NetworkError extends KitError {
  override name = "NetworkError";
  readonly method: string;
  readonly url: string;
  /** `host[:port]` of the request. */
  readonly host: string;
  /** The failure code (`ECONNREFUSED`, …), when the runtime gave one. */
  readonly code?: string;
  /** False for failures another attempt will not fix (see PERMANENT_CODES). */
  readonly retryable: boolean;
  constructor(method: string, target: string | URL, cause: unknown, timeoutMs?: number) {
    const url = new URL(String(target));
    const rawCode = (cause as { code?: unknown } | null)?.code;
    const code = typeof rawCode === "string" && rawCode ? rawCode : undefined;
    const certificate = code !== undefined && /CERT|SIGNATURE|UNABLE_TO_/.test(code);
    let what: string;
    if (timeoutMs !== undefined) what = `no response within ${formatDuration(timeoutMs)}`;
    else if (code && CODE_TEXT[code]) what = CODE_TEXT[code];
    else if (certificate) what = `its certificate is not trusted (${plainMessage(cause)})`;
    else what = plainMessage(cause) || "unknown network error";
    const prefix = code && AFTER_CONNECT.has(code) ? `connection to ${url.host} failed` : `could not connect to ${url.host}`;
    super(`${prefix}: ${what}`, { cause });
    this.method = method;
    this.url = redactUrl(url);
    this.host = url.host;
    if (code) this.code = code;
    this.retryable = !(code && PERMANENT_CODES.test(code));
    if (certificate) this.hint = UNTRUSTED_HINT;
    else if (code === "EPROTO") this.hint = PLAIN_HTTP_HINT;
  }
}

function formatDuration(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** `Retry-After` in milliseconds: delta seconds or an HTTP date. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

// ----- the layers ----------------------------------------------------------------------------

/** The bottom of the stack: one `fetch`, with TLS settings, the proxy for the URL and a header timeout. */
export class WireTransport implements RoundTripper {
  readonly #fetch: FetchFn;
  readonly #tls: Omit<FetchTransportOptions, "proxy">;
  readonly #proxyFor: ProxyFn;
  readonly #headerTimeoutMs: number;

  constructor(opts: { fetch: FetchFn; tls?: Omit<FetchTransportOptions, "proxy">; proxyFor: ProxyFn; headerTimeoutMs: number }) {
    this.#fetch = opts.fetch;
    this.#tls = opts.tls ?? {};
    this.#proxyFor = opts.proxyFor;
    this.#headerTimeoutMs = opts.headerTimeoutMs;
  }

  async roundTrip(req: HttpRequest): Promise<Response> {
    const timeoutMs = this.#headerTimeoutMs;
    const timer = new AbortController();
    const signal = req.signal ? AbortSignal.any([timer.signal, req.signal]) : timer.signal;
    let timedOut = false;
    // A streamed body may take long to send before any header comes back: no timeout for it.
    const t = isReplayable(req) && timeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        timer.abort(new KitError(`no response within ${formatDuration(timeoutMs)}`));
      }, timeoutMs)
      : undefined;
    const init: RequestInit & { duplex?: string } = { method: req.method, headers: req.headers, redirect: "manual", signal };
    if (req.body instanceof ReadableStream) {
      init.body = req.body;
      init.duplex = "half";
    } else if (req.body) {
      init.body = req.body as unknown as BodyInit;
    }
    try {
      return await this.#fetch(req.url, init, { ...this.#tls, proxy: this.#proxyFor(req.url) });
    } catch (e) {
      if (req.signal?.aborted) throw abortReason(req.signal);
      if (timedOut) throw new NetworkError(req.method, req.url, timer.signal.reason, timeoutMs);
      throw new NetworkError(req.method, req.url, e);
    } finally {
      if (t) clearTimeout(t);
    }
  }
}

/** Sets kit's User-Agent on every request. */
export class UserAgentTransport implements RoundTripper {
  constructor(readonly inner: RoundTripper, readonly userAgent: string) {}

  roundTrip(req: HttpRequest): Promise<Response> {
    const headers = new Headers(req.headers);
    headers.set("user-agent", this.userAgent);
    return this.inner.roundTrip({ ...req, headers });
  }
}

/** One trace line per request: method, URL (secrets masked), status or ERROR, duration. */
export class LoggingTransport implements RoundTripper {
  constructor(readonly inner: RoundTripper, readonly logger: Logger | undefined) {}

  async roundTrip(req: HttpRequest): Promise<Response> {
    const log = this.logger;
    if (!log) return this.inner.roundTrip(req);
    const started = performance.now();
    const line = (outcome: string) =>
      `${req.method} ${redactUrl(req.url, { query: "mask" })} -> ${outcome} -- duration ${(performance.now() - started).toFixed(2)} ms`;
    try {
      const res = await this.inner.roundTrip(req);
      log.trace(line(String(res.status)));
      return res;
    } catch (e) {
      log.trace(line("ERROR"));
      throw e;
    }
  }
}

const MAX_REDIRECTS = 10;

/** Follows redirects of GET and HEAD (at most 10); `Authorization` is dropped when the origin changes. */
export class RedirectTransport implements RoundTripper {
  constructor(readonly inner: RoundTripper) {}

  async roundTrip(req: HttpRequest): Promise<Response> {
    let url = req.url;
    let headers = new Headers(req.headers);
    for (let hop = 0; ; hop++) {
      const res = await this.inner.roundTrip({ ...req, url, headers });
      req.onResponse?.(res, url);
      const loc = res.headers.get("location");
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && loc !== null &&
        (req.method === "GET" || req.method === "HEAD");
      if (!redirect) return res;
      await discardBody(res);
      if (hop >= MAX_REDIRECTS) {
        throw new KitError(`${req.method} "${redactUrl(req.url)}": stopped after ${MAX_REDIRECTS} redirects`);
      }
      let next: URL;
      try {
        next = new URL(loc!, url);
      } catch {
        throw new KitError(`${req.method} "${redactUrl(req.url)}": redirected to an invalid URL`);
      }
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
}

/**
 * Sends a replayable request again on network failures, timeouts, 408, 429 and 5xx (not
 * 501/505), with capped exponential backoff and jitter; `Retry-After` is honoured for 429.
 */
export class RetryTransport implements RoundTripper {
  readonly #policy: RetryPolicy;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #logger?: Logger;

  constructor(
    readonly inner: RoundTripper,
    opts: { policy?: Partial<RetryPolicy>; sleep?: (ms: number, signal?: AbortSignal) => Promise<void>; random?: () => number; logger?: Logger } = {},
  ) {
    this.#policy = { ...DEFAULT_RETRY, ...opts.policy };
    this.#sleep = opts.sleep ?? sleep;
    this.#random = opts.random ?? Math.random;
    this.#logger = opts.logger;
  }

  /** Waits between attempts (the injected sleep, so tests need not wait). */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#sleep(ms, signal);
  }

  /** The backoff before retry number `attempt` (0-based): 250 ms·2^attempt ±10 %, within [200 ms, 3 s]. */
  backoff(attempt: number): number {
    const p = this.#policy;
    const d = p.baseDelayMs * 2 ** attempt;
    const jittered = d + d * 0.1 * (this.#random() * 2 - 1);
    return Math.round(Math.min(p.maxDelayMs, Math.max(p.minDelayMs, jittered)));
  }

  async roundTrip(req: HttpRequest): Promise<Response> {
    const replayable = isReplayable(req);
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(req.signal);
      let res: Response | undefined;
      let err: unknown;
      try {
        res = await this.inner.roundTrip(req);
      } catch (e) {
        if (req.signal?.aborted) throw abortReason(req.signal);
        if (e instanceof CancelledError) throw e;
        err = e;
      }
      const delay = replayable ? this.#delay(attempt, res, err) : -1;
      if (delay < 0) {
        if (res) return res;
        throw err instanceof KitError ? err : new NetworkError(req.method, req.url, err);
      }
      if (res) await discardBody(res);
      this.#logger?.debug(
        `Retrying ${req.method} ${redactUrl(req.url, { query: "mask" })} in ${delay} ms (${res ? `status ${res.status}` : errorMessage(err)})`,
      );
      await this.#sleep(delay, req.signal);
    }
  }

  /** Milliseconds to wait before the next attempt, or -1 to stop. */
  #delay(attempt: number, res: Response | undefined, err: unknown): number {
    const p = this.#policy;
    if (attempt >= p.maxRetries) return -1;
    const backoff = () => this.backoff(attempt);
    if (!res) return err instanceof NetworkError && err.retryable ? backoff() : -1;
    const s = res.status;
    if (s === 429) {
      const ra = parseRetryAfter(res.headers.get("retry-after"));
      return ra === undefined ? backoff() : Math.min(ra, p.maxRetryAfterMs);
    }
    if (s === 408 || (s >= 500 && s <= 599 && s !== 501 && s !== 505)) return backoff();
    return -1;
  }
}

// ----- the stack -----------------------------------------------------------------------------

const defaultFetch: FetchFn = (url, init, tls) => fetchWith(url, init, tls);

/** The composed stack (see the module comment); one per command is enough. */
export class Transport implements RoundTripper {
  readonly userAgent: string;
  /** The proxy for a URL: `--proxy`, else the environment with Go's rules; `null` = direct. */
  readonly proxyFor: ProxyFn;
  readonly #retry: RetryTransport;

  constructor(opts: TransportOptions) {
    this.userAgent = opts.userAgent;
    this.proxyFor = proxyRules(opts.proxy, opts.env ?? {});
    const wire = new WireTransport({
      fetch: opts.fetch ?? defaultFetch,
      tls: opts.tls,
      proxyFor: this.proxyFor,
      headerTimeoutMs: opts.headerTimeoutMs ?? 120_000,
    });
    const logged = new LoggingTransport(new UserAgentTransport(wire, opts.userAgent), opts.logger);
    this.#retry = new RetryTransport(new RedirectTransport(logged), {
      policy: opts.retry,
      sleep: opts.sleep,
      random: opts.random,
      logger: opts.logger,
    });
  }

  /**
   * Sends `req` through the stack. The final response is returned whatever its status; a network
   * failure after the last attempt throws {@link NetworkError}, an abort CancelledError.
   */
  roundTrip(req: HttpRequest): Promise<Response> {
    return this.#retry.roundTrip(req);
  }

  /** {@link roundTrip} under the name the registry client uses. */
  send(req: HttpRequest): Promise<Response> {
    return this.#retry.roundTrip(req);
  }

  /** The retry layer's backoff, for callers that retry whole operations (upload sessions, resumes). */
  backoff(attempt: number): number {
    return this.#retry.backoff(attempt);
  }

  /** The retry layer's wait. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#retry.wait(ms, signal);
  }
}
