/**
 * Fills the missing regions of a {@link PartialDownload} from a {@link RangeFetcher}, over several
 * connections when the source serves byte ranges (as Ollama and the Hugging Face clients download
 * large files): where a CDN or an object store caps each connection, the parts add up.
 *
 * One connection starts at the first missing byte. When its answer shows that the source honours
 * ranges, a controller measures the throughput in short windows (the better of two after each
 * change) and doubles the connections as
 * long as the network is what holds the download back (the connections spent at least half of the
 * window waiting for data) and the last doubling paid for itself — at least 40% of the gain it
 * would bring if every connection were capped — up to `maxParts`; connections that did not pay
 * retire when their part ends. A new connection takes a region nobody fetches yet, or else the
 * second half of the largest region a connection still has ahead of it (that one stops at the
 * middle, or where its request in flight ends if that lies further: requests ask for bounded
 * ranges, so nothing the server sent is cut off and sent again). When the network outruns the
 * disk, nothing is split. A window with a stall in it (a
 * read that waited half a window, or still waits after a quarter of one: a broken connection
 * resuming) decides nothing. Parts continue after a broken
 * connection inside the source's `fetchFrom`; every part's bytes stay in the partial file for a
 * later run; the digest is checked over the whole by the partial download.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { IntegrityError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { abortReason } from "../util/pool.ts";
import { skipBytes } from "../util/streams.ts";
import type { ByteRange, PartialDownload } from "./partial.ts";
import type { RangeFetcher } from "./target.ts";

export interface RangeOptions {
  /** Most connections for one blob (default 8). */
  maxParts?: number;
  /** Smallest region a new connection takes over (default 8 MiB); smaller blobs use one connection. */
  minPartBytes?: number;
  /** Length of a throughput window (default 400 ms): one to settle after a change, one measured. */
  windowMs?: number;
}

export interface FillOptions extends RangeOptions {
  signal?: AbortSignal;
  /** Bytes as they reach the disk. */
  onBytes?: (n: number) => void;
  /** What was received before is dropped (the source cannot serve ranges). */
  onRestart?: (dropped: number) => void;
  logger?: Logger;
}

/** A region one connection fetches: `pos` is the next byte it will deliver; `end` may move closer. */
interface Part {
  pos: number;
  end: number;
  /** Where the request in flight ends: the server sends nothing past it, so a split never cuts below it. */
  reqEnd: number;
}

const MiB = 1024 * 1024;
/**
 * Largest request of a part: each asks for about two seconds' worth at its connection's last rate
 * (at least twice the smallest part), and while connections may still be added, at most half of
 * what the part has left.
 */
const SLICE_MAX = 256 * MiB;
const SLICE_SECONDS = 2;
/** Share of the ideal gain (every connection capped alike) more connections must bring to be kept growing. */
const GAIN = 0.4;
/** Clean windows measured at each connection count (the best one counts). */
const MEASURED = 2;
/** Share of a window the connections must spend waiting for data for the network to count as the bottleneck. */
const NETWORK_BOUND = 0.5;

/**
 * Time the connections spent waiting for data: in all, the longest single wait since the
 * controller last looked, and when each read still waiting began.
 */
interface Waits {
  ms: number;
  longest: number;
  pending: Set<{ asked: number }>;
}

/**
 * The body of `part` up to its (possibly reduced) end: `part.pos` advances as chunks are handed
 * on, and the source is cancelled once the end is reached.
 */
