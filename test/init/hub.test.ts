import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  checkRepoPath,
  HubClient,
  HubError,
  hubEndpoint,
  hubListing,
  ListingChangedError,
  looksLikeHubRepo,
  nextPage,
  parseHubRepo,
  type HubFile,
} from "../../src/init/hub.ts";
import { Transport } from "../../src/registry/transport.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { startFakeHub, type FakeHub } from "../helpers/fake-hub.ts";

const hf = new URL("https://huggingface.co");

describe("repository names", () => {
  test("org/name, datasets/org/name and Hub URLs name Hub repositories", () => {
    expect(parseHubRepo("acme/tiny", hf)).toEqual({ id: "acme/tiny", type: "model" });
    expect(parseHubRepo("datasets/acme/data", hf)).toEqual({ id: "acme/data", type: "dataset" });
    expect(parseHubRepo("https://huggingface.co/acme/tiny", hf)).toEqual({ id: "acme/tiny", type: "model" });
    expect(parseHubRepo("https://huggingface.co/acme/tiny/", hf)).toEqual({ id: "acme/tiny", type: "model" });
    expect(parseHubRepo("https://huggingface.co/datasets/acme/data", hf)).toEqual({ id: "acme/data", type: "dataset" });
    expect(parseHubRepo("huggingface.co/acme/tiny", hf)).toEqual({ id: "acme/tiny", type: "model" });
    const mirror = new URL("http://127.0.0.1:8080/hub");
    expect(parseHubRepo("http://127.0.0.1:8080/hub/acme/tiny", mirror)).toEqual({ id: "acme/tiny", type: "model" });
  });

  test("anything else is not a Hub repository", () => {
    for (const s of ["tiny", "a/b/c", "https://github.com/acme/tiny", "file:///tmp/repo.git", "../x/y", "acme/..", "https://huggingface.co/acme"]) {
      expect(parseHubRepo(s, hf)).toBeUndefined();
    }
  });

  test("kit's tool choice: no host or a Hub host is hf, everything else git", () => {
    expect(looksLikeHubRepo("acme/tiny", hf)).toBe(true);
    expect(looksLikeHubRepo("https://huggingface.co/acme/tiny", hf)).toBe(true);
    expect(looksLikeHubRepo("https://github.com/acme/tiny", hf)).toBe(false);
    expect(looksLikeHubRepo("file:///srv/git/tiny.git", hf)).toBe(false);
    expect(looksLikeHubRepo("/srv/git/tiny.git", hf)).toBe(false);
    expect(looksLikeHubRepo("./tiny", hf)).toBe(false);
    expect(looksLikeHubRepo("git@github.com:acme/tiny.git", hf)).toBe(false);
  });

  test("HF_ENDPOINT sets the base URL; bad values are refused", () => {
    expect(hubEndpoint({}).href).toBe("https://huggingface.co/");
    expect(hubEndpoint({ HF_ENDPOINT: "http://127.0.0.1:9/" }).origin).toBe("http://127.0.0.1:9");
    expect(() => hubEndpoint({ HF_ENDPOINT: "ftp://x" })).toThrow("only http and https");
    expect(() => hubEndpoint({ HF_ENDPOINT: "https://user:pw@x" })).toThrow("must not carry credentials");
  });
});

describe("listing checks", () => {
  test("unsafe paths are refused", () => {
    for (const p of ["../etc/passwd", "/abs", "a//b", "a/./b", "a\\b", "a/\u001b[2Jb", ""]) expect(() => checkRepoPath(p)).toThrow();
    expect(checkRepoPath("a/b.c/d")).toBe("a/b.c/d");
  });

  test("the next page comes from the Link header", () => {
    const base = new URL("https://h/api/models/a/b/tree/x?recursive=true");
    expect(nextPage('<https://h/api/models/a/b/tree/x?cursor=2>; rel="next"', base)?.href).toBe("https://h/api/models/a/b/tree/x?cursor=2");
    expect(nextPage('</p2>; rel="prev", </p3>; rel=next', base)?.href).toBe("https://h/p3");
    expect(nextPage(null, base)).toBeUndefined();
  });

  test("the listing nests directories in byte order and leaves out hidden files", () => {
    const f = (path: string, size = 1): HubFile => ({ path, size, oid: "0".repeat(40) });
    const l = hubListing([f("b.txt"), f(".gitattributes"), f("a/z.bin", 5), f("a/B.bin"), f(".github/x.yml"), f("A.md")]);
    expect(l.files.map((x) => x.path)).toEqual(["A.md", "b.txt"]);
    expect(l.subdirs.map((d) => d.path)).toEqual(["a"]);
    expect(l.subdirs[0]!.files).toEqual([{ name: "B.bin", path: "a/B.bin", size: 1 }, { name: "z.bin", path: "a/z.bin", size: 5 }]);
  });
});

