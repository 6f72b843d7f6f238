/**
 * The content-store interfaces (oras-go's `content` and `oras.Target`, over Web Streams) and the
 * small helpers every store and the copy share: verified byte reads, byte pushes, successors.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { descriptorFromBytes, plainDescriptor } from "../oci/descriptor.ts";
import { digestProblem, isDigest, VerifyStream } from "../oci/digest.ts";
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_ARTIFACT_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../oci/media-types.ts";
import { AlreadyExistsError, KitError, NotFoundError } from "../util/errors.ts";
import { readAll } from "../util/streams.ts";

/** Options every store operation accepts. */
export interface StoreOptions {
  signal?: AbortSignal;
}

export interface Fetcher {
  /**
   * The content of `desc` as a stream. Throws NotFoundError when absent. Whether the bytes are
   * verified depends on the store ({@link Fetcher.verifiesFetch}); callers that need certainty
   * pipe through a VerifyStream otherwise.
   */
  fetch(desc: Descriptor, opts?: StoreOptions): Promise<ReadableStream<Uint8Array>>;
  /**
   * True when `fetch` checks what it streams against the descriptor: the stream errors before it
   * ends on a size or digest mismatch, so a reader need not hash the bytes again.
   */
  readonly verifiesFetch?: boolean;
}

/** Options of {@link Pusher.push}. */
export interface PushOptions extends StoreOptions {
  /**
   * The body already errors before it ends unless it matches the descriptor (it comes from a
   * store that verifies its fetches, or through a VerifyStream): the pusher may skip its own
   * hashing. Content is still kept only once the body has ended.
   */
  verified?: boolean;
}

export interface Pusher {
  /**
   * Stores `body` as the content of `desc`, checking size and digest while writing (unless
   * `opts.verified`): a mismatch throws IntegrityError and stores nothing. Throws
   * AlreadyExistsError when already present.
   */
  push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts?: PushOptions): Promise<void>;
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

/** The bounded stream reader every store and the registry client use (defined in util/streams.ts). */
export { readAll };

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
  return readAll(body.pipeThrough(new VerifyStream(desc)), limit, opts.signal);
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
