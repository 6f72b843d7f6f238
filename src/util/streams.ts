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
 * The chunks of a Web stream or of any async iterable, as an async iterable. Stopping early
 * cancels the stream (or returns the iterator). An abort of `signal` cancels a stream even while
 * a read is pending, and throws CancelledError.
 */
export async function* chunksOf<T>(src: ReadableStream<T> | AsyncIterable<T>, signal?: AbortSignal): AsyncGenerator<T> {
  if (!(src instanceof ReadableStream)) {
    for await (const c of src) {
      throwIfAborted(signal);
      yield c;
    }
    return;
  }
  const reader = src.getReader();
  const onAbort = () => void reader.cancel(abortReason(signal!)).catch(() => {});
  let done = false;
  try {
    throwIfAborted(signal);
    signal?.addEventListener("abort", onAbort, { once: true });
    for (;;) {
      const r = await reader.read();
      throwIfAborted(signal);
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Reads a whole stream into memory, failing once more than `limit` bytes arrive: with the error
 * `tooLarge` makes, by default `Content is larger than the <limit>-byte limit`. Chunks are
 * collected and joined at the end: nothing is allocated from an announced size. An abort of
 * `signal` cancels the stream and throws CancelledError.
 */
export function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  signal?: AbortSignal,
  tooLarge: () => Error = () => new KitError(`Content is larger than the ${limit}-byte limit`),
): Promise<Uint8Array> {
  return collect(stream, limit, signal, tooLarge);
}

/**
 * The first `limit` bytes of a stream (fewer when it ends sooner); the rest is cancelled unread.
 * For text that is only quoted back (an error body), where more would be no use.
 */
export function readPrefix(stream: ReadableStream<Uint8Array>, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  return collect(stream, limit, signal, undefined);
}

/**
 * The one read loop over a byte stream: hands each chunk to `each` until the stream ends or
 * `each` returns false (the rest is cancelled). Aborting `signal` cancels the stream; any failure
 * (the stream's, `each`'s, the abort) cancels it and is thrown; the reader is released after.
 */
export async function eachChunk(
  stream: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
  each: (chunk: Uint8Array) => boolean | void | Promise<boolean | void>,
): Promise<void> {
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel(abortReason(signal!)).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    throwIfAborted(signal);
    for (;;) {
      const { done, value } = await reader.read();
      throwIfAborted(signal);
      if (done) return;
      if ((await each(value)) === false) {
        await reader.cancel().catch(() => {});
        return;
      }
    }
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

/** The read loop of {@link readAll} and {@link readPrefix}: past `limit`, throw `tooLarge()` or (without it) stop. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  signal: AbortSignal | undefined,
  tooLarge: (() => Error) | undefined,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  await eachChunk(stream, signal, (value) => {
    if (n + value.byteLength > limit) {
      if (tooLarge) throw tooLarge();
      chunks.push(value.subarray(0, limit - n));
      n = limit;
      return false;
    }
    n += value.byteLength;
    chunks.push(value);
  });
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** The stream without its first `n` bytes (e.g. a server that ignored a Range request answered from 0). */
export function skipBytes(s: ReadableStream<Uint8Array>, n: number): ReadableStream<Uint8Array> {
  let left = n;
  return s.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      if (left <= 0) return ctl.enqueue(chunk);
      if (chunk.byteLength <= left) {
        left -= chunk.byteLength;
        return;
      }
      ctl.enqueue(chunk.subarray(left));
      left = 0;
    },
  }));
}

/** What {@link watchStream} reports, and how it may replace a failure. */
export interface StreamWatch<T> {
  onChunk?: (chunk: T) => void;
  /** The stream failed (a broken connection, a digest mismatch): its error, before it is passed on. */
  onError?: (e: unknown) => void;
  /** The error to raise in place of the stream's (a typed error, or the same one after a clean-up). */
  mapError?: (e: unknown) => unknown | Promise<unknown>;
}

/**
 * `s` passed through unchanged while `w` watches its chunks and its failure, and may replace the
 * error it fails with. Pull-based: nothing is read ahead.
 */
export function watchStream<T>(s: ReadableStream<T>, w: StreamWatch<T>): ReadableStream<T> {
  const reader = s.getReader();
  return new ReadableStream<T>({
    async pull(ctl) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        w.onError?.(e);
        ctl.error(w.mapError ? await w.mapError(e) : e);
        return;
      }
      if (r.done) return ctl.close();
      w.onChunk?.(r.value);
      ctl.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
