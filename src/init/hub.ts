/**
 * A client for the Hugging Face Hub's HTTP API, as far as `kit import` and `kit init --remote`
 * need it (the same endpoints Hugging Face's own `huggingface_hub` uses):
 *
 * * `GET /api/{models|datasets}/{repo}/revision/{ref}`: the commit a branch, tag or commit names
 *   (`sha`) and whether the repository is gated.
 * * `GET /api/{models|datasets}/{repo}/tree/{commit}?recursive=true`: every file with its size,
 *   its git blob id (`oid`) and, for LFS files, the sha256 of the content (`lfs.oid`); pages
 *   follow the `Link: <…>; rel="next"` header.
 * * `GET /{repo}/resolve/{commit}/{path}` (`/datasets/{repo}/…` for datasets): the file, often
 *   by a redirect to a CDN on another host; `Range` is honoured by both.
 *
 * The listing and every download name the resolved commit, never the branch, so the files of one
 * import all come from the same commit. The base URL is `HF_ENDPOINT` when set (mirrors, proxies,
 * tests), as for Hugging Face's own clients. A token goes only to that origin: the transport drops
 * the `Authorization` header on a redirect to any other origin, and a `next` page link to another
 * origin is refused. Errors follow the Hub's `X-Error-Code` header (`RepoNotFound`,
 * `RevisionNotFound`, `EntryNotFound`, `GatedRepo`) into messages that say what to do.
 * Everything the Hub sends is bounded and checked: page sizes, paths (no `..`, no absolute
 * paths), sizes and digests.
 * @module
 */
import type { Transport } from "../registry/transport.ts";
import { createTransport, DEFAULT_NETWORK_OPTIONS } from "../registry/network-options.ts";
import { statusText } from "../registry/http.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { readAll, readPrefix } from "../util/streams.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { isIgnoredName, type DirectoryListing, type FileListing } from "./dir-listing.ts";
import { generateFromListing, MAX_TEXT_BYTES } from "./generate.ts";
import type { Kitfile } from "../kitfile/schema.ts";

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

export type HubRepoType = "model" | "dataset";

/** A repository on the Hub: `org/name` and its kind. */
export interface HubRepo {
  id: string;
  type: HubRepoType;
}

/** One file of a repository at a commit. */
export interface HubFile {
  /** `/`-separated path in the repository. */
  path: string;
  size: number;
  /** The git blob id (sha1 of `blob <size>\0<content>`). */
  oid: string;
  /** The sha256 of the content, for files stored in Git LFS. */
  sha256?: string;
}

/** A repository's files at the commit a ref resolved to. */
export interface HubSnapshot {
  repo: HubRepo;
  /** The ref as requested (`--ref`). */
  ref: string;
  /** The commit it resolved to. */
  commit: string;
  files: HubFile[];
  /** The repository asks users to accept conditions before downloading. */
  gated: boolean;
}

/** The repository or one of its files is gone at the listed commit: it changed during the import. */
export class ListingChangedError extends KitError {
  override name = "ListingChangedError";
  /** Another attempt cannot help (the resuming download gives up at once). */
  readonly retryable = false;
}

/** The Hub answered a request with an error status. */
export class HubError extends KitError {
  override name = "HubError";
  readonly status: number;
  /** The Hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, `GatedRepo`, …) or "". */
  readonly code: string;
  constructor(message: string, init: { status: number; code: string; hint?: string }) {
    super(message, init.hint ? { hint: init.hint } : undefined);
    this.status = init.status;
    this.code = init.code;
  }
}

