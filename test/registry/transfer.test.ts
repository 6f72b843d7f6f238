import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { digestHex } from "../../src/oci/digest.ts";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { downloadBlob, downloadBlobs, PullSource, pushTarget } from "../../src/registry/transfer.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { IntegrityError, NotFoundError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { tempDir } from "../helpers/kit.ts";
import { chunked, patternBytes, readStream } from "../helpers/streams.ts";
import { FakeRegistry, fakeRepository } from "./fake-registry.ts";

const LAYER = "application/vnd.kitops.modelkit.model.v1.tar";

test("downloadBlob continues a partial file left by an earlier run with a Range request", async () => {
  const dir = tempDir("kit-transfer-");
  const layout = await LayoutStore.open(dir);
  const fake = new FakeRegistry();
  const data = patternBytes(50_000);
  const desc = descriptorFromBytes(LAYER, data);
  fake.putBlob(data);
  mkdirSync(layout.ingestDir, { recursive: true });
  writeFileSync(path.join(layout.ingestDir, digestHex(desc.digest)), data.slice(0, 20_000));
  const log = memoryLogger("debug");
  expect(await downloadBlob(layout, fakeRepository(fake), desc, { logger: log })).toBe(true);
  expect(fake.log.map((r) => r.headers.get("range"))).toEqual(["bytes=20000-"]);
  expect(new Uint8Array(readFileSync(layout.blobPath(desc.digest)))).toEqual(new Uint8Array(data));
  expect(existsSync(path.join(layout.ingestDir, digestHex(desc.digest)))).toBe(false);
  expect(log.text()).toBe(`[DEBUG] Resuming download of ${desc.digest} at byte 20000 of 50000\n`);
  expect(await downloadBlob(layout, fakeRepository(fake), desc)).toBe(false);
});

test("a failed download keeps what arrived for the next run; downloadBlobs reports the first failure", async () => {
  const dir = tempDir("kit-transfer-");
  const layout = await LayoutStore.open(dir);
  const fake = new FakeRegistry();
  const data = patternBytes(8000);
  const desc = descriptorFromBytes(LAYER, data);
  const missing = descriptorFromBytes(LAYER, patternBytes(10).fill(7));
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
  const e = await downloadBlobs(layout, fakeRepository(fake), [desc, missing, desc], { concurrency: 1 }).catch((x) => x);
  expect(e).toBeInstanceOf(NotFoundError);
  expect(readFileSync(path.join(layout.ingestDir, digestHex(desc.digest))).byteLength).toBe(3000);
  await downloadBlobs(layout, fakeRepository(fake), [desc]);
  expect(new Uint8Array(readFileSync(layout.blobPath(desc.digest)))).toEqual(new Uint8Array(data));
});

test("pushTarget tags with the manifest it pushed (no download) and reopens the source for a retried upload", async () => {
  const fake = new FakeRegistry();
  const remote = fakeRepository(fake);
  const src = new MemoryStore();
  const layer = patternBytes(5_000_000); // above the 4 MiB buffer limit: streamed
  const ldesc = descriptorFromBytes(LAYER, layer);
  await src.push(ldesc, chunked(layer, 1 << 20));
  const m = new TextEncoder().encode('{"schemaVersion":2}');
  const mdesc = descriptorFromBytes(OCI_MANIFEST, m);
  fake.intercept((req) => (req.method === "PUT" && req.url.includes("/uploads/") ? new Response(null, { status: 502 }) : undefined));
  const t = pushTarget(remote, src);
  await t.push(ldesc, await src.fetch(ldesc));
  await t.push(mdesc, chunked(m));
  await t.tag(mdesc, "v1");
  expect(fake.blobs.get(ldesc.digest)?.byteLength).toBe(layer.byteLength);
  expect(fake.log.filter((r) => r.method === "GET")).toEqual([]);
  expect(fake.tags.get("org/model")?.get("v1")).toBe(mdesc.digest);
});

test("pushTarget: a verified push re-reads a blob from a source that does not verify through a VerifyStream", async () => {
  const fake = new FakeRegistry();
  const layer = patternBytes(300);
  const ldesc = descriptorFromBytes(LAYER, layer);
  const damaged = layer.slice();
  damaged[0] = damaged[0]! ^ 0xff;
  const src = { exists: async () => true, fetch: async () => chunked(damaged) }; // no verifiesFetch
  fake.intercept((req) => (req.method === "PUT" && req.url.includes("/uploads/") ? new Response(null, { status: 502 }) : undefined));
  const e = await pushTarget(fakeRepository(fake, { bufferLimit: 0 }), src).push(ldesc, chunked(layer), { verified: true }).catch((x) => x);
  expect(e).toBeInstanceOf(IntegrityError);
  expect(e.message).toStartWith(`Content of ${ldesc.digest} does not match its digest: got sha256:`);
  expect(fake.blobs.has(ldesc.digest)).toBe(false);
});

test("pushTarget: a blob the copy found missing is uploaded without a second HEAD", async () => {
  const fake = new FakeRegistry();
  const layer = patternBytes(300);
  const ldesc = descriptorFromBytes(LAYER, layer);
  const t = pushTarget(fakeRepository(fake), new MemoryStore());
  expect(await t.exists(ldesc)).toBe(false);
  await t.push(ldesc, chunked(layer));
  expect(fake.log.map((r) => `${r.method} ${r.url.pathname.replace(/uploads\/u\d+/, "uploads/<id>")}`)).toEqual([
    `HEAD /v2/org/model/blobs/${ldesc.digest}`,
    "POST /v2/org/model/blobs/uploads/",
    "PUT /v2/org/model/blobs/uploads/<id>",
  ]);
  expect(fake.blobs.get(ldesc.digest)).toEqual(layer);
});

test("PullSource serves a remembered manifest without asking the registry", async () => {
  const fake = new FakeRegistry();
  const m = new TextEncoder().encode("{}");
  const mdesc = descriptorFromBytes(OCI_MANIFEST, m);
  const s = new PullSource(fakeRepository(fake));
  s.remember(mdesc, m);
  expect(await readStream(await s.fetch(mdesc))).toEqual(m);
  expect(fake.log).toEqual([]);
});
