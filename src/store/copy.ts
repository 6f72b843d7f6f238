/**
 * The generic graph copy (oras `Copy` / `CopyGraph`): push and pull are both
 * `copy(src, ref, dst, ref)`. Children are copied before their parent, whatever the destination
 * already has is skipped together with everything under it, each digest is copied once, every
 * byte is verified, and the root is tagged last (also when it was skipped).
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { VerifyStream } from "../oci/digest.ts";
import { AlreadyExistsError, CancelledError, KitError } from "../util/errors.ts";
import { abortReason, Pool, type Slot, throwIfAborted } from "../util/pool.ts";
import {
  bytesStream,
  DEFAULT_MAX_METADATA_BYTES,
  fetchBytes,
  isManifestType,
  type ReadOnlyStorage,
  type ReadOnlyTarget,
  type Storage,
  successorsOf,
  type Target,
} from "./target.ts";

/** What a copy was doing when it failed (oras' operation names). */
export type CopyOp = "Resolve" | "Exists" | "Fetch" | "Push" | "Tag";

/**
 * A failure during a copy, saying which side failed: the CLI can then tell a bad source
 * (corrupt local blob, missing remote manifest) from a failing destination.
 */
export class CopyError extends KitError {
  override name = "CopyError";
  readonly op: CopyOp;
  readonly origin: "source" | "destination";
  /** The node being copied, when the failure concerns one. */
  readonly descriptor?: Descriptor;
  constructor(op: CopyOp, origin: "source" | "destination", cause: unknown, descriptor?: Descriptor) {
    super(`failed to perform "${op}" on ${origin}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.op = op;
    this.origin = origin;
    if (descriptor) this.descriptor = descriptor;
    const hint = (cause as { hint?: unknown } | null)?.hint;
    if (typeof hint === "string") this.hint = hint;
  }
}

export interface CopyGraphOptions {
  /** Nodes copied at once (default 5). A parent waiting for its children does not hold a slot. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Largest manifest read into memory (default 4 MiB). */
  maxMetadataBytes?: number;
  /** After a node has been pushed to the destination. */
  onCopied?: (desc: Descriptor) => void;
  /** When a node is skipped because the destination has it (its sub-graph is skipped silently). */
  onSkipped?: (desc: Descriptor) => void;
  /** For each chunk sent to the destination: the node and the chunk's byte count. */
  onBytes?: (desc: Descriptor, n: number) => void;
}

export type CopyOptions = CopyGraphOptions;

/**
 * Resolves `srcRef` in `src`, copies its graph into `dst` and tags the root `dstRef` there
 * (default `srcRef`). A `dstRef` equal to the root's digest is not tagged (a digest is not a tag).
 * Returns the root descriptor. Failures throw {@link CopyError}; an abort throws CancelledError.
 */
export async function copy(
  src: ReadOnlyTarget,
  srcRef: string,
  dst: Target,
  dstRef: string = srcRef,
  opts: CopyOptions = {},
): Promise<Descriptor> {
  throwIfAborted(opts.signal);
  let root: Descriptor;
  try {
    root = await src.resolve(srcRef, { signal: opts.signal });
  } catch (e) {
    throw wrap(e, "Resolve", "source", undefined, opts.signal);
  }
  await copyGraph(src, dst, root, opts);
  if (dstRef !== "" && dstRef !== root.digest) {
    try {
      await dst.tag(root, dstRef, { signal: opts.signal });
    } catch (e) {
      throw wrap(e, "Tag", "destination", root, opts.signal);
    }
  }
  return root;
}

function wrap(e: unknown, op: CopyOp, origin: "source" | "destination", desc?: Descriptor, signal?: AbortSignal): Error {
  if (e instanceof CopyError || e instanceof CancelledError) return e;
  if (signal?.aborted) return abortReason(signal);
  return new CopyError(op, origin, e, desc);
}

/** Copies the graph under `root` from `src` to `dst` without tagging anything. */
export async function copyGraph(
  src: ReadOnlyStorage,
  dst: Storage,
  root: Descriptor,
  opts: CopyGraphOptions = {},
): Promise<void> {
  throwIfAborted(opts.signal);
  const pool = new Pool(opts.concurrency ?? 5);
  const maxMeta = opts.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES;
  // One controller for the whole copy: the first failure stops every other transfer.
  const ctl = new AbortController();
  const onOuterAbort = () => ctl.abort(abortReason(opts.signal!));
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  const signal = ctl.signal;
  const visits = new Map<string, Promise<void>>();
  let firstError: unknown;

  const fail = (e: unknown): never => {
    if (firstError === undefined) {
      firstError = e;
      if (!signal.aborted) ctl.abort(new CancelledError());
    }
    throw e;
  };

  const copyNode = async (desc: Descriptor, slot: Slot): Promise<void> => {
    let present: boolean;
    try {
      present = await dst.exists(desc, { signal });
    } catch (e) {
      return fail(wrap(e, "Exists", "destination", desc, opts.signal));
    }
    if (present) {
      opts.onSkipped?.(desc);
      return;
    }
    if (isManifestType(desc.mediaType)) {
      let bytes: Uint8Array;
      let children: Descriptor[];
      try {
        bytes = await fetchBytes(src, desc, maxMeta, { signal });
        children = successorsOf(desc, bytes);
      } catch (e) {
        return fail(wrap(e, "Fetch", "source", desc, opts.signal));
      }
      await slot.waitFor(Promise.all(children.map(visit)));
      throwIfAborted(signal);
      await pushNode(desc, bytesStream(bytes), undefined);
      return;
    }
    let body: ReadableStream<Uint8Array>;
    try {
      body = await src.fetch(desc, { signal });
    } catch (e) {
      return fail(wrap(e, "Fetch", "source", desc, opts.signal));
    }
    // Hashed once: by the source when it verifies its fetches, else here.
    const verified = src.verifiesFetch ? body : body.pipeThrough(new VerifyStream(desc));
    const guard: { error?: unknown } = {};
    await pushNode(desc, guardSource(verified, guard), guard);
  };

  const pushNode = async (
    desc: Descriptor,
    body: ReadableStream<Uint8Array>,
    guard: { error?: unknown } | undefined,
  ): Promise<void> => {
    const counted = opts.onBytes ? body.pipeThrough(counter(desc, opts.onBytes)) : body;
    try {
      // Every body handed over errors before its end on a mismatch (fetchBytes and the source
      // or the VerifyStream above check it), so the destination need not hash it again.
      await dst.push(desc, counted, { signal, verified: true });
    } catch (e) {
      await counted.cancel(e).catch(() => {}); // in case the destination left it open
      if (e instanceof AlreadyExistsError) {
        opts.onSkipped?.(desc);
        return;
      }
      // A failure while reading the source (damaged bytes, broken connection) is the source's.
      if (guard?.error !== undefined) return fail(wrap(guard.error, "Fetch", "source", desc, opts.signal));
      return fail(wrap(e, "Push", "destination", desc, opts.signal));
    }
    opts.onCopied?.(desc);
  };

  const visit = (desc: Descriptor): Promise<void> => {
    let p = visits.get(desc.digest);
    if (p) return p;
    p = pool.run(async (slot) => {
      throwIfAborted(signal);
      await copyNode(desc, slot);
    }, signal);
    visits.set(desc.digest, p);
    p.catch(() => {}); // observed by parents and below; avoid unhandled-rejection noise
    return p;
  };

  try {
    await visit(root);
  } catch (e) {
    // Let every started transfer settle before reporting, so nothing writes after we return.
    ctl.abort(new CancelledError());
    await Promise.allSettled([...visits.values()]);
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    throw firstError ?? e;
  } finally {
    opts.signal?.removeEventListener("abort", onOuterAbort);
  }
}

/** Records an error raised while reading `s` (so it can be blamed on the source) and passes it on. */
function guardSource(s: ReadableStream<Uint8Array>, guard: { error?: unknown }): ReadableStream<Uint8Array> {
  const reader = s.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        const { done, value } = await reader.read();
        if (done) ctl.close();
        else ctl.enqueue(value);
      } catch (e) {
        guard.error = e;
        ctl.error(e);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

function counter(desc: Descriptor, onBytes: (desc: Descriptor, n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, ctl) {
      onBytes(desc, chunk.byteLength);
      ctl.enqueue(chunk);
    },
  });
}
