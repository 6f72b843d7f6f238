import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { descriptorFromBytes, type Descriptor } from "../../src/oci/descriptor.ts";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { RegistryError } from "../../src/registry/http.ts";
import { nextLink } from "../../src/registry/tag-list.ts";
import { verified } from "../../src/oci/digest.ts";
import { IntegrityError, KitError, NotFoundError, TransientError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { chunked, failingStream, patternBytes, readStream } from "../helpers/streams.ts";
import { FakeRegistry, fakeRepository } from "./fake-registry.ts";

const LAYER = "application/vnd.kitops.modelkit.model.v1.tar";
const enc = new TextEncoder();

/** The error of a dropped connection, as Bun's fetch reports it. */
const econnreset = () => Object.assign(new TypeError("ECONNRESET: The socket connection was closed unexpectedly"), { code: "ECONNRESET" });

const requests = (fake: FakeRegistry) => fake.log.map((r) => `${r.method} ${r.url.pathname}`);

describe("reads", () => {
  test("tags() follows Link pagination; an unknown repository is NotFoundError", async () => {
    const fake = new FakeRegistry({ tagsPageSize: 2 });
    const m = enc.encode("{}");
    for (const t of ["a", "b", "c", "d", "e"]) fake.putManifest("org/model", OCI_MANIFEST, m, t);
    const repo = fakeRepository(fake);
    expect(await repo.tags()).toEqual(["a", "b", "c", "d", "e"]);
    expect(fake.log.map((r) => r.url.search)).toEqual(["", "?last=b&n=2", "?last=d&n=2"]);
    const other = fakeRepository(fake, { repository: "org/none" });
    expect(await other.tags().catch((e) => e)).toBeInstanceOf(NotFoundError);
  });

  test("nextLink resolves relative links and never leaves the origin", () => {
    const base = new URL("https://r.io/v2/x/tags/list");
    expect(nextLink('</v2/x/tags/list?last=b&n=2>; rel="next"', base)?.toString()).toBe("https://r.io/v2/x/tags/list?last=b&n=2");
    expect(nextLink('<https://evil.io/v2/x/tags/list?last=b>; rel="next"', base)).toBeUndefined();
    expect(nextLink('</a>; rel="prev"', base)).toBeUndefined();
    expect(nextLink(null, base)).toBeUndefined();
  });

  test("resolve uses HEAD, and GET when the registry leaves out the digest header", async () => {
    for (const headDigest of [true, false]) {
      const fake = new FakeRegistry({ headDigest });
      const m = enc.encode('{"schemaVersion":2}');
      const d = fake.putManifest("org/model", OCI_MANIFEST, m, "v1");
      const repo = fakeRepository(fake);
      expect(await repo.resolve("v1")).toEqual({ mediaType: OCI_MANIFEST, digest: d as Descriptor["digest"], size: m.byteLength });
      expect(requests(fake)).toEqual(headDigest ? ["HEAD /v2/org/model/manifests/v1"] : ["HEAD /v2/org/model/manifests/v1", "GET /v2/org/model/manifests/v1"]);
      expect(fake.log[0]!.headers.get("accept")).toContain(OCI_MANIFEST);
      expect(await repo.resolve("nope").catch((e) => e.message)).toBe("nope: not found");
    }
  });

  test("a manifest whose bytes do not match is refused", async () => {
    const fake = new FakeRegistry();
    const m = enc.encode('{"schemaVersion":2}');
    const d = fake.putManifest("org/model", OCI_MANIFEST, m, "v1");
    fake.intercept((req) => (req.method === "GET" ? new Response('{"schemaVersion":3}', { headers: { "content-type": OCI_MANIFEST } }) : undefined));
    const e = await fakeRepository(fake).fetchManifest(d).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toStartWith(`Content of ${d} does not match its digest: got sha256:`);
  });

  test("blob fetch checks Content-Length and Docker-Content-Digest", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(100);
    const desc = descriptorFromBytes(LAYER, data);
    fake.putBlob(data);
    fake.intercept(() => new Response(data.slice(), { headers: { "docker-content-digest": "sha256:" + "0".repeat(64) } }));
    expect((await fakeRepository(fake).fetch(desc).catch((e) => e)).message).toBe(`The registry answered ${desc.digest} with content of sha256:${"0".repeat(64)}`);
    fake.intercept(() => new Response(data.slice(0, 50), { headers: { "content-length": "50" } }));
    expect((await fakeRepository(fake).fetch(desc).catch((e) => e)).message).toBe(`/v2/org/model/blobs/${desc.digest}: the registry announced 50 bytes for ${desc.digest}, expected 100`);
    expect(await readStream(await fakeRepository(fake).fetch(desc))).toEqual(data);
  });

  test("a blob download continues with Range after the connection breaks", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(10_000);
    const desc = descriptorFromBytes(LAYER, data);
    fake.putBlob(data);
    fake.intercept((req) => (req.method === "GET" ? new Response(failingStream(data.slice(0, 3000), econnreset()), { headers: { "accept-ranges": "bytes" } }) : undefined));
    fake.intercept((req) => (req.headers.get("range") === "bytes=3000-" ? new Response(failingStream(data.slice(3000, 7000), econnreset()), { status: 206, headers: { "content-range": "bytes 3000-9999/10000" } }) : undefined));
    const log = memoryLogger("debug");
    const got = await readStream(await fakeRepository(fake, { logger: log }).fetch(desc));
    expect(got).toEqual(data);
    expect(fake.log.map((r) => r.headers.get("range"))).toEqual([null, "bytes=3000-", "bytes=7000-"]);
    expect(log.text()).toContain(`[DEBUG] Connection lost while downloading ${desc.digest} at byte 3000 of 10000 (ECONNRESET: The socket connection was closed unexpectedly); resuming\n`);
  });

  test("a server without ranges is read again from the start, skipping what was delivered", async () => {
    const fake = new FakeRegistry({ ranges: false });
    const data = patternBytes(5000);
    const desc = descriptorFromBytes(LAYER, data);
    fake.putBlob(data);
    fake.intercept((req) => (req.method === "GET" ? new Response(failingStream(data.slice(0, 1234), econnreset())) : undefined));
    expect(await readStream(await fakeRepository(fake).fetch(desc))).toEqual(data);
    expect(fake.log.length).toBe(2);
  });

  test("resuming gives up after maxResumes, and never on a refusal", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(1000);
    const desc = descriptorFromBytes(LAYER, data);
    fake.putBlob(data);
    for (let i = 0; i < 3; i++) fake.intercept((req) => (req.method === "GET" ? new Response(failingStream(data.slice(0, 10), econnreset())) : undefined));
    const e = await fakeRepository(fake, { maxResumes: 2 }).fetch(desc).then(readStream).catch((x) => x);
    expect(e).toBeInstanceOf(KitError);
    expect(e.message).toBe(`Download of ${desc.digest} failed after 2 resumed attempts: ECONNRESET: The socket connection was closed unexpectedly`);

    const fake2 = new FakeRegistry();
    fake2.putBlob(data);
    fake2.intercept((req) => (req.method === "GET" ? new Response(failingStream(data.slice(0, 10), econnreset())) : undefined));
    fake2.intercept(() => Response.json({ errors: [{ code: "DENIED", message: "gone" }] }, { status: 403 }));
    const e2 = await fakeRepository(fake2).fetch(desc).then(readStream).catch((x) => x);
    expect(e2).toBeInstanceOf(RegistryError);
    expect(fake2.log.length).toBe(2);
  });
});

