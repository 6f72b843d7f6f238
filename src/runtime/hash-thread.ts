/**
 * SHA-256 of a byte stream computed on a worker thread, so that hashing a large download runs
 * beside the receiving and writing instead of after them (a 1 GiB import hashes its bytes twice:
 * once for the check against the listing, once for the layer digest — 1.6 s of one core here).
 *
 * Bytes are copied into 1 MiB buffers handed to the worker (transferred, not copied again) and
 * handed back once hashed, to be filled again; at most {@link MAX_IN_FLIGHT} buffers wait for the
 * worker, so memory stays bounded and a slower worker slows the feeder down. Each byte goes to the hashes named by a mask, so one worker keeps
 * several digests of overlapping data (a file's content, and the tar layer around it).
 *
 * Web `Worker` with a module from a `blob:` URL and `node:crypto` inside: the same under Bun
 * (also in a compiled binary) and Deno. Where workers are missing, {@link hashThread} returns
 * undefined and the caller hashes on its own thread.
 * @module
 */

const WORKER_SOURCE = `
import { createHash } from "node:crypto";
let hashes = [];
self.onmessage = (e) => {
  const m = e.data;
  if (m.op === "init") {
    hashes = Array.from({ length: m.count }, () => createHash("sha256"));
  } else if (m.op === "data") {
    const b = new Uint8Array(m.buf, 0, m.len);
    for (let i = 0; i < hashes.length; i++) if (m.mask & (1 << i)) hashes[i].update(b);
    self.postMessage({ op: "ack", buf: m.buf }, [m.buf]);
  } else if (m.op === "end") {
    self.postMessage({ op: "done", hex: hashes.map((h) => h.digest("hex")) });
  }
};
`;

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

let workerUrl: string | undefined;

/** A hash thread with `count` digests, or undefined when this runtime cannot start a worker. */
export function hashThread(count: number): HashThread | undefined {
  const W = (globalThis as { Worker?: typeof Worker }).Worker;
  if (!W || typeof URL.createObjectURL !== "function") return undefined;
  let worker: Worker;
  try {
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    worker = new W(workerUrl, { type: "module" });
  } catch {
    return undefined;
  }
  worker.postMessage({ op: "init", count });
  let inFlight = 0;
  let waiting: (() => void) | undefined;
  let failed: Error | undefined;
  let done: ((hex: string[]) => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  const free: ArrayBuffer[] = [];
  worker.onmessage = (e: MessageEvent) => {
    const m = e.data as { op: string; hex?: string[]; buf?: ArrayBuffer };
    if (m.op === "ack") {
      inFlight--;
      if (m.buf) free.push(m.buf);
      const w = waiting;
      waiting = undefined;
      w?.();
    } else if (m.op === "done") {
      done?.(m.hex!);
    }
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault?.();
    failed = new Error(`Hashing thread failed: ${e.message}`);
    const w = waiting;
    waiting = undefined;
    w?.();
    fail?.(failed);
  };

  let buf = new Uint8Array(BUFFER_BYTES);
  let fill = 0;
  let bufMask = 0;
  const flush = async () => {
    if (fill === 0) return;
    while (inFlight >= MAX_IN_FLIGHT && !failed) await new Promise<void>((r) => (waiting = r));
    if (failed) throw failed;
    inFlight++;
    worker.postMessage({ op: "data", buf: buf.buffer, len: fill, mask: bufMask }, [buf.buffer]);
    const again = free.pop();
    buf = again ? new Uint8Array(again) : new Uint8Array(BUFFER_BYTES);
    fill = 0;
  };

  return {
    async update(data, mask) {
      if (failed) throw failed;
      if (fill > 0 && mask !== bufMask) await flush();
      bufMask = mask;
      let off = 0;
      while (off < data.length) {
        const take = Math.min(data.length - off, BUFFER_BYTES - fill);
        buf.set(data.subarray(off, off + take), fill);
        fill += take;
        off += take;
        if (fill === BUFFER_BYTES) await flush();
      }
    },
    async digests() {
      await flush();
      const result = new Promise<string[]>((resolve, reject) => {
        done = resolve;
        fail = reject;
      });
      worker.postMessage({ op: "end" });
      try {
        return await result;
      } finally {
        worker.terminate();
      }
    },
    close() {
      worker.terminate();
    },
    get queued() {
      return inFlight;
    },
  };
}