/** The base URL of the Hub: `HF_ENDPOINT` or https://huggingface.co, without a trailing `/`. */
export function hubEndpoint(env: Record<string, string | undefined>): URL {
  const raw = (env.HF_ENDPOINT ?? "").trim() || DEFAULT_HF_ENDPOINT;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new KitError(`Invalid HF_ENDPOINT ${JSON.stringify(raw)}: not a URL`, { hint: "Set HF_ENDPOINT to a URL such as https://huggingface.co, or unset it" });
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new KitError(`Invalid HF_ENDPOINT ${JSON.stringify(raw)}: only http and https URLs are supported`);
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new KitError(`Invalid HF_ENDPOINT ${JSON.stringify(raw)}: it must not carry credentials, a query or a fragment`);
  }
  u.pathname = u.pathname.replace(/\/+$/, "");
  return u;
}

/** The endpoint as text, without a trailing `/`. */
export function endpointText(endpoint: URL): string {
  return endpoint.href.replace(/\/+$/, "");
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function repoFromSegments(segs: string[]): HubRepo | undefined {
  let type: HubRepoType = "model";
  if (segs[0] === "datasets") {
    type = "dataset";
    segs = segs.slice(1);
  } else if (segs[0] === "models") {
    segs = segs.slice(1);
  }
  if (segs.length !== 2 || !segs.every((s) => NAME_RE.test(s) && !s.includes(".."))) return undefined;
  return { id: `${segs[0]}/${segs[1]}`, type };
}

/** `<endpoint>/<org/name>` (`/datasets/<org/name>` for datasets): the repository's page and git URL. */
export function repoPageUrl(endpoint: URL, repo: HubRepo): string {
  return `${endpointText(endpoint)}${repo.type === "dataset" ? "/datasets" : ""}/${repo.id}`;
}

/** True when `host` is the Hub's: contains `huggingface`, is `hf.co`, or is the endpoint's host. */
function isHubHost(host: string, endpoint: URL): boolean {
  const h = host.toLowerCase();
  return h.includes("huggingface") || h === "hf.co" || h === endpoint.host.toLowerCase();
}

/**
 * The Hub repository `arg` names: `org/name`, `datasets/org/name`, or a URL of the Hub (or of
 * `HF_ENDPOINT`) such as `https://huggingface.co/org/name`. Undefined when it names none.
 */
export function parseHubRepo(arg: string, endpoint: URL): HubRepo | undefined {
  const s = arg.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return undefined;
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
    if (!isHubHost(u.host, endpoint)) return undefined;
    let p = u.pathname;
    const base = endpoint.pathname.replace(/\/+$/, "");
    if (u.host.toLowerCase() === endpoint.host.toLowerCase() && base && p.startsWith(base + "/")) p = p.slice(base.length);
    return repoFromSegments(p.split("/").filter(Boolean));
  }
  const segs = s.split("/");
  if (segs[0] && isHubHost(segs[0], endpoint) && segs[0].includes(".")) return repoFromSegments(segs.slice(1).filter(Boolean));
  return repoFromSegments(segs);
}

/**
 * kit's choice of importer (docs/format.md#import): a repository without a URL host, or whose host is the
 * Hub's, is a Hugging Face repository; anything else (other hosts, `file://`, paths, `git@…`) is
 * imported with git.
 */
export function looksLikeHubRepo(arg: string, endpoint: URL): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
    try {
      const u = new URL(arg);
      return (u.protocol === "https:" || u.protocol === "http:") && isHubHost(u.host, endpoint);
    } catch {
      return false;
    }
  }
  if (arg.startsWith("/") || arg.startsWith("./") || arg.startsWith("../") || arg.startsWith("~") || /^[^/]*@[^/]*:/.test(arg)) return false;
  return parseHubRepo(arg, endpoint) !== undefined;
}

