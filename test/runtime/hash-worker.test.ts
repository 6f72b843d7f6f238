/** SHA-256 on worker threads: the same digests as inline hashing, whatever the buffers and the interleaving. */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { offloadedSha256 } from "../../src/runtime/hash-worker.ts";

const hex = (parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

function chunks(seed: number, sizes: number[]): Uint8Array[] {
  let x = seed;
  return sizes.map((n, i) => {
    // alternate shared and ordinary buffers, and views that do not start at offset 0
    const backing = i % 2 === 0 ? new SharedArrayBuffer(n + 16) : new ArrayBuffer(n + 16);
    const view = new Uint8Array(backing, 16, n);
    for (let j = 0; j < n; j++) view[j] = (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 24;
    return view;
  });
}

test("digests equal node:crypto's for shared and ordinary chunks, several states interleaved on the workers", async () => {
  const inputs = [1, 2, 3, 4, 5].map((s) => chunks(s, [0, 1, 1 << 20, 65_537, 3, 300_000]));
  const hashers = inputs.map(() => offloadedSha256(true));
  expect(hashers.every((h) => h.offloaded)).toBe(true);
  const acks: Promise<void>[] = [];
  for (let i = 0; i < inputs[0]!.length; i++) for (let k = 0; k < inputs.length; k++) acks.push(hashers[k]!.update(inputs[k]![i]!));
  await Promise.all(acks);
  expect(await Promise.all(hashers.map((h) => h.hex()))).toEqual(inputs.map(hex));
});

test("a closed state does not disturb the others; inline hashing gives the same digest", async () => {
  const data = chunks(9, [1000, 2000]);
  const dropped = offloadedSha256(true);
  const abandoned = dropped.update(data[0]!).catch((e) => e);
  dropped.close();
  expect(String(await abandoned)).toContain("SHA-256: closed"); // not sent once closed
  const kept = offloadedSha256(true);
  for (const c of data) await kept.update(c);
  const inline = offloadedSha256(false);
  expect(inline.offloaded).toBe(false);
  for (const c of data) await inline.update(c);
  expect(await kept.hex()).toBe(hex(data));
  expect(await inline.hex()).toBe(hex(data));
  await expect(kept.update(data[0]!)).rejects.toThrow("update after the digest");
});

test("a large ordinary chunk (copied in pieces, waiting for the hasher's own buffers) is not overtaken by the shared chunks after it", async () => {
  const [big] = chunks(11, [6 * 1024 * 1024 + 5]); // index 0: shared
  const ordinary = new Uint8Array(big!); // a copy in an ordinary ArrayBuffer
  const [a, , b] = chunks(12, [1000, 1, 2000]); // shared, ordinary, shared
  const h = offloadedSha256(true);
  const acks = [h.update(ordinary), h.update(a!), h.update(ordinary.subarray(7)), h.update(b!)];
  const digest = h.hex();
  await Promise.all(acks);
  expect(await digest).toBe(hex([ordinary, a!, ordinary.subarray(7), b!]));
});
