/**
 * Push and pull are the generic copy between a registry and local storage: what the registry and
 * local storage can do beyond the core interfaces (range reads + resumable partial files, mounts,
 * push by reference, transient upload failures) is used by the copy through type guards.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { descriptorFromBytes, type Descriptor } from "../../src/oci/descriptor.ts";
import { digestHex } from "../../src/oci/digest.ts";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { copy, copyGraph } from "../../src/store/copy.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { LocalRepository } from "../../src/store/local.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { IntegrityError, NotFoundError } from "../../src/util/errors.ts";
import { tempDir } from "../helpers/kit.ts";
import { chunked, patternBytes } from "../helpers/streams.ts";
import { FakeRegistry, fakeRepository } from "./fake-registry.ts";

const LAYER = "application/vnd.kitops.modelkit.model.v1.tar";
const CONFIG = "application/vnd.kitops.modelkit.config.v1+json";

function manifestOf(config: Descriptor, layers: Descriptor[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
}

test("pull: a partial file left by an earlier run is continued with a Range request", async () => {
  const layout = await LayoutStore.open(tempDir("kit-transfer-"));
  const fake = new FakeRegistry();
  const data = patternBytes(50_000);
  const desc = descriptorFromBytes(LAYER, data);
  fake.putBlob(data);
  mkdirSync(layout.ingestDir, { recursive: true });
  writeFileSync(path.join(layout.ingestDir, digestHex(desc.digest)), data.slice(0, 20_000));
  const local = new LocalRepository(layout, "reg.test/org/model");
  await copyGraph(fakeRepository(fake), local, desc);
  expect(fake.log.map((r) => `${r.method} ${r.headers.get("range")}`)).toEqual(["GET bytes=20000-"]);
  expect(new Uint8Array(readFileSync(layout.blobPath(desc.digest)))).toEqual(new Uint8Array(data));
  expect(existsSync(path.join(layout.ingestDir, digestHex(desc.digest)))).toBe(false);
  // present now: nothing is asked again
  fake.log.length = 0;
  await copyGraph(fakeRepository(fake), local, desc);
  expect(fake.log).toEqual([]);
});

test("pull: a failed download keeps what arrived for the next run", async () => {
  const layout = await LayoutStore.open(tempDir("kit-transfer-"));
  const fake = new FakeRegistry();
  const data = patternBytes(8000);
  const desc = descriptorFromBytes(LAYER, data);
  fake.putBlob(data);
  let sent = false;
  fake.intercept((req) => req.method === "GET" && req.url.includes(desc.digest) ? new Response(new ReadableStream({
    pull(ctl) {
      if (!sent) {
        sent = true;
        return ctl.enqueue(data.slice(0, 3000));
      }
      ctl.error(new TypeError("ECONNRESET"));
    },
  })) : undefined);
  fake.intercept((req) => (req.headers.get("range") ? new Response("gone", { status: 404 }) : undefined));
  const local = new LocalRepository(layout, "reg.test/org/model");
  const e = await copyGraph(fakeRepository(fake), local, desc).catch((x) => x);
  expect(e.cause).toBeInstanceOf(NotFoundError);
  expect(readFileSync(path.join(layout.ingestDir, digestHex(desc.digest))).byteLength).toBe(3000);
  fake.log.length = 0;
  await copyGraph(fakeRepository(fake), local, desc);
  expect(fake.log.map((r) => r.headers.get("range"))).toEqual(["bytes=3000-"]);
  expect(new Uint8Array(readFileSync(layout.blobPath(desc.digest)))).toEqual(new Uint8Array(data));
});

test("push: a streamed upload that fails transiently is sent again from a fresh fetch; the root is stored and tagged in one PUT", async () => {
  const fake = new FakeRegistry();
  const remote = fakeRepository(fake);
  const src = new MemoryStore();
  const layer = patternBytes(5_000_000); // above the 4 MiB buffer limit: streamed
  const ldesc = descriptorFromBytes(LAYER, layer);
  const config = new TextEncoder().encode("{}");
  const cdesc = descriptorFromBytes(CONFIG, config);
  const m = manifestOf(cdesc, [ldesc]);
  const mdesc = descriptorFromBytes(OCI_MANIFEST, m);
  await src.push(ldesc, chunked(layer, 1 << 20));
  await src.push(cdesc, chunked(config));
  await src.push(mdesc, chunked(m));
  await src.tag(mdesc, "v1");
  let fetches = 0;
  const fetch = src.fetch.bind(src);
  src.fetch = (d, o) => (d.digest === ldesc.digest && fetches++, fetch(d, o));
  fake.intercept((req) => (req.method === "PUT" && req.url.includes("/uploads/") && req.url.includes(digestHex(ldesc.digest)) ? new Response(null, { status: 502 }) : undefined));
  await copy(src, "v1", remote, "v1");
  expect(fetches).toBe(2);
  expect(fake.blobs.get(ldesc.digest)?.byteLength).toBe(layer.byteLength);
  // no GET (the tag is not a download-and-PUT) and one manifest PUT, straight to the tag
  expect(fake.log.filter((r) => r.method === "GET")).toEqual([]);
  expect(fake.log.filter((r) => r.method === "PUT" && r.url.pathname.includes("/manifests/")).map((r) => r.url.pathname)).toEqual(["/v2/org/model/manifests/v1"]);
  expect(fake.tags.get("org/model")?.get("v1")).toBe(mdesc.digest);
});

test("push: a source handing out damaged bytes is caught before the registry completes the upload", async () => {
  const fake = new FakeRegistry();
  const layer = patternBytes(300);
  const ldesc = descriptorFromBytes(LAYER, layer);
  const damaged = layer.slice();
  damaged[0] = damaged[0]! ^ 0xff;
  const src = { exists: async () => true, fetch: async () => chunked(damaged) }; // breaks the Fetcher contract
  const e = await copyGraph(src, fakeRepository(fake, { bufferLimit: 0 }), ldesc).catch((x) => x);
  expect(e.cause).toBeInstanceOf(IntegrityError);
  expect(e.message).toContain(`Content of ${ldesc.digest} does not match its digest: got sha256:`);
  expect(fake.blobs.has(ldesc.digest)).toBe(false);
});

test("push: a blob the copy found missing is uploaded with one HEAD, one POST and one PUT", async () => {
  const fake = new FakeRegistry();
  const layer = patternBytes(300);
  const ldesc = descriptorFromBytes(LAYER, layer);
  const src = new MemoryStore();
  await src.push(ldesc, chunked(layer));
  await copyGraph(src, fakeRepository(fake), ldesc);
  expect(fake.log.map((r) => `${r.method} ${r.url.pathname.replace(/uploads\/u\d+/, "uploads/<id>")}`)).toEqual([
    `HEAD /v2/org/model/blobs/${ldesc.digest}`,
    "POST /v2/org/model/blobs/uploads/",
    "PUT /v2/org/model/blobs/uploads/<id>",
  ]);
  expect(fake.blobs.get(ldesc.digest)).toEqual(layer);
});