/** Most bytes of one JSON answer (a page of the tree, a revision's info). */
const MAX_JSON_BYTES = 32 * 1024 * 1024;
/** Most entries of a listing, over all pages. */
const MAX_ENTRIES = 1_000_000;
/** Most bytes of an error body quoted back. */
const MAX_ERROR_BYTES = 8 * 1024;

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** Text from the Hub for a message: control characters (terminal escapes) dropped, length bounded. */
function clean(s: string, max = 500): string {
  // deno-lint-ignore no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** Checks a path from a listing: relative, `/`-separated, no empty, `.` or `..` segments. */
export function checkRepoPath(p: unknown): string {
  if (typeof p !== "string" || p === "" || p.length > 4096) throw new KitError(`The repository listing holds an invalid path ${JSON.stringify(p)}`);
  // deno-lint-ignore no-control-regex
  if (p.startsWith("/") || p.includes("\\") || /[\u0000-\u001f\u007f]/.test(p) || p.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new KitError(`The repository listing holds an unsafe path ${JSON.stringify(clean(p, 200))}; refusing to import it`);
  }
  return p;
}

/** The path segments of a repository path, URL-encoded one by one. */
function encodePath(p: string): string {
  return p.split("/").map(encodeURIComponent).join("/");
}

export interface HubClientOptions {
  endpoint: URL;
  /** Hugging Face access token (`--token`, `HF_TOKEN`); sent only to the endpoint's origin. */
  token?: string;
  transport: Transport;
  logger: Logger;
}

/** Requests to one Hub endpoint with one token. */
export class HubClient {
  readonly endpoint: URL;
  readonly #token: string | undefined;
  readonly #transport: Transport;
  readonly #log: Logger;

  constructor(opts: HubClientOptions) {
    this.endpoint = opts.endpoint;
    this.#token = opts.token || undefined;
    this.#transport = opts.transport;
    this.#log = opts.logger;
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** The repository's page (see {@link repoPageUrl}). */
  repoUrl(repo: HubRepo): string {
    return repoPageUrl(this.endpoint, repo);
  }

  #url(path: string): URL {
    return new URL(`${endpointText(this.endpoint)}${path}`);
  }

  #api(repo: HubRepo, rest: string): URL {
    return this.#url(`/api/${repo.type}s/${repo.id}/${rest}`);
  }

  /** The download URL of a file at a commit. */
  fileUrl(repo: HubRepo, commit: string, path: string): URL {
    return this.#url(`${repo.type === "dataset" ? "/datasets" : ""}/${repo.id}/resolve/${encodeURIComponent(commit)}/${encodePath(path)}`);
  }

  #headers(extra?: Record<string, string>): Headers {
    const h = new Headers(extra);
    if (this.#token) h.set("authorization", `Bearer ${this.#token}`);
    return h;
  }

  /** Sends a GET or HEAD to the endpoint (with the token) and returns the response, whatever its status. */
  async request(
    method: "GET" | "HEAD",
    url: URL,
    opts: { headers?: Record<string, string>; signal?: AbortSignal; onResponse?: (res: Response, url: URL) => void } = {},
  ): Promise<Response> {
    if (url.origin !== this.endpoint.origin) throw new KitError(`Refusing to send the token to ${url.origin}: not the Hub endpoint ${this.endpoint.origin}`);
    return this.#transport.send({ method, url, headers: this.#headers(opts.headers), signal: opts.signal, onResponse: opts.onResponse });
  }

  async #json(url: URL, what: HubContext, signal?: AbortSignal): Promise<{ value: unknown; res: Response }> {
    const res = await this.request("GET", url, { signal });
    if (res.status !== 200) throw await hubError(res, what, this);
    const bytes = await readAll(res.body ?? new Blob([]).stream(), MAX_JSON_BYTES, signal, () => new KitError(`The answer of ${url.origin} for ${what.repo.id} is larger than ${MAX_JSON_BYTES} bytes`));
    try {
      return { value: JSON.parse(new TextDecoder().decode(bytes)), res };
    } catch {
      throw new KitError(`The answer of ${url.origin} for ${what.repo.id} is not valid JSON`);
    }
  }

  /** The commit `ref` names and whether the repository is gated. */
  async revision(repo: HubRepo, ref: string, signal?: AbortSignal): Promise<{ commit: string; gated: boolean }> {
    const ctx: HubContext = { repo, ref };
    const { value } = await this.#json(this.#api(repo, `revision/${encodeURIComponent(ref)}`), ctx, signal);
    const sha = (value as { sha?: unknown } | null)?.sha;
    if (typeof sha !== "string" || !(HEX40.test(sha) || HEX64.test(sha))) {
      throw new KitError(`${endpointText(this.endpoint)} gave no valid commit for ${repo.id} at ${ref}`);
    }
    const gated = (value as { gated?: unknown }).gated;
    return { commit: sha, gated: gated !== undefined && gated !== false && gated !== null };
  }

  /** Every file of the repository at `commit`, following pages, in listing order. */
  async listFiles(repo: HubRepo, commit: string, ref: string, signal?: AbortSignal): Promise<HubFile[]> {
    const ctx: HubContext = { repo, ref, commit };
    let url: URL | undefined = this.#api(repo, `tree/${encodeURIComponent(commit)}`);
    url.searchParams.set("recursive", "true");
    const seen = new Set<string>();
    const files: HubFile[] = [];
    let entries = 0;
    while (url) {
      if (seen.has(url.href)) throw new KitError(`The listing of ${repo.id} loops: page ${url.pathname} was already read`);
      seen.add(url.href);
      const { value, res }: { value: unknown; res: Response } = await this.#json(url, ctx, signal);
      if (!Array.isArray(value)) throw new KitError(`The listing of ${repo.id} from ${url.origin} is not a list of files`);
      for (const e of value) {
        if (++entries > MAX_ENTRIES) throw new KitError(`The listing of ${repo.id} has more than ${MAX_ENTRIES} entries`);
        const f = parseTreeEntry(e);
        if (f) files.push(f);
      }
      url = nextPage(res.headers.get("link"), url);
      if (url && url.origin !== this.endpoint.origin) throw new KitError(`The listing of ${repo.id} continues on another host (${url.origin}); refusing to follow it`);
      if (url) this.#log.debug(`Listing of ${repo.id} continues on another page`);
    }
    const paths = new Set<string>();
    for (const f of files) {
      if (paths.has(f.path)) throw new KitError(`The listing of ${repo.id} names ${clean(f.path, 200)} twice`);
      paths.add(f.path);
    }
    for (const f of files) {
      const parts = f.path.split("/");
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        if (paths.has(dir)) throw new KitError(`The listing of ${repo.id} has ${clean(dir, 200)} both as a file and as a directory`);
      }
    }
    return files;
  }

  /** The repository at `ref`: the commit and its files (the gated flag too). */
  async snapshot(repo: HubRepo, ref: string, signal?: AbortSignal): Promise<HubSnapshot> {
    const { commit, gated } = await this.revision(repo, ref, signal);
    this.#log.debug(`${repo.id} at ${ref} is commit ${commit}`);
    const files = await this.listFiles(repo, commit, ref, signal);
    return { repo, ref, commit, files, gated };
  }

  /**
   * Checks that a file of a gated repository can be downloaded (a HEAD request), so that a missing
   * approval is reported before anything else happens.
   */
  async checkAccess(snap: HubSnapshot, file: HubFile, signal?: AbortSignal): Promise<void> {
    const res = await this.request("HEAD", this.fileUrl(snap.repo, snap.commit, file.path), { signal });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 400) throw await hubError(res, { repo: snap.repo, ref: snap.ref, commit: snap.commit, path: file.path }, this);
  }

  /**
   * Opens a file of the snapshot from byte `offset` on. Returns the body and the offset it really
   * starts at (0 when the server ignored the range). A commit other than the listed one in the
   * Hub's `X-Repo-Commit`, or a file that is gone, is a {@link ListingChangedError}.
   */
  async openFile(snap: HubSnapshot, file: HubFile, offset: number, signal?: AbortSignal): Promise<{ body: ReadableStream<Uint8Array>; offset: number }> {
    const ctx: HubContext = { repo: snap.repo, ref: snap.ref, commit: snap.commit, path: file.path };
    let moved: string | undefined;
    const onResponse = (r: Response) => {
      const c = r.headers.get("x-repo-commit");
      if (c && c !== snap.commit) moved = c;
    };
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const res = await this.request("GET", this.fileUrl(snap.repo, snap.commit, file.path), { headers, signal, onResponse });
    if (moved) {
      await res.body?.cancel().catch(() => {});
      throw changed(ctx, `the Hub served ${clean(file.path, 200)} from commit ${clean(moved, 80)}`);
    }
    if (res.status === 416 && offset >= file.size) {
      await res.body?.cancel().catch(() => {});
      return { body: new Blob([]).stream(), offset };
    }
    if (res.status !== 200 && res.status !== 206) throw await hubError(res, ctx, this);
    const body = res.body ?? new Blob([]).stream();
    if (res.status === 200) return { body, offset: 0 };
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    const start = m ? Number(m[1]) : Number.NaN;
    if (!m || start > offset || (m[2] !== "*" && Number(m[2]) !== file.size)) {
      await body.cancel().catch(() => {});
      throw new KitError(`The server answered the range request for ${clean(file.path, 200)} with an unexpected range ${JSON.stringify(clean(res.headers.get("content-range") ?? "", 80))}`);
    }
    return { body, offset: start };
  }

  /** A small text file of the snapshot (LICENSE, SKILL.md), at most `limit` bytes of it. */
  async readText(snap: HubSnapshot, path: string, limit: number, signal?: AbortSignal): Promise<string> {
    const file = snap.files.find((f) => f.path === path);
    if (!file) throw new KitError(`${path} is not in the listing of ${snap.repo.id}`);
    const { body } = await this.openFile(snap, file, 0, signal);
    return new TextDecoder().decode(await readPrefix(body, limit, signal));
  }
}

