/**
 * Parallel range downloads into a partial file (store/ranges.ts over store/partial.ts): the
 * connection count follows measured throughput, every part survives an interruption in the
 * journal, and the digest is checked over the whole.
 */
import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { descriptorFromBytes, type Descriptor } from "../../src/oci/descriptor.ts";
import { digestHex } from "../../src/oci/digest.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import type { PartialDownload } from "../../src/store/partial.ts";
import { fillPartial } from "../../src/store/ranges.ts";
import type { RangeFetcher } from "../../src/store/target.ts";
import { CancelledError, IntegrityError, KitError } from "../../src/util/errors.ts";
import { tempDir } from "../helpers/kit.ts";
import { chunked, patternBytes } from "../helpers/streams.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const LAYER = "application/vnd.kitops.modelkit.model.v1.tar";

interface SourceOptions {
  /** Bytes per second of each connection (per-connection cap) … */
  perConnection?: number;
  /** … or of all connections together (a shared link). */
  shared?: number;
  ranges?: boolean;
  chunk?: number;
  /** Flip a byte of what is served at this offset. */
  corruptAt?: number;
  /** Pause once for `ms` before serving the chunk at `offset` (a connection broken and resumed). */
  stall?: { offset: number; ms: number };
}

/** An in-memory source that serves ranges at a capped rate and counts what it serves. */
class PacedSource implements RangeFetcher {
  readonly requests: Array<{ offset: number; end: number | undefined }> = [];
  active = 0;
  maxActive = 0;
  served = 0;
  #sharedNext = 0;

  constructor(private readonly data: Uint8Array, private readonly opts: SourceOptions = {}) {}

  async #pace(state: { next: number }, n: number): Promise<void> {
    const now = performance.now();
    if (this.opts.shared) {
      this.#sharedNext = Math.max(now, this.#sharedNext) + (n / this.opts.shared) * 1000;
      await Bun.sleep(this.#sharedNext - now);
    } else if (this.opts.perConnection) {
      state.next = Math.max(now, state.next) + (n / this.opts.perConnection) * 1000;
      await Bun.sleep(state.next - now);
    }
  }

  async fetchFrom(_desc: Descriptor, offset: number, o: { end?: number; signal?: AbortSignal } = {}) {
    this.requests.push({ offset, end: o.end });
    const ranged = this.opts.ranges ?? true;
    const start = ranged ? offset : 0;
    const end = ranged ? (o.end ?? this.data.byteLength) : this.data.byteLength;
    const chunk = this.opts.chunk ?? 16 * KiB;
    let pos = start;
    let open = true;
    const close = () => {
      if (open) this.active--;
      open = false;
    };
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    const state = { next: 0 };
    const body = new ReadableStream<Uint8Array>({
      pull: async (ctl) => {
        if (pos >= end) {
          close();
          return ctl.close();
        }
        const n = Math.min(chunk, end - pos);
        const stall = this.opts.stall;
        if (stall && pos <= stall.offset && stall.offset < pos + n) {
          this.opts.stall = undefined;
          await Bun.sleep(stall.ms);
        }
        await this.#pace(state, n);
        if (o.signal?.aborted) {
          close();
          return ctl.error(new CancelledError());
        }
        const bytes = this.data.slice(pos, pos + n);
        const bad = this.opts.corruptAt;
        if (bad !== undefined && bad >= pos && bad < pos + n) bytes[bad - pos]! ^= 0xff;
        pos += n;
        this.served += n;
        ctl.enqueue(bytes);
      },
      cancel: () => close(),
    }, { highWaterMark: 0 });
    return { body, offset: start, ranged };
  }
}

async function setup(size: number) {
  const layout = await LayoutStore.open(tempDir("kit-ranges-"));
  const data = patternBytes(size, 7);
  const desc = descriptorFromBytes(LAYER, data);
  const hex = digestHex(desc.digest as `sha256:${string}`);
  const file = path.join(layout.ingestDir, hex);
  return { layout, data, desc, file, journal: `${file}.regions` };
}

const stored = (layout: LayoutStore, desc: Descriptor): Uint8Array => new Uint8Array(fs.readFileSync(layout.blobPath(desc.digest)));
const tuning = { minPartBytes: 256 * KiB, windowMs: 100 };

