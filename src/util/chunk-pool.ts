/**
 * A bounded set of reusable chunk buffers. A reader takes a buffer, fills it and hands it on;
 * whoever consumes it last gives it back. A buffer used by several consumers at once (written
 * and hashed) is counted: each {@link ChunkPool.retain} needs its {@link ChunkPool.release}.
 * Memory stays at `slots × chunkSize` however far the reader gets ahead (it waits for a free
 * buffer), and no fresh pages are touched per chunk.
 * Buffers are SharedArrayBuffers where the runtime has them, so a worker thread can hash a chunk
 * in place while the main thread writes it.
 * @module
 */
import { throwIfAborted, WaitQueue } from "./pool.ts";

export class ChunkPool {
  readonly chunkSize: number;
  readonly slots: number;
  #free: Uint8Array[] = [];
  /** Buffers in use and how many holders each has. */
  #refs = new Map<ArrayBufferLike, number>();
  #created = 0;
  #waiters = new WaitQueue<Uint8Array>();

  constructor(chunkSize: number, slots: number) {
    if (!(chunkSize > 0) || !Number.isInteger(slots) || slots < 1) throw new RangeError(`Invalid chunk pool ${slots} × ${chunkSize}`);
    this.chunkSize = chunkSize;
    this.slots = slots;
  }

  /** A whole free buffer (`chunkSize` bytes, contents undefined); waits while all are in use. */
  acquire(signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    const b = this.#free.pop() ?? (this.#created < this.slots ? this.#create() : undefined);
    if (b) {
      this.#refs.set(b.buffer, 1);
      return Promise.resolve(b);
    }
    return this.#waiters.wait(signal);
  }

  /** True when `chunk` is (a view into) one of this pool's buffers that is in use. */
  owns(chunk: Uint8Array): boolean {
    return this.#refs.has(chunk.buffer);
  }

  /** One more holder of the buffer `chunk` views (it then needs one more release). */
  retain(chunk: Uint8Array): void {
    const n = this.#refs.get(chunk.buffer);
    if (n !== undefined) this.#refs.set(chunk.buffer, n + 1);
  }

  /**
   * Gives back one holder's use of the buffer `chunk` views; the last one frees it. Chunks that
   * are not the pool's are ignored.
   */
  release(chunk: Uint8Array): void {
    const n = this.#refs.get(chunk.buffer);
    if (n === undefined) return;
    if (n > 1) return void this.#refs.set(chunk.buffer, n - 1);
    const whole = new Uint8Array(chunk.buffer, 0, this.chunkSize);
    if (this.#waiters.wake(whole)) return; // straight to the next reader, still in use (one holder)
    this.#refs.delete(chunk.buffer);
    this.#free.push(whole);
  }

  #create(): Uint8Array {
    this.#created++;
    return new Uint8Array(typeof SharedArrayBuffer === "function" ? new SharedArrayBuffer(this.chunkSize) : new ArrayBuffer(this.chunkSize));
  }
}
