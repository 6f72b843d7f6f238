/**
 * SHA-256 on another core: hash states live in Web Workers (started from an inline module source,
 * so a compiled binary needs no extra entry point), chunks reach them without a copy when they
 * are views of a SharedArrayBuffer. The caller keeps writing (or reading) on its own thread while
 * the worker hashes, which is what lets pack and unpack overlap hashing with file I/O.
 *
 * Each state is pinned to one worker, so its chunks are hashed in the order given; several states
 * (layers) spread over up to one worker per core. Workers end once no state uses them for a
 * moment. Where workers are not available the hashing happens inline, with the same interface.
 * The hasher inside the worker is the runtime's (Bun's `CryptoHasher`, else `node:crypto`), hence
 * this module lives with the runtime adapter.
 * @module
 */
import { ChunkPool } from "../util/chunk-pool.ts";
import { runtimeName, sha256 } from "./runtime.ts";

/** An incremental SHA-256 whose work may run on another thread. */
export interface OffloadedSha256 {
  /**
   * Queues `chunk`; the promise resolves once it has been hashed. Until then the chunk's bytes
   * must not change (a SharedArrayBuffer view is read in place; other chunks are copied first).
   */
  update(chunk: Uint8Array): Promise<void>;
  /** The lower-case hex digest of everything queued; the hasher cannot be used afterwards. */
  hex(): Promise<string>;
  /** Drops the state without a digest (after a failure); pending updates are abandoned. */
  close(): void;
  /** True when the hashing runs on a worker thread. */
  readonly offloaded: boolean;
}

const bunSource = `
const states = new Map();
self.onmessage = (e) => {
  const m = e.data;
  try {
    if (m.op === "update") {
      let h = states.get(m.id);
      if (!h) states.set(m.id, (h = new Bun.CryptoHasher("sha256")));
      h.update(new Uint8Array(m.buf, m.off, m.len));
      self.postMessage({ op: "ack", id: m.id, seq: m.seq });
    } else if (m.op === "digest") {
      const h = states.get(m.id) ?? new Bun.CryptoHasher("sha256");
      states.delete(m.id);
      self.postMessage({ op: "digest", id: m.id, hex: h.digest("hex") });
    } else if (m.op === "drop") {
      states.delete(m.id);
    }
  } catch (err) {
    self.postMessage({ op: "error", id: m.id, message: String(err && err.message || err) });
  }
};`;

// The same protocol over node:crypto (Deno).
const nodeSource = `import { createHash } from "node:crypto";\n${bunSource.replaceAll('new Bun.CryptoHasher("sha256")', 'createHash("sha256")')}`;

interface Pending {
  resolve(): void;
  reject(e: Error): void;
}

interface HashThread {
  worker: Worker;
  /** Open states on this worker. */
  users: number;
  acks: Map<number, Pending>;
  digests: Map<number, { resolve(hex: string): void; reject(e: Error): void }>;
  idle?: ReturnType<typeof setTimeout>;
  failed?: Error;
}

const threads: HashThread[] = [];
let nextId = 1;
let nextSeq = 1;
let sourceUrl: string | undefined;

/** Content from this size on is worth hashing on a worker thread (a thread costs more below it). */
export const OFFLOAD_MIN_BYTES = 8 * 1024 * 1024;

/** Chunks that are not SharedArrayBuffer views are copied, in pieces of this size, into this many buffers per hasher. */
const COPY_BYTES = 1024 * 1024;
const COPY_BUFFERS = 4;

/** Workers end this long after their last state is done (a pack's next layer reuses them). */
const IDLE_MS = 250;

function maxThreads(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(n, 8));
}

/** True when this runtime can start the hash workers (Web Workers from a `blob:` URL). */
export function workersAvailable(): boolean {
  return typeof Worker === "function" && typeof Blob === "function" && typeof URL.createObjectURL === "function";
}

function fail(t: HashThread, e: Error): void {
  t.failed = e;
  for (const p of t.acks.values()) p.reject(e);
  for (const p of t.digests.values()) p.reject(e);
  t.acks.clear();
  t.digests.clear();
  const i = threads.indexOf(t);
  if (i >= 0) threads.splice(i, 1);
  t.worker.terminate();
}

function startThread(): HashThread {
  sourceUrl ??= URL.createObjectURL(new Blob([runtimeName === "bun" ? bunSource : nodeSource], { type: "text/javascript" }));
  const worker = new Worker(sourceUrl, { type: "module" });
  const t: HashThread = { worker, users: 0, acks: new Map(), digests: new Map() };
  worker.onmessage = (e: MessageEvent) => {
    const m = e.data as { op: string; id: number; seq?: number; hex?: string; message?: string };
    if (m.op === "ack") {
      const p = t.acks.get(m.seq!);
      t.acks.delete(m.seq!);
      p?.resolve();
    } else if (m.op === "digest") {
      const p = t.digests.get(m.id);
      t.digests.delete(m.id);
      p?.resolve(m.hex!);
    } else if (m.op === "error") {
      fail(t, new Error(`SHA-256 worker failed: ${m.message}`));
    }
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault?.();
    fail(t, new Error(`SHA-256 worker failed: ${e.message}`));
  };
  threads.push(t);
  return t;
}

