/**
 * The one place a registry `Response` becomes an error (ggcr's `CheckError`): the distribution
 * error body `{"errors":[{"code","message"}]}` is turned into kit's wording, anything else into
 * the HTTP status text plus what the body said.
 * @module
 */
import { KitError } from "../util/errors.ts";
import { readPrefix } from "../util/streams.ts";

/** One entry of a distribution error body. */
export interface DistributionError {
  code: string;
  message: string;
  detail?: unknown;
}

/** Most of an error body that is quoted back to the user (kit: 8 KiB). */
export const MAX_ERROR_BODY = 8 * 1024;

/** A registry answered with an unexpected status. */
export class RegistryError extends KitError {
  override name = "RegistryError";
  readonly status: number;
  readonly method: string;
  /** The request URL without credentials or query (upload state and tokens stay out of messages). */
  readonly url: string;
  readonly errors: DistributionError[];
  constructor(message: string, init: { status: number; method: string; url: string; errors?: DistributionError[]; hint?: string }) {
    super(message, init.hint ? { hint: init.hint } : undefined);
    this.status = init.status;
    this.method = init.method;
    this.url = init.url;
    this.errors = init.errors ?? [];
  }
  /** True when any distribution error has this code (e.g. `MANIFEST_UNKNOWN`). */
  hasCode(code: string): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

/** The first RegistryError in an error's cause chain (copy and the commands wrap it). */
export function registryErrorIn(e: unknown): RegistryError | undefined {
  for (let c: unknown = e, i = 0; c && i < 10; c = (c as { cause?: unknown }).cause, i++) {
    if (c instanceof RegistryError) return c;
  }
  return undefined;
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
  301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
  406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
  410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
  414: "Request URI Too Long", 415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
  422: "Unprocessable Entity", 429: "Too Many Requests",
  500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
  504: "Gateway Timeout", 505: "HTTP Version Not Supported",
};

/** Go's `http.StatusText`: the standard reason phrase, or "" for unknown codes. */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? "";
}

const SECRET_PARAM = /sig|token|state|credential|password|secret|key|auth/i;

/**
 * A URL fit for messages and logs: no user info, no fragment, and no query — or, with
 * `query: "mask"` (trace logs), the query kept with values that may carry secrets masked. Text
 * that does not parse as a URL loses its user info, query and fragment by pattern.
 */
export function redactUrl(url: string | URL, opts: { query?: "drop" | "mask" } = {}): string {
  try {
    const u = new URL(String(url));
    u.username = "";
    u.password = "";
    u.hash = "";
    if (opts.query === "mask") {
      const masked = new URLSearchParams();
      for (const [k, v] of u.searchParams) masked.append(k, SECRET_PARAM.test(k) ? "***" : v);
      u.search = masked.toString();
    } else {
      u.search = "";
    }
    return u.toString();
  } catch {
    return String(url).replace(/[?#].*$/s, "").replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i, "$1");
  }
}

/** Drops a response body unread (the one way the registry client discards one). */
export async function discardBody(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}

/**
 * Hints for responses the auth layer has judged (a final 401 or 403: who to log in to):
 * {@link responseError} gives them to the error it makes of that response.
 */
const responseHints = new WeakMap<Response, string>();

/** Attaches the hint the error made of `res` will carry. */
export function hintResponse(res: Response, hint: string): void {
  responseHints.set(res, hint);
}

/** kit's wording for one distribution error: `<code lowercased>: <message>`. */
export function formatDistributionError(e: DistributionError): string {
  const code = e.code.toLowerCase();
  return e.message ? `${code}: ${e.message}` : code;
}

/** At most `limit` bytes of a body as text (a broken body still leaves the status to report). */
async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return "";
  const bytes = await readPrefix(res.body, limit).catch(() => new Uint8Array(0));
  return new TextDecoder().decode(bytes);
}

function parseErrors(text: string): DistributionError[] | undefined {
  try {
    const v = JSON.parse(text) as { errors?: unknown };
    if (!v || !Array.isArray(v.errors)) return undefined;
    const out: DistributionError[] = [];
    for (const e of v.errors) {
      if (!e || typeof e !== "object") continue;
      const o = e as Record<string, unknown>;
      out.push({ code: String(o.code ?? ""), message: String(o.message ?? ""), detail: o.detail });
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * Consumes `res` (an unexpected answer to `method url`) and returns the error to throw. With a
 * JSON distribution error body the message is `<code>: <message>` (several: `multiple errors: a; b`);
 * otherwise the status text, plus `(additional info: <body>)` when the body said something.
 */
export async function responseError(res: Response, method: string, url: string | URL): Promise<RegistryError> {
  const body = method === "HEAD" ? "" : await readLimited(res, MAX_ERROR_BODY);
  if (method === "HEAD") await discardBody(res);
  const type = res.headers.get("content-type") ?? "";
  const errors = type.toLowerCase().startsWith("application/json") ? parseErrors(body) : undefined;
  let message: string;
  if (errors && errors.length === 1) {
    message = formatDistributionError(errors[0]!);
  } else if (errors && errors.length > 1) {
    message = `multiple errors: ${errors.map(formatDistributionError).join("; ")}`;
  } else {
    const text = statusText(res.status) || `status ${res.status}`;
    const info = body.trim();
    message = info ? `${text} (additional info: ${info})` : text;
  }
  // Printed through the output layer's sanitizer (util/log.ts terminalSafe), like every message.
  return new RegistryError(message, {
    status: res.status,
    method,
    url: redactUrl(url),
    errors: errors ?? [],
    hint: responseHints.get(res),
  });
}

/** Throws {@link responseError} unless `res.status` is one of `ok`. */
export async function expectStatus(res: Response, method: string, url: string | URL, ...ok: number[]): Promise<Response> {
  if (ok.includes(res.status)) return res;
  throw await responseError(res, method, url);
}
