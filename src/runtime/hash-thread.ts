/**
 * SHA-256 of a byte stream computed on a worker thread, so that hashing a large download runs
 * beside the receiving and writing instead of after them (a 1 GiB import hashes its bytes twice:
 * once for the check against the listing, once for the layer digest — 1.6 s of one core here).
 *
 * Bytes are copied once into 1 MiB shared buffers, each handed (without a further copy) to every
 * hash its mask names, and reused once all of them have hashed it; at most {@link MAX_IN_FLIGHT}
 * buffers wait for the worker, so memory stays bounded and a slower worker slows the feeder
 * down. Each byte goes to the hashes named by a mask, so one stream keeps several digests of
 * overlapping data (a file's content, and the tar layer around it). The hashing itself is
 * {@link offloadedSha256}'s (the process's hash workers). Where workers are missing,
 * {@link hashThread} returns undefined and the caller hashes on its own thread.
 * @module
 */
import { ChunkPool } from "../util/chunk-pool.ts";
import { offloadedSha256, workersAvailable, type OffloadedSha256 } from "./hash-worker.ts";

const BUFFER_BYTES = 1 << 20;
/** Buffers handed to the worker and not yet hashed. */
export const MAX_IN_FLIGHT = 8;

/** Several SHA-256 digests over masked parts of one stream, computed on another thread. */
export interface HashThread {
  /** Adds `data` to the hashes whose bit is set in `mask` (bit i = hash i). Await it: it waits while the worker is behind. */
  update(data: Uint8Array, mask: number): Promise<void>;
  /** The digests (lower-case hex), in order; the thread is gone afterwards. */
  digests(): Promise<string[]>;
  /** Stops the thread without results. */
  close(): void;
  /** Buffers handed to the thread and not hashed yet (never more than {@link MAX_IN_FLIGHT}). */
  readonly queued: number;
}

/** A hash thread with `count` digests, or undefined when this runtime cannot start a worker. */
export function hashThread(count: number): HashThread | undefined {
  if (!workersAvailable()) return undefined;
  const hashes: OffloadedSha256[] = Array.from({ length: count }, () => offloadedSha256(true));
  const pool = new ChunkPool(BUFFER_BYTES, MAX_IN_FLIGHT);
  let queued = 0;
  let failed: unknown;
  let buf: Uint8Array | undefined;
  let fill = 0;
  let bufMask = 0;

  // Hands the filled buffer to the hashes of its mask; it goes back to the pool once all have hashed it.
  const flush = () => {
    if (!buf || fill === 0) return;
    const view = buf.subarray(0, fill);
    buf = undefined;
    fill = 0;
    queued++;
    const acks = hashes.filter((_, i) => bufMask & (1 << i)).map((h) => h.update(view));
    void Promise.all(acks)
      .catch((e) => void (failed ??= e))
      .finally(() => {
        queued--;
        pool.release(view);
      });
  };

  return {
    async update(data, mask) {
      if (failed) throw failed;
      if (fill > 0 && mask !== bufMask) flush();
      bufMask = mask;
      let off = 0;
      while (off < data.length) {
        buf ??= await pool.acquire();
        if (failed) throw failed;
        const take = Math.min(data.length - off, BUFFER_BYTES - fill);
        buf.set(data.subarray(off, off + take), fill);
        fill += take;
        off += take;
        if (fill === BUFFER_BYTES) flush();
      }
    },
    async digests() {
      flush();
      if (buf) pool.release(buf);
      const hex = await Promise.all(hashes.map((h) => h.hex()));
      if (failed) throw failed;
      return hex;
    },
    close() {
      for (const h of hashes) h.close();
    },
    get queued() {
      return queued;
    },
  };
}