/** What a request was about, for error messages. */
interface HubContext {
  repo: HubRepo;
  ref: string;
  commit?: string;
  path?: string;
}

function changed(ctx: HubContext, detail: string): ListingChangedError {
  return new ListingChangedError(
    `Repository ${ctx.repo.id} changed during the import: ${detail} (the listing was made at commit ${ctx.commit ?? "?"} for ${ctx.ref})`,
    { hint: "Run the import again to import the repository as it is now" },
  );
}

/** One tree entry as a file, or undefined for a directory. */
function parseTreeEntry(e: unknown): HubFile | undefined {
  if (!e || typeof e !== "object") throw new KitError("The repository listing holds an entry that is not an object");
  const o = e as Record<string, unknown>;
  if (o.type === "directory") {
    checkRepoPath(o.path);
    return undefined;
  }
  if (o.type !== "file") throw new KitError(`Unknown type in repository tree: ${clean(String(o.type), 40)}`);
  const path = checkRepoPath(o.path);
  const size = o.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new KitError(`The repository listing gives ${clean(path, 200)} an invalid size`);
  const oid = typeof o.oid === "string" ? o.oid.toLowerCase() : "";
  if (!HEX40.test(oid) && !HEX64.test(oid)) throw new KitError(`The repository listing gives ${clean(path, 200)} an invalid id`);
  const f: HubFile = { path, size, oid };
  const lfs = o.lfs as Record<string, unknown> | undefined | null;
  if (lfs && typeof lfs === "object") {
    const sha = typeof lfs.oid === "string" ? lfs.oid.toLowerCase().replace(/^sha256:/, "") : "";
    if (!HEX64.test(sha)) throw new KitError(`The repository listing gives ${clean(path, 200)} an invalid sha256`);
    if (lfs.size !== undefined && lfs.size !== size) throw new KitError(`The repository listing gives ${clean(path, 200)} two different sizes`);
    f.sha256 = sha;
  }
  return f;
}