describe("fillPartial", () => {
  test("connections capped one by one: more are opened, and the blob is right", async () => {
    const { layout, data, desc } = await setup(8 * MiB);
    const src = new PacedSource(data, { perConnection: 4 * MiB });
    const p = await layout.openPartial(desc);
    await fillPartial(p, src, desc, { ...tuning, maxParts: 6 });
    expect(stored(layout, desc)).toEqual(data);
    expect(src.maxActive).toBeGreaterThanOrEqual(4);
    // A connection that gave up the back half of its part stops where its request ends: nothing
    // is fetched twice.
    expect(src.served).toBe(data.byteLength);
    expect(fs.readdirSync(layout.ingestDir).filter((n) => !n.endsWith(".lock"))).toEqual([]);
  });

  test("one shared link: a second connection does not pay for itself, so no third is opened", async () => {
    const { layout, data, desc } = await setup(4 * MiB);
    const src = new PacedSource(data, { shared: 8 * MiB });
    await fillPartial(await layout.openPartial(desc), src, desc, { ...tuning, maxParts: 6 });
    expect(stored(layout, desc)).toEqual(data);
    expect(src.maxActive).toBeLessThanOrEqual(2);
  });

  test("a window with a stall in it decides nothing: on a shared link, a second connection still does not pay", async () => {
    const { layout, data, desc } = await setup(16 * MiB);
    // The stall falls into the first measured window (200–400 ms): counted, it would make one
    // connection look slow and two look like a gain, so that a third and fourth would be opened.
    // Windows of 200 ms keep a busy machine's timer jitter small beside the rates compared.
    const src = new PacedSource(data, { shared: 8 * MiB, stall: { offset: 2400 * KiB, ms: 300 } });
    await fillPartial(await layout.openPartial(desc), src, desc, { ...tuning, windowMs: 200, maxParts: 6 });
    expect(stored(layout, desc)).toEqual(data);
    expect(src.maxActive).toBeLessThanOrEqual(2);
  });

  test("a network faster than the disk (reads never wait): one connection, no part is split", async () => {
    const { layout, data, desc } = await setup(4 * MiB);
    const src = new PacedSource(data, { chunk: 64 * KiB });
    const p = await layout.openPartial(desc);
    // The disk takes 2 ms per chunk; the source always has the next one ready.
    const slowDisk: PartialDownload = new Proxy(p, {
      get(target, key) {
        if (key !== "writeAt") return Reflect.get(target, key).bind?.(target) ?? Reflect.get(target, key);
        return (start: number, body: ReadableStream<Uint8Array>, o?: Parameters<PartialDownload["writeAt"]>[2]) =>
          target.writeAt(start, body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
            async transform(c, ctl) {
              await Bun.sleep(2);
              ctl.enqueue(c);
            },
          })), o);
      },
    });
    await fillPartial(slowDisk, src, desc, { ...tuning, windowMs: 10, maxParts: 6 });
    expect(stored(layout, desc)).toEqual(data);
    expect([src.maxActive, src.served]).toEqual([1, data.byteLength]);
  });

  test("a small blob, or maxParts 1, uses one connection", async () => {
    const { layout, data, desc } = await setup(400 * KiB);
    const src = new PacedSource(data, { perConnection: 2 * MiB });
    await fillPartial(await layout.openPartial(desc), src, desc, tuning);
    expect([src.maxActive, src.requests.length]).toEqual([1, 1]);
    expect(stored(layout, desc)).toEqual(data);

    const big = await setup(2 * MiB);
    const one = new PacedSource(big.data, { perConnection: 8 * MiB });
    await fillPartial(await big.layout.openPartial(big.desc), one, big.desc, { ...tuning, maxParts: 1 });
    expect(one.requests).toEqual([{ offset: 0, end: 2 * MiB }]);
  });

  test("a source without ranges is read once from 0, even over a partial file with several regions", async () => {
    const { layout, data, desc, file, journal } = await setup(2 * MiB);
    fs.mkdirSync(layout.ingestDir, { recursive: true });
    const content = new Uint8Array(data.byteLength);
    content.set(data.subarray(0, 100 * KiB));
    content.set(data.subarray(MiB, MiB + 100 * KiB), MiB);
    fs.writeFileSync(file, content.subarray(0, MiB + 100 * KiB));
    fs.writeFileSync(journal, JSON.stringify({ size: data.byteLength, regions: [[0, 100 * KiB], [MiB, MiB + 100 * KiB]] }));
    const src = new PacedSource(data, { ranges: false, perConnection: 16 * MiB });
    const p = await layout.openPartial(desc);
    expect([p.offset, p.received]).toEqual([100 * KiB, 200 * KiB]);
    await fillPartial(p, src, desc, tuning);
    expect(src.requests.length).toBe(1);
    expect(src.served).toBe(data.byteLength);
    expect(stored(layout, desc)).toEqual(data);
    expect(fs.existsSync(journal)).toBe(false);
  });

  test("stopped half-way with several parts running: the journal keeps every part, the next run fetches only what is missing", async () => {
    const { layout, data, desc, journal } = await setup(8 * MiB);
    const src = new PacedSource(data, { perConnection: 4 * MiB });
    const ctl = new AbortController();
    const p = await layout.openPartial(desc);
    let got = 0;
    const e = await fillPartial(p, src, desc, {
      ...tuning,
      signal: ctl.signal,
      onBytes: (n) => {
        got += n;
        if (got >= 4 * MiB) ctl.abort();
      },
    }).catch((x) => x);
    expect(e).toBeInstanceOf(CancelledError);
    await p.close();
    const regions = JSON.parse(fs.readFileSync(journal, "utf8")).regions as number[][];
    expect(regions.length).toBeGreaterThanOrEqual(2);

    const again = await layout.openPartial(desc);
    const kept = again.received;
    expect(kept).toBeGreaterThanOrEqual(3 * MiB);
    expect(again.missing().length).toBeGreaterThanOrEqual(2);
    const rest = new PacedSource(data, { perConnection: 4 * MiB });
    await fillPartial(again, rest, desc, tuning);
    expect(stored(layout, desc)).toEqual(data);
    expect(rest.served).toBeLessThan(data.byteLength - kept + 8 * 64 * KiB);
    expect(fs.existsSync(journal)).toBe(false);
  });

  test("one wrong byte in one part fails the digest of the whole; nothing is stored", async () => {
    const { layout, data, desc } = await setup(4 * MiB);
    const src = new PacedSource(data, { perConnection: 4 * MiB, corruptAt: 3 * MiB + 5 });
    const e = await fillPartial(await layout.openPartial(desc), src, desc, tuning).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toBe("downloaded file hash does not match descriptor");
    expect(src.maxActive).toBeGreaterThanOrEqual(2);
    expect(fs.existsSync(layout.blobPath(desc.digest))).toBe(false);
    expect(fs.readdirSync(layout.ingestDir).filter((n) => !n.endsWith(".lock"))).toEqual([]);
  });
});

