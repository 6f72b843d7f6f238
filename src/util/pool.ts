/**
 * A concurrency limiter for async tasks. A task can give its slot back while it waits for
 * work it started itself (oras-go's `syncutil.LimitRegion` End/Start): a parent waiting for its
 * children must not hold a slot, or a deep graph with a small limit deadlocks.
 * @module
 */
import { CancelledError } from "./errors.ts";

/** Throws {@link CancelledError} when `signal` has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** The error to throw for an aborted signal: its reason when that is a CancelledError, else a new one. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof CancelledError ? r : new CancelledError();
}

/** The slot a running task holds; see {@link Pool.run}. */
export interface Slot {
  /**
   * Gives the slot back while `work` settles, then waits for a slot again before returning
   * `work`'s result (or throwing its error). Re-acquiring goes ahead of tasks not yet started.
   */
  waitFor<T>(work: Promise<T>): Promise<T>;
}

interface Waiter<T> {
  resolve(v: T): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Callers waiting for a value, first come first served; an abort of a caller's signal takes it out of the line. */
export class WaitQueue<T> {
  #queue: Waiter<T>[] = [];

  get length(): number {
    return this.#queue.length;
  }

  /** Waits for {@link wake}; `urgent` goes to the front of the line. Rejects with CancelledError on abort. */
  wait(signal?: AbortSignal, urgent = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve };
      if (signal) {
        w.signal = signal;
        w.onAbort = () => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(abortReason(signal));
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      if (urgent) this.#queue.unshift(w);
      else this.#queue.push(w);
    });
  }

  /** Hands `v` to the first waiter; false when nobody waits. */
  wake(v: T): boolean {
    const next = this.#queue.shift();
    if (!next) return false;
    if (next.onAbort) next.signal!.removeEventListener("abort", next.onAbort);
    next.resolve(v);
    return true;
  }
}

/** Runs at most `limit` tasks at a time, first come first served. */
export class Pool {
  readonly limit: number;
  #active = 0;
  #queue = new WaitQueue<void>();

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Concurrency limit must be a positive integer, got ${limit}`);
    }
    this.limit = limit;
  }

  /** Tasks currently holding a slot. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Waits for a slot, runs `fn` and frees the slot when it settles. While queued, an abort of
   * `signal` rejects with {@link CancelledError} without running `fn`.
   */
  async run<T>(fn: (slot: Slot) => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal, false);
    let held = true;
    const slot: Slot = {
      waitFor: async <U>(work: Promise<U>): Promise<U> => {
        if (!held) return work;
        held = false;
        this.#release();
        let result: U;
        try {
          result = await work;
        } catch (e) {
          await this.#acquire(undefined, true);
          held = true;
          throw e;
        }
        await this.#acquire(signal, true);
        held = true;
        return result;
      },
    };
    try {
      return await fn(slot);
    } finally {
      if (held) this.#release();
    }
  }

  #acquire(signal: AbortSignal | undefined, urgent: boolean): Promise<void> {
    throwIfAborted(signal);
    if (this.#active < this.limit && this.#queue.length === 0) {
      this.#active++;
      return Promise.resolve();
    }
    return this.#queue.wait(signal, urgent);
  }

  #release(): void {
    // The slot passes straight to the next waiter: #active stays the same.
    if (!this.#queue.wake()) this.#active--;
  }
}

/** A pool running at most `n` tasks at once. */
export function limit(n: number): Pool {
  return new Pool(n);
}

/** Runs `fn` over `items`, at most `n` at a time; the first failure stops the rest. */
export async function mapLimit<T, R>(items: T[], n: number, fn: (item: T, signal: AbortSignal) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const pool = new Pool(Math.max(1, n));
  const ctl = new AbortController();
  const stop = () => ctl.abort(signal?.reason);
  signal?.addEventListener("abort", stop, { once: true });
  try {
    return await Promise.all(items.map((item) => pool.run(() => fn(item, ctl.signal), ctl.signal).catch((e) => {
      if (!ctl.signal.aborted) ctl.abort(e);
      throw e;
    })));
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

/** Waits `ms`; rejects with the abort reason (a CancelledError) when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
