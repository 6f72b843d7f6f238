/**
 * An in-process distribution-API registry for unit tests (the ggcr `registry.New()` idea): blobs,
 * manifests, tags with `Link` pagination, monolithic and chunked uploads, mounts, Range, the OCI
 * 1.1 referrers API (when `referrers` is set; 404 otherwise, as docker-registry 2.8), and
 * Basic or Bearer auth with its own token endpoint. One-shot `intercept` hooks answer instead of
 * the registry (errors, broken bodies); every request is logged. Use `fetch` as a transport's
 * fetch, or `handle` with `Bun.serve`.
 */
import { createHash } from "node:crypto";
import { AuthClient } from "../../src/registry/auth.ts";
import { RemoteRepository, type RemoteRepositoryOptions } from "../../src/registry/repository.ts";
import { type FetchFn, Transport } from "../../src/registry/transport.ts";

export interface LoggedRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** Bytes of the body (read by the fake). */
  bodySize: number;
}

export interface FakeAuth {
  kind: "basic" | "bearer";
  users: Record<string, string>;
  /** Identity (refresh) tokens accepted by the OAuth2 POST flow: token → user. */
  refreshTokens?: Record<string, string>;
  /** Origin of the token realm (default: the registry's own origin). */
  realmOrigin?: string;
}

export interface FakeOptions {
  auth?: FakeAuth;
  /** Answer `Range` requests with 206 (default true). */
  ranges?: boolean;
  /** Send `Docker-Content-Digest` on manifest HEAD (default true). */
  headDigest?: boolean;
  /** Default page size of tags/list. */
  tagsPageSize?: number;
  /** Serve `GET referrers/<digest>` (default false: 404, as a registry without the API). */
  referrers?: boolean;
  /** Without `referrers`: the status answered instead of 404 (registries without the API differ). */
  noReferrersStatus?: number;
  /** Referrers per page (pages are linked with `Link`; default all on one page). */
  referrersPageSize?: number;
  /** Ignore the `artifactType` filter (as a registry may) instead of applying it. */
  referrersIgnoreFilter?: boolean;
}

type Interceptor = (req: Request, url: URL) => Response | undefined | Promise<Response | undefined>;

const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
}

function distErr(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { errors: [{ code, message }] }, headers);
}

export class FakeRegistry {
  readonly blobs = new Map<string, Uint8Array>();
  /** repo → digest → manifest */
  readonly manifests = new Map<string, Map<string, { mediaType: string; bytes: Uint8Array }>>();
  /** repo → tag → digest */
  readonly tags = new Map<string, Map<string, string>>();
  readonly uploads = new Map<string, { repo: string; data: Uint8Array[]; size: number }>();
  readonly log: LoggedRequest[] = [];
  readonly tokensIssued: Array<{ user: string; scopes: string[]; via: "GET" | "POST" }> = [];
  readonly #tokens = new Map<string, { user: string; scopes: string[] }>();
  readonly #interceptors: Interceptor[] = [];
  readonly opts: FakeOptions;
  #n = 0;

  constructor(opts: FakeOptions = {}) {
    this.opts = opts;
  }

  /** Answers the next request for which `fn` returns a Response (then the hook is dropped). */
  intercept(fn: Interceptor): void {
    this.#interceptors.push(fn);
  }

  /** Puts a blob into a repository directly. */
  putBlob(data: Uint8Array): string {
    const d = sha(data);
    this.blobs.set(d, data);
    return d;
  }

  putManifest(repo: string, mediaType: string, bytes: Uint8Array, tag?: string): string {
    const d = sha(bytes);
    let m = this.manifests.get(repo);
    if (!m) this.manifests.set(repo, (m = new Map()));
    m.set(d, { mediaType, bytes });
    if (tag) this.#tagsOf(repo).set(tag, d);
    return d;
  }

