/**
 * A fake Hugging Face Hub for tests and the benchmark: two HTTP servers on 127.0.0.1, the Hub
 * (API and `resolve`) and a "CDN" on another port that LFS downloads are redirected to, as the
 * real Hub redirects to its file CDN.
 *
 * * `GET /api/{models|datasets}/{org}/{name}/revision/{rev}`: `{id, sha, private, gated}`.
 * * `GET /api/{models|datasets}/{org}/{name}/tree/{rev}?recursive=true`: files (with `oid`,
 *   `size`, `lfs.oid` = sha256 for LFS files) and directories, `pageSize` per page with a
 *   `Link: <…&cursor=N>; rel="next"` header.
 * * `GET|HEAD /[datasets/]{org}/{name}/resolve/{rev}/{path}`: LFS files answer 302 to the CDN
 *   (with `X-Repo-Commit`, `X-Linked-Size`, `X-Linked-Etag`); other files are served here. Both
 *   servers honour `Range: bytes=N-`.
 * * Tokens (`Authorization: Bearer …`): private repositories need a token allowed for them; gated
 *   repositories list freely but download only with an approved token; an unknown token is 401.
 *   Errors carry the Hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`,
 *   `GatedRepo`) and `{"error": …}` bodies, e.g. `Invalid rev id: <rev>`.
 * * Faults on demand: a status (401, 404, 429 with `Retry-After`, 500, …) for matching requests,
 *   a connection cut after N body bytes, wrong bytes for a file (its listing keeps the right
 *   sha256), and commits replaced under a running import.
 * * Every request is recorded (server, method, path, range, Authorization header).
 *
 * Run as a program (the benchmark), it serves one repository whose files are read from disk:
 *   bun test/helpers/fake-hub.ts --repo org/name --file model.safetensors=/abs/path [--file …]
 * and prints `{"endpoint": "http://127.0.0.1:<port>", "cdn": …}` on one line.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { sha256File } from "./files.ts";

/** A file's content: bytes in memory, or a file on disk (its sha256 computed once if not given). */
export type HubContent = string | Uint8Array | { file: string; sha256?: string };

export interface HubFileSpec {
  content: HubContent;
  /** Stored in Git LFS (default: files larger than 4 KiB). */
  lfs?: boolean;
}

export interface RepoSpec {
  /** Path → content. */
  files: Record<string, HubContent | HubFileSpec>;
  type?: "model" | "dataset";
  private?: boolean;
  gated?: boolean;
  /** Refs besides `main` pointing at this first commit (branches or tags). */
  refs?: string[];
}

interface StoredFile {
  path: string;
  size: number;
  sha256: string;
  oid: string;
  lfs: boolean;
  bytes?: Uint8Array;
  file?: string;
}

interface Commit {
  sha: string;
  files: Map<string, StoredFile>;
}

interface Repo {
  id: string;
  type: "model" | "dataset";
  private: boolean;
  gated: boolean;
  refs: Map<string, string>;
  commits: Map<string, Commit>;
}

export type HubFault =
  | { kind: "status"; status: number; retryAfter?: number; code?: string; message?: string }
  /** Sends the headers and `afterBytes` bytes of the body, then closes the connection (`reset`: with a TCP reset, which also drops what the client has not read yet). */
  | { kind: "cut"; afterBytes: number; reset?: boolean }
  /** Sends the headers and `afterBytes` bytes of the body, then nothing more (the connection stays open). */
  | { kind: "stall"; afterBytes: number };

export interface HubFaultRule {
  server?: "hub" | "cdn";
  method?: string;
  path?: RegExp;
  fault: HubFault;
  times: number;
}

export interface HubRequest {
  server: "hub" | "cdn";
  method: string;
  path: string;
  range?: string;
  authorization?: string;
  status?: number;
}