describe("partial file with several regions", () => {
  test("a journal written before a kill names only bytes on disk: they are kept and verified with the rest", async () => {
    const { layout, data, desc, file, journal } = await setup(300 * KiB);
    fs.mkdirSync(layout.ingestDir, { recursive: true });
    // A kill -9 while two parts were running: the file has more than the journal lists, and a hole.
    const content = new Uint8Array(250 * KiB);
    content.set(data.subarray(0, 60 * KiB));
    content.set(data.subarray(150 * KiB, 250 * KiB), 150 * KiB);
    fs.writeFileSync(file, content);
    fs.writeFileSync(journal, JSON.stringify({ size: data.byteLength, regions: [[0, 50 * KiB], [150 * KiB, 200 * KiB]] }));
    const p = await layout.openPartial(desc);
    expect([p.offset, p.received]).toEqual([50 * KiB, 100 * KiB]);
    expect(p.missing()).toEqual([{ start: 50 * KiB, end: 150 * KiB }, { start: 200 * KiB, end: 300 * KiB }]);
    // Parts are written in any order; the hash cursor reads back what came early.
    expect(await p.writeAt(200 * KiB, chunked(data.subarray(200 * KiB), 10_000))).toBe(100 * KiB);
    expect(await p.writeAt(50 * KiB, chunked(data.subarray(50 * KiB, 150 * KiB), 10_000))).toBe(100 * KiB);
    await p.commit();
    expect(stored(layout, desc)).toEqual(data);
    expect(fs.readdirSync(layout.ingestDir).sort()).toEqual([]);
  });

  test("a journal that claims more than the file holds is cut to the file; an unreadable one counts as nothing", async () => {
    const { layout, data, desc, file, journal } = await setup(100 * KiB);
    fs.mkdirSync(layout.ingestDir, { recursive: true });
    fs.writeFileSync(file, data.subarray(0, 30 * KiB));
    fs.writeFileSync(journal, JSON.stringify({ size: data.byteLength, regions: [[0, 40 * KiB], [60 * KiB, 80 * KiB]] }));
    const p = await layout.openPartial(desc);
    expect([p.offset, p.received]).toEqual([30 * KiB, 30 * KiB]);
    await p.close();
    for (const bad of ["{", JSON.stringify({ size: 5, regions: [] }), JSON.stringify({ size: data.byteLength, regions: [[10, 5]] })]) {
      fs.writeFileSync(journal, bad);
      const q = await layout.openPartial(desc);
      expect(q.received).toBe(0);
      await q.write(chunked(data, 4096));
      expect(stored(layout, desc)).toEqual(data);
      fs.rmSync(layout.blobPath(desc.digest));
      fs.writeFileSync(file, data.subarray(0, 30 * KiB));
    }
  });

  test("bytes already received, or being written by another part, are never written again", async () => {
    const { layout, data, desc } = await setup(100 * KiB);
    const p = await layout.openPartial(desc);
    await p.writeAt(0, chunked(data.subarray(0, 20 * KiB), 4096));
    const e = await p.writeAt(10 * KiB, chunked(data.subarray(10 * KiB, 30 * KiB), 4096)).catch((x) => x);
    expect(e).toBeInstanceOf(KitError);
    expect(e.message).toContain("written twice");
    const past = await p.writeAt(90 * KiB, chunked(new Uint8Array(20 * KiB), 4096), { end: 100 * KiB }).catch((x) => x);
    expect(past).toBeInstanceOf(IntegrityError);
    await p.discard();
  });
});