describe("HubClient against the fake Hub", () => {
  let hub: FakeHub;
  const log = memoryLogger("debug");
  const client = (token?: string) =>
    new HubClient({ endpoint: new URL(hub.endpoint), token, logger: log, transport: new Transport({ userAgent: "kitops-cli/test", sleep: async () => {} }) });

  beforeAll(async () => {
    hub = await startFakeHub({ pageSize: 2 });
    hub.addRepo("acme/tiny", { files: { "a.txt": "a", "dir/b.txt": "b", "dir/sub/c.bin": new Uint8Array(5000).fill(1), "d.json": "{}" }, refs: ["v1"] });
    hub.addRepo("acme/secret", { files: { "x.txt": "x" }, private: true });
    hub.addRepo("acme/gated", { files: { "x.txt": "x" }, gated: true });
    hub.allowToken("hf_good", "acme/secret", "acme/gated");
    hub.allowToken("hf_other");
  });
  afterAll(() => hub.close());

  test("a snapshot resolves the ref and lists every page at that commit", async () => {
    const snap = await client().snapshot({ id: "acme/tiny", type: "model" }, "v1");
    expect(snap.commit).toBe(hub.head("acme/tiny", "v1"));
    expect(snap.files.map((f) => f.path)).toEqual(["a.txt", "d.json", "dir/b.txt", "dir/sub/c.bin"]);
    const c = snap.files.find((f) => f.path === "dir/sub/c.bin")!;
    expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(snap.files.find((f) => f.path === "a.txt")!.sha256).toBeUndefined();
    const trees = hub.requests.filter((r) => r.path.includes("/tree/"));
    expect(trees.length).toBeGreaterThan(2); // pages of 2 entries, directories included
    expect(trees.every((r) => r.path.includes(snap.commit))).toBe(true);
  });

  test("an unknown repository without a token says to pass --token or set HF_TOKEN", async () => {
    const e = await client().snapshot({ id: "acme/secret", type: "model" }, "main").catch((x) => x);
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toBe(`Repository acme/secret not found on ${hub.endpoint}; if it is private, pass a Hugging Face access token with --token or set HF_TOKEN`);
    const e2 = await client("hf_other").snapshot({ id: "acme/nope", type: "model" }, "main").catch((x) => x);
    expect(e2.message).toBe(`Repository acme/nope not found on ${hub.endpoint}, or the token has no access to it`);
    expect((await client("hf_good").snapshot({ id: "acme/secret", type: "model" }, "main")).files).toHaveLength(1);
  });

  test("an unknown ref, a refused token, a gated repository", async () => {
    const r = await client().snapshot({ id: "acme/tiny", type: "model" }, "nope").catch((x) => x);
    expect(r.message).toBe("reference 'nope' not found in repository acme/tiny");
    const t = await client("hf_bad").snapshot({ id: "acme/tiny", type: "model" }, "main").catch((x) => x);
    expect(t.message).toBe(`${hub.endpoint} refused the token: Invalid credentials in Authorization header`);
    const snap = await client().snapshot({ id: "acme/gated", type: "model" }, "main");
    expect(snap.gated).toBe(true);
    const g = await client().checkAccess(snap, snap.files[0]!).catch((x) => x);
    expect(g.message).toBe(`Repository acme/gated is gated: its files can be downloaded only after its conditions were accepted on ${hub.endpoint}/acme/gated; then pass a Hugging Face access token with --token or set HF_TOKEN`);
    await client("hf_good").checkAccess(snap, snap.files[0]!);
  });

  test("429 is retried after Retry-After; when it persists the error says so", async () => {
    hub.addFault({ server: "hub", path: /\/revision\//, fault: { kind: "status", status: 429, retryAfter: 0 }, times: 1 });
    const c = client();
    expect((await c.snapshot({ id: "acme/tiny", type: "model" }, "main")).files.length).toBe(4);
    hub.addFault({ server: "hub", path: /\/revision\//, fault: { kind: "status", status: 429, retryAfter: 7 }, times: 6 });
    const e = await c.snapshot({ id: "acme/tiny", type: "model" }, "main").catch((x) => x);
    expect(e.message).toBe(`Rate limited by ${hub.endpoint} (429 Too Many Requests) after several attempts; the Hub asks to wait 7 s`);
    expect(hub.pendingFaults()).toEqual([]);
  });

  test("a file gone at the listed commit means the repository changed", async () => {
    hub.addRepo("acme/moving", { files: { "a.txt": "1" } });
    const c = client();
    const snap = await c.snapshot({ id: "acme/moving", type: "model" }, "main");
    hub.commit("acme/moving", { "a.txt": "2" }, { dropOld: true });
    const e = await c.openFile(snap, snap.files[0]!, 0).catch((x) => x);
    expect(e).toBeInstanceOf(ListingChangedError);
    expect(e.message).toBe(`Repository acme/moving changed during the import: a.txt is no longer available at that commit (the listing was made at commit ${snap.commit} for main)`);
  });

  test("small texts are read with a size bound", async () => {
    const c = client();
    const snap = await c.snapshot({ id: "acme/tiny", type: "model" }, "main");
    expect(await c.readText(snap, "dir/sub/c.bin", 10)).toHaveLength(10);
    expect(await c.readText(snap, "a.txt", 10)).toBe("a");
  });
});

test("a next-page link to another host is not followed (the token would go there)", async () => {
  let port = 0;
  const server = http.createServer((req, res) => {
    if (req.url!.includes("/revision/")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ sha: "a".repeat(40) }));
    }
    res.writeHead(200, { "content-type": "application/json", link: `<http://localhost:${port}/elsewhere>; rel="next"` });
    res.end("[]");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
  try {
    const c = new HubClient({ endpoint: new URL(`http://127.0.0.1:${port}`), token: "hf_x", logger: memoryLogger(), transport: new Transport({ userAgent: "t" }) });
    const e = await c.snapshot({ id: "a/b", type: "model" }, "main").catch((x) => x);
    expect(e.message).toBe(`The listing of a/b continues on another host (http://localhost:${port}); refusing to follow it`);
  } finally {
    server.close();
  }
});
