import { expect, test } from "bun:test";
import { CancelledError } from "../../src/util/errors.ts";
import { limit, Pool, throwIfAborted } from "../../src/util/pool.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

test("runs every task, never more than the limit at once", async () => {
  const pool = limit(3);
  let active = 0;
  let peak = 0;
  const out = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.run(async () => {
    active++;
    peak = Math.max(peak, active);
    expect(pool.active).toBeLessThanOrEqual(3);
    await tick();
    active--;
    return i * 2;
  })));
  expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
  expect(peak).toBe(3);
  expect([pool.active, pool.pending]).toEqual([0, 0]);
});

test("a task waiting for its children gives its slot back (no deadlock with limit 1)", async () => {
  const pool = new Pool(1);
  const order: string[] = [];
  const node = (name: string, children: string[]): Promise<void> =>
    pool.run(async (slot) => {
      await slot.waitFor(Promise.all(children.map((c) => node(c, []))));
      order.push(name);
      expect(pool.active).toBe(1);
    });
  await node("root", ["a", "b", "c"]);
  expect(order.at(-1)).toBe("root");
  expect(order.slice(0, 3).sort()).toEqual(["a", "b", "c"]);
  expect([pool.active, pool.pending]).toEqual([0, 0]);
});

test("errors propagate and free the slot; waitFor re-acquires before rethrowing", async () => {
  const pool = new Pool(1);
  await expect(pool.run(async () => { throw new Error("boom"); })).rejects.toThrow("boom");
  await expect(pool.run(async (slot) => {
    await slot.waitFor(Promise.reject(new Error("child failed")));
  })).rejects.toThrow("child failed");
  expect([pool.active, pool.pending]).toEqual([0, 0]);
  expect(await pool.run(async () => "ok")).toBe("ok");
});

test("a queued task is dropped with CancelledError when its signal aborts", async () => {
  const pool = new Pool(1);
  const release = Promise.withResolvers<void>();
  const first = pool.run(() => release.promise);
  const ctl = new AbortController();
  let ran = false;
  const second = pool.run(async () => { ran = true; }, ctl.signal).catch((e) => e);
  expect(pool.pending).toBe(1);
  ctl.abort();
  expect(await second).toBeInstanceOf(CancelledError);
  expect(pool.pending).toBe(0);
  release.resolve();
  await first;
  expect(ran).toBe(false);
  expect(pool.active).toBe(0);
  expect(await pool.run(async () => 1, ctl.signal).catch((e) => e)).toBeInstanceOf(CancelledError);
});

test("limits must be positive integers; throwIfAborted", () => {
  expect(() => new Pool(0)).toThrow("Concurrency limit must be a positive integer, got 0");
  expect(() => new Pool(1.5)).toThrow(RangeError);
  const ctl = new AbortController();
  expect(() => throwIfAborted(ctl.signal)).not.toThrow();
  ctl.abort();
  expect(() => throwIfAborted(ctl.signal)).toThrow(CancelledError);
  const c2 = new AbortController();
  const reason = new CancelledError("Interrupted");
  c2.abort(reason);
  expect(() => throwIfAborted(c2.signal)).toThrow(reason);
});
