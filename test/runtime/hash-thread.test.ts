import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { hashThread, MAX_IN_FLIGHT } from "../../src/runtime/hash-thread.ts";

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

test("each digest covers the bytes whose mask names it, across buffer boundaries", async () => {
  const t = hashThread(2)!;
  expect(t).toBeDefined();
  const head = new Uint8Array(512).fill(9);
  const body = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => i % 251);
  const tail = new Uint8Array(1024);
  await t.update(head, 2);
  for (let off = 0; off < body.length; off += 65_536) await t.update(body.subarray(off, off + 65_536), 3);
  await t.update(tail, 2);
  expect(await t.digests()).toEqual([sha(body), sha(head, body, tail)]);
});

test("no input gives the digests of nothing; close stops a thread without results", async () => {
  expect(await hashThread(1)!.digests()).toEqual([sha()]);
  const t = hashThread(1)!;
  await t.update(new Uint8Array(10), 1);
  t.close();
});

test("a fast feeder waits for the thread: never more than MAX_IN_FLIGHT buffers are queued", async () => {
  const t = hashThread(1)!;
  const chunk = new Uint8Array(1 << 20);
  const seen: number[] = [];
  for (let i = 0; i < 64; i++) {
    await t.update(chunk, 1);
    seen.push(t.queued);
  }
  expect(await t.digests()).toEqual([sha(...Array.from({ length: 64 }, () => chunk))]);
  expect(Math.max(...seen)).toBeLessThanOrEqual(MAX_IN_FLIGHT);
  // Copying 1 MiB is faster than hashing it: the queue fills up, and update() waited.
  expect(Math.max(...seen)).toBe(MAX_IN_FLIGHT);
});
