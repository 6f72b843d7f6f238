/**
 * The generic graph copy (oras `Copy` / `CopyGraph`): `kit push`, `kit pull`, `kit tag` across
 * repositories and the legacy-storage migration are all `copy(src, ref, dst, ref)`. Children are
 * copied before their parent, whatever the destination already has is skipped together with
 * everything under it, each digest is copied once, every byte is verified once, and the root is
 * tagged last (also when it was skipped).
 *
 * What a pair of stores can do beyond the core interfaces is found by type guard (store/target.ts),
 * never by flags: a {@link Resumer} destination with a {@link RangeFetcher} source continues a
 * partly received blob and fetches a large one over several connections; a {@link Mounter} destination mounts blobs from the repositories
 * `mountFrom` names; a {@link ReferencePusher} destination stores and tags the root in one request.
 * A push that fails with a {@link TransientError} is tried again with the content fetched anew.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { digestHex, tapStream, verified } from "../oci/digest.ts";
import { OFFLOAD_MIN_BYTES } from "../runtime/hash-worker.ts";
import { ChunkPool } from "../util/chunk-pool.ts";
import { AlreadyExistsError, CancelledError, IntegrityError, KitError, TransientError } from "../util/errors.ts";
import { abortReason, Pool, type Slot, sleep, throwIfAborted } from "../util/pool.ts";
import type { Logger } from "../util/log.ts";
import { noProgress, noTask, type Progress, type ProgressTask } from "../util/progress.ts";
import { fillPartial, type RangeOptions } from "./ranges.ts";
import {
  bytesStream,
  DEFAULT_MAX_METADATA_BYTES,
  fetchBytes,
  isManifestType,
  isMounter,
  isPooledPusher,
  isRangeFetcher,
  isReferencePusher,
  isResumer,
  type Mounter,
  type RangeFetcher,
  type ReadOnlyStorage,
  type ReferencePusher,
  type Resumer,
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
  /** Repositories of the destination's registry a blob may be mounted from (used when the destination is a Mounter). */
  mountFrom?: string[];
  /** Attempts per blob when the destination fails transiently (default 5). */
  pushAttempts?: number;
  /** Connections per blob and when to add them, for downloads a destination keeps partially (store/ranges.ts). */
  parallelRanges?: RangeOptions;
  /** Debug messages (resumed and parallel downloads). */
  logger?: Logger;
  /** A bar per blob of at least 64 KiB. */
  progress?: Progress;
  /** A blob's bar title (what the blob is to the user); {@link copyTitle} when undefined. */
  describe?: (desc: Descriptor) => string | undefined;
  /**
   * Called with a manifest's bytes after they were fetched and verified, before anything under it
   * is copied: throwing here (a manifest or config the caller refuses) stops the copy with
   * nothing of that manifest stored. `fetch` reads a small child (a config) from the source;
   * the copy reuses what it read.
   */
  checkManifest?: (desc: Descriptor, bytes: Uint8Array, fetch: (child: Descriptor) => Promise<Uint8Array>) => Promise<void>;
  /** After a node has been pushed to the destination. */
  onCopied?: (desc: Descriptor) => void;
  /** When a node is skipped because the destination has it (its sub-graph is skipped silently). */
  onSkipped?: (desc: Descriptor) => void;
}

export interface CopyOptions extends CopyGraphOptions {
  /** `dstRef` is also tagged when the root was only skipped (default true). */
  tagSkipped?: boolean;
}

/** Thrown by a mount's getContent for every candidate repository but the last. */
const SKIP_MOUNT = new KitError("mount declined: trying the next repository");

/** Bars are drawn for blobs of at least this size (manifests and configs would only flicker). */
const BAR_MIN_BYTES = 64 * 1024;

/** Buffers a pooled blob copy reads into: enough for the chunks being hashed, one being written and one read ahead. */
const POOL_CHUNK_BYTES = 1024 * 1024;
const POOL_CHUNKS = 10;

