/**
 * The behaviour every {@link Target} must have, as one shared suite (Hono's runTest pattern).
 * Run it from a store's test file: `describeTarget("MemoryStore", async () => ({ target: new MemoryStore() }))`.
 * Manifest re-push semantics differ between stores (kit's local repository accepts a manifest
 * already in the shared store), so AlreadyExistsError is checked with a blob.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { type Descriptor, descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { KIT_CONFIG, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { isResumer, type Storage, type Target } from "../../src/store/target.ts";
import { AlreadyExistsError, CancelledError, IntegrityError, NotFoundError } from "../../src/util/errors.ts";
import { chunked, readStream } from "../helpers/streams.ts";

export interface TargetUnderTest {
  target: Target | Storage;
  cleanup?: () => void | Promise<void>;
}

const enc = new TextEncoder();
export const LAYER_TYPE = "application/vnd.kitops.modelkit.model.v1.tar";

/** A small ModelKit-shaped graph: config, two layers, a manifest (and a second manifest). */
export function sampleGraph(tag = "a") {
  const config = enc.encode(`{"manifestVersion":"1.0.0","package":{"name":"${tag}"}}`);
  const layer1 = enc.encode(`layer one of ${tag} `.repeat(50));
  const layer2 = enc.encode(`layer two of ${tag}`);
  const configDesc = descriptorFromBytes(KIT_CONFIG, config);
  const layer1Desc = descriptorFromBytes(LAYER_TYPE, layer1);
  const layer2Desc = descriptorFromBytes(LAYER_TYPE, layer2);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    config: configDesc,
    layers: [layer1Desc, layer2Desc],
    annotations: { "ml.kitops.modelkit.cli-version": tag },
  }));
  const manifestDesc = descriptorFromBytes(OCI_MANIFEST, manifest);
  const blobs = new Map<string, Uint8Array>([
    [configDesc.digest, config],
    [layer1Desc.digest, layer1],
    [layer2Desc.digest, layer2],
    [manifestDesc.digest, manifest],
  ]);
  return { config, layer1, layer2, manifest, configDesc, layer1Desc, layer2Desc, manifestDesc, blobs };
}

/**
 * A stream that sends `first`, then stalls until cancelled. `stalled` resolves once the
 * consumer has asked for more after `first`.
 */
export function stallingStream(first: Uint8Array) {
  let sent = false;
  let cancelled = false;
  const stalled = Promise.withResolvers<void>();
  const stream = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (!sent) {
        sent = true;
        ctl.enqueue(first);
        return;
      }
      stalled.resolve();
      return new Promise<void>(() => {});
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, stalled: stalled.promise, wasCancelled: () => cancelled };
}

async function pushAll(t: Target, g: ReturnType<typeof sampleGraph>) {
  await t.push(g.configDesc, chunked(g.config));
  await t.push(g.layer1Desc, chunked(g.layer1));
  await t.push(g.layer2Desc, chunked(g.layer2));
  await t.push(g.manifestDesc, chunked(g.manifest));
}

/** The shared suite for a {@link Target}. `makeTarget` must return a fresh, empty target. */
export function describeTarget(name: string, makeTarget: () => Promise<TargetUnderTest>): void {
  describeStore(name, makeTarget, true);
}

/** The part of the suite for a {@link Storage} without tags (the shared layout store). */
export function describeStorage(name: string, makeStorage: () => Promise<TargetUnderTest>): void {
  describeStore(name, makeStorage, false);
}

