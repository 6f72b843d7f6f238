/**
 * Content digests (`sha256:<hex>`) and a stream stage that hashes while bytes flow through.
 * @module
 */
import { offloadedSha256 } from "../runtime/hash-worker.ts";
import { sha256, type Sha256 } from "../runtime/runtime.ts";
import type { ChunkPool } from "../util/chunk-pool.ts";
import { IntegrityError } from "../util/errors.ts";
import { watchStream, type StreamWatch } from "../util/streams.ts";

/** A validated `sha256:<64 lower-case hex>` string. */
export type Digest = `sha256:${string}`;

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
/** go-digest's general grammar: `algorithm:encoded`. */
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(s: string): s is Digest {
  return SHA256_RE.test(s);
}

const DIGEST_ALGORITHMS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * go-digest's `Digest.Validate`: undefined when valid, else its error text
 * (`invalid checksum digest format`, `invalid checksum digest length`, `unsupported digest algorithm`).
 */
export function digestProblem(s: string): string | undefined {
  const i = s.indexOf(":");
  if (i <= 0 || i + 1 === s.length) return "invalid checksum digest format";
  const alg = s.slice(0, i);
  const encoded = s.slice(i + 1);
  const hexLen = DIGEST_ALGORITHMS[alg];
  if (hexLen === undefined) return ANY_DIGEST_RE.test(s) ? "unsupported digest algorithm" : "invalid checksum digest format";
  if (encoded.length !== hexLen) return "invalid checksum digest length";
  return /^[a-f0-9]+$/.test(encoded) ? undefined : "invalid checksum digest format";
}

/** The hex part of a digest. */
export function digestHex(d: Digest): string {
  return d.slice(7);
}

export function digestOf(data: Uint8Array | string): Digest {
  const h = sha256();
  h.update(typeof data === "string" ? new TextEncoder().encode(data) : data);
  return `sha256:${h.hex()}`;
}

/** Hashes and counts the bytes passing through; `result()` is valid once the stream has ended. */
export class DigestStream extends TransformStream<Uint8Array, Uint8Array> {
  #hash: Sha256 = sha256();
  #size = 0;
  #digest?: Digest;
  constructor() {
    let self!: DigestStream;
    super({
      transform(chunk, ctl) {
        self.#hash.update(chunk);
        self.#size += chunk.byteLength;
        ctl.enqueue(chunk);
      },
      flush() {
        self.#digest = `sha256:${self.#hash.hex()}`;
      },
    });
    self = this;
  }
  get size(): number {
    return this.#size;
  }
  /** The digest of everything that passed; throws if the stream has not finished. */
  get digest(): Digest {
    if (!this.#digest) throw new Error("DigestStream: stream has not finished");
    return this.#digest;
  }
}

/**
 * Passes bytes through while checking them against an expected size and digest. Errors the
 * stream (so nothing downstream commits) on too many bytes, too few, or a different digest.
 */
export class VerifyStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor(expected: { digest: string; size: number }, what = expected.digest) {
    const hash = sha256();
    let n = 0;
    super({
      transform(chunk, ctl) {
        n += chunk.byteLength;
        if (n > expected.size) {
          throw new IntegrityError(`Content of ${what} is larger than expected: more than ${expected.size} bytes`);
        }
        hash.update(chunk);
        ctl.enqueue(chunk);
      },
      flush() {
        if (n !== expected.size) {
          throw new IntegrityError(`Content of ${what} is truncated: got ${n} of ${expected.size} bytes`);
        }
        const got = `sha256:${hash.hex()}`;
        if (got !== expected.digest) {
          throw new IntegrityError(`Content of ${what} does not match its digest: got ${got}`, {
            hint: "The data is corrupted; fetch it again",
          });
        }
      },
    });
  }
}

/** Streams known to error before their end unless they match the digest they are mapped to. */
const verifiedStreams = new WeakMap<ReadableStream<Uint8Array>, string>();

/**
 * `s` checked against `expected` as it streams (a {@link VerifyStream}), unless `s` already is:
 * the result is marked, so whoever receives it next (a store's push, the copy) does not hash the
 * same bytes again. Every store's `fetch` returns such a stream and every `push` passes its body
 * through here, so content is hashed once per transfer whatever the pair of stores.
 */
export function verified(
  s: ReadableStream<Uint8Array>,
  expected: { digest: string; size: number },
  opts: { offload?: boolean; pool?: ChunkPool } = {},
): ReadableStream<Uint8Array> {
  if (verifiedStreams.get(s) === expected.digest) return s;
  const out = opts.offload ? offloadedVerify(s, expected, opts.pool) : s.pipeThrough(new VerifyStream(expected));
  verifiedStreams.set(out, expected.digest);
  return out;
}

/** Hashes not yet done before the next chunk is read (the chunks stay referenced until then). */
const VERIFY_IN_FLIGHT = 8;

/**
 * {@link VerifyStream}'s checks with the hashing on a worker thread: each chunk is passed on at
 * once and hashed meanwhile, so the consumer (writing files) and the hashing overlap. The verdict
 * comes with the end of the stream, as with {@link VerifyStream}. Chunks must not be changed
 * while they are hashed: fresh buffers, or buffers of `pool`, each held (retained) until hashed.
 * SharedArrayBuffer views are hashed without a copy.
 */
function offloadedVerify(s: ReadableStream<Uint8Array>, expected: { digest: string; size: number }, pool?: ChunkPool): ReadableStream<Uint8Array> {
  const what = expected.digest;
  const reader = s.getReader();
  const hasher = offloadedSha256(true);
  const pending: Promise<void>[] = [];
  let n = 0;
  const fail = (ctl: ReadableStreamDefaultController<Uint8Array>, e: unknown) => {
    hasher.close();
    void reader.cancel(e).catch(() => {});
    ctl.error(e);
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        while (pending.length >= VERIFY_IN_FLIGHT) await pending.shift();
        r = await reader.read();
      } catch (e) {
        hasher.close();
        ctl.error(e);
        return;
      }
      if (!r.done) {
        n += r.value.byteLength;
        if (n > expected.size) return fail(ctl, new IntegrityError(`Content of ${what} is larger than expected: more than ${expected.size} bytes`));
        const chunk = r.value;
        pool?.retain(chunk);
        const p = hasher.update(chunk).finally(() => pool?.release(chunk));
        p.catch(() => {}); // awaited above or at the end
        pending.push(p);
        ctl.enqueue(r.value);
        return;
      }
      if (n !== expected.size) return fail(ctl, new IntegrityError(`Content of ${what} is truncated: got ${n} of ${expected.size} bytes`));
      let got: string;
      try {
        await Promise.all(pending);
        got = `sha256:${await hasher.hex()}`;
      } catch (e) {
        return fail(ctl, e);
      }
      if (got !== expected.digest) {
        return fail(ctl, new IntegrityError(`Content of ${what} does not match its digest: got ${got}`, { hint: "The data is corrupted; fetch it again" }));
      }
      ctl.close();
    },
    cancel(reason) {
      hasher.close();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** What {@link tapStream} reports (and how it may replace a failure). */
export type StreamTap = StreamWatch<Uint8Array>;

/**
 * `s` passed through unchanged while `tap` watches its chunks and its failure. A stream
 * {@link verified} for a digest stays marked for it.
 */
export function tapStream(s: ReadableStream<Uint8Array>, tap: StreamTap): ReadableStream<Uint8Array> {
  const out = watchStream(s, tap);
  const digest = verifiedStreams.get(s);
  if (digest !== undefined) verifiedStreams.set(out, digest);
  return out;
}