export interface FakeHub {
  /** `http://127.0.0.1:<port>`: what HF_ENDPOINT is set to. */
  endpoint: string;
  /** `http://127.0.0.1:<port>` of the CDN. */
  cdn: string;
  requests: HubRequest[];
  /** Entries per tree page. */
  pageSize: number;
  addRepo(id: string, spec: RepoSpec): { commit: string };
  /** A new commit of `id` with these files; `ref` (default main) moves to it; `dropOld` forgets the old commit. */
  commit(id: string, files: RepoSpec["files"], opts?: { ref?: string; dropOld?: boolean }): { commit: string };
  /** The commit `ref` points at. */
  head(id: string, ref?: string): string;
  /** Lets `token` read the private or gated repositories `ids`. */
  allowToken(token: string, ...ids: string[]): void;
  /** Serves other bytes (same size) for the file with this sha256 or path, while the listing keeps the real digest; `false` stops it. */
  corrupt(pathOrSha: string, on?: boolean): void;
  /** Calls `fn` once, when the first request of a resolve for any file arrives (to change the repo mid-import). */
  onFirstDownload(fn: () => void): void;
  addFault(rule: HubFaultRule): void;
  pendingFaults(): HubFaultRule[];
  /** Bytes of file bodies sent by the two servers. */
  bodyBytes(): number;
  /** Resolves once a `stall` fault has sent its bytes. */
  stalled(): Promise<void>;
  close(): Promise<void>;
}

const enc = new TextEncoder();

function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

function gitBlobId(size: number, content: Uint8Array): string {
  return createHash("sha1").update(`blob ${size}\0`).update(content).digest("hex");
}