/** The `rel="next"` URL of a `Link` header, resolved against the page it came with. */
export function nextPage(link: string | null, base: URL): URL | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m) continue;
    if (!/(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(m[2]!)) continue;
    try {
      return new URL(m[1]!, base);
    } catch {
      throw new KitError(`The listing's next-page link is not a URL`);
    }
  }
  return undefined;
}

/** The Hub's explanation: `X-Error-Message`, else `{"error": …}` of the body, else the body's text. */
async function serverMessage(res: Response): Promise<string> {
  const header = res.headers.get("x-error-message");
  const body = res.body ? new TextDecoder().decode(await readPrefix(res.body, MAX_ERROR_BYTES).catch(() => new Uint8Array(0))) : "";
  if (header) return clean(header);
  try {
    const v = JSON.parse(body) as { error?: unknown };
    if (typeof v?.error === "string") return clean(v.error);
    if (Array.isArray(v?.error)) return clean(v.error.join("; "));
  } catch {
    // not JSON
  }
  const type = res.headers.get("content-type") ?? "";
  return type.includes("html") ? "" : clean(body);
}

/** The error for an unexpected answer of the Hub (consumes the body). */
async function hubError(res: Response, ctx: HubContext, client: HubClient): Promise<KitError> {
  const code = res.headers.get("x-error-code") ?? "";
  const msg = await serverMessage(res);
  const status = res.status;
  const where = endpointText(client.endpoint);
  const page = client.repoUrl(ctx.repo);
  const tokenHelp = "pass a Hugging Face access token with --token or set HF_TOKEN";
  const err = (message: string, hint?: string) => new HubError(message, { status, code, hint });
  const downloading = ctx.path !== undefined && ctx.commit !== undefined;

  if (downloading && status === 404 && (code === "EntryNotFound" || code === "RevisionNotFound")) {
    return changed(ctx, `${clean(ctx.path!, 200)} is no longer available at that commit`);
  }
  if (code === "GatedRepo") {
    return err(
      `Repository ${ctx.repo.id} is gated: its files can be downloaded only after its conditions were accepted on ${page}` +
        (client.hasToken ? ", by the account the token belongs to" : `; then ${tokenHelp}`),
      msg ? `The Hub says: ${msg}` : undefined,
    );
  }
  if (code === "RevisionNotFound" || (status === 404 && /invalid rev id/i.test(msg) && !downloading)) {
    return err(`reference '${clean(ctx.ref, 200)}' not found in repository ${ctx.repo.id}`, "Check the branch, tag or commit given with --ref");
  }
  if (code === "RepoNotFound" || ((status === 401 || status === 404) && !code && !/credential|token/i.test(msg))) {
    if (downloading) return changed(ctx, `the repository is no longer available`);
    return err(
      client.hasToken
        ? `Repository ${ctx.repo.id} not found on ${where}, or the token has no access to it`
        : `Repository ${ctx.repo.id} not found on ${where}; if it is private, ${tokenHelp}`,
      "Check the repository name (org/name)",
    );
  }
  if (status === 401) {
    return err(`${where} refused the token${msg ? `: ${msg}` : ""}`, "Check the token given with --token or HF_TOKEN");
  }
  if (status === 403) {
    return err(`${where} refused access to ${ctx.path ? clean(ctx.path, 200) : ctx.repo.id}${msg ? `: ${msg}` : ""}`, client.hasToken ? "Check the permissions of the token" : `If you have access, ${tokenHelp}`);
  }
  if (status === 429) {
    const ra = res.headers.get("retry-after");
    return err(
      `Rate limited by ${where} (429 Too Many Requests) after several attempts${ra ? `; the Hub asks to wait ${clean(ra, 40)} s` : ""}`,
      client.hasToken ? "Wait and run the import again" : `Wait and run the import again; with a token (--token or HF_TOKEN) the Hub allows more requests`,
    );
  }
  const text = statusText(status) || `status ${status}`;
  return err(`${where} answered ${status} ${text} for ${ctx.path ? clean(ctx.path, 200) : ctx.repo.id}${msg ? `: ${msg}` : ""}`);
}

