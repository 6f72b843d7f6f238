import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { EMPTY_SHARED_INDEX_JSON, LayoutStore } from "../../src/store/layout.ts";
import { LocalRepository } from "../../src/store/local.ts";
import { CancelledError, IntegrityError, KitError, NotFoundError } from "../../src/util/errors.ts";
import { ownedTempName } from "../../src/util/fs.ts";
import { deadPid } from "../helpers/kit.ts";
import { chunked, failingStream, readStream } from "../helpers/streams.ts";
import { tempDir } from "../helpers/kit.ts";
import { describeStorage, sampleGraph, stallingStream } from "./conformance.ts";

describeStorage("LayoutStore", async () => ({ target: await LayoutStore.open(tempDir("kit-layout-conf-")) }));

let dir: string;
let storage: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-layout-"));
  storage = path.join(dir, "storage");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const read = (p: string) => fs.readFileSync(p, "utf8");
const mode = (p: string) => fs.statSync(p).mode & 0o777;
const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p).sort() : []);

describe("LayoutStore.open", () => {
  test("creates oci-layout and index.json exactly as oras", async () => {
    await LayoutStore.open(storage);
    expect(read(path.join(storage, "oci-layout"))).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(read(path.join(storage, "index.json"))).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
    );
    expect(EMPTY_SHARED_INDEX_JSON).toBe(read(path.join(storage, "index.json")));
    expect(fs.statSync(path.join(storage, "blobs")).isDirectory()).toBe(true);
    // Opening again leaves existing files alone.
    fs.writeFileSync(path.join(storage, "index.json"), '{"schemaVersion":2,"manifests":null}');
    await LayoutStore.open(storage);
    expect(read(path.join(storage, "index.json"))).toBe('{"schemaVersion":2,"manifests":null}');
    expect(ls(storage)).toEqual(["blobs", "index.json", "oci-layout"]);
  });

  test("refuses an unknown layout version", async () => {
    fs.mkdirSync(storage);
    fs.writeFileSync(path.join(storage, "oci-layout"), '{"imageLayoutVersion":"2.0.0"}');
    const e = await LayoutStore.open(storage).catch((x) => x);
    expect(e).toBeInstanceOf(KitError);
    expect(e.message).toBe("invalid OCI Image Layout: unsupported version");
  });
});