function partBody(body: ReadableStream<Uint8Array>, part: Part, waits: Waits): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (part.pos >= part.end) {
        stop();
        return ctl.close();
      }
      const asked = performance.now();
      const waiting = { asked };
      waits.pending.add(waiting);
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } finally {
        waits.pending.delete(waiting);
      }
      const waited = performance.now() - asked;
      waits.ms += waited;
      waits.longest = Math.max(waits.longest, waited);
      if (r.done) return ctl.close();
      let v = r.value;
      if (part.pos + v.byteLength > part.end) v = v.subarray(0, part.end - part.pos);
      part.pos += v.byteLength;
      ctl.enqueue(v);
      if (part.pos >= part.end) {
        stop();
        ctl.close();
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Downloads what `partial` is missing of `desc` from `source` and commits it. On failure the
 * bytes received stay in the partial file (the caller closes it) and the first error is thrown.
 */
export async function fillPartial(partial: PartialDownload, source: RangeFetcher, desc: Descriptor, opts: FillOptions = {}): Promise<void> {
  const maxParts = Math.max(1, opts.maxParts ?? 8);
  const minPart = Math.max(1, opts.minPartBytes ?? 8 * MiB);
  const windowMs = opts.windowMs ?? 400;
  // Parts ask for slices (bounded ranges) when the blob can be split at all: a part that gives up
  // its back half then stops where its request ends, and nothing the server sent is wasted.
  const sliced = maxParts > 1 && desc.size >= 2 * minPart;
  const sliceMin = 2 * minPart;
  const queue: ByteRange[] = partial.missing();
  if (queue.length === 0) return partial.commit();
  if (partial.received > 0) {
    opts.logger?.debug(queue.length === 1 && queue[0]!.end === desc.size
      ? `Resuming download of ${desc.digest} at byte ${queue[0]!.start} of ${desc.size}`
      : `Resuming download of ${desc.digest} with ${partial.received} of ${desc.size} bytes received in ${queue.length} missing parts`);
  }

  const ctl = new AbortController();
  const onOuterAbort = () => ctl.abort(abortReason(opts.signal!));
  if (opts.signal?.aborted) onOuterAbort();
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  const signal = ctl.signal;
  const active = new Set<Part>();
  let firstError: unknown;
  let ranged = false;
  let received = 0;
  const waits: Waits = { ms: 0, longest: 0, pending: new Set() };
  /** The network held the download back in the last window: worth more connections, and worth splitting a part. */
  let networkBound = false;
  /** The controller adds no more connections. */
  let settled = false;
  let running = 0;
  /** Connections wanted; a worker beyond it retires after its part. */
  let target = maxParts;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const onBytes = (n: number) => {
    received += n;
    opts.onBytes?.(n);
  };

  /** Unfetched region first, else the back half of the largest region still ahead of a connection. */
  const take = (): Part | undefined => {
    const g = queue.shift();
    if (g) return { pos: g.start, end: g.end, reqEnd: g.start };
    if (!ranged || !networkBound) return undefined;
    // The middle of a part, or the end of its request in flight if that lies further.
    const splitAt = (p: Part) => Math.max(p.pos + Math.floor((p.end - p.pos) / 2), p.reqEnd);
    let victim: Part | undefined;
    for (const p of active) if (!victim || p.end - splitAt(p) > victim.end - splitAt(victim)) victim = p;
    if (!victim || victim.pos >= victim.end || victim.end - splitAt(victim) < minPart) return undefined;
    const at = splitAt(victim);
    const part = { pos: at, end: victim.end, reqEnd: at };
    victim.end = at;
    return part;
  };

  const runPart = async (part: Part, first: boolean): Promise<void> => {
    active.add(part);
    let slice = sliceMin;
    try {
      while (part.pos < part.end && !signal.aborted) {
        // While connections may still be added: at most half of what is left, so that the back half
        // can be given to another connection without waste.
        const left = part.end - part.pos;
        const cap = networkBound && !settled ? Math.ceil(left / 2) : SLICE_MAX;
        part.reqEnd = sliced ? part.pos + Math.min(left, Math.max(sliceMin, Math.min(slice, cap))) : part.end;
        const began = performance.now();
        const r = await source.fetchFrom(desc, part.pos, { signal, end: part.reqEnd });
        let body = r.body;
        if (first) {
          first = false;
          ranged = r.ranged;
          if (!r.ranged) {
            // A source without ranges sends everything from 0: keep nothing, take it all from this answer.
            if (!(part.pos === 0 && part.end === desc.size)) {
              queue.length = 0;
              const dropped = partial.received;
              await partial.restart();
              if (dropped > 0) opts.onRestart?.(dropped);
            }
            part.pos = 0;
            part.end = desc.size;
            part.reqEnd = desc.size;
          }
        } else if (r.offset < part.pos) {
          ranged = false;
          body = skipBytes(body, part.pos - r.offset);
          part.reqEnd = part.end; // this answer runs to the end of the blob
        }
        const start = part.pos;
        await partial.writeAt(start, partBody(body, part, waits), { signal, onBytes, end: part.end });
        const ms = performance.now() - began;
        slice = Math.min(SLICE_MAX, Math.max(sliceMin, Math.round(((part.pos - start) / Math.max(1, ms)) * 1000 * SLICE_SECONDS)));
      }
    } finally {
      active.delete(part);
    }
  };

  const worker = async (part: Part | undefined, first: boolean): Promise<void> => {
    while (part && !signal.aborted) {
      await runPart(part, first);
      first = false;
      if (running > target) return;
      part = take();
    }
  };

  const spawn = (part: Part, first: boolean) => {
    running++;
    worker(part, first)
      .catch((e) => {
        if (firstError === undefined) firstError = signal.aborted && opts.signal?.aborted ? abortReason(opts.signal) : e;
        ctl.abort(e);
      })
      .finally(() => {
        if (--running === 0) resolveDone();
      });
  };

  // The controller: one window to settle after each change, then MEASURED clean windows, of which
  // the best rate counts (one window slowed by something else — the event loop, the disk — must
  // not make the next doubling look like a gain). Like TCP's slow start, the count doubles while
  // doubling brings at least GAIN of what it could.
  let before: { n: number; rate: number } | undefined;
  let warm = false;
  let best = 0;
  let measured = 0;
  let last = { at: performance.now(), bytes: 0, waited: 0 };
  const timer = setInterval(() => {
    const now = performance.now();
    const elapsed = Math.max(1, now - last.at);
    const rate = (received - last.bytes) / elapsed;
    // A read that waited half a window, or one still waiting for a quarter of one, is a stall (a
    // broken connection resuming, a server pausing): such a window says nothing about what more
    // connections would bring.
    let disturbed = waits.longest > windowMs / 2;
    for (const w of waits.pending) if (now - w.asked > windowMs / 4) disturbed = true;
    if (!disturbed) networkBound = (waits.ms - last.waited) / (elapsed * Math.max(1, running)) >= NETWORK_BOUND;
    last = { at: now, bytes: received, waited: waits.ms };
    waits.longest = 0;
    if (!ranged || settled || running === 0 || signal.aborted || disturbed) return;
    if (!warm) {
      warm = true;
      return;
    }
    if (!networkBound) return;
    best = Math.max(best, rate);
    if (++measured < MEASURED) return;
    const n = running;
    const rateN = best;
    best = 0;
    measured = 0;
    if (before && rateN < before.rate * (1 + GAIN * (n / before.n - 1))) {
      settled = true;
      target = before.n;
      return;
    }
    if (n >= maxParts) return void (settled = true);
    before = { n, rate: rateN };
    const want = Math.min(n, maxParts - n);
    let added = 0;
    while (added < want) {
      const part = take();
      if (!part) break;
      spawn(part, false);
      added++;
    }
    if (added === 0) return void (settled = true);
    warm = false;
    opts.logger?.debug(`Downloading ${desc.digest} over ${n + added} connections`);
  }, windowMs);

  try {
    const firstGap = queue.shift()!;
    spawn({ pos: firstGap.start, end: firstGap.end, reqEnd: firstGap.start }, true);
    await done;
  } finally {
    clearInterval(timer);
    opts.signal?.removeEventListener("abort", onOuterAbort);
  }
  if (firstError !== undefined) throw firstError;
  const left = partial.missing();
  if (left.length > 0) {
    throw new IntegrityError(`Content of ${desc.digest} is truncated: got ${partial.received} of ${desc.size} bytes`, {
      hint: "Run the command again to resume the download",
    });
  }
  await partial.commit();
}
