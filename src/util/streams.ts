/**
 * Small Web Streams helpers.
 * @module
 */

/** A pull-based stream over an async iterable (backpressure: one chunk is read per pull). */
export function iterableStream<T>(it: AsyncIterable<T>): ReadableStream<T> {
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
  });
}