/**
 * The listing as `kit init` sees a directory: nested directories, entries in byte-wise order,
 * hidden names (`.gitattributes`, `.github/`, …) and OS junk left out as the local listing does.
 */
export function hubListing(files: HubFile[]): DirectoryListing {
  const root: DirectoryListing = { name: ".", path: ".", files: [], subdirs: [] };
  const dirs = new Map<string, DirectoryListing>([[".", root]]);
  const dirOf = (p: string): DirectoryListing => {
    const found = dirs.get(p);
    if (found) return found;
    const i = p.lastIndexOf("/");
    const parent = dirOf(i < 0 ? "." : p.slice(0, i));
    const d: DirectoryListing = { name: i < 0 ? p : p.slice(i + 1), path: p, files: [], subdirs: [] };
    parent.subdirs.push(d);
    dirs.set(p, d);
    return d;
  };
  for (const f of files) {
    const parts = f.path.split("/");
    if (parts.some(isIgnoredName)) continue;
    const i = f.path.lastIndexOf("/");
    const entry: FileListing = { name: parts[parts.length - 1]!, path: f.path, size: f.size };
    dirOf(i < 0 ? "." : f.path.slice(0, i)).files.push(entry);
  }
  const sort = (d: DirectoryListing) => {
    d.files.sort((a, b) => compareGoStrings(a.name, b.name));
    d.subdirs.sort((a, b) => compareGoStrings(a.name, b.name));
    d.subdirs.forEach(sort);
  };
  sort(root);
  return root;
}

