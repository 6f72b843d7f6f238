/**
 * OCI image layouts outside kit's storage (docs/format.md#oci-layouts): what `oci:DIR` names. A
 * layout holds any number of manifests sharing blobs; `index.json` lists them, each tag as an
 * entry with the `org.opencontainers.image.ref.name` annotation (a manifest with several tags has
 * one entry per tag, an untagged one a plain entry, as oras and skopeo write them). Kit's own
 * annotations on an entry (the reference it was written from) are kept when it is tagged again.
 *
 * The index helpers here are shared with the oci-archive store (store/oci-archive.ts); the
 * directory store is {@link OciLayoutDir}. Reading a layout never changes it.
 * @module
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { type Descriptor, plainDescriptor } from "../oci/descriptor.ts";
import { isDigest, verified } from "../oci/digest.ts";
import { ANNOTATION_REF_NAME, OCI_INDEX } from "../oci/media-types.ts";
import type { ChunkPool } from "../util/chunk-pool.ts";
import { KitError, NotFoundError } from "../util/errors.ts";
import { atomicWriteFile, ensureDir, errnoCode, fileReadableStream, pathExists, withLock } from "../util/fs.ts";
import { throwIfAborted } from "../util/pool.ts";
import { readAll } from "../util/streams.ts";
import { encodeIndex, type IndexFile, parseIndex, type StoredDescriptor } from "./index-file.ts";
import {
  alreadyExists,
  checkDescriptor,
  copyDescriptor,
  isManifestType,
  missingReference,
  type PooledPusher,
  type ReadOnlyTarget,
  type StoreOptions,
  type Target,
  verifiedFileStream,
} from "./target.ts";

/** Contents of `oci-layout`. */
export const OCI_LAYOUT_FILE_JSON = '{"imageLayoutVersion":"1.0.0"}';
/** Largest `index.json` read (a layout with thousands of tags stays far below). */
export const MAX_INDEX_BYTES = 16 * 1024 * 1024;
/** Largest `oci-layout` file read. */
export const MAX_LAYOUT_FILE_BYTES = 4096;

/** An OCI layout read as a store: its index entries, plus the Target reads. */
export interface LayoutSource extends ReadOnlyTarget {
  /** `oci:PATH` or `oci-archive:PATH`, for messages. */
  readonly name: string;
  /** The layout's directory or file. */
  readonly path: string;
  /** The manifests `index.json` lists, in its order (a manifest once per tag). */
  entries(opts?: StoreOptions): Promise<StoredDescriptor[]>;
}

/** The layout's own problem: not a layout, a damaged index, a blob missing or wrong. */
export class LayoutError extends KitError {
  override name = "LayoutError";
}

/** Checks the contents of an `oci-layout` file. */
export function checkLayoutFile(name: string, bytes: Uint8Array): void {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    v = undefined;
  }
  const version = (v as { imageLayoutVersion?: unknown } | undefined)?.imageLayoutVersion;
  if (typeof version !== "string" || !version.startsWith("1.")) {
    throw new LayoutError(`${name}: oci-layout does not name a supported image layout version`, { hint: "Only OCI image layouts of version 1.x are read" });
  }
}

/** Parses a layout's `index.json`, with an error naming the layout. */
export function parseLayoutIndex(name: string, text: string): IndexFile {
  try {
    return parseIndex(text, `${name}/index.json`);
  } catch (e) {
    throw new LayoutError((e as Error).message, { cause: e, hint: "The layout is damaged: write it again" });
  }
}

/** The tag of an entry (its ref.name), if any. */
export function refNameOf(d: Descriptor): string | undefined {
  return d.annotations?.[ANNOTATION_REF_NAME] || undefined;
}

/**
 * The manifest `ref` names among `entries`: a digest, or a tag (the entry with that ref.name; the
 * last one when a layout lists a tag twice, as a later write wins). NotFoundError otherwise. The
 * descriptor is plain: an entry's annotations describe the entry (its tag, where it came from),
 * not the manifest, and must not follow it into another store (entries() has them).
 */
export function resolveEntry(name: string, entries: StoredDescriptor[], ref: string): Descriptor {
  if (ref === "") throw missingReference();
  const found = isDigest(ref) ? entries.find((d) => d.digest === ref) : entries.findLast((d) => refNameOf(d) === ref);
  if (!found) throw new NotFoundError(`${name}: ${ref}: not found`);
  return plainDescriptor(found);
}

/** An entry for `desc` without `ref.name`: its other annotations are kept. */
function untaggedEntry(d: Descriptor): StoredDescriptor {
  const out = copyDescriptor(d);
  if (out.annotations) {
    delete out.annotations[ANNOTATION_REF_NAME];
    if (Object.keys(out.annotations).length === 0) delete out.annotations;
  }
  return out;
}