function describeStore(name: string, makeTarget: () => Promise<TargetUnderTest>, isTarget: boolean): void {
  describe(`${name} (${isTarget ? "Target" : "Storage"} conformance)`, () => {
    let under: TargetUnderTest;
    let t: Target;
    const g = sampleGraph("a");
    const h = sampleGraph("b");

    beforeEach(async () => {
      under = await makeTarget();
      t = under.target as Target;
    });
    afterEach(async () => {
      await under.cleanup?.();
    });

    test("push then fetch returns the same bytes, for blobs and manifests", async () => {
      await pushAll(t, g);
      for (const d of [g.configDesc, g.layer1Desc, g.layer2Desc, g.manifestDesc]) {
        const got = await readStream(await t.fetch(d));
        expect(digestOf(got)).toBe(d.digest);
        expect(got).toEqual(g.blobs.get(d.digest)!);
      }
    });

    test("exists is false before a push and true after", async () => {
      expect(await t.exists(g.layer1Desc)).toBe(false);
      expect(await t.exists(g.manifestDesc)).toBe(false);
      await pushAll(t, g);
      expect(await t.exists(g.layer1Desc)).toBe(true);
      expect(await t.exists(g.manifestDesc)).toBe(true);
      expect(await t.exists(h.layer1Desc)).toBe(false);
    });

    test("pushing a blob that is present throws AlreadyExistsError or stores it again unchanged", async () => {
      // A registry takes the upload again (oras-go's Repository.Push does not ask first: the
      // copy already did); local stores refuse it.
      await t.push(g.layer1Desc, chunked(g.layer1));
      const err = await t.push(g.layer1Desc, chunked(g.layer1)).catch((e) => e);
      if (err !== undefined) expect(err).toBeInstanceOf(AlreadyExistsError);
      expect(await readStream(await t.fetch(g.layer1Desc))).toEqual(g.layer1);
    });

    test("content not matching its digest is refused and nothing is stored", async () => {
      const wrong = enc.encode("x".repeat(g.layer1.byteLength));
      const err = await t.push(g.layer1Desc, chunked(wrong)).catch((e) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect(err.message).toContain("does not match its digest");
      expect(await t.exists(g.layer1Desc)).toBe(false);
      expect(await t.fetch(g.layer1Desc).catch((e) => e)).toBeInstanceOf(NotFoundError);
      // The right content can still be pushed afterwards.
      await t.push(g.layer1Desc, chunked(g.layer1));
      expect(await t.exists(g.layer1Desc)).toBe(true);
    });

    test("too few or too many bytes are refused and nothing is stored", async () => {
      const short = await t.push(g.layer2Desc, chunked(g.layer2.slice(0, -1))).catch((e) => e);
      expect(short).toBeInstanceOf(IntegrityError);
      expect(short.message).toBe(
        `Content of ${g.layer2Desc.digest} is truncated: got ${g.layer2.byteLength - 1} of ${g.layer2.byteLength} bytes`,
      );
      const longer = new Uint8Array(g.layer2.byteLength + 1);
      longer.set(g.layer2);
      const long = await t.push(g.layer2Desc, chunked(longer)).catch((e) => e);
      expect(long).toBeInstanceOf(IntegrityError);
      expect(long.message).toBe(`Content of ${g.layer2Desc.digest} is larger than expected: more than ${g.layer2.byteLength} bytes`);
      expect(await t.exists(g.layer2Desc)).toBe(false);
    });

    if (isTarget) test("resolve finds a manifest by digest and by tag", async () => {
      await pushAll(t, g);
      const byDigest = await t.resolve(g.manifestDesc.digest);
      expect(byDigest.digest).toBe(g.manifestDesc.digest);
      expect(byDigest.size).toBe(g.manifestDesc.size);
      expect(byDigest.mediaType).toBe(OCI_MANIFEST);
      await t.tag(g.manifestDesc, "v1");
      const byTag = await t.resolve("v1");
      expect([byTag.mediaType, byTag.digest, byTag.size]).toEqual([OCI_MANIFEST, g.manifestDesc.digest, g.manifestDesc.size]);
    });

    if (isTarget) test("tagging again moves the tag to the new manifest", async () => {
      await pushAll(t, g);
      await pushAll(t, h);
      await t.tag(g.manifestDesc, "latest");
      expect((await t.resolve("latest")).digest).toBe(g.manifestDesc.digest);
      await t.tag(h.manifestDesc, "latest");
      expect((await t.resolve("latest")).digest).toBe(h.manifestDesc.digest);
      expect((await t.resolve(g.manifestDesc.digest)).digest).toBe(g.manifestDesc.digest);
    });

    test("unknown blobs are NotFoundError", async () => {
      await pushAll(t, g);
      expect(await t.fetch(h.layer1Desc).catch((e) => e)).toBeInstanceOf(NotFoundError);
    });

    test("a store that keeps partial blobs (Resumer) continues one and verifies the whole", async () => {
      if (!isResumer(t)) return;
      const half = Math.floor(g.layer1.byteLength / 2);
      const p1 = await t.openPartial(g.layer1Desc);
      expect(p1.offset).toBe(0);
      await p1.write(chunked(g.layer1.slice(0, half))).catch(() => {}); // truncated: kept for later
      const p2 = await t.openPartial(g.layer1Desc);
      expect(p2.offset).toBe(half);
      await p2.write(chunked(g.layer1.slice(half)));
      expect(await readStream(await t.fetch(g.layer1Desc))).toEqual(g.layer1);
      expect(await t.openPartial(g.layer1Desc).catch((e) => e)).toBeInstanceOf(AlreadyExistsError);
      // a partial whose rest does not match is discarded, nothing stored
      const p3 = await t.openPartial(g.layer2Desc);
      const e = await p3.write(chunked(new Uint8Array(g.layer2.byteLength))).catch((x) => x);
      expect(e).toBeInstanceOf(IntegrityError);
      expect(await t.exists(g.layer2Desc)).toBe(false);
      const p4 = await t.openPartial(g.layer2Desc);
      expect(p4.offset).toBe(0);
      await p4.close();
    });

    if (isTarget) test("unknown tags, digests and blobs are NotFoundError", async () => {
      await pushAll(t, g);
      expect(await t.resolve("nope").catch((e) => e)).toBeInstanceOf(NotFoundError);
      expect(await t.resolve(h.manifestDesc.digest).catch((e) => e)).toBeInstanceOf(NotFoundError);
      expect(await t.fetch(h.layer1Desc).catch((e) => e)).toBeInstanceOf(NotFoundError);
      expect(await t.fetch(h.manifestDesc).catch((e) => e)).toBeInstanceOf(NotFoundError);
      expect(await t.tag(h.manifestDesc, "x").catch((e) => e)).toBeInstanceOf(NotFoundError);
      expect(await t.resolve("").catch((e) => e)).toBeInstanceOf(Error);
    });

    test("an aborted signal stops push and fetch; nothing is stored", async () => {
      const ctl = new AbortController();
      ctl.abort();
      const p = await t.push(g.layer1Desc, chunked(g.layer1), { signal: ctl.signal }).catch((e) => e);
      expect(p).toBeInstanceOf(CancelledError);
      expect(await t.exists(g.layer1Desc)).toBe(false);
      await t.push(g.layer1Desc, chunked(g.layer1));
      const f = await t.fetch(g.layer1Desc, { signal: ctl.signal }).then(readStream).catch((e) => e);
      expect(f).toBeInstanceOf(CancelledError);
    });

    test("an abort in the middle of a push cancels it and stores nothing", async () => {
      const ctl = new AbortController();
      const s = stallingStream(g.layer1.slice(0, 10));
      const p = t.push(g.layer1Desc, s.stream, { signal: ctl.signal }).catch((e) => e);
      await s.stalled;
      ctl.abort();
      expect(await p).toBeInstanceOf(CancelledError);
      expect(s.wasCancelled()).toBe(true);
      expect(await t.exists(g.layer1Desc)).toBe(false);
    });
  });
}

export type { Descriptor };
