/**
 * Small Web Streams helpers.
 * @module
 */
import { KitError } from "./errors.ts";
import { abortReason, throwIfAborted } from "./pool.ts";

/**
 * A pull-based stream over an async iterable (backpressure: one chunk is read per pull). Cancelling
 * the stream returns the iterator (a generator's `finally` blocks run). With `highWaterMark: 0`
 * nothing is read before the consumer asks; by default one chunk is read ahead.
 */
export function iterableStream<T>(it: AsyncIterable<T>, strategy?: QueuingStrategy<T>): ReadableStream<T> {
  const iter = it[Symbol.asyncIterator]();
  return new ReadableStream<T>({
    async pull(ctl) {
      const { done, value } = await iter.next();
      if (done) ctl.close();
      else ctl.enqueue(value);
    },
    async cancel(reason) {
      await iter.return?.(reason);
    },
  }, strategy);
}

/**
 * Reads a whole stream into memory, failing once more than `limit` bytes arrive: with the error
 * `tooLarge` makes, by default `Content is larger than the <limit>-byte limit`. Chunks are
 * collected and joined at the end: nothing is allocated from an announced size. An abort of
 * `signal` cancels the stream and throws CancelledError.
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  signal?: AbortSignal,
  tooLarge: () => Error = () => new KitError(`Content is larger than the ${limit}-byte limit`),
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel(abortReason(signal!)).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    throwIfAborted(signal);
    for (;;) {
      const { done, value } = await reader.read();
      throwIfAborted(signal);
      if (done) break;
      n += value.byteLength;
      if (n > limit) throw tooLarge();
      chunks.push(value);
    }
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * The first `limit` bytes of a stream (all of it when shorter); the rest is cancelled unread.
 * A failing read is thrown, unless `lenient`: then what arrived before it is returned.
 */
export async function readPrefix(stream: ReadableStream<Uint8Array>, limit: number, lenient = false): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
  } catch (e) {
    if (!lenient) throw e;
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(Math.min(n, limit));
  let off = 0;
  for (const c of chunks) {
    const take = Math.min(c.byteLength, all.byteLength - off);
    all.set(c.subarray(0, take), off);
    off += take;
    if (off >= all.byteLength) break;
  }
  return all;
}