describe("LayoutStore blobs", () => {
  test("pushed blobs are read-only, go through ingest/ and leave nothing there", async () => {
    const s = await LayoutStore.open(storage);
    const g = sampleGraph();
    await s.push(g.layer1Desc, chunked(g.layer1));
    const p = s.blobPath(g.layer1Desc.digest);
    expect(p).toBe(path.join(storage, "blobs", "sha256", g.layer1Desc.digest.slice(7)));
    expect(mode(p)).toBe(0o444);
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
    // A blob push does not touch index.json; a manifest push records a plain descriptor.
    expect(read(s.indexPath)).toBe(EMPTY_SHARED_INDEX_JSON);
    await s.push({ ...g.manifestDesc, annotations: { a: "b" } }, chunked(g.manifest));
    expect(read(s.indexPath)).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"${OCI_MANIFEST}","digest":"${g.manifestDesc.digest}","size":${g.manifestDesc.size}}]}`,
    );
  });

  test("a damaged blob fails its fetch with IntegrityError and is removed, so it can be fetched again", async () => {
    const s = await LayoutStore.open(storage);
    const g = sampleGraph();
    await s.push(g.layer2Desc, chunked(g.layer2));
    const p = s.blobPath(g.layer2Desc.digest);
    fs.chmodSync(p, 0o644);
    const bad = new Uint8Array(g.layer2);
    bad[0] = bad[0]! ^ 1;
    fs.writeFileSync(p, bad);
    expect(await s.checkBlob(g.layer2Desc.digest)).toEqual({ problem: "damaged", reason: `its content hashes to ${digestOf(bad)}` });
    const e = await s.fetch(g.layer2Desc).then(readStream).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toBe(`Content of ${g.layer2Desc.digest} does not match its digest: got ${digestOf(bad)}; the damaged blob was removed from local storage`);
    expect(fs.existsSync(p)).toBe(false);
    expect(await s.checkBlob(g.layer2Desc.digest)).toEqual({ problem: "missing", reason: "the blob file is missing" });
    await s.push(g.layer2Desc, chunked(g.layer2));
    expect(await s.fetch(g.layer2Desc).then(readStream)).toEqual(g.layer2);
  });

  test("a sound blob fetched with a wrong size fails but stays stored", async () => {
    const s = await LayoutStore.open(storage);
    const g = sampleGraph();
    await s.push(g.layer2Desc, chunked(g.layer2));
    const e = await s.fetch({ ...g.layer2Desc, size: g.layer2Desc.size + 1 }).then(readStream).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toContain("is truncated");
    expect(await s.checkBlob(g.layer2Desc.digest)).toBeUndefined();
    expect(await s.checkBlob(g.layer2Desc.digest, { size: 1 })).toEqual({ problem: "damaged", reason: `it has ${g.layer2.length} bytes, expected 1` });
  });

  test("a large blob is hashed on a worker thread as it is read: damaged, short or long, it fails with IntegrityError", async () => {
    const s = await LayoutStore.open(storage);
    const data = new Uint8Array(9 * 1024 * 1024 + 3).map((_, i) => (i * 7) & 0xff);
    const d = descriptorFromBytes("application/octet-stream", data);
    await s.push(d, chunked(data, 1 << 20));
    expect(Buffer.compare(await readStream(await s.fetch(d)), data)).toBe(0);
    const p = s.blobPath(d.digest);
    fs.chmodSync(p, 0o644);
    const bad = new Uint8Array(data);
    bad[bad.length - 1]! ^= 1;
    fs.writeFileSync(p, bad);
    let e = await s.fetch(d).then(readStream).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    // (the store then removes the damaged blob)
    expect(e.message).toStartWith(`Content of ${d.digest} does not match its digest: got ${digestOf(bad)}`);
    fs.writeFileSync(p, data.subarray(0, data.length - 1));
    e = await s.fetch(d).then(readStream).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toStartWith(`Content of ${d.digest} is truncated: got ${data.length - 1} of ${data.length} bytes`);
    fs.writeFileSync(p, Buffer.concat([data, new Uint8Array(1)]));
    e = await s.fetch(d).then(readStream).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toStartWith(`Content of ${d.digest} is larger than expected: more than ${data.length} bytes`);
  });

  test("descriptors with unusable digests are refused before touching the disk", async () => {
    const s = await LayoutStore.open(storage);
    const e = await s.push({ mediaType: "x", digest: "sha256:../../etc" as `sha256:${string}`, size: 1 }, chunked(new Uint8Array(1)))
      .catch((x) => x);
    expect(e).toBeInstanceOf(KitError);
    expect(e.message).toBe('Invalid descriptor digest "sha256:../../etc": invalid checksum digest length');
  });

  test("a manifest push that fails mid-stream leaves no blob, no index entry, no temp file", async () => {
    const repo = await LocalRepository.open(storage, "localhost/x");
    const g = sampleGraph();
    const e = await repo.push(g.manifestDesc, failingStream(g.manifest.slice(0, 20))).catch((x) => x);
    expect(e.message).toBe("connection reset");
    expect(ls(path.join(storage, "blobs", "sha256"))).toEqual([]);
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
    expect(read(path.join(storage, "index.json"))).toBe(EMPTY_SHARED_INDEX_JSON);
    expect(fs.existsSync(repo.indexPath)).toBe(false);

    const ctl = new AbortController();
    const s = stallingStream(g.manifest.slice(0, 20));
    const p = repo.push(g.manifestDesc, s.stream, { signal: ctl.signal }).catch((x) => x);
    await s.stalled;
    ctl.abort();
    expect(await p).toBeInstanceOf(CancelledError);
    expect(ls(path.join(storage, "blobs", "sha256"))).toEqual([]);
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
    expect(read(path.join(storage, "index.json"))).toBe(EMPTY_SHARED_INDEX_JSON);
    expect(fs.existsSync(repo.indexPath)).toBe(false);
  });
});

describe("LayoutStore.ingest", () => {
  test("hashes while writing and renames into blobs/ (mode 0600 by default)", async () => {
    const s = await LayoutStore.open(storage);
    const data = new TextEncoder().encode("some tar bytes ".repeat(1000));
    let seen = 0;
    const r = await s.ingest(chunked(data, 1000), { onBytes: (n) => (seen += n) });
    expect(r).toEqual({ digest: digestOf(data), size: data.byteLength, existed: false });
    expect(seen).toBe(data.byteLength);
    expect(mode(s.blobPath(r.digest))).toBe(0o600);
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
    // The same content again: one blob, no leftovers.
    const again = await s.ingest(chunked(data), { mode: 0o444 });
    expect(again).toEqual({ ...r, existed: true });
    expect(ls(path.join(storage, "blobs", "sha256"))).toEqual([r.digest.slice(7)]);
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
  });

  test("a failed or aborted ingest leaves nothing", async () => {
    const s = await LayoutStore.open(storage);
    expect((await s.ingest(failingStream(new Uint8Array(10))).catch((x) => x)).message).toBe("connection reset");
    const ctl = new AbortController();
    const st = stallingStream(new Uint8Array(10));
    const p = s.ingest(st.stream, { signal: ctl.signal }).catch((x) => x);
    await st.stalled;
    ctl.abort();
    expect(await p).toBeInstanceOf(CancelledError);
    expect(ls(path.join(storage, "blobs", "sha256"))).toEqual([]);
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
  });
});

describe("LayoutStore.openPartial (resumable downloads)", () => {
  const data = new TextEncoder().encode("0123456789abcdef".repeat(64)); // 1024 bytes
  const desc = descriptorFromBytes("application/octet-stream", data);
  const hex = desc.digest.slice(7);

  test("keeps what arrived, resumes from there, commits with mode 0600", async () => {
    const s = await LayoutStore.open(storage);
    fs.mkdirSync(path.join(storage, "ingest"), { recursive: true });
    fs.writeFileSync(path.join(storage, "ingest", "a".repeat(64)), "someone else's partial");

    const p1 = await s.openPartial(desc);
    expect([p1.offset, p1.resumable]).toEqual([0, true]);
    const e = await p1.write(failingStream(data.slice(0, 300))).catch((x) => x);
    expect(e.message).toBe("connection reset");
    expect(fs.statSync(path.join(storage, "ingest", hex)).size).toBe(300);
    expect(ls(path.join(storage, "ingest"))).toEqual([hex, "a".repeat(64)]); // lock released

    const p2 = await s.openPartial(desc);
    expect(p2.offset).toBe(300);
    let n = 0;
    await p2.write(chunked(data.slice(300), 100), { onBytes: (k) => (n += k) });
    expect(n).toBe(724);
    expect(fs.readFileSync(s.blobPath(desc.digest))).toEqual(Buffer.from(data));
    expect(mode(s.blobPath(desc.digest))).toBe(0o600);
    expect(ls(path.join(storage, "ingest"))).toEqual(["a".repeat(64)]);
    expect(await s.openPartial(desc).catch((x) => x)).toBeInstanceOf(Error); // already stored
  });

  test("a body that ends early keeps the partial file and says so", async () => {
    const s = await LayoutStore.open(storage);
    const p = await s.openPartial(desc);
    const e = await p.write(chunked(data.slice(0, 1000))).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toBe(`Content of ${desc.digest} is truncated: got 1000 of 1024 bytes`);
    const again = await s.openPartial(desc);
    expect(again.offset).toBe(1000);
    await again.close();
  });

  test("wrong bytes are thrown away with kit's message", async () => {
    const s = await LayoutStore.open(storage);
    fs.mkdirSync(path.join(storage, "ingest"), { recursive: true });
    fs.writeFileSync(path.join(storage, "ingest", hex), "garbage!"); // a bad earlier partial
    const p = await s.openPartial(desc);
    expect(p.offset).toBe(8);
    const e = await p.write(chunked(data.slice(8))).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toBe("downloaded file hash does not match descriptor");
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
    expect(fs.existsSync(s.blobPath(desc.digest))).toBe(false);
    // Too many bytes fail the same way.
    const q = await s.openPartial(desc);
    const big = new Uint8Array(2000);
    big.set(data);
    expect((await q.write(chunked(big, 500)).catch((x) => x)).message).toBe("downloaded file hash does not match descriptor");
  });

  test("restart drops the partial bytes when the server sends everything again", async () => {
    const s = await LayoutStore.open(storage);
    fs.mkdirSync(path.join(storage, "ingest"), { recursive: true });
    fs.writeFileSync(path.join(storage, "ingest", hex), data.slice(0, 500));
    const p = await s.openPartial(desc);
    expect(p.offset).toBe(500);
    await p.restart();
    expect(p.offset).toBe(0);
    await p.write(chunked(data, 256));
    expect(fs.readFileSync(s.blobPath(desc.digest))).toEqual(Buffer.from(data));
  });

  test("a second download of the same blob gets a private file from 0", async () => {
    const s = await LayoutStore.open(storage);
    fs.mkdirSync(path.join(storage, "ingest"), { recursive: true });
    fs.writeFileSync(path.join(storage, "ingest", hex), data.slice(0, 100));
    const first = await s.openPartial(desc);
    const second = await s.openPartial(desc);
    expect([first.resumable, first.offset]).toEqual([true, 100]);
    expect([second.resumable, second.offset]).toEqual([false, 0]);
    await second.write(chunked(data));
    expect(fs.existsSync(s.blobPath(desc.digest))).toBe(true);
    await first.close();
    expect(ls(path.join(storage, "ingest"))).toEqual([hex]);
  });

  test("a partial file longer than the blob is dropped: the download starts again at 0", async () => {
    const s = await LayoutStore.open(storage);
    fs.mkdirSync(path.join(storage, "ingest"), { recursive: true });
    fs.writeFileSync(path.join(storage, "ingest", hex), new Uint8Array(data.byteLength + 1));
    const p = await s.openPartial(desc);
    expect(p.offset).toBe(0);
    expect(fs.statSync(path.join(storage, "ingest", hex)).size).toBe(0);
    await p.write(chunked(data, 256));
    expect(fs.readFileSync(s.blobPath(desc.digest))).toEqual(Buffer.from(data));
  });

  test("discard removes the partial file and its lock", async () => {
    const s = await LayoutStore.open(storage);
    const p = await s.openPartial(desc);
    expect((await p.write(failingStream(data.slice(0, 100))).catch((e) => e)).message).toBe("connection reset");
    const again = await s.openPartial(desc);
    expect(again.offset).toBe(100);
    await again.discard();
    expect(ls(path.join(storage, "ingest"))).toEqual([]);
    expect(fs.existsSync(s.blobPath(desc.digest))).toBe(false);
  });

  test("pruneIngest removes old temp files only", async () => {
    const s = await LayoutStore.open(storage);
    const ing = path.join(storage, "ingest");
    fs.mkdirSync(ing, { recursive: true });
    for (const f of [hex, `${hex}_0123`, "ingest_abcd", `${"b".repeat(64)}_new`]) fs.writeFileSync(path.join(ing, f), "x");
    const old = new Date(Date.now() - 3 * 24 * 3600_000);
    for (const f of [hex, `${hex}_0123`, "ingest_abcd"]) fs.utimesSync(path.join(ing, f), old, old);
    expect(await s.pruneIngest()).toBe(2);
    expect(ls(ing)).toEqual([`${"b".repeat(64)}_new`, hex].sort());
  });

  test("what a killed process left is pruned before the next write: its temp files, locks, a stored blob's partial file", async () => {
    const s = await LayoutStore.open(storage);
    const ing = path.join(storage, "ingest");
    fs.mkdirSync(ing, { recursive: true });
    const dead = deadPid();
    const deadName = (base: string) => ownedTempName(base).replace(`.kit-${process.pid}-`, `.kit-${dead}-`);
    const deadLock = JSON.stringify({ pid: dead, host: os.hostname(), token: "gone" });
    const g = sampleGraph();
    const storedHex = g.configDesc.digest.slice(7);
    fs.mkdirSync(path.join(storage, "blobs", "sha256"), { recursive: true });
    fs.writeFileSync(s.blobPath(g.configDesc.digest), g.config);
    const leftovers = [deadName("ingest"), deadName(hex), `${hex}.lock`, storedHex];
    for (const f of leftovers) fs.writeFileSync(path.join(ing, f), f.endsWith(".lock") ? deadLock : "x");
    fs.writeFileSync(path.join(storage, deadName("index.json")), "{");
    fs.writeFileSync(s.lockPath, deadLock);
    const live = [ownedTempName("ingest"), hex]; // a running process's file; a resumable partial download
    for (const f of live) fs.writeFileSync(path.join(ing, f), "x");
    // The next write (here a pack's ingest) prunes first.
    await s.ingest(chunked(new TextEncoder().encode("new layer")));
    expect(ls(ing)).toEqual(live.sort());
    expect(fs.readdirSync(storage).filter((f) => f.startsWith("."))).toEqual([]);
  });
});

describe("LayoutStore index.json and garbage collection", () => {
  test("read-modify-write keeps other tools' entries, in Go field order", async () => {
    fs.mkdirSync(storage, { recursive: true });
    const foreign =
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
      `{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:${"c".repeat(64)}","size":5,` +
      `"annotations":{"z":"1","org.opencontainers.image.ref.name":"latest"},"platform":{"architecture":"amd64","os":"linux"},"artifactType":"a/b"}],` +
      `"annotations":{"k":"v"}}`;
    fs.writeFileSync(path.join(storage, "index.json"), foreign);
    const s = await LayoutStore.open(storage);
    const g = sampleGraph();
    await s.push(g.manifestDesc, chunked(g.manifest));
    expect(read(s.indexPath)).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
        `{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:${"c".repeat(64)}","size":5,` +
        `"annotations":{"org.opencontainers.image.ref.name":"latest","z":"1"},"platform":{"architecture":"amd64","os":"linux"},"artifactType":"a/b"},` +
        `{"mediaType":"${OCI_MANIFEST}","digest":"${g.manifestDesc.digest}","size":${g.manifestDesc.size}}],` +
        `"annotations":{"k":"v"}}`,
    );
  });

  test("deleting a manifest also deletes manifests whose subject it is", async () => {
    const s = await LayoutStore.open(storage);
    const g = sampleGraph();
    for (const [d, x] of [[g.configDesc, g.config], [g.layer1Desc, g.layer1], [g.layer2Desc, g.layer2], [g.manifestDesc, g.manifest]] as const) {
      await s.push(d, chunked(x));
    }
    const sigConfig = new TextEncoder().encode("{}");
    const sigConfigDesc = descriptorFromBytes("application/vnd.oci.empty.v1+json", sigConfig);
    const sig = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: sigConfigDesc, layers: [], subject: g.manifestDesc }));
    const sigDesc = descriptorFromBytes(OCI_MANIFEST, sig);
    await s.push(sigConfigDesc, chunked(sigConfig));
    await s.push(sigDesc, chunked(sig));
    const r = await s.delete(g.manifestDesc);
    expect(r.deleted.map((d) => d.digest).sort()).toEqual(
      [g.manifestDesc, sigDesc, g.configDesc, g.layer1Desc, g.layer2Desc, sigConfigDesc].map((d) => d.digest).sort(),
    );
    expect(ls(path.join(storage, "blobs", "sha256"))).toEqual([]);
    expect(JSON.parse(read(s.indexPath)).manifests).toBeNull();
  });

  test("deleting a missing blob is NotFoundError; missing successors are reported", async () => {
    const s = await LayoutStore.open(storage);
    const g = sampleGraph();
    expect(await s.delete(g.layer1Desc).catch((x) => x)).toBeInstanceOf(NotFoundError);
    await s.push(g.configDesc, chunked(g.config));
    await s.push(g.manifestDesc, chunked(g.manifest));
    const r = await s.delete(g.manifestDesc);
    expect(r.deleted.map((d) => d.digest)).toEqual([g.manifestDesc.digest, g.configDesc.digest]);
    expect(r.missing.map((d) => d.digest)).toEqual([g.layer1Desc.digest, g.layer2Desc.digest]);
  });
});
