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
 * `stream` with each error it raises replaced by what `map` returns for it (e.g. a typed error in
 * place of a runtime's, or the same error after a clean-up). Pull-based: nothing is read ahead.
 */
export function mapErrors<T>(stream: ReadableStream<T>, map: (e: unknown) => unknown | Promise<unknown>): ReadableStream<T> {
  const reader = stream.getReader();
  return new ReadableStream<T>({
    async pull(ctl) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        throw await map(e);
      }
      if (r.done) ctl.close();
      else ctl.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
