import { expect, test } from "bun:test";
import { CancelledError, KitError } from "../../src/util/errors.ts";
import { iterableStream, readAll, readPrefix } from "../../src/util/streams.ts";

const enc = new TextEncoder();

test("iterableStream yields the iterable's values and ends with it", async () => {
  const s = iterableStream((async function* () {
    yield enc.encode("ab");
    yield enc.encode("c");
  })());
  expect(await new Response(s).text()).toBe("abc");
});

test("cancelling an iterableStream runs the generator's finally block", async () => {
  let closed = false;
  const s = iterableStream((async function* () {
    try {
      for (;;) yield enc.encode("x");
    } finally {
      closed = true;
    }
  })());
  const reader = s.getReader();
  await reader.read();
  await reader.cancel();
  expect(closed).toBe(true);
});

test("readAll joins the chunks and returns a single chunk as it is", async () => {
  const one = enc.encode("only");
  expect(await readAll(iterableStream((async function* () {
    yield one;
  })()), 10)).toBe(one);
  const many = iterableStream((async function* () {
    yield enc.encode("ab");
    yield enc.encode("");
    yield enc.encode("cd");
  })());
  expect(new TextDecoder().decode(await readAll(many, 4))).toBe("abcd");
});

test("readAll stops at the limit with its own or the caller's error, and cancels the source", async () => {
  let cancelled = false;
  const source = () => new ReadableStream<Uint8Array>({
    pull: (ctl) => ctl.enqueue(enc.encode("12345")),
    cancel: () => void (cancelled = true),
  });
  const err = await readAll(source(), 7).catch((e) => e);
  expect(err).toBeInstanceOf(KitError);
  expect(err.message).toBe("Content is larger than the 7-byte limit");
  expect(cancelled).toBe(true);
  cancelled = false;
  await expect(readAll(source(), 7, undefined, () => new Error("too big"))).rejects.toThrow("too big");
  expect(cancelled).toBe(true);
});

test("readAll throws CancelledError when its signal aborts mid-read", async () => {
  const ctl = new AbortController();
  const never = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
  const p = readAll(never, 100, ctl.signal).catch((e) => e);
  ctl.abort();
  expect(await p).toBeInstanceOf(CancelledError);
});

test("readPrefix: the first bytes, the rest cancelled; a failing read is thrown", async () => {
  let cancelled = false;
  const s = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3]));
        c.enqueue(new Uint8Array([4, 5, 6]));
      },
      cancel() {
        cancelled = true;
      },
    });
  expect(await readPrefix(s(), 4)).toEqual(new Uint8Array([1, 2, 3, 4]));
  expect(cancelled).toBe(true);
  const broken = () =>
    new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new Uint8Array([9]));
        c.error(new Error("reset"));
      },
    });
  await expect(readPrefix(broken(), 10)).rejects.toThrow("reset");
});
