/**
 * A hostile registry for tests (Bun.serve, in process): one attack class per repository name, so
 * a test picks the attack with the reference it pulls or lists. Three servers: the registry over
 * plain HTTP (`host`), the same registry over HTTPS with a self-signed certificate (`tlsHost`),
 * and an unrelated site (`otherHost`, `127.0.0.2:<port>` — another host than `127.0.0.1`) that
 * serves a token realm and records who sent it what.
 *
 * Repositories (`<host>/<class>/m`):
 * - `huge-token`: the token realm streams 1 GiB.
 * - `huge-tags`: the tag list streams 1 GiB.
 * - `huge-manifest`: the manifest streams 1 GiB.
 * - `huge-error`: every answer is a 400 whose body streams 1 GiB.
 * - `cross-site`: a Bearer challenge whose realm is on `otherHost`.
 * - `downgrade`: (on `tlsHost`) a Bearer challenge whose realm is `http://` on the registry's host.
 * - `loop-self`, `loop-cycle`: tag-list pages whose `Link` points back to themselves or around a cycle.
 * - `escape`: error bodies (JSON and plain text) full of escape sequences.
 * - `escape-header`: a valid manifest whose blobs come with an escape sequence in `Docker-Content-Digest`.
 * - `forbidden`: 403 for everything.
 * - Hostile ModelKits, served as a registry serves any kit (tag `v1`):
 *   `bad-config` (config not JSON), `bad-types` (a list where a string belongs), `modelpack-nopath`
 *   (a ModelPack layer without its file path), `traversal` (tar entries `../../escaped.txt` and
 *   `/tmp/...`), `setuid` (a 6755 file and a 1777 directory), and `good` (a sound kit).
 *
 * Huge bodies are generated as they are read (nothing is held in memory); `streamed[class]` counts
 * the bytes a server produced, so a test can show the client stopped reading early.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeTlsFiles } from "./registry.ts";
import { tarOf } from "./tar.ts";

export interface SeenRequest {
  server: "registry" | "tls" | "other";
  method: string;
  path: string;
  authorization: string | null;
}

export interface HostileRegistry {
  /** `127.0.0.1:<port>`, plain HTTP. */
  host: string;
  /** `127.0.0.1:<port>`, HTTPS (self-signed: use --tls-verify=false). */
  tlsHost: string;
  /** `127.0.0.2:<port>`: an unrelated site. */
  otherHost: string;
  seen: SeenRequest[];
  /** Bytes produced per attack class. */
  streamed: Record<string, number>;
  stop(): Promise<void>;
}

export const GIB = 1024 * 1024 * 1024;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const ESCAPES = "\u001b[2J\u001b[31mHACKED\u001b]0;owned\u0007\u009b31m";

/** A body of `total` bytes made of `head`, then `fill` repeated, counted into `streamed[key]` as it is read. */
function endless(streamed: Record<string, number>, key: string, head: string, fill: number, total = GIB): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(256 * 1024).fill(fill);
  let sent = 0;
  let first: Uint8Array | undefined = head ? new TextEncoder().encode(head) : undefined;
  return new ReadableStream<Uint8Array>({
    pull(ctl) {
      const part = first ?? chunk.subarray(0, Math.min(chunk.byteLength, total - sent));
      first = undefined;
      sent += part.byteLength;
      streamed[key] = (streamed[key] ?? 0) + part.byteLength;
      ctl.enqueue(part);
      if (sent >= total) ctl.close();
    },
  }, { highWaterMark: 0 });
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A small valid ModelKit-shaped manifest with its config, for the classes that need one. */
function smallKit() {
  const config = new TextEncoder().encode(JSON.stringify({ manifestVersion: "1.0.0", package: { name: "m" }, model: { name: "m", path: "m.bin" } }));
  const layer = new TextEncoder().encode("layer");
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: "application/vnd.kitops.modelkit.manifest.v1+json",
    config: { mediaType: "application/vnd.kitops.modelkit.config.v1+json", digest: sha(config), size: config.byteLength },
    layers: [{ mediaType: "application/vnd.kitops.modelkit.model.v1.tar", digest: sha(layer), size: layer.byteLength }],
  }));
  return { manifest, blobs: new Map([[sha(config), config], [sha(layer), layer]]) };
}

