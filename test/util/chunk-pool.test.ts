/** The bounded buffer pool that pack reads into. */
import { expect, test } from "bun:test";
import { ChunkPool } from "../../src/util/chunk-pool.ts";
import { CancelledError } from "../../src/util/errors.ts";

test("at most `slots` buffers; a reader waits until one comes back, as a whole buffer, even from a sub-view", async () => {
  const pool = new ChunkPool(1024, 2);
  const a = await pool.acquire();
  const b = await pool.acquire();
  expect(a.buffer).not.toBe(b.buffer);
  expect(a.byteLength).toBe(1024);
  expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
  let third: Uint8Array | undefined;
  const waiting = pool.acquire().then((c) => (third = c));
  await Bun.sleep(5);
  expect(third).toBeUndefined();
  pool.release(new Uint8Array(8)); // not the pool's: ignored
  await Bun.sleep(5);
  expect(third).toBeUndefined();
  expect(pool.owns(a.subarray(10, 20))).toBe(true);
  pool.release(a.subarray(10, 20));
  await waiting;
  expect(third!.buffer).toBe(a.buffer);
  expect(third!.byteLength).toBe(1024);
  pool.release(b);
  expect(pool.owns(b)).toBe(false);
  expect((await pool.acquire()).buffer).toBe(b.buffer);
});

test("an abort while waiting rejects with CancelledError", async () => {
  const pool = new ChunkPool(16, 1);
  await pool.acquire();
  const ctl = new AbortController();
  const p = pool.acquire(ctl.signal).catch((e) => e);
  ctl.abort();
  expect(await p).toBeInstanceOf(CancelledError);
});

test("a buffer with several holders is free only after the last release", async () => {
  const pool = new ChunkPool(16, 1);
  const a = await pool.acquire();
  pool.retain(a);
  pool.retain(a.subarray(4));
  let next: Uint8Array | undefined;
  const waiting = pool.acquire().then((c) => (next = c));
  pool.release(a);
  pool.release(a.subarray(2));
  await Bun.sleep(5);
  expect(next).toBeUndefined();
  pool.release(a);
  await waiting;
  expect(next!.buffer).toBe(a.buffer);
  pool.retain(new Uint8Array(4)); // not the pool's: ignored
});
