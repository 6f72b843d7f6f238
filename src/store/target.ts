/**
 * The content-store interfaces (oras-go's `content` and `oras.Target`, over Web Streams) and the
 * small helpers every store and the copy share: verified byte reads, byte pushes, successors.
 * @module
 */
import type { Stats } from "node:fs";
import { OFFLOAD_MIN_BYTES } from "../runtime/hash-worker.ts";
import type { ChunkPool } from "../util/chunk-pool.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { descriptorFromBytes, plainDescriptor } from "../oci/descriptor.ts";
import { digestProblem, isDigest, verified } from "../oci/digest.ts";
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_ARTIFACT_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../oci/media-types.ts";
import { AlreadyExistsError, KitError, NotFoundError } from "../util/errors.ts";
import { fileReadableStream } from "../util/fs.ts";
import { readAll } from "../util/streams.ts";
import type { PartialDownload } from "./partial.ts";

/** Options every store operation accepts. */
export interface StoreOptions {
  signal?: AbortSignal;
  /**
   * For `fetch`: read into this pool's buffers where the store reads files (local storage, layouts,
   * archives); the consumer then releases each chunk once done with it (`pool.release`). Other
   * stores ignore it.
   */
  pool?: ChunkPool;
}

export interface Fetcher {
  /**
   * The content of `desc` as a stream, checked against the descriptor as it flows: the stream
   * errors before its end on a size or digest mismatch (oci `verified`, so the next store does
   * not hash it again). Throws NotFoundError when absent.
   */
  fetch(desc: Descriptor, opts?: StoreOptions): Promise<ReadableStream<Uint8Array>>;
}

export interface Pusher {
  /**
   * Stores `body` as the content of `desc`, checking size and digest while writing (a body that
   * is already {@link verified} is not hashed again): a mismatch throws IntegrityError and stores
   * nothing. May throw AlreadyExistsError when the content is already present.
   */
  push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts?: StoreOptions): Promise<void>;
}

export interface ReadOnlyStorage extends Fetcher {
  exists(desc: Descriptor, opts?: StoreOptions): Promise<boolean>;
}

export interface Storage extends ReadOnlyStorage, Pusher {}

export interface Resolver {
  /** A tag or a digest → the manifest descriptor. Throws NotFoundError when unknown. */
  resolve(ref: string, opts?: StoreOptions): Promise<Descriptor>;
}

export interface Tagger {
  /** Points `ref` at `desc` (overwriting an existing tag). */
  tag(desc: Descriptor, ref: string, opts?: StoreOptions): Promise<void>;
}

export interface ReadOnlyTarget extends ReadOnlyStorage, Resolver {}

export interface Target extends Storage, Resolver, Tagger {}

// ----- optional capabilities (oras-go's Mounter, ReferencePusher, Deleter, TagLister, ...) ------
// A store offers one by implementing its method; callers find it with the type guard beside it.

/** A source that can serve a blob from a byte offset (HTTP `Range`). */
export interface RangeFetcher {
  /**
   * The content of `desc` from byte `offset` on, up to `end` (exclusive; default the end of the
   * blob). NOT verified (a part cannot be): the receiver hashes the whole content. In the result,
   * `offset` is where the body really starts (0 when the source could not skip) and `ranged`
   * says that the source answered with the range asked for, so other ranges of the blob can be
   * fetched at the same time.
   */
  fetchFrom(
    desc: Descriptor,
    offset: number,
    opts?: StoreOptions & { end?: number },
  ): Promise<{ body: ReadableStream<Uint8Array>; offset: number; ranged: boolean }>;
}

/** A destination that keeps partly received blobs across runs and continues them. */
export interface Resumer {
  /** The partial content of `desc` held so far (possibly none). AlreadyExistsError when complete. */
  openPartial(desc: Descriptor, opts?: StoreOptions): Promise<PartialDownload>;
}

/**
 * A destination that hands each chunk of a pushed body back to `pool` (`pool.release`) once it has
 * written it, so a copy can read the source into a few reusable shared buffers (hashed in place
 * on a worker thread, never copied) instead of a fresh buffer per chunk. A destination that cannot
 * say when it is done with a chunk (an HTTP upload) does not offer it.
 */
export interface PooledPusher {
  /** {@link Pusher.push}, releasing every chunk of `body` to `pool` once written (chunks not of the pool are ignored). */
  pushPooled(desc: Descriptor, body: ReadableStream<Uint8Array>, pool: ChunkPool, opts?: StoreOptions): Promise<void>;
}

/** A destination that can take a blob from another repository of the same registry without upload. */
export interface Mounter {
  /**
   * Mounts `desc` from repository `from`; when the registry declines, uploads the content that
   * `getContent` gives instead (oras `Mount`).
   */
  mount(desc: Descriptor, from: string, getContent: () => Promise<ReadableStream<Uint8Array>>, opts?: StoreOptions): Promise<void>;
}

/** A destination that stores a manifest and tags it in one request (oras `ReferencePusher`). */
export interface ReferencePusher {
  pushReference(desc: Descriptor, body: ReadableStream<Uint8Array>, ref: string, opts?: StoreOptions): Promise<void>;
}

