import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Descriptor, descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { OCI_INDEX, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { copy, CopyError, copyGraph } from "../../src/store/copy.ts";
import { LocalRepository } from "../../src/store/local.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { OciArchive, OciArchiveWriter } from "../../src/store/oci-archive.ts";
import { OciLayoutDir } from "../../src/store/oci-layout.ts";
import { ChunkPool } from "../../src/util/chunk-pool.ts";
import { bytesStream, type StoreOptions, type Target } from "../../src/store/target.ts";
import { CancelledError, IntegrityError, KitError, NotFoundError } from "../../src/util/errors.ts";
import { chunked, readStream } from "../helpers/streams.ts";
import { sampleGraph } from "./conformance.ts";

type Graph = ReturnType<typeof sampleGraph>;

async function seed(store: Target, g: Graph, tag?: string): Promise<void> {
  for (const d of [g.configDesc, g.layer1Desc, g.layer2Desc, g.manifestDesc]) {
    await store.push(d, chunked(g.blobs.get(d.digest)!));
  }
  if (tag) await store.tag(g.manifestDesc, tag);
}

/** Wraps a Target, counting calls per digest and recording the push order. */
class Spy implements Target {
  fetches = new Map<string, number>();
  pushes: string[] = [];
  exists_: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    readonly inner: Target,
    readonly hooks: {
      fetch?: (d: Descriptor, s: ReadableStream<Uint8Array>, o?: StoreOptions) => Promise<ReadableStream<Uint8Array>>;
      push?: (d: Descriptor) => Promise<void>;
      tag?: () => Promise<void>;
    } = {},
  ) {}
  async fetch(d: Descriptor, o?: StoreOptions) {
    this.fetches.set(d.digest, (this.fetches.get(d.digest) ?? 0) + 1);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const s = await this.inner.fetch(d, o);
      return this.hooks.fetch ? await this.hooks.fetch(d, s, o) : s;
    } finally {
      this.inFlight--;
    }
  }
  exists(d: Descriptor, o?: StoreOptions) {
    this.exists_.push(d.digest);
    return this.inner.exists(d, o);
  }
  async push(d: Descriptor, b: ReadableStream<Uint8Array>, o?: StoreOptions) {
    await this.hooks.push?.(d);
    await this.inner.push(d, b, o);
    this.pushes.push(d.digest);
  }
  resolve(r: string, o?: StoreOptions) {
    return this.inner.resolve(r, o);
  }
  async tag(d: Descriptor, r: string, o?: StoreOptions) {
    await this.hooks.tag?.();
    return this.inner.tag(d, r, o);
  }
}