/**
 * The index entries after pointing tag `ref` at `desc` (oras' tagging of an OCI layout): the
 * entry that had the tag goes, its manifest staying listed untagged when nothing else lists it;
 * `desc`'s untagged entry goes; `desc` is added with its annotations and `ref.name` = `ref`.
 * With `ref` equal to `desc`'s digest, `desc` is listed untagged with its annotations (an entry
 * it has already keeps its tag and takes the annotations).
 */
export function retag(entries: StoredDescriptor[], desc: Descriptor, ref: string): StoredDescriptor[] {
  if (ref === desc.digest) {
    let listed = false;
    const out = entries.map((e) => {
      if (e.digest !== desc.digest) return e;
      listed = true;
      const tag = refNameOf(e);
      const next = untaggedEntry({ ...e, annotations: { ...e.annotations, ...desc.annotations } });
      if (tag) next.annotations = { ...next.annotations, [ANNOTATION_REF_NAME]: tag };
      return next;
    });
    if (!listed) out.push(untaggedEntry(desc));
    return out;
  }
  const out: StoredDescriptor[] = [];
  for (const e of entries) {
    if (e.digest === desc.digest && refNameOf(e) === undefined) continue;
    if (refNameOf(e) === ref) {
      if (e.digest !== desc.digest && !entries.some((o) => o !== e && o.digest === e.digest)) out.push(untaggedEntry(e));
      continue;
    }
    out.push(e);
  }
  const tagged = untaggedEntry(desc);
  tagged.annotations = { ...tagged.annotations, [ANNOTATION_REF_NAME]: ref };
  out.push(tagged);
  return out;
}

/** `entries` with an untagged entry for manifest `desc` unless some entry lists it. */
export function withManifest(entries: StoredDescriptor[], desc: Descriptor): StoredDescriptor[] {
  return entries.some((e) => e.digest === desc.digest) ? entries : [...entries, untaggedEntry(desc)];
}

/** `blobs/<algorithm>/<hex>`: where a layout keeps `digest`. */
export function blobName(digest: string): string {
  const colon = digest.indexOf(":");
  return `blobs/${digest.slice(0, colon)}/${digest.slice(colon + 1)}`;
}

/** Missing content of a layout, named. */
export function missingBlob(name: string, desc: Descriptor): NotFoundError {
  return new NotFoundError(`${name}: blob ${desc.digest} (${desc.mediaType}) is missing`, {
    hint: "The layout is incomplete: write it again from the original",
  });
}

const EMPTY_INDEX: IndexFile = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };

/**
 * An OCI image layout directory (`oci:DIR`) as a {@link Target}. `index.json` is rewritten
 * atomically under a lock file in the directory (`.kit.lock`, removed afterwards); blobs are
 * written to a temporary file beside their place, checked, synced and renamed into `blobs/`.
 */
export class OciLayoutDir implements Target, LayoutSource, PooledPusher {
  readonly path: string;
  readonly name: string;

  private constructor(root: string) {
    this.path = root;
    this.name = `oci:${root}`;
  }

  /** Opens an existing layout for reading; a directory without `oci-layout` is refused. */
  static async open(root: string, opts: StoreOptions = {}): Promise<OciLayoutDir> {
    throwIfAborted(opts.signal);
    const d = new OciLayoutDir(path.resolve(root));
    let st;
    try {
      st = await fsp.stat(d.path);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw new NotFoundError(`${d.name}: no such directory`);
      throw e;
    }
    if (!st.isDirectory()) throw new LayoutError(`${d.name}: not a directory`, { hint: "oci: names a layout directory; use oci-archive: for a tar file" });
    let layout: Uint8Array;
    try {
      layout = await readBounded(path.join(d.path, "oci-layout"), MAX_LAYOUT_FILE_BYTES);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
      throw new LayoutError(`${d.name} is not an OCI image layout: it has no oci-layout file`, {
        hint: "Name a directory written by kit push, skopeo or oras, or an empty or new directory to write to",
      });
    }
    checkLayoutFile(d.name, layout);
    await d.entries(opts);
    return d;
  }