/** kit's bar title for a blob: `Copying <first 8 hex of the digest>`. */
export function copyTitle(desc: Descriptor): string {
  return `Copying ${digestHex(desc.digest as `sha256:${string}`).slice(0, 8)}`;
}

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
  const tagging = dstRef !== "" && dstRef !== root.digest;
  // A reference pusher stores the root manifest and its tag in one request.
  const byReference = tagging && isReferencePusher(dst) ? { dst, ref: dstRef } : undefined;
  const rootTagged = await copyGraphInternal(src, dst, root, opts, byReference);
  if (tagging && !rootTagged && (opts.tagSkipped ?? true)) {
    try {
      if (byReference) {
        const bytes = await fetchBytes(src, root, opts.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES, { signal: opts.signal });
        await byReference.dst.pushReference(root, bytesStream(bytes), dstRef, { signal: opts.signal });
      } else {
        await dst.tag(root, dstRef, { signal: opts.signal });
      }
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
export async function copyGraph(src: ReadOnlyStorage, dst: Storage, root: Descriptor, opts: CopyGraphOptions = {}): Promise<void> {
  await copyGraphInternal(src, dst, root, opts, undefined);
}

/** Returns true when the root was pushed and tagged by reference (`byReference`). */
async function copyGraphInternal(
  src: ReadOnlyStorage,
  dst: Storage,
  root: Descriptor,
  opts: CopyGraphOptions,
  byReference: { dst: ReferencePusher; ref: string } | undefined,
): Promise<boolean> {
  throwIfAborted(opts.signal);
  const pool = new Pool(opts.concurrency ?? 5);
  const maxMeta = opts.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES;
  const progress = opts.progress ?? noProgress;
  // One controller for the whole copy: the first failure stops every other transfer.
  const ctl = new AbortController();
  const onOuterAbort = () => ctl.abort(abortReason(opts.signal!));
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  const signal = ctl.signal;
  const visits = new Map<string, Promise<void>>();
  // Small nodes a checkManifest hook read: copied from memory instead of fetched again.
  const fetched = new Map<string, Uint8Array>();
  let firstError: unknown;
  let rootTagged = false;

  const fail = (e: unknown): never => {
    if (firstError === undefined) {
      firstError = e;
      if (!signal.aborted) ctl.abort(new CancelledError());
    }
    throw e;
  };

  const readSmall = async (desc: Descriptor): Promise<Uint8Array> => {
    const have = fetched.get(desc.digest);
    if (have) return have;
    const bytes = await fetchBytes(src, desc, maxMeta, { signal });
    fetched.set(desc.digest, bytes);
    return bytes;
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
        bytes = await readSmall(desc);
        children = successorsOf(desc, bytes);
      } catch (e) {
        return fail(wrap(e, "Fetch", "source", desc, opts.signal));
      }
      if (opts.checkManifest) {
        try {
          await opts.checkManifest(desc, bytes, readSmall);
        } catch (e) {
          return fail(e instanceof CancelledError || signal.aborted ? wrap(e, "Fetch", "source", desc, opts.signal) : e);
        }
      }
      await slot.waitFor(Promise.all(children.map(visit)));
      throwIfAborted(signal);
      if (byReference && desc.digest === root.digest) {
        await pushNode(desc, () => bytesStream(bytes), (d, body) => byReference.dst.pushReference(d, body, byReference.ref, { signal }));
        rootTagged = true;
        return;
      }
      await pushNode(desc, () => verified(bytesStream(bytes), desc));
      return;
    }
    const small = fetched.get(desc.digest);
    if (small) return pushNode(desc, () => verified(bytesStream(small), desc));
    await copyBlob(desc);
  };

  /** A blob: resumed, mounted, or fetched and pushed (again, after a transient failure). */
  const copyBlob = async (desc: Descriptor): Promise<void> => {
    const task: ProgressTask = desc.size >= BAR_MIN_BYTES ? progress.task(opts.describe?.(desc) ?? copyTitle(desc), desc.size) : noTask;
    const open = async (pool?: ChunkPool) => tapStream(await src.fetch(desc, { signal, pool }), { onChunk: (c) => task.add(c.byteLength) });
    try {
      if (isResumer(dst) && isRangeFetcher(src)) return await resumeBlob(dst, src, desc, task);
      if (isMounter(dst) && opts.mountFrom?.length && (await mountBlob(dst, desc, opts.mountFrom, open))) return;
      if (isPooledPusher(dst) && desc.size >= OFFLOAD_MIN_BYTES) {
        // The destination gives each chunk back once written: a source reading files fills a few
        // reusable shared buffers, hashed in place on a worker thread while this one writes.
        let pool: ChunkPool | undefined;
        const openPooled = () => open((pool = new ChunkPool(POOL_CHUNK_BYTES, POOL_CHUNKS)));
        return await pushNode(desc, openPooled, (d, body) => dst.pushPooled(d, body, pool!, { signal }));
      }
      await pushNode(desc, () => open());
    } finally {
      task.done();
    }
  };

  /**
   * oras `mountOrCopyNode`: each repository in turn; the registry declining a mount asks for the
   * content, which only the last candidate uploads. False when that upload failed transiently
   * (the caller then pushes with retries).
   */
  const mountBlob = async (
    mounter: Mounter,
    desc: Descriptor,
    from: string[],
    open: () => Promise<ReadableStream<Uint8Array>>,
  ): Promise<boolean> => {
    for (let i = 0; i < from.length; i++) {
      const last = i === from.length - 1;
      let declined = false;
      const guard: { error?: unknown } = {};
      const getContent = async () => {
        declined = true;
        if (!last) throw SKIP_MOUNT;
        try {
          return tapStream(await open(), { onError: (e) => (guard.error = e) });
        } catch (e) {
          guard.error = e;
          throw e;
        }
      };
      try {
        await mounter.mount(desc, from[i]!, getContent, { signal });
      } catch (e) {
        if (e === SKIP_MOUNT) continue;
        if (guard.error !== undefined) return fail(wrap(guard.error, "Fetch", "source", desc, opts.signal));
        if (e instanceof AlreadyExistsError) break;
        if (last && e instanceof TransientError && !signal.aborted) return false;
        return fail(wrap(e, "Push", "destination", desc, opts.signal));
      }
      if (!declined) break;
      if (last) break;
    }
    opts.onCopied?.(desc);
    return true;
  };

  /**
   * Continues what the destination holds of `desc` with the rest from the source, over several
   * connections when the source serves ranges (store/ranges.ts).
   */
  const resumeBlob = async (resumer: Resumer, ranged: RangeFetcher, desc: Descriptor, task: ProgressTask): Promise<void> => {
    let partial;
    try {
      partial = await resumer.openPartial(desc, { signal });
    } catch (e) {
      if (e instanceof AlreadyExistsError) return opts.onSkipped?.(desc);
      return fail(wrap(e, "Push", "destination", desc, opts.signal));
    }
    // Errors of the source (refusals, broken connections) as opposed to the destination's (disk).
    const fromSource = new WeakSet<object>();
    const note = (e: unknown) => void (typeof e === "object" && e !== null && fromSource.add(e));
    const source: RangeFetcher = {
      fetchFrom: async (d, offset, o) => {
        try {
          const r = await ranged.fetchFrom(d, offset, o);
          return { ...r, body: tapStream(r.body, { onError: note }) };
        } catch (e) {
          note(e);
          throw e;
        }
      },
    };
    try {
      task.already(partial.received);
      await fillPartial(partial, source, desc, {
        ...opts.parallelRanges,
        signal,
        logger: opts.logger,
        onBytes: (n) => task.add(n),
        onRestart: (dropped) => task.already(-dropped),
      });
      opts.onCopied?.(desc);
    } catch (e) {
      const src = (typeof e === "object" && e !== null && fromSource.has(e)) || e instanceof IntegrityError;
      return fail(wrap(e, src ? "Fetch" : "Push", src ? "source" : "destination", desc, opts.signal));
    } finally {
      await partial.close(); // after a failure: keeps the bytes for a later resume; after success: nothing to do
    }
  };

  const pushNode = async (
    desc: Descriptor,
    open: () => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>,
    push: (desc: Descriptor, body: ReadableStream<Uint8Array>) => Promise<void> = (d, b) => dst.push(d, b, { signal }),
  ): Promise<void> => {
    const attempts = opts.pushAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      let body: ReadableStream<Uint8Array>;
      try {
        body = await open();
      } catch (e) {
        return fail(wrap(e, "Fetch", "source", desc, opts.signal));
      }
      const guard: { error?: unknown } = {};
      // Every store verifies what it fetches (then this adds nothing); a source that does not is caught here, as the source.
      const guarded = tapStream(verified(body, desc), { onError: (e) => (guard.error = e) });
      try {
        await push(desc, guarded);
        opts.onCopied?.(desc);
        return;
      } catch (e) {
        await guarded.cancel(e).catch(() => {}); // in case the destination left it open
        if (e instanceof AlreadyExistsError) {
          opts.onSkipped?.(desc);
          return;
        }
        // A failure while reading the source (damaged bytes, broken connection) is the source's.
        if (guard.error !== undefined) return fail(wrap(guard.error, "Fetch", "source", desc, opts.signal));
        if (!(e instanceof TransientError) || attempt >= attempts || signal.aborted) {
          return fail(wrap(e, "Push", "destination", desc, opts.signal));
        }
        try {
          await sleep(e.retryAfterMs, signal);
        } catch {
          return fail(abortReason(signal));
        }
      }
    }
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
    return rootTagged;
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