describe("copy between MemoryStores", () => {
  test("copies the whole graph, children before parents, and tags the root", async () => {
    const g = sampleGraph();
    const src = new Spy(new MemoryStore());
    await seed(src, g, "v1");
    const dst = new Spy(new MemoryStore());
    const copied: string[] = [];
    const root = await copy(src, "v1", dst, "latest", {
      onCopied: (d) => copied.push(d.digest),
    });
    expect(root).toEqual(g.manifestDesc);
    expect((await dst.resolve("latest")).digest).toBe(g.manifestDesc.digest);
    expect(await dst.resolve("v1").catch((e) => e)).toBeInstanceOf(NotFoundError);
    for (const [digest, data] of g.blobs) {
      expect(await readStream(await dst.fetch({ mediaType: "x", digest: digest as Descriptor["digest"], size: data.byteLength }))).toEqual(data);
    }
    expect(dst.pushes.at(-1)).toBe(g.manifestDesc.digest);
    expect(new Set(dst.pushes)).toEqual(new Set(g.blobs.keys()));
    expect(copied.sort()).toEqual([...g.blobs.keys()].sort());
    // The manifest is fetched once (its bytes are kept for the push), every blob once.
    expect([...src.fetches.values()]).toEqual([1, 1, 1, 1]);
  });

  test("the destination reference defaults to the source one; a digest reference tags nothing", async () => {
    const g = sampleGraph();
    const src = new MemoryStore();
    await seed(src, g, "v1");
    const dst = new MemoryStore();
    await copy(src, "v1", dst);
    expect(dst.tags()).toEqual(["v1"]);
    const dst2 = new MemoryStore();
    await copy(src, g.manifestDesc.digest, dst2);
    expect(dst2.tags()).toEqual([]);
    expect((await dst2.resolve(g.manifestDesc.digest)).digest).toBe(g.manifestDesc.digest);
  });

  test("skips what the destination has, with its sub-graph, and still tags a skipped root", async () => {
    const g = sampleGraph();
    const src = new Spy(new MemoryStore());
    await seed(src, g, "v1");
    const dst = new Spy(new MemoryStore());
    await seed(dst, g);
    src.fetches.clear();
    dst.pushes = [];
    const skipped: string[] = [];
    await copy(src, "v1", dst, "v2", { onSkipped: (d) => skipped.push(d.digest) });
    expect(src.fetches.size).toBe(0);
    expect(dst.pushes).toEqual([]);
    expect(skipped).toEqual([g.manifestDesc.digest]);
    expect(dst.exists_.at(-1)).toBe(g.manifestDesc.digest);
    expect((await dst.resolve("v2")).digest).toBe(g.manifestDesc.digest);

    // Only layer1 present: everything else is fetched, layer1 is not.
    const dst2 = new Spy(new MemoryStore());
    await dst2.push(g.layer1Desc, chunked(g.layer1));
    src.fetches.clear();
    await copy(src, "v1", dst2, "v1");
    expect(src.fetches.has(g.layer1Desc.digest)).toBe(false);
    expect(src.fetches.size).toBe(3);
  });

  test("a digest listed twice is fetched and pushed once", async () => {
    const g = sampleGraph();
    const m = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      config: g.configDesc,
      layers: [g.layer1Desc, g.layer1Desc, g.layer2Desc, g.layer1Desc],
    }));
    const md = descriptorFromBytes(OCI_MANIFEST, m);
    const src = new Spy(new MemoryStore());
    await seed(src, g);
    await src.push(md, chunked(m));
    await src.tag(md, "dup");
    src.fetches.clear();
    const dst = new Spy(new MemoryStore());
    await copy(src, "dup", dst, "dup");
    expect(src.fetches.get(g.layer1Desc.digest)).toBe(1);
    expect(dst.pushes.filter((d) => d === g.layer1Desc.digest)).toHaveLength(1);
    expect(dst.pushes).toHaveLength(4);
  });

  test("an index of manifests sharing blobs copies with concurrency 1 (slots released while waiting)", async () => {
    const a = sampleGraph("a");
    const b = sampleGraph("b");
    const src = new Spy(new MemoryStore());
    await seed(src, a);
    await seed(src, b);
    const idx = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [a.manifestDesc, b.manifestDesc] }));
    const idxDesc = descriptorFromBytes(OCI_INDEX, idx);
    await src.push(idxDesc, chunked(idx));
    await src.tag(idxDesc, "all");
    const dst = new Spy(new MemoryStore());
    await copy(src, "all", dst, "all", { concurrency: 1 });
    expect(dst.pushes).toHaveLength(9);
    expect(dst.pushes.at(-1)).toBe(idxDesc.digest);
    expect(dst.pushes.indexOf(a.manifestDesc.digest)).toBeGreaterThan(dst.pushes.indexOf(a.layer1Desc.digest));
    expect(src.maxInFlight).toBe(1);
  });

  test("never runs more transfers than the concurrency", async () => {
    const g = sampleGraph();
    const layers = Array.from({ length: 12 }, (_, i) => new TextEncoder().encode(`layer ${i}`));
    const layerDescs = layers.map((l) => descriptorFromBytes("application/octet-stream", l));
    const m = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: g.configDesc, layers: layerDescs }));
    const md = descriptorFromBytes(OCI_MANIFEST, m);
    let active = 0;
    let peak = 0;
    const inner = new MemoryStore();
    const dst = new Spy(inner, {
      push: async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
      },
    });
    const src = new MemoryStore();
    await src.push(g.configDesc, chunked(g.config));
    for (let i = 0; i < layers.length; i++) await src.push(layerDescs[i]!, chunked(layers[i]!));
    await src.push(md, chunked(m));
    await copyGraph(src, dst, md, { concurrency: 3 });
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
    expect(inner.digests()).toHaveLength(14);
    expect(inner.tags()).toEqual([]); // copyGraph never tags
  });
});