/** A store that can delete a manifest (or blob) by descriptor (oras `content.Deleter`). */
export interface Deleter {
  delete(desc: Descriptor, opts?: StoreOptions): Promise<unknown>;
}

/** A store that can remove a tag alone. */
export interface Untagger {
  untag(ref: string, opts?: StoreOptions): Promise<void>;
}

/** A store that lists its tags (oras `registry.TagLister`). */
export interface TagLister {
  tags(opts?: StoreOptions): Promise<string[]>;
}

/** A registry that lists the manifests referring to a subject (OCI 1.1 referrers API; oras `registry.ReferrerLister`). */
export interface ReferrerLister {
  /**
   * The descriptors of the manifests whose `subject` is `desc`, only those of `artifactType` when
   * given; undefined when the store does not offer the API after all (a registry answering 404).
   */
  referrers(desc: Descriptor, artifactType?: string, opts?: StoreOptions): Promise<Descriptor[] | undefined>;
}

const has = (s: object, method: string) => typeof (s as Record<string, unknown>)[method] === "function";
export const isRangeFetcher = (s: object): s is RangeFetcher => has(s, "fetchFrom");
export const isResumer = (s: object): s is Resumer => has(s, "openPartial");
export const isPooledPusher = (s: object): s is PooledPusher => has(s, "pushPooled");
export const isMounter = (s: object): s is Mounter => has(s, "mount");
export const isReferencePusher = (s: object): s is ReferencePusher => has(s, "pushReference");
export const isDeleter = (s: object): s is Deleter => has(s, "delete");
export const isUntagger = (s: object): s is Untagger => has(s, "untag");
export const isTagLister = (s: object): s is TagLister => has(s, "tags");
export const isReferrerLister = (s: object): s is ReferrerLister => has(s, "referrers");

/** Largest manifest read into memory (oras' default for non-leaf nodes). */
export const DEFAULT_MAX_METADATA_BYTES = 4 * 1024 * 1024;

/** oras wording: `<digest>: <mediaType>: not found`. */
export function notFound(desc: Descriptor): NotFoundError {
  return new NotFoundError(`${desc.digest}: ${desc.mediaType}: not found`);
}

/** oras wording: `<digest>: <mediaType>: already exists`. */
export function alreadyExists(desc: Descriptor): AlreadyExistsError {
  return new AlreadyExistsError(`${desc.digest}: ${desc.mediaType}: already exists`);
}

/** Throws unless `desc` has a sha256 digest and a sane size (it may come from untrusted JSON). */
export function checkDescriptor(desc: Descriptor): void {
  if (typeof desc.digest !== "string" || !isDigest(desc.digest)) {
    const problem = typeof desc.digest === "string" ? digestProblem(desc.digest) : undefined;
    throw new KitError(
      `Invalid descriptor digest ${JSON.stringify(desc.digest)}: ${problem ?? "unsupported digest algorithm"}`,
      { hint: "Only sha256 digests are supported" },
    );
  }
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new KitError(`Invalid size ${JSON.stringify(desc.size)} in descriptor ${desc.digest}`);
  }
}

/** A one-chunk stream over `data`. */
export function bytesStream(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(ctl) {
      if (data.byteLength > 0) ctl.enqueue(data);
      ctl.close();
    },
  });
}

/**
 * Fetches `desc` into memory, verified against its size and digest. Refuses descriptors larger
 * than `limit` before fetching (oras `content.FetchAll` with a size limit).
 */
export async function fetchBytes(
  fetcher: Fetcher,
  desc: Descriptor,
  limit = DEFAULT_MAX_METADATA_BYTES,
  opts: StoreOptions = {},
): Promise<Uint8Array> {
  checkDescriptor(desc);
  if (desc.size > limit) {
    throw new KitError(`${desc.digest}: ${desc.mediaType}: size ${desc.size} exceeds limit ${limit}`);
  }
  const body = await fetcher.fetch(desc, opts);
  return readAll(verified(body, desc), limit, opts.signal);
}

/**
 * The bytes of `desc` read from `file` (from `range.start`, `range.length` of them; `range.check`
 * sees the opened file's stats) as a {@link verified} stream: what every store that keeps blobs
 * in files returns from `fetch`. A large blob is read into shared buffers (the caller's
 * `opts.pool` when it gives one) and hashed on a worker thread while the consumer works on the
 * chunks. Opening errors (ENOENT) are thrown here.
 */
export async function verifiedFileStream(
  file: string,
  desc: Descriptor,
  opts: StoreOptions = {},
  range: { start?: number; length?: number; check?: (st: Stats) => void } = {},
): Promise<ReadableStream<Uint8Array>> {
  const offload = desc.size >= OFFLOAD_MIN_BYTES;
  const pool = offload ? opts.pool : undefined;
  const s = await fileReadableStream(file, { ...range, signal: opts.signal, shared: offload, pool });
  return verified(s, desc, { offload, pool });
}