/** A kit from its config text and layers: manifest bytes and every blob by digest. */
function kitOf(config: string, layers: Array<{ mediaType: string; data: Uint8Array; annotations?: Record<string, string> }>, modelpack = false) {
  const c = new TextEncoder().encode(config);
  const blobs = new Map<string, Uint8Array>([[sha(c), c]]);
  for (const l of layers) blobs.set(sha(l.data), l.data);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: modelpack ? "application/vnd.cncf.model.manifest.v1+json" : "application/vnd.kitops.modelkit.manifest.v1+json",
    config: { mediaType: modelpack ? "application/vnd.cncf.model.config.v1+json" : "application/vnd.kitops.modelkit.config.v1+json", digest: sha(c), size: c.byteLength },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha(l.data), size: l.data.byteLength, ...(l.annotations ? { annotations: l.annotations } : {}) })),
  }));
  return { manifest, blobs };
}

/** The hostile ModelKits, by attack class (see the module comment). */
export function hostileKits(): Map<string, ReturnType<typeof kitOf>> {
  const code = "application/vnd.kitops.modelkit.code.v1.tar";
  const cfg = (extra: object = {}) => JSON.stringify({ manifestVersion: "1.0.0", package: { name: "hostile" }, code: [{ path: "src" }], ...extra });
  const src = tarOf([["src", "dir"], ["src/a.py", "print(1)\n"]]);
  return new Map([
    ["good", kitOf(cfg(), [{ mediaType: code, data: src }])],
    ["bad-config", kitOf("{not json", [{ mediaType: code, data: src }])],
    ["bad-types", kitOf(JSON.stringify({ manifestVersion: "1.0.0", package: { name: ["x"] }, code: [{ path: "src" }] }), [{ mediaType: code, data: src }])],
    ["modelpack-nopath", kitOf("{}", [{ mediaType: "application/vnd.cncf.model.weight.v1.tar", data: src }], true)],
    ["traversal", kitOf(cfg(), [{ mediaType: code, data: tarOf([["src", "dir"], ["src/../../escaped.txt", "pwned\n"], ["/tmp/kit-hostile-absolute.txt", "pwned\n"]]) }])],
    ["setuid", kitOf(cfg(), [{ mediaType: code, data: tarOf([["src", "dir", 0o1777], ["src/run.sh", "#!/bin/sh\n", 0o6755]]) }])],
  ]);
}

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const seen: SeenRequest[] = [];
  const streamed: Record<string, number> = {};
  const dir = mkdtempSync(path.join(os.tmpdir(), "kit-hostile-"));
  const tls = makeTlsFiles(dir);
  const kit = smallKit();
  const kits = hostileKits();
  let plainPort = 0;
  let otherPort = 0;

  const token = (req: Request, url: URL): Response => {
    if (url.pathname === "/token/huge") return new Response(endless(streamed, "huge-token", '{"token":"', 0x61), { headers: { "content-type": "application/json" } });
    return json(200, { token: "t" });
  };

  const handler = (server: SeenRequest["server"]) => async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    seen.push({ server, method: req.method, path: url.pathname + url.search, authorization: req.headers.get("authorization") });
    if (url.pathname.startsWith("/token")) return token(req, url);
    if (server === "other") return new Response("not found", { status: 404 });
    const m = /^\/v2\/([^/]+)\/m\/(.*)$/.exec(url.pathname);
    if (!m) return url.pathname === "/v2/" ? json(200, {}) : new Response("not found", { status: 404 });
    const [, attack, rest] = m as unknown as [string, string, string];
    const origin = url.origin;
    const bearer = (realm: string) => {
      if (req.headers.get("authorization") === "Bearer t") return undefined;
      return json(401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, {
        "www-authenticate": `Bearer realm="${realm}",service="hostile"`,
      });
    };
    const hostile = kits.get(attack);
    if (hostile) {
      if (rest === "tags/list") return json(200, { name: `${attack}/m`, tags: ["v1"] });
      if (rest === "manifests/v1" || rest === `manifests/${sha(hostile.manifest)}`) {
        const headers = { "content-type": OCI_MANIFEST, "docker-content-digest": sha(hostile.manifest), "content-length": String(hostile.manifest.byteLength) };
        return new Response(req.method === "HEAD" ? null : new Uint8Array(hostile.manifest), { headers });
      }
      const blob = rest.startsWith("blobs/") ? hostile.blobs.get(rest.slice("blobs/".length)) : undefined;
      if (!blob) return new Response("not found", { status: 404 });
      return new Response(req.method === "HEAD" ? null : new Uint8Array(blob), { headers: { "content-length": String(blob.byteLength), "docker-content-digest": rest.slice("blobs/".length) } });
    }
    switch (attack) {
      case "huge-token":
        return bearer(`${origin}/token/huge`) ?? new Response("not found", { status: 404 });
      case "cross-site":
        return bearer(`http://127.0.0.2:${otherPort}/token`) ?? new Response("not found", { status: 404 });
      case "downgrade":
        return bearer(`http://127.0.0.1:${plainPort}/token`) ?? new Response("not found", { status: 404 });
      case "huge-tags":
        return new Response(endless(streamed, attack, '{"name":"huge-tags/m","tags":["', 0x61), { headers: { "content-type": "application/json" } });
      case "huge-manifest":
        return new Response(endless(streamed, attack, '{"schemaVersion":2,"layers":[', 0x20), { headers: { "content-type": OCI_MANIFEST } });
      case "huge-error":
        return new Response(endless(streamed, attack, "", 0x78), { status: 400, headers: { "content-type": "text/plain" } });
      case "loop-self":
        return json(200, { tags: ["a", "b"] }, { link: `</v2/loop-self/m/tags/list>; rel="next"` });
      case "loop-cycle": {
        const next = url.searchParams.get("last") === "b" ? "/v2/loop-cycle/m/tags/list?last=a" : "/v2/loop-cycle/m/tags/list?last=b";
        return json(200, { tags: [url.searchParams.get("last") ?? "start"] }, { link: `<${next}>; rel="next"` });
      }
      case "escape":
        if (rest === "tags/list") return new Response(`no such thing${ESCAPES}`, { status: 400, headers: { "content-type": "text/plain" } });
        return json(400, { errors: [{ code: "DENIED", message: `you are ${ESCAPES}` }] });
      case "escape-header": {
        if (rest.startsWith("manifests/")) return new Response(kit.manifest, { headers: { "content-type": OCI_MANIFEST, "docker-content-digest": sha(kit.manifest) } });
        const blob = kit.blobs.get(rest.slice("blobs/".length));
        if (!blob) return new Response("not found", { status: 404 });
        return new Response(blob, { headers: { "docker-content-digest": `sha256:${ESCAPES}` } });
      }
      case "forbidden":
        return json(403, { errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] });
    }
    return new Response("not found", { status: 404 });
  };

  const plain = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler("registry") });
  const secure = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: readFileSync(tls.serverCert, "utf8"), key: readFileSync(tls.serverKey, "utf8") },
    fetch: handler("tls"),
  });
  const other = Bun.serve({ hostname: "127.0.0.2", port: 0, fetch: handler("other") });
  plainPort = plain.port!;
  otherPort = other.port!;
  return {
    host: `127.0.0.1:${plain.port}`,
    tlsHost: `127.0.0.1:${secure.port}`,
    otherHost: `127.0.0.2:${other.port}`,
    seen,
    streamed,
    stop: async () => {
      await Promise.all([plain.stop(true), secure.stop(true), other.stop(true)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