describe("copy failures", () => {
  test("a missing source reference is a Resolve error on the source", async () => {
    const e = await copy(new MemoryStore(), "nope", new MemoryStore(), "x").catch((x) => x);
    expect(e).toBeInstanceOf(CopyError);
    expect([e.op, e.origin]).toEqual(["Resolve", "source"]);
    expect(e.message).toBe('failed to perform "Resolve" on source: nope: not found');
    expect(e.cause).toBeInstanceOf(NotFoundError);
  });

  test("damaged source bytes are blamed on the source, and nothing damaged is stored", async () => {
    const g = sampleGraph();
    const src = new Spy(new MemoryStore(), {
      fetch: async (d, s) => {
        if (d.digest !== g.layer2Desc.digest) return s;
        const bad = new Uint8Array(await readStream(s));
        bad[0] = bad[0]! ^ 0xff;
        return bytesStream(bad);
      },
    });
    await seed(src, g, "v1");
    const dst = new MemoryStore();
    const e = await copy(src, "v1", dst, "v1").catch((x) => x);
    expect(e).toBeInstanceOf(CopyError);
    expect([e.op, e.origin]).toEqual(["Fetch", "source"]);
    expect(e.cause).toBeInstanceOf(IntegrityError);
    expect(e.descriptor.digest).toBe(g.layer2Desc.digest);
    expect(await dst.exists(g.layer2Desc)).toBe(false);
    expect(await dst.exists(g.manifestDesc)).toBe(false); // the parent is never pushed
    expect(dst.tags()).toEqual([]);
  });

  test("a failing destination push is a Push error on the destination", async () => {
    const g = sampleGraph();
    const src = new MemoryStore();
    await seed(src, g, "v1");
    const dst = new Spy(new MemoryStore(), {
      push: async (d) => {
        if (d.digest === g.configDesc.digest) throw new KitError("disk full");
      },
    });
    const e = await copy(src, "v1", dst, "v1").catch((x) => x);
    expect([e.op, e.origin, e.message]).toEqual(["Push", "destination", 'failed to perform "Push" on destination: disk full']);
    expect(dst.pushes).not.toContain(g.manifestDesc.digest);
  });

  test("a failing tag is a Tag error on the destination", async () => {
    const g = sampleGraph();
    const src = new MemoryStore();
    await seed(src, g, "v1");
    const dst = new Spy(new MemoryStore(), { tag: async () => { throw new KitError("denied"); } });
    const e = await copy(src, "v1", dst, "v1").catch((x) => x);
    expect([e.op, e.origin]).toEqual(["Tag", "destination"]);
  });

  test("cancellation stops a copy mid-transfer with CancelledError", async () => {
    const g = sampleGraph();
    const started = Promise.withResolvers<void>();
    const src = new Spy(new MemoryStore(), {
      fetch: async (d, s) => {
        if (d.digest !== g.layer1Desc.digest) return s;
        started.resolve();
        return new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => {}) });
      },
    });
    await seed(src, g, "v1");
    const dst = new MemoryStore();
    const ctl = new AbortController();
    const p = copy(src, "v1", dst, "v1", { signal: ctl.signal }).catch((x) => x);
    await started.promise;
    ctl.abort();
    const e = await p;
    expect(e).toBeInstanceOf(CancelledError);
    expect(await dst.exists(g.layer1Desc)).toBe(false);
    expect(await dst.exists(g.manifestDesc)).toBe(false);
    expect(dst.tags()).toEqual([]);

    const pre = new AbortController();
    pre.abort();
    expect(await copy(src, "v1", dst, "v1", { signal: pre.signal }).catch((x) => x)).toBeInstanceOf(CancelledError);
  });
});