/** Pushes `data` as a blob of `mediaType`; returns its descriptor. */
export async function pushBytes(
  pusher: Pusher,
  mediaType: string,
  data: Uint8Array,
  opts: StoreOptions = {},
): Promise<Descriptor> {
  const desc = descriptorFromBytes(mediaType, data);
  await pusher.push(desc, bytesStream(data), opts);
  return desc;
}

const MANIFEST_TYPES = new Set([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_ARTIFACT_MANIFEST]);

/** True for media types that name other content (oras `descriptor.IsManifest`). */
export function isManifestType(mediaType: string): boolean {
  return MANIFEST_TYPES.has(mediaType);
}

function parseJsonObject(desc: Descriptor, bytes: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new KitError(`Failed to parse ${desc.mediaType} ${desc.digest}: ${(e as Error).message}`, { cause: e });
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new KitError(`Failed to parse ${desc.mediaType} ${desc.digest}: not a JSON object`);
  }
  return v as Record<string, unknown>;
}

function asDescriptor(desc: Descriptor, field: string, v: unknown): Descriptor {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new KitError(`Invalid ${field} in ${desc.mediaType} ${desc.digest}: not a descriptor`);
  }
  const d = v as Descriptor;
  if (typeof d.mediaType !== "string") {
    throw new KitError(`Invalid ${field} in ${desc.mediaType} ${desc.digest}: missing mediaType`);
  }
  checkDescriptor(d);
  return d;
}

function asDescriptors(desc: Descriptor, field: string, v: unknown): Descriptor[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new KitError(`Invalid ${field} in ${desc.mediaType} ${desc.digest}: not a list`);
  return v.map((x, i) => asDescriptor(desc, `${field}[${i}]`, x));
}

/**
 * The nodes `desc` points to, from its content (oras `content.Successors`): for an image
 * manifest its subject, config and layers; for an index its subject and manifests; for an
 * artifact manifest its subject and blobs; nothing for anything else.
 */
export function successorsOf(desc: Descriptor, bytes: Uint8Array): Descriptor[] {
  if (!isManifestType(desc.mediaType)) return [];
  const m = parseJsonObject(desc, bytes);
  const out: Descriptor[] = [];
  const subject = m.subject === undefined || m.subject === null ? undefined : asDescriptor(desc, "subject", m.subject);
  switch (desc.mediaType) {
    case DOCKER_MANIFEST:
      out.push(asDescriptor(desc, "config", m.config));
      out.push(...asDescriptors(desc, "layers", m.layers));
      break;
    case OCI_MANIFEST:
      if (subject) out.push(subject);
      out.push(asDescriptor(desc, "config", m.config));
      out.push(...asDescriptors(desc, "layers", m.layers));
      break;
    case DOCKER_MANIFEST_LIST:
      out.push(...asDescriptors(desc, "manifests", m.manifests));
      break;
    case OCI_INDEX:
      if (subject) out.push(subject);
      out.push(...asDescriptors(desc, "manifests", m.manifests));
      break;
    case OCI_ARTIFACT_MANIFEST:
      if (subject) out.push(subject);
      out.push(...asDescriptors(desc, "blobs", m.blobs));
      break;
  }
  return out;
}

/** The subject a manifest declares (the node it refers to), if any. */
export function subjectOf(desc: Descriptor, bytes: Uint8Array): Descriptor | undefined {
  if (!isManifestType(desc.mediaType)) return undefined;
  const m = parseJsonObject(desc, bytes);
  return m.subject === undefined || m.subject === null ? undefined : asDescriptor(desc, "subject", m.subject);
}

/** Fetches a manifest (verified, ≤ 4 MiB) and returns its successors; [] for plain blobs. */
export async function successors(fetcher: Fetcher, desc: Descriptor, opts: StoreOptions = {}): Promise<Descriptor[]> {
  if (!isManifestType(desc.mediaType)) return [];
  return successorsOf(desc, await fetchBytes(fetcher, desc, DEFAULT_MAX_METADATA_BYTES, opts));
}

/** oras `errdef.ErrMissingReference`, thrown when resolving or tagging an empty reference. */
export function missingReference(): KitError {
  return new KitError("missing reference");
}

/** A copy of `d`: {@link plainDescriptor} plus its `annotations` (when any) and `artifactType`. */
export function copyDescriptor(d: Descriptor): Descriptor {
  const out = plainDescriptor(d);
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = { ...d.annotations };
  if (d.artifactType) out.artifactType = d.artifactType;
  return out;
}

/**
 * `source` answering `resolve` for the digests (or other names) of `known` without asking it;
 * blobs are fetched from `blobs` (default `source`). For a listing that just read the manifests,
 * and for a ModelKit found under another name than the one it is resolved by.
 */
export function withKnownManifests(source: ReadOnlyTarget, known: Descriptor[] | Map<string, Descriptor>, blobs: Fetcher = source): ReadOnlyTarget {
  const byName = known instanceof Map ? known : new Map<string, Descriptor>(known.map((d) => [d.digest, d]));
  return {
    resolve: async (ref, o) => byName.get(ref) ?? source.resolve(ref, o),
    exists: (d, o) => source.exists(d, o),
    fetch: (d, o) => blobs.fetch(d, o),
  };
}