  #tagsOf(repo: string): Map<string, string> {
    let t = this.tags.get(repo);
    if (!t) this.tags.set(repo, (t = new Map()));
    return t;
  }

  readonly fetch: FetchFn = (url, init) => this.handle(new Request(url, init as RequestInit));

  readonly handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    for (let i = 0; i < this.#interceptors.length; i++) {
      const r = await this.#interceptors[i]!(req, url);
      if (r) {
        this.#interceptors.splice(i, 1);
        this.log.push({ method: req.method, url, headers: req.headers, bodySize: 0 });
        return r;
      }
    }
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array(0);
    this.log.push({ method: req.method, url, headers: req.headers, bodySize: body.byteLength });
    if (url.pathname === "/token") return this.#token(req, url, body);
    if (!url.pathname.startsWith("/v2/")) return new Response("not found", { status: 404 });
    const rest = url.pathname.slice(4);
    if (rest === "") return this.#authorized(req, url, undefined, "pull") ?? json(200, {});
    const m = /^(.+?)\/(blobs\/uploads\/?(.*)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list|referrers\/([^/]+))$/.exec(rest);
    if (!m) return distErr(404, "NAME_UNKNOWN", "repository name not known to registry");
    const repo = m[1]!;
    const action = req.method === "GET" || req.method === "HEAD" ? "pull" : req.method === "DELETE" ? "delete" : "push";
    const denied = this.#authorized(req, url, repo, action);
    if (denied) return denied;
    if (m[2]!.startsWith("blobs/uploads")) return this.#upload(req, url, repo, m[3] ?? "", body);
    if (m[4]) return this.#blob(req, repo, m[4]);
    if (m[5]) return this.#manifest(req, repo, m[5], body);
    if (m[6]) return this.#referrers(url, repo, m[6]);
    return this.#tagsList(url, repo);
  };

  // ----- auth ----------------------------------------------------------------------------------

  #challenge(url: URL, repo: string | undefined, action: string): Response {
    const a = this.opts.auth!;
    if (a.kind === "basic") {
      return distErr(401, "UNAUTHORIZED", "authentication required", { "www-authenticate": 'Basic realm="fake"' });
    }
    const realm = `${a.realmOrigin ?? url.origin}/token`;
    const scope = repo ? `,scope="repository:${repo}:${action === "pull" ? "pull" : "pull,push"}"` : "";
    return distErr(401, "UNAUTHORIZED", "authentication required", {
      "www-authenticate": `Bearer realm="${realm}",service="fake-registry"${scope}`,
    });
  }

  #authorized(req: Request, url: URL, repo: string | undefined, action: string): Response | undefined {
    const a = this.opts.auth;
    if (!a) return undefined;
    const h = req.headers.get("authorization") ?? "";
    if (a.kind === "basic") {
      if (h.startsWith("Basic ")) {
        const [u, ...p] = Buffer.from(h.slice(6), "base64").toString().split(":");
        if (a.users[u!] !== undefined && a.users[u!] === p.join(":")) return undefined;
      }
      return this.#challenge(url, repo, action);
    }
    if (h.startsWith("Bearer ")) {
      const t = this.#tokens.get(h.slice(7));
      if (t) {
        if (!repo) return undefined;
        const ok = t.scopes.some((s) => {
          const i = s.lastIndexOf(":");
          return s.slice(0, i) === `repository:${repo}` && s.slice(i + 1).split(",").includes(action);
        });
        if (ok) return undefined;
      }
    }
    return this.#challenge(url, repo, action);
  }

  #issue(user: string, scopes: string[], via: "GET" | "POST"): string {
    // Anonymous callers only ever get pull.
    const granted = user ? scopes : scopes.map((s) => {
      const i = s.lastIndexOf(":");
      return s.slice(i + 1).split(",").includes("pull") ? `${s.slice(0, i)}:pull` : `${s.slice(0, i)}:`;
    });
    const token = `tok-${++this.#n}`;
    this.#tokens.set(token, { user, scopes: granted });
    this.tokensIssued.push({ user, scopes, via });
    return token;
  }

  #token(req: Request, url: URL, body: Uint8Array): Response {
    const a = this.opts.auth;
    if (!a || a.kind !== "bearer") return new Response("no token service", { status: 404 });
    if (req.method === "POST") {
      const form = new URLSearchParams(new TextDecoder().decode(body));
      if (form.get("grant_type") !== "refresh_token") return json(400, { error: "unsupported_grant_type" });
      const user = a.refreshTokens?.[form.get("refresh_token") ?? ""];
      if (!user) return json(401, { error: "invalid_grant" });
      const scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      return json(200, { access_token: this.#issue(user, scopes, "POST") });
    }
    let user = "";
    const h = req.headers.get("authorization");
    if (h?.startsWith("Basic ")) {
      const [u, ...p] = Buffer.from(h.slice(6), "base64").toString().split(":");
      if (a.users[u!] === undefined || a.users[u!] !== p.join(":")) return new Response("invalid credentials", { status: 401 });
      user = u!;
    }
    return json(200, { token: this.#issue(user, url.searchParams.getAll("scope"), "GET") });
  }

  // ----- blobs ---------------------------------------------------------------------------------

  #blob(req: Request, _repo: string, digest: string): Response {
    const data = this.blobs.get(digest);
    if (req.method === "DELETE") {
      if (!data) return distErr(404, "BLOB_UNKNOWN", "blob unknown to registry");
      this.blobs.delete(digest);
      return new Response(null, { status: 202 });
    }
    if (!data) return distErr(404, "BLOB_UNKNOWN", "blob unknown to registry");
    const headers: Record<string, string> = { "docker-content-digest": digest, "content-type": "application/octet-stream" };
    if (this.opts.ranges !== false) headers["accept-ranges"] = "bytes";
    const range = req.headers.get("range");
    if (req.method === "GET" && range && this.opts.ranges !== false) {
      const m = /^bytes=(\d+)-$/.exec(range);
      const start = m ? Number(m[1]) : 0;
      if (start >= data.byteLength) return new Response(null, { status: 416, headers: { "content-range": `bytes */${data.byteLength}` } });
      return new Response(data.slice(start), {
        status: 206,
        headers: { ...headers, "content-range": `bytes ${start}-${data.byteLength - 1}/${data.byteLength}` },
      });
    }
    if (req.method === "HEAD") return new Response(null, { status: 200, headers: { ...headers, "content-length": String(data.byteLength) } });
    return new Response(data.slice(), { status: 200, headers });
  }

  #upload(req: Request, url: URL, repo: string, id: string, body: Uint8Array): Response {
    if (req.method === "POST" && id === "") {
      const mount = url.searchParams.get("mount");
      const from = url.searchParams.get("from");
      if (mount && from && this.blobs.has(mount) && this.manifests.has(from)) {
        return new Response(null, { status: 201, headers: { location: `/v2/${repo}/blobs/${mount}`, "docker-content-digest": mount } });
      }
      const uuid = `u${++this.#n}`;
      this.uploads.set(uuid, { repo, data: [], size: 0 });
      return new Response(null, { status: 202, headers: { location: `/v2/${repo}/blobs/uploads/${uuid}?_state=s${this.#n}`, range: "0-0" } });
    }
    const up = this.uploads.get(id);
    if (!up || up.repo !== repo) return distErr(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
    if (req.method === "DELETE") {
      this.uploads.delete(id);
      return new Response(null, { status: 204 });
    }
    if (req.method === "GET") {
      // Upload status; like distribution, "0-0" for an empty session.
      return new Response(null, {
        status: 204,
        headers: { location: `/v2/${repo}/blobs/uploads/${id}?_state=p${up.size}`, range: `0-${Math.max(0, up.size - 1)}` },
      });
    }
    if (req.method === "PATCH") {
      const cr = req.headers.get("content-range");
      const m = cr ? /^(\d+)-(\d+)$/.exec(cr) : null;
      if (cr && (!m || Number(m[1]) !== up.size || Number(m[2]) - Number(m[1]) + 1 !== body.byteLength)) {
        return distErr(416, "BLOB_UPLOAD_INVALID", "invalid content range");
      }
      up.data.push(body);
      up.size += body.byteLength;
      return new Response(null, {
        status: 202,
        headers: { location: `/v2/${repo}/blobs/uploads/${id}?_state=p${up.size}`, range: `0-${up.size - 1}` },
      });
    }
    if (req.method === "PUT") {
      if (body.byteLength) {
        up.data.push(body);
        up.size += body.byteLength;
      }
      const all = new Uint8Array(up.size);
      let off = 0;
      for (const c of up.data) {
        all.set(c, off);
        off += c.byteLength;
      }
      const want = url.searchParams.get("digest");
      this.uploads.delete(id);
      if (!want || sha(all) !== want) return distErr(400, "DIGEST_INVALID", "provided digest did not match uploaded content");
      this.blobs.set(want, all);
      return new Response(null, { status: 201, headers: { location: `/v2/${repo}/blobs/${want}`, "docker-content-digest": want } });
    }
    return distErr(405, "UNSUPPORTED", "the operation is unsupported");
  }

  // ----- manifests and tags --------------------------------------------------------------------

  #manifest(req: Request, repo: string, ref: string, body: Uint8Array): Response {
    const repoManifests = this.manifests.get(repo);
    const digest = ref.startsWith("sha256:") ? ref : this.tags.get(repo)?.get(ref);
    if (req.method === "PUT") {
      const mediaType = req.headers.get("content-type") ?? "";
      const d = this.putManifest(repo, mediaType, body, ref.startsWith("sha256:") ? undefined : ref);
      if (ref.startsWith("sha256:") && ref !== d) return distErr(400, "DIGEST_INVALID", "provided digest did not match uploaded content");
      return new Response(null, { status: 201, headers: { "docker-content-digest": d, location: `/v2/${repo}/manifests/${d}` } });
    }
    const found = digest ? repoManifests?.get(digest) : undefined;
    if (req.method === "DELETE") {
      if (!found) return distErr(404, "MANIFEST_UNKNOWN", "manifest unknown");
      if (ref.startsWith("sha256:")) {
        repoManifests!.delete(digest!);
        for (const [t, d] of this.#tagsOf(repo)) if (d === digest) this.#tagsOf(repo).delete(t);
      } else {
        this.#tagsOf(repo).delete(ref);
      }
      return new Response(null, { status: 202 });
    }
    if (!found) return distErr(404, "MANIFEST_UNKNOWN", "manifest unknown");
    const headers: Record<string, string> = { "content-type": found.mediaType };
    if (req.method === "HEAD") {
      if (this.opts.headDigest !== false) headers["docker-content-digest"] = digest!;
      headers["content-length"] = String(found.bytes.byteLength);
      return new Response(null, { status: 200, headers });
    }
    headers["docker-content-digest"] = digest!;
    return new Response(found.bytes.slice(), { status: 200, headers });
  }

  #referrers(url: URL, repo: string, digest: string): Response {
    if (!this.opts.referrers) {
      const status = this.opts.noReferrersStatus ?? 404;
      return new Response(`${status} not served\n`, { status, headers: { "content-type": "text/plain" } });
    }
    const wanted = this.opts.referrersIgnoreFilter ? null : url.searchParams.get("artifactType");
    const all: Array<Record<string, unknown>> = [];
    for (const [d, { mediaType, bytes }] of this.manifests.get(repo) ?? []) {
      let m: { subject?: { digest?: string }; artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
      try {
        m = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        continue;
      }
      if (m.subject?.digest !== digest) continue;
      const artifactType = m.artifactType ?? m.config?.mediaType;
      if (wanted && artifactType !== wanted) continue;
      all.push({ mediaType, digest: d, size: bytes.byteLength, artifactType, ...(m.annotations ? { annotations: m.annotations } : {}) });
    }
    all.sort((a, b) => String(a.digest).localeCompare(String(b.digest)));
    const n = this.opts.referrersPageSize ?? (all.length || 1);
    const page = Number(url.searchParams.get("page") ?? 0);
    const headers: Record<string, string> = { "content-type": "application/vnd.oci.image.index.v1+json" };
    if (wanted) headers["oci-filters-applied"] = "artifactType";
    if ((page + 1) * n < all.length) {
      const next = new URL(url.pathname + url.search, url.origin);
      next.searchParams.set("page", String(page + 1));
      headers.link = `<${next.pathname}${next.search}>; rel="next"`;
    }
    const body = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: all.slice(page * n, (page + 1) * n) };
    return new Response(JSON.stringify(body), { status: 200, headers });
  }

  #tagsList(url: URL, repo: string): Response {
    const all = [...(this.tags.get(repo)?.keys() ?? [])].sort();
    if (!this.manifests.has(repo)) return distErr(404, "NAME_UNKNOWN", "repository name not known to registry");
    const n = Number(url.searchParams.get("n") ?? this.opts.tagsPageSize ?? 1000);
    const last = url.searchParams.get("last");
    const start = last ? all.findIndex((t) => t > last) : 0;
    const page = start < 0 ? [] : all.slice(start, start + n);
    const headers: Record<string, string> = {};
    if (start >= 0 && start + n < all.length) {
      headers.link = `</v2/${repo}/tags/list?last=${encodeURIComponent(page.at(-1)!)}&n=${n}>; rel="next"`;
    }
    return json(200, { name: repo, tags: page }, headers);
  }
}

/**
 * A client for repository `org/model` of `fake` at `registry` (plain HTTP, no credentials, retries
 * without waiting); `opts` override any option.
 */
export function fakeRepository(fake: FakeRegistry, opts: Partial<RemoteRepositoryOptions> = {}, registry = "reg.test"): RemoteRepository {
  const transport = new Transport({ userAgent: "kitops-cli/t", fetch: fake.fetch, sleep: async () => {} });
  return new RemoteRepository({
    registry,
    repository: "org/model",
    client: new AuthClient({ transport, credential: async () => ({}) }),
    plainHttp: true,
    actions: ["pull", "push"],
    ...opts,
  });
}

export interface ServedFake {
  fake: FakeRegistry;
  /** `127.0.0.1:<port>` */
  host: string;
  stop(): Promise<void>;
}

/** A fake registry served over HTTP on a free loopback port (for commands run in process). */
export function serveFake(opts: FakeOptions = {}): ServedFake {
  const fake = new FakeRegistry(opts);
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: fake.handle });
  return { fake, host: `127.0.0.1:${server.port}`, stop: async () => void (await server.stop(true)) };
}