describe("copy into kit's local storage", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-copy-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("memory → LocalRepository → memory round trip", async () => {
    const g = sampleGraph();
    const src = new MemoryStore();
    await seed(src, g, "v1");
    const storage = path.join(dir, "storage");
    const local = await LocalRepository.open(storage, "localhost/example");
    await copy(src, "v1", local, "v1");
    const entry = `{"mediaType":"${OCI_MANIFEST}","digest":"${g.manifestDesc.digest}","size":${g.manifestDesc.size}}`;
    expect(fs.readFileSync(path.join(storage, "bG9jYWxob3N0L2V4YW1wbGU=-index.json"), "utf8")).toBe(
      `{"schemaVersion":2,"manifests":[${entry}]}`,
    );
    expect(fs.readFileSync(path.join(storage, "bG9jYWxob3N0L2V4YW1wbGU=-tags.json"), "utf8")).toBe(`{"v1":${entry}}`);
    expect(fs.readdirSync(path.join(storage, "blobs", "sha256"))).toHaveLength(4);
    expect(fs.readdirSync(path.join(storage, "ingest"))).toEqual([]);

    // Copy into a second repository: blobs are shared, only the repo files change.
    const other = new LocalRepository(local.layout, "localhost/other");
    const skipped: string[] = [];
    await copy(local, "v1", other, "v9", { onSkipped: (d) => skipped.push(d.digest) });
    expect(skipped.sort()).toEqual([g.configDesc.digest, g.layer1Desc.digest, g.layer2Desc.digest].sort());
    expect((await other.resolve("v9")).digest).toBe(g.manifestDesc.digest);

    const back = new MemoryStore();
    await copy(other, "v9", back, "v9");
    for (const [digest, data] of g.blobs) expect(back.get(digest)).toEqual(data);
  });
});

/** A ModelKit-shaped graph whose layer is large enough for a pooled copy (over 8 MiB). */
function largeGraph(size = 12 * 1024 * 1024 + 12345) {
  const layer = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(layer.subarray(off, Math.min(size, off + 65536)));
  const config = new TextEncoder().encode(`{"manifestVersion":"1.0.0","package":{"name":"large"}}`);
  const configDesc = descriptorFromBytes("application/vnd.kitops.modelkit.config.v1+json", config);
  const layerDesc = descriptorFromBytes("application/vnd.kitops.modelkit.model.v1.tar", layer);
  const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: configDesc, layers: [layerDesc] }));
  const manifestDesc = descriptorFromBytes(OCI_MANIFEST, manifest);
  return { layer, config, configDesc, layerDesc, manifest, manifestDesc };
}

/** True when all `slots` buffers of `pool` can be taken at once, i.e. every chunk handed out came back. */
async function allReleased(pool: ChunkPool): Promise<boolean> {
  const taken: Uint8Array[] = [];
  for (let i = 0; i < pool.slots; i++) {
    const b = await Promise.race([pool.acquire(), Bun.sleep(200).then(() => undefined)]);
    if (!b) return false;
    taken.push(b);
  }
  for (const b of taken) pool.release(b);
  return true;
}