function lfsPointer(sha: string, size: number): Uint8Array {
  return enc.encode(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${size}\n`);
}

function store(path: string, spec: HubContent | HubFileSpec): StoredFile {
  const s: HubFileSpec = typeof spec === "string" || spec instanceof Uint8Array || "file" in spec ? { content: spec as HubContent } : spec;
  const c = s.content;
  if (typeof c === "object" && !(c instanceof Uint8Array)) {
    const size = statSync(c.file).size;
    const sha = c.sha256 ?? sha256File(c.file);
    const lfs = s.lfs ?? size > 4096;
    if (!lfs) {
      const bytes = new Uint8Array(readFileSync(c.file));
      return { path, size, sha256: sha, oid: gitBlobId(size, bytes), lfs, bytes };
    }
    const ptr = lfsPointer(sha, size);
    return { path, size, sha256: sha, oid: gitBlobId(ptr.length, ptr), lfs, file: c.file };
  }
  const bytes = typeof c === "string" ? enc.encode(c) : c;
  const lfs = s.lfs ?? bytes.length > 4096;
  const sha = sha256Hex(bytes);
  const ptr = lfsPointer(sha, bytes.length);
  return { path, size: bytes.length, sha256: sha, oid: lfs ? gitBlobId(ptr.length, ptr) : gitBlobId(bytes.length, bytes), lfs, bytes };
}

const randomSha = () => randomBytes(20).toString("hex");

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function hubErr(res: http.ServerResponse, status: number, code: string | undefined, message: string) {
  const h: Record<string, string> = { "x-error-message": message };
  if (code) h["x-error-code"] = code;
  json(res, status, { error: message }, h);
}

export async function startFakeHub(opts: { pageSize?: number } = {}): Promise<FakeHub> {
  const repos = new Map<string, Repo>();
  const tokens = new Map<string, Set<string>>();
  const corrupted = new Set<string>();
  const rules: HubFaultRule[] = [];
  const requests: HubRequest[] = [];
  let firstDownload: (() => void) | undefined;
  let stall = Promise.withResolvers<void>();
  let bodyBytes = 0;
  let cdnBase = "";
  const sockets = new Set<import("node:net").Socket>();
  const blobs = new Map<string, StoredFile>();

  const repoKey = (type: string, id: string) => `${type}:${id}`;
  const makeCommit = (files: RepoSpec["files"]): Commit => {
    const c: Commit = { sha: randomSha(), files: new Map() };
    for (const [p, spec] of Object.entries(files)) {
      const f = store(p, spec);
      c.files.set(p, f);
      blobs.set(f.sha256, f);
    }
    return c;
  };

  const takeFault = (server: "hub" | "cdn", method: string, path: string): HubFault | undefined => {
    const r = rules.find((x) => x.times > 0 && (!x.server || x.server === server) && (!x.method || x.method === method) && (!x.path || x.path.test(path)));
    if (!r) return undefined;
    r.times--;
    return r.fault;
  };

  /** Sends a file body (with Range), applying a cut fault. */
  const sendBody = (req: http.IncomingMessage, res: http.ServerResponse, f: StoredFile, headers: Record<string, string>, fault?: HubFault) => {
    const cut = fault?.kind === "cut" || fault?.kind === "stall" ? fault.afterBytes : undefined;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = f.size - 1;
    let status = 200;
    if (m) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]));
      if (start >= f.size) {
        res.writeHead(416, { "content-range": `bytes */${f.size}`, "content-length": "0", ...headers });
        return res.end();
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${f.size}`;
    }
    const len = Math.max(0, end - start + 1);
    res.writeHead(status, { "content-length": String(len), "accept-ranges": "bytes", "content-type": "application/octet-stream", ...headers });
    if (req.method === "HEAD") return res.end();
    const bad = corrupted.has(f.sha256) || corrupted.has(f.path);
    const limit = cut === undefined ? len : Math.min(cut, len);
    const done = () => {
      if (fault?.kind === "stall" && cut !== undefined && cut < len) {
        stall.resolve();
        return;
      }
      if (cut !== undefined && cut < len) {
        const s = res.socket as (import("node:net").Socket & { resetAndDestroy?: () => void }) | null;
        if (fault?.kind === "cut" && fault.reset && s?.resetAndDestroy) s.resetAndDestroy();
        else s?.end();
      } else {
        res.end();
      }
    };
    if (f.bytes) {
      let data = f.bytes.subarray(start, start + limit);
      if (bad) data = data.map((b) => b ^ 0xff);
      bodyBytes += data.length;
      res.write(data, () => done());
      return;
    }
    if (limit === 0) return done();
    const rs = createReadStream(f.file!, { start, end: start + limit - 1, highWaterMark: 1 << 20 });
    rs.on("data", (chunk) => {
      const c = bad ? Buffer.from((chunk as Buffer).map((b) => b ^ 0xff)) : (chunk as Buffer);
      bodyBytes += c.length;
      if (!res.write(c)) {
        rs.pause();
        res.once("drain", () => rs.resume());
      }
    });
    rs.on("end", () => done());
    rs.on("error", () => res.destroy());
  };

  const record = (server: "hub" | "cdn", req: http.IncomingMessage, res: http.ServerResponse): HubRequest => {
    const r: HubRequest = { server, method: req.method ?? "", path: req.url ?? "" };
    if (req.headers.range) r.range = String(req.headers.range);
    if (req.headers.authorization) r.authorization = String(req.headers.authorization);
    requests.push(r);
    res.on("finish", () => (r.status = res.statusCode));
    return r;
  };

  const applyStatus = (res: http.ServerResponse, f: HubFault): boolean => {
    if (f.kind !== "status") return false;
    const h: Record<string, string> = {};
    if (f.retryAfter !== undefined) h["retry-after"] = String(f.retryAfter);
    if (f.code) h["x-error-code"] = f.code;
    json(res, f.status, { error: f.message ?? `status ${f.status}` }, h);
    return true;
  };

  const hubServer = http.createServer((req, res) => {
    record("hub", req, res);
    const url = new URL(req.url ?? "/", "http://x");
    const p = decodeURIComponent(url.pathname);
    const fault = takeFault("hub", req.method ?? "", url.pathname + url.search);
    if (fault && applyStatus(res, fault)) return;

    const auth = String(req.headers.authorization ?? "");
    let token: string | undefined;
    if (auth) {
      const m = /^Bearer (.+)$/.exec(auth);
      token = m?.[1];
      if (!token || !tokens.has(token)) return hubErr(res, 401, undefined, "Invalid credentials in Authorization header");
    }
    const canRead = (r: Repo) => !r.private || (token !== undefined && tokens.get(token)!.has(r.id));
    const approved = (r: Repo) => !r.gated || (token !== undefined && tokens.get(token)!.has(r.id));
    const findRepo = (type: string, id: string): Repo | undefined => {
      const r = repos.get(repoKey(type, id));
      return r && canRead(r) ? r : undefined;
    };
    const notFound = () => hubErr(res, token ? 404 : 401, "RepoNotFound", "Repository not found");
    const commitOf = (r: Repo, rev: string): Commit | undefined => r.commits.get(r.refs.get(rev) ?? rev);
    const badRev = (rev: string) => hubErr(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);

    let m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(p);
    if (m && req.method === "GET") {
      const r = findRepo(m[1] === "models" ? "model" : "dataset", m[2]!);
      if (!r) return notFound();
      const c = commitOf(r, m[3]!);
      if (!c) return badRev(m[3]!);
      return json(res, 200, { _id: r.id, id: r.id, sha: c.sha, private: r.private, gated: r.gated ? "manual" : false, siblings: [...c.files.keys()].map((rfilename) => ({ rfilename })) });
    }
    m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(p);
    if (m && req.method === "GET") {
      const r = findRepo(m[1] === "models" ? "model" : "dataset", m[2]!);
      if (!r) return notFound();
      const c = commitOf(r, m[3]!);
      if (!c) return badRev(m[3]!);
      const base = m[4] ? `${m[4]}/` : "";
      const recursive = url.searchParams.get("recursive") === "true";
      const entries: Array<Record<string, unknown>> = [];
      const dirs = new Set<string>();
      for (const f of [...c.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
        if (!f.path.startsWith(base)) continue;
        const rest = f.path.slice(base.length).split("/");
        for (let i = 1; i < rest.length; i++) {
          const d = base + rest.slice(0, i).join("/");
          if (!dirs.has(d) && (recursive || i === 1)) {
            dirs.add(d);
            entries.push({ type: "directory", oid: createHash("sha1").update(d).digest("hex"), size: 0, path: d });
          }
        }
        if (!recursive && rest.length > 1) continue;
        const e: Record<string, unknown> = { type: "file", oid: f.oid, size: f.size, path: f.path };
        if (f.lfs) e.lfs = { oid: f.sha256, size: f.size, pointerSize: lfsPointer(f.sha256, f.size).length };
        entries.push(e);
      }
      const cursor = Number(url.searchParams.get("cursor") ?? "0");
      const page = entries.slice(cursor, cursor + hub.pageSize);
      const headers: Record<string, string> = {};
      if (cursor + hub.pageSize < entries.length) {
        const next = new URL(url.pathname, `http://${req.headers.host}`);
        next.searchParams.set("recursive", String(recursive));
        next.searchParams.set("cursor", String(cursor + hub.pageSize));
        headers.link = `<${next.href}>; rel="next"`;
      }
      return json(res, 200, page, headers);
    }
    m = /^\/(?:(datasets)\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (m && (req.method === "GET" || req.method === "HEAD")) {
      const r = findRepo(m[1] ? "dataset" : "model", m[2]!);
      if (!r) return notFound();
      if (!approved(r)) {
        return hubErr(res, token ? 403 : 401, "GatedRepo", `Access to model ${r.id} is restricted and you are not in the authorized list. Visit ${hub.endpoint}/${r.id} to ask for access.`);
      }
      const c = commitOf(r, m[3]!);
      if (!c) return badRev(m[3]!);
      const f = c.files.get(m[4]!);
      if (!f) return hubErr(res, 404, "EntryNotFound", `${m[4]} does not exist on "${m[3]}"`);
      if (firstDownload && req.method === "GET") {
        const fn = firstDownload;
        firstDownload = undefined;
        fn();
      }
      const headers: Record<string, string> = { "x-repo-commit": c.sha, etag: `"${f.lfs ? f.sha256 : f.oid}"` };
      if (f.lfs) {
        headers["x-linked-size"] = String(f.size);
        headers["x-linked-etag"] = `"${f.sha256}"`;
        headers.location = `${cdnBase}/blobs/${f.sha256}?X-Amz-Signature=${randomSha()}&Expires=9999999999`;
        res.writeHead(302, { ...headers, "content-length": "0" });
        return res.end();
      }
      return sendBody(req, res, f, headers, fault);
    }
    hubErr(res, 404, undefined, "Not found");
  });

  const cdnServer = http.createServer((req, res) => {
    record("cdn", req, res);
    const url = new URL(req.url ?? "/", "http://x");
    const fault = takeFault("cdn", req.method ?? "", url.pathname);
    if (fault && applyStatus(res, fault)) return;
    const m = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    const f = m ? blobs.get(m[1]!) : undefined;
    if (!f || !url.searchParams.get("X-Amz-Signature")) {
      res.writeHead(403, { "content-length": "0" });
      return res.end();
    }
    sendBody(req, res, f, {}, fault);
  });

  for (const s of [hubServer, cdnServer]) {
    s.on("connection", (sock) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
    });
  }
  const listen = (s: http.Server) => new Promise<number>((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
  const hubPort = await listen(hubServer);
  const cdnPort = await listen(cdnServer);
  cdnBase = `http://127.0.0.1:${cdnPort}`;

  const repoById = (id: string): Repo => {
    const r = [...repos.values()].find((x) => x.id === id);
    if (!r) throw new Error(`fake hub: no repository ${id}`);
    return r;
  };

  const hub: FakeHub = {
    endpoint: `http://127.0.0.1:${hubPort}`,
    cdn: cdnBase,
    requests,
    pageSize: opts.pageSize ?? 1000,
    addRepo(id, spec) {
      const c = makeCommit(spec.files);
      const type = spec.type ?? "model";
      const refs = new Map([["main", c.sha]]);
      for (const r of spec.refs ?? []) refs.set(r, c.sha);
      repos.set(repoKey(type, id), { id, type, private: spec.private ?? false, gated: spec.gated ?? false, refs, commits: new Map([[c.sha, c]]) });
      return { commit: c.sha };
    },
    commit(id, files, o = {}) {
      const r = repoById(id);
      const ref = o.ref ?? "main";
      const old = r.refs.get(ref);
      const c = makeCommit(files);
      r.commits.set(c.sha, c);
      r.refs.set(ref, c.sha);
      if (o.dropOld && old) r.commits.delete(old);
      return { commit: c.sha };
    },
    head: (id, ref = "main") => repoById(id).refs.get(ref)!,
    allowToken(token, ...ids) {
      const s = tokens.get(token) ?? new Set<string>();
      for (const id of ids) s.add(id);
      tokens.set(token, s);
    },
    corrupt: (x, on = true) => void (on ? corrupted.add(x) : corrupted.delete(x)),
    onFirstDownload: (fn) => void (firstDownload = fn),
    addFault: (r) => void rules.push({ ...r }),
    pendingFaults: () => rules.filter((r) => r.times > 0),
    bodyBytes: () => bodyBytes,
    stalled: () => stall.promise,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        let n = 2;
        const one = () => void (--n === 0 && resolve());
        hubServer.close(one);
        cdnServer.close(one);
      }),
  };
  return hub;
}

// The benchmark runs the fake Hub as its own process (its timed commands block the caller).
if (import.meta.main) {
  const args = process.argv.slice(2);
  let repo = "bench/model";
  const files: Record<string, HubContent> = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--repo") repo = args[++i]!;
    else if (args[i] === "--file") {
      const [name, file] = args[++i]!.split("=", 2) as [string, string];
      files[name] = { file };
    }
  }
  const hub = await startFakeHub();
  hub.addRepo(repo, { files });
  console.log(JSON.stringify({ endpoint: hub.endpoint, cdn: hub.cdn }));
  const stop = () => void hub.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