function acquireThread(): HashThread {
  let best = threads.reduce<HashThread | undefined>((a, t) => (!a || t.users < a.users ? t : a), undefined);
  if ((!best || best.users > 0) && threads.length < maxThreads()) best = startThread();
  best = best!;
  if (best.idle !== undefined) clearTimeout(best.idle);
  best.idle = undefined;
  if (best.users++ === 0) (best.worker as RefCounted).ref?.();
  return best;
}

function releaseThread(t: HashThread): void {
  t.users--;
  if (t.users > 0 || t.failed) return;
  // An idle worker must not keep the process alive (Bun); a busy one must, or Bun could exit
  // while the only thing left to wait for is a digest.
  (t.worker as RefCounted).unref?.();
  t.idle = setTimeout(() => {
    if (t.users > 0) return;
    const i = threads.indexOf(t);
    if (i >= 0) threads.splice(i, 1);
    t.worker.terminate();
  }, IDLE_MS);
  (t.idle as { unref?: () => void }).unref?.();
}

type RefCounted = { ref?: () => void; unref?: () => void };

function isShared(chunk: Uint8Array): boolean {
  return typeof SharedArrayBuffer === "function" && chunk.buffer instanceof SharedArrayBuffer;
}

function inlineSha256(): OffloadedSha256 {
  const h = sha256();
  return {
    offloaded: false,
    update(chunk) {
      h.update(chunk);
      return Promise.resolve();
    },
    hex: () => Promise.resolve(h.hex()),
    close() {},
  };
}

/**
 * A SHA-256 hashed on a worker thread when `offload` is true and the runtime has workers; inline
 * otherwise (small inputs are not worth a thread).
 */
export function offloadedSha256(offload = true): OffloadedSha256 {
  if (!offload || !workersAvailable()) return inlineSha256();
  const t = acquireThread();
  const id = nextId++;
  let open = true;
  let dropped = false;
  /** Sends a view of a SharedArrayBuffer; resolves once the worker has hashed it. */
  const send = (view: Uint8Array): Promise<void> => {
    if (t.failed) return Promise.reject(t.failed);
    if (dropped) return Promise.reject(new Error("SHA-256: closed"));
    const seq = nextSeq++;
    const p = new Promise<void>((resolve, reject) => t.acks.set(seq, { resolve, reject }));
    t.worker.postMessage({ op: "update", id, seq, buf: view.buffer, off: view.byteOffset, len: view.byteLength });
    return p;
  };
  // Other chunks are copied into a few shared buffers of this hasher's own, reused once hashed
  // (transferring fresh copies would pile up garbage in the worker). Waiting for one must not
  // let a later chunk overtake: chunks are sent strictly in order.
  let copies: ChunkPool | undefined;
  let sent: Promise<unknown> = Promise.resolve();
  const sendCopies = async (chunk: Uint8Array): Promise<{ hashed: Promise<void> }> => {
    copies ??= new ChunkPool(COPY_BYTES, COPY_BUFFERS);
    const pool = copies;
    const acks: Promise<void>[] = [];
    for (let off = 0; off < chunk.byteLength || off === 0; off += COPY_BYTES) {
      const piece = chunk.subarray(off, off + COPY_BYTES);
      const view = (await pool.acquire()).subarray(0, piece.byteLength);
      view.set(piece);
      acks.push(send(view).finally(() => pool.release(view)));
      if (chunk.byteLength === 0) break;
    }
    return { hashed: Promise.all(acks).then(() => {}) };
  };
  return {
    offloaded: true,
    update(chunk) {
      if (!open) return Promise.reject(new Error("SHA-256: update after the digest"));
      if (t.failed) return Promise.reject(t.failed);
      // `queued` settles once the chunk is sent, `hashed` (boxed, so not awaited here) once hashed.
      const queued = sent.then(() => (isShared(chunk) ? { hashed: send(chunk) } : sendCopies(chunk)));
      sent = queued.catch(() => {});
      return queued.then((q) => q.hashed);
    },
    hex() {
      if (!open) return Promise.reject(new Error("SHA-256: digest taken twice"));
      if (t.failed) return Promise.reject(t.failed);
      // After every chunk has been sent.
      const p = sent.then(() => {
        if (t.failed) throw t.failed;
        const digest = new Promise<string>((resolve, reject) => t.digests.set(id, { resolve, reject }));
        t.worker.postMessage({ op: "digest", id });
        return digest;
      });
      open = false;
      return p.finally(() => releaseThread(t));
    },
    close() {
      if (!open) return;
      open = false;
      dropped = true;
      void sent.then(() => {
        if (!t.failed) t.worker.postMessage({ op: "drop", id });
        releaseThread(t);
      });
    },
  };
}
