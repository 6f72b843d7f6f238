/**
 * Blob bodies that survive broken connections: when the connection drops (or stalls) in the middle
 * of a blob, the download continues with `Range: bytes=<received>-` (or, from a server without
 * ranges, by skipping what was already delivered), so the consumer sees one uninterrupted stream.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { CancelledError, IntegrityError, KitError, NotFoundError, errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { abortReason } from "../util/pool.ts";
import { skipBytes } from "../util/streams.ts";

/** Opens the blob again from byte `offset`; returns the response body and the offset it really starts at. */
export type ReopenAt = (offset: number, signal?: AbortSignal) => Promise<{ body: ReadableStream<Uint8Array>; offset: number }>;

export interface ResumeOptions {
  /** Where the body ends (exclusive; default the end of the blob). */
  end?: number;
  /** Resumes allowed per blob (default 10). */
  maxResumes?: number;
  /** A read waiting longer than this for data counts as a broken connection (default 60 s; 0 = never). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** Delay before resume number n (1-based) after failures without progress. */
  backoff: (n: number) => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

class StalledError extends KitError {
  override name = "StalledError";
}

/** Broken connections, stalls, timeouts and server-side trouble are worth a resume; a refusal is not. */
function resumable(e: unknown): boolean {
  if (e instanceof CancelledError || e instanceof IntegrityError || e instanceof NotFoundError) return false;
  if ((e as { retryable?: unknown } | null)?.retryable === false) return false;
  const status = (e as { status?: unknown } | null)?.status;
  if (typeof status === "number") return status === 408 || status === 429 || status >= 500;
  return true;
}

async function readWithTimeout(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  ms: number,
): Promise<Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>> {
  if (ms <= 0) return reader.read();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StalledError(`no data received for ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([reader.read(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The content of `desc` from byte `start` on (to `opts.end`), read from `first` and continued
 * through `reopen` after a failure. Bytes are not verified here (the caller hashes the whole
 * content); the total length is enforced. Gives up after `maxResumes` resumes with the last error.
 * Only the size and the digest of `desc` are used; the digest names the content in messages (any
 * name will do).
 */
export function resumingBody(
  desc: Pick<Descriptor, "size"> & { digest: string },
  first: ReadableStream<Uint8Array>,
  start: number,
  reopen: ReopenAt,
  opts: ResumeOptions,
): ReadableStream<Uint8Array> {
  const maxResumes = opts.maxResumes ?? 10;
  const idle = opts.idleTimeoutMs ?? 60_000;
  const end = opts.end ?? desc.size;
  let reader = first.getReader();
  let pos = start;
  let resumes = 0;
  let stuck = 0; // failures since the last byte arrived
  let lastPos = start;

  const resume = async (cause: unknown): Promise<void> => {
    for (;;) {
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      if (!resumable(cause)) throw cause;
      if (resumes >= maxResumes) {
        throw new KitError(`Download of ${desc.digest} failed after ${resumes} resumed attempts: ${errorMessage(cause)}`, { cause });
      }
      resumes++;
      stuck = pos > lastPos ? 1 : stuck + 1;
      lastPos = pos;
      void reader.cancel().catch(() => {});
      opts.logger?.debug(`Connection lost while downloading ${desc.digest} at byte ${pos} of ${desc.size} (${errorMessage(cause)}); resuming`);
      await opts.sleep(opts.backoff(stuck), opts.signal);
      try {
        const r = await reopen(pos, opts.signal);
        reader = (r.offset < pos ? skipBytes(r.body, pos - r.offset) : r.body).getReader();
        return;
      } catch (e) {
        cause = e;
      }
    }
  };

  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      for (;;) {
        let r: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;
        try {
          r = await readWithTimeout(reader, idle);
        } catch (e) {
          if (opts.signal?.aborted) throw abortReason(opts.signal);
          await resume(e);
          continue;
        }
        if (r.done) {
          if (pos >= end) {
            ctl.close();
            return;
          }
          await resume(new KitError(`connection closed after ${pos} of ${end} bytes`));
          continue;
        }
        if (pos + r.value.byteLength > end) {
          void reader.cancel().catch(() => {});
          throw new IntegrityError(end === desc.size
            ? `Content of ${desc.digest} is larger than expected: more than ${desc.size} bytes`
            : `The registry sent more than bytes ${start}-${end - 1} of ${desc.digest}`);
        }
        pos += r.value.byteLength;
        ctl.enqueue(r.value);
        return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