describe("uploads", () => {
  const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

  test("chunked: PATCH with Content-Range per chunk, following Location, then PUT ?digest= with no body", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(25);
    const desc = descriptorFromBytes(LAYER, data);
    await fakeRepository(fake, { chunkSize: 10, bufferLimit: 0 }).push(desc, chunked(data, 7));
    const up = fake.log.filter((r) => r.url.pathname.includes("/uploads/"));
    expect(up.map((r) => [r.method, r.headers.get("content-range"), r.bodySize])).toEqual([
      ["POST", null, 0],
      ["PATCH", "0-9", 10],
      ["PATCH", "10-19", 10],
      ["PATCH", "20-24", 5],
      ["PUT", null, 0],
    ]);
    expect(up[2]!.url.search).toBe("?_state=p10");
    expect(up[4]!.url.searchParams.get("digest")).toBe(desc.digest);
    expect(fake.blobs.get(desc.digest)).toEqual(data);
  });

  test("a streamed blob with a byte too many never reaches the registry complete", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(21);
    const desc = descriptorFromBytes(LAYER, data);
    const longer = new Uint8Array(22);
    longer.set(data);
    const e = await fakeRepository(fake, { bufferLimit: 0 }).push(desc, chunked(longer, 21)).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toBe(`Content of ${desc.digest} is larger than expected: more than 21 bytes`);
    expect(fake.blobs.has(desc.digest)).toBe(false);
    const put = fake.log.find((r) => r.method === "PUT");
    expect(put === undefined || put.bodySize < 21).toBe(true);
  });

  test("a body already verified upstream is checked once, and its last bytes still wait for its end", async () => {
    const data = patternBytes(21);
    const desc = descriptorFromBytes(LAYER, data);
    const wrong = data.slice();
    wrong[3] = wrong[3]! ^ 0xff;
    const fake = new FakeRegistry();
    const e = await fakeRepository(fake, { bufferLimit: 0 }).push(desc, verified(chunked(wrong), desc)).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(fake.blobs.has(desc.digest)).toBe(false);
    // a source that fails its check at the end: the registry never receives all of it
    const fake2 = new FakeRegistry();
    const bad = new IntegrityError("the source's check failed");
    const e2 = await fakeRepository(fake2, { bufferLimit: 0 }).push(desc, verified(failingStream(data, bad), desc)).catch((x) => x);
    expect(e2).toBe(bad);
    expect(fake2.blobs.has(desc.digest)).toBe(false);
    for (const f of [fake, fake2]) {
      const put = f.log.find((r) => r.method === "PUT");
      expect(put === undefined || put.bodySize < 21).toBe(true);
    }
  });

  test("GHCR, GAR, GCR and ECR always get one PUT, whatever the size", async () => {
    for (const host of ["ghcr.io", "europe-docker.pkg.dev", "eu.gcr.io", "1.dkr.ecr.us-east-1.amazonaws.com"]) {
      const fake = new FakeRegistry();
      const data = patternBytes(25);
      await fakeRepository(fake, { chunkSize: 10, bufferLimit: 0 }, host).push(descriptorFromBytes(LAYER, data), chunked(data));
      expect(requests(fake).filter((r) => r.includes("/uploads/"))).toEqual(["POST /v2/org/model/blobs/uploads/", expect.stringMatching(/^PUT /)]);
    }
  });

  test("a blob already there is uploaded without asking first (the copy asks), and the registry keeps it", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(10);
    fake.putBlob(data);
    await fakeRepository(fake).push(descriptorFromBytes(LAYER, data), chunked(data));
    expect(requests(fake).filter((r) => r.startsWith("HEAD"))).toEqual([]);
    expect(fake.blobs.get(sha(data))).toEqual(data);
  });

  test("a lost upload session is abandoned and the upload starts over in a fresh one", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(300);
    const desc = descriptorFromBytes(LAYER, data);
    fake.intercept((req, url) => (req.method === "PUT" && url.pathname.includes("/uploads/") ? Response.json({ errors: [{ code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown" }] }, { status: 404 }) : undefined));
    const log = memoryLogger("debug");
    await fakeRepository(fake, { logger: log }).push(desc, chunked(data));
    expect(requests(fake).filter((r) => !r.startsWith("HEAD")).map((r) => r.replace(/uploads\/u\d+/, "uploads/<id>"))).toEqual([
      "POST /v2/org/model/blobs/uploads/",
      "PUT /v2/org/model/blobs/uploads/<id>",
      "DELETE /v2/org/model/blobs/uploads/<id>",
      "POST /v2/org/model/blobs/uploads/",
      "PUT /v2/org/model/blobs/uploads/<id>",
    ]);
    expect(fake.blobs.get(desc.digest)).toEqual(data);
    expect(log.text()).toContain(`[DEBUG] Upload of ${desc.digest} failed (blob_upload_unknown: blob upload unknown); retrying in a new session in `);
  });

  test("a streamed upload that fails transiently is a TransientError (the copy sends it again); a buffered one is retried here", async () => {
    const data = patternBytes(300);
    const desc = descriptorFromBytes(LAYER, data);
    const fail = (fake: FakeRegistry) => fake.intercept((req) => (req.method === "PUT" ? new Response("busy", { status: 503 }) : undefined));

    const fake = new FakeRegistry();
    fail(fake);
    const e = await fakeRepository(fake, { bufferLimit: 0 }).push(desc, chunked(data)).catch((x) => x);
    expect(e).toBeInstanceOf(TransientError);
    expect(e.cause).toBeInstanceOf(RegistryError);
    expect(e.cause.message).toBe("Service Unavailable (additional info: busy)");
    expect(e.retryAfterMs).toBeGreaterThan(0);
    expect(fake.blobs.has(desc.digest)).toBe(false);
    // the abandoned session was deleted
    expect(requests(fake).some((r) => r.startsWith("DELETE /v2/org/model/blobs/uploads/"))).toBe(true);

    const fake2 = new FakeRegistry();
    fail(fake2);
    await fakeRepository(fake2).push(desc, chunked(data));
    expect(fake2.blobs.get(desc.digest)).toEqual(data);
  });

  test("gives up after uploadAttempts sessions", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(30);
    for (let i = 0; i < 12; i++) fake.intercept((req) => (req.method === "PUT" ? new Response(null, { status: 500 }) : undefined));
    const e = await fakeRepository(fake, { uploadAttempts: 2 }).push(descriptorFromBytes(LAYER, data), chunked(data)).catch((x) => x);
    expect(e).toBeInstanceOf(RegistryError);
    expect(fake.log.filter((r) => r.method === "POST").length).toBe(2);
  });

  test("mount: a blob in another repository of the registry is mounted, not uploaded; a declined mount uploads what getContent gives", async () => {
    const fake = new FakeRegistry();
    const data = patternBytes(50);
    fake.putBlob(data);
    fake.blobs.delete(sha(data)); // not visible to HEAD…
    fake.intercept((req, url) => {
      if (url.searchParams.get("mount")) {
        expect(url.searchParams.get("from")).toBe("org/base");
        return new Response(null, { status: 201 });
      }
      return undefined;
    });
    let asked = 0;
    const desc = descriptorFromBytes(LAYER, data);
    await fakeRepository(fake).mount(desc, "org/base", async () => (asked++, chunked(data)));
    expect(asked).toBe(0);
    expect(requests(fake)).toEqual(["POST /v2/org/model/blobs/uploads/"]);

    const fake2 = new FakeRegistry(); // knows nothing to mount: answers with an upload session
    await fakeRepository(fake2).mount(desc, "org/base", async () => (asked++, chunked(data)));
    expect(asked).toBe(1);
    expect(fake2.blobs.get(desc.digest)).toEqual(data);
  });

  test("a manifest the registry stores under another digest is an error", async () => {
    const fake = new FakeRegistry();
    const m = enc.encode('{"schemaVersion":2}');
    const desc = descriptorFromBytes(OCI_MANIFEST, m);
    fake.intercept((req) => (req.method === "PUT" ? new Response(null, { status: 201, headers: { "docker-content-digest": "sha256:" + "1".repeat(64) } }) : undefined));
    const e = await fakeRepository(fake).push(desc, chunked(m)).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(fake.log[0]!.headers.get("content-type")).toBe(OCI_MANIFEST);
  });
});

describe("delete and untag", () => {
  test("DELETE by digest and by tag; 404 is NotFoundError; 405 keeps its status", async () => {
    const fake = new FakeRegistry();
    const m = enc.encode("{}");
    const d = fake.putManifest("org/model", OCI_MANIFEST, m, "v1");
    const desc: Descriptor = { mediaType: OCI_MANIFEST, digest: d as Descriptor["digest"], size: m.byteLength };
    const repo = fakeRepository(fake);
    await repo.untag("v1");
    expect(fake.tags.get("org/model")?.has("v1")).toBe(false);
    await repo.delete(desc);
    expect(await repo.delete(desc).catch((e) => e)).toBeInstanceOf(NotFoundError);
    fake.intercept(() => Response.json({ errors: [{ code: "UNSUPPORTED", message: "The operation is unsupported." }] }, { status: 405 }));
    const e = await repo.delete(desc).catch((x) => x);
    expect([e.status, e.message]).toEqual([405, "unsupported: The operation is unsupported."]);
  });
});