/** The files of a snapshot that {@link hubListing} keeps (hidden names and OS junk dropped). */
export function importableFiles(files: HubFile[]): HubFile[] {
  return files.filter((f) => !f.path.split("/").some(isIgnoredName));
}

/** The package kit fills in for a generated Kitfile: name and author from `…/org/name`. */
export function packageFromRepo(repo: string): { name?: string; author?: string } {
  const segs = repo.replace(/\.git$/, "").split(/[/:]/).filter(Boolean);
  if (segs.length < 2) return {};
  return { name: segs[segs.length - 1], author: segs[segs.length - 2] };
}

/**
 * The Kitfile generated from a snapshot's listing (what `kit import` offers and `kit init
 * --remote` prints): `kit init`'s rules, LICENSE and SKILL.md read through the Hub, package name
 * and author from `org/name` unless given.
 */
export function generateHubKitfile(
  hub: HubClient,
  snap: HubSnapshot,
  opts: { name?: string; description?: string; author?: string; depth: number; logger: Logger; signal?: AbortSignal },
): Promise<Kitfile> {
  const pkg = packageFromRepo(snap.repo.id);
  return generateFromListing(
    hubListing(snap.files),
    (rel) => hub.readText(snap, rel, MAX_TEXT_BYTES, opts.signal),
    hub.repoUrl(snap.repo),
    { ...opts, name: opts.name ?? pkg.name, author: opts.author ?? pkg.author },
  );
}

/**
 * `kit init --remote REPOSITORY`: the Kitfile generated from a Hugging Face repository's listing
 * at `ref` (nothing downloaded but the files the generator reads: LICENSE, SKILL.md).
 */
export async function generateRemoteKitfile(
  remote: string,
  o: { ref: string; token: string; env: Record<string, string | undefined>; version: string; httpLogger?: Logger },
  opts: Parameters<typeof generateHubKitfile>[2],
): Promise<Kitfile> {
  const endpoint = hubEndpoint(o.env);
  const repo = parseHubRepo(remote, endpoint);
  if (!repo) throw new KitError(`could not process URL ${remote}: not a Hugging Face repository`, { hint: "Give it as org/name or https://huggingface.co/org/name" });
  const transport = await createTransport(DEFAULT_NETWORK_OPTIONS, { version: o.version, env: o.env, logger: o.httpLogger });
  const hub = new HubClient({ endpoint, token: o.token || o.env.HF_TOKEN, transport, logger: opts.logger });
  const snap = await hub.snapshot(repo, o.ref, opts.signal);
  return generateHubKitfile(hub, snap, opts);
}