describe("pooled blob copies (a destination that releases chunks: local storage, layouts, archives)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-copy-pool-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function archiveOf(g: ReturnType<typeof largeGraph>, damage = false): Promise<string> {
    const file = path.join(dir, "m.tar");
    const w = await OciArchiveWriter.create(file);
    await w.push(g.configDesc, bytesStream(g.config));
    await w.push(g.layerDesc, chunked(g.layer, 1 << 20));
    await w.push(g.manifestDesc, bytesStream(g.manifest));
    await w.tag(g.manifestDesc, "v1");
    await w.commit();
    if (damage) {
      const fd = fs.openSync(file, "r+");
      const bytes = fs.readFileSync(file);
      const at = bytes.indexOf(Buffer.from(g.layer.subarray(0, 64))) + 9 * 1024 * 1024;
      fs.writeSync(fd, new Uint8Array([bytes[at]! ^ 1]), 0, 1, at);
      fs.closeSync(fd);
    }
    return file;
  }

  /**
   * `t` as a copy's source, recording for the layer `digest` each pool the copy passes to its fetch
   * and how many chunks it delivered came from that pool (all of them, when the store honours it).
   */
  function pooledSource(t: Target, digest: string) {
    const seen = { pools: [] as ChunkPool[], shared: 0 };
    const src = new Spy(t, {
      fetch: async (d, s, o) => {
        if (d.digest !== digest) return s;
        if (o?.pool) seen.pools.push(o.pool);
        return s.pipeThrough(new TransformStream({ transform: (c, ctl) => void (o?.pool?.owns(c) && seen.shared++, ctl.enqueue(c)) }));
      },
    });
    return { src, seen };
  }
  const layerChunks = (g: ReturnType<typeof largeGraph>) => Math.ceil(g.layer.length / (1 << 20));

  test("oci-archive → local storage reads the large blob into the copy's shared buffers and gives every one back", async () => {
    const g = largeGraph();
    const { src, seen } = pooledSource((await OciArchive.open(await archiveOf(g))) as unknown as Target, g.layerDesc.digest);
    const local = await LocalRepository.open(path.join(dir, "storage"), "localhost/large");
    await copy(src, "v1", local, "v1");
    expect(seen.pools).toHaveLength(1);
    expect(seen.shared).toBe(layerChunks(g)); // every chunk of the layer was one of the pool's buffers
    expect(await allReleased(seen.pools[0]!)).toBe(true);
    const stored = fs.readFileSync(local.layout.blobPath(g.layerDesc.digest));
    expect(Buffer.compare(stored, Buffer.from(g.layer))).toBe(0);
    expect(fs.readdirSync(path.join(dir, "storage", "ingest"))).toEqual([]);
  });

  test("a damaged large blob read through the pool is refused and nothing of it is stored", async () => {
    const g = largeGraph();
    const archive = await OciArchive.open(await archiveOf(g, true));
    const local = await LocalRepository.open(path.join(dir, "storage"), "localhost/large");
    const e = await copy(archive, "v1", local, "v1").catch((x) => x);
    expect(e).toBeInstanceOf(CopyError);
    expect(e.cause).toBeInstanceOf(IntegrityError);
    expect(fs.existsSync(local.layout.blobPath(g.layerDesc.digest))).toBe(false);
    expect(fs.readdirSync(path.join(dir, "storage", "ingest"))).toEqual([]);
    expect(await local.resolve("v1").catch((x) => x)).toBeInstanceOf(NotFoundError);
  });

  test("local storage → oci-archive writes the large blob byte for byte through the pool", async () => {
    const g = largeGraph();
    const local = await LocalRepository.open(path.join(dir, "storage"), "localhost/large");
    await copy(await OciArchive.open(await archiveOf(g)), "v1", local, "v1");
    const { src, seen } = pooledSource(local, g.layerDesc.digest);
    const out = path.join(dir, "out.tar");
    const w = await OciArchiveWriter.create(out);
    await copy(src, "v1", w, "v2");
    await w.commit();
    expect(seen.pools).toHaveLength(1);
    expect(seen.shared).toBe(layerChunks(g));
    expect(await allReleased(seen.pools[0]!)).toBe(true);
    const back = await OciArchive.open(out);
    expect(Buffer.compare(Buffer.from(await readStream(await back.fetch(g.layerDesc))), Buffer.from(g.layer))).toBe(0);
  });

  test("local storage → oci: layout directory → local storage, both ways through the pool, byte for byte", async () => {
    const g = largeGraph();
    const local = await LocalRepository.open(path.join(dir, "storage"), "localhost/large");
    await copy(await OciArchive.open(await archiveOf(g)), "v1", local, "v1");
    const layout = await OciLayoutDir.create(path.join(dir, "layout"));
    const out = pooledSource(local, g.layerDesc.digest);
    await copy(out.src, "v1", layout, "v1");
    const back = await LocalRepository.open(path.join(dir, "storage2"), "localhost/back");
    const into = pooledSource(layout, g.layerDesc.digest);
    await copy(into.src, "v1", back, "v1");
    const pools = [...out.seen.pools, ...into.seen.pools];
    expect(pools).toHaveLength(2);
    expect(out.seen.shared).toBe(layerChunks(g));
    expect(into.seen.shared).toBe(layerChunks(g));
    for (const p of pools) expect(await allReleased(p)).toBe(true);
    expect(Buffer.compare(fs.readFileSync(path.join(dir, "layout", "blobs", "sha256", g.layerDesc.digest.slice(7))), Buffer.from(g.layer))).toBe(0);
    expect(Buffer.compare(fs.readFileSync(back.layout.blobPath(g.layerDesc.digest)), Buffer.from(g.layer))).toBe(0);
  });
});