  /**
   * Opens the layout at `root` for writing, creating it (and the directory) when needed. An
   * existing directory must be empty or a layout already.
   */
  static async create(root: string, opts: StoreOptions = {}): Promise<OciLayoutDir> {
    const abs = path.resolve(root);
    let names: string[] | undefined;
    try {
      names = await fsp.readdir(abs);
    } catch (e) {
      if (errnoCode(e) === "ENOTDIR") throw new LayoutError(`oci:${abs}: not a directory`, { hint: "oci: names a layout directory; use oci-archive: for a tar file" });
      if (errnoCode(e) !== "ENOENT") throw e;
    }
    if (names && names.length > 0) return OciLayoutDir.open(abs, opts);
    await ensureDir(path.join(abs, "blobs", "sha256"));
    const d = new OciLayoutDir(abs);
    await d.#withLock(async () => {
      if (!(await pathExists(path.join(abs, "oci-layout")))) await atomicWriteFile(path.join(abs, "oci-layout"), OCI_LAYOUT_FILE_JSON, 0o644);
      if (!(await pathExists(d.#indexPath))) await atomicWriteFile(d.#indexPath, encodeIndex(EMPTY_INDEX), 0o644);
    }, opts.signal);
    return d;
  }

  get #indexPath(): string {
    return path.join(this.path, "index.json");
  }

  #blobPath(digest: string): string {
    return path.join(this.path, ...blobName(digest).split("/"));
  }

  #withLock<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withLock(path.join(this.path, ".kit.lock"), fn, { signal });
  }

  async #readIndex(): Promise<IndexFile> {
    let bytes: Uint8Array;
    try {
      bytes = await readBounded(this.#indexPath, MAX_INDEX_BYTES);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw new LayoutError(`${this.name} is not an OCI image layout: it has no index.json`);
      throw e;
    }
    return parseLayoutIndex(this.name, new TextDecoder().decode(bytes));
  }

  /**
   * Removes the whole layout directory when its index lists nothing (a layout this process began
   * and could not finish); under the layout's lock, so no other writer commits meanwhile.
   */
  async removeIfEmpty(opts: StoreOptions = {}): Promise<void> {
    await this.#withLock(async () => {
      if ((await this.entries(opts)).length === 0) await fsp.rm(this.path, { recursive: true, force: true });
    }, opts.signal);
  }

  async entries(opts: StoreOptions = {}): Promise<StoredDescriptor[]> {
    throwIfAborted(opts.signal);
    return (await this.#readIndex()).manifests ?? [];
  }

  async #updateIndex(fn: (entries: StoredDescriptor[]) => StoredDescriptor[], signal?: AbortSignal): Promise<void> {
    await this.#withLock(async () => {
      const idx = await this.#readIndex();
      const before = idx.manifests ?? [];
      const after = fn(before);
      if (after === before) return;
      await atomicWriteFile(this.#indexPath, encodeIndex({ ...idx, manifests: after }), 0o644);
    }, signal);
  }

  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    try {
      return await verifiedFileStream(this.#blobPath(desc.digest), desc, opts);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw missingBlob(this.name, desc);
      throw e;
    }
  }

  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    checkDescriptor(desc);
    throwIfAborted(opts.signal);
    return pathExists(this.#blobPath(desc.digest));
  }

  /** Stores a blob; a manifest is also listed in `index.json` (untagged until tagged). */
  async push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}): Promise<void> {
    return this.#push(desc, body, opts);
  }

  /** {@link push}, giving each chunk back to `pool` once written ({@link PooledPusher}). */
  async pushPooled(desc: Descriptor, body: ReadableStream<Uint8Array>, pool: ChunkPool, opts: StoreOptions = {}): Promise<void> {
    return this.#push(desc, body, opts, (c) => pool.release(c));
  }

  async #push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions, release?: (chunk: Uint8Array) => void): Promise<void> {
    let target: string;
    try {
      checkDescriptor(desc);
      throwIfAborted(opts.signal);
      target = this.#blobPath(desc.digest);
      if (await pathExists(target)) throw alreadyExists(desc);
    } catch (e) {
      await body.cancel(e).catch(() => {});
      throw e;
    }
    await ensureDir(path.dirname(target));
    await atomicWriteFile(target, verified(body, desc), 0o644, { signal: opts.signal, release });
    if (isManifestType(desc.mediaType)) await this.#updateIndex((e) => withManifest(e, desc), opts.signal);
  }

  async resolve(ref: string, opts: StoreOptions = {}): Promise<Descriptor> {
    return resolveEntry(this.name, await this.entries(opts), ref);
  }

  /** Points `ref` at `desc` ({@link retag}); `desc`'s annotations other than ref.name are kept on the entry. */
  async tag(desc: Descriptor, ref: string, opts: StoreOptions = {}): Promise<void> {
    if (ref === "") throw missingReference();
    checkDescriptor(desc);
    if (!(await this.exists(desc, opts))) throw missingBlob(this.name, desc);
    await this.#updateIndex((e) => retag(e, desc, ref), opts.signal);
  }
}

/** A small file read whole, refused past `limit` bytes. */
export async function readBounded(file: string, limit: number): Promise<Uint8Array> {
  return readAll(await fileReadableStream(file), limit, undefined, () => new LayoutError(`${file} is larger than ${limit} bytes`));
}
