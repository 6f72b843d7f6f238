/**
 * kit's per-repository view of the shared layout (docs/format.md#repository-files): a repository
 * `<registry>/<repository>` owns `<b64url(repo)>-index.json` (its manifests) and
 * `<b64url(repo)>-tags.json` (its tags); blobs are shared. Every read-modify-write of these
 * files and of `index.json` happens under the storage lock, so parallel kit processes lose nothing.
 * @module
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { Descriptor } from "../oci/descriptor.ts";
import { isDigest } from "../oci/digest.ts";
import { OCI_MANIFEST } from "../oci/media-types.ts";
import { decodeBase64, encodeBase64 } from "../util/base64.ts";
import { AlreadyExistsError, CancelledError, KitError, NotFoundError } from "../util/errors.ts";
import { atomicWriteFile, errnoCode } from "../util/fs.ts";
import type { ChunkPool } from "../util/chunk-pool.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { throwIfAborted } from "../util/pool.ts";
import {
  ANNOTATION_REF_NAME,
  encodeIndex,
  encodeTags,
  type IndexFile,
  parseIndex,
  parseTags,
  type StoredDescriptor,
  withoutRefName,
} from "./index-file.ts";
import { type DeleteResult, type LayoutOptions, LayoutStore } from "./layout.ts";
import type { PartialDownload } from "./partial.ts";
import {
  checkDescriptor,
  copyDescriptor,
  type Deleter,
  fetchBytes,
  isManifestType,
  missingReference,
  notFound,
  type PooledPusher,
  type Resumer,
  type StoreOptions,
  successorsOf,
  type Target,
  type Untagger,
} from "./target.ts";

/** kit's recognition pattern for repository index files. */
export const REPO_INDEX_RE = /^([-A-Za-z0-9_-]*={0,3})-index.json$/;

/** Go `base64.URLEncoding` (URL alphabet, `=` padding) of the UTF-8 bytes of `s`. */
export function encodeRepoName(s: string): string {
  return encodeBase64(s, "url");
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Strict Go `base64.URLEncoding.DecodeString`: padding required, URL alphabet only. Throws
 * `illegal base64 data at input byte N` at the offset Go's CorruptInputError reports.
 */
export function decodeRepoName(s: string): string {
  const corrupt = (i: number) => new KitError(`illegal base64 data at input byte ${i}`);
  const out: number[] = [];
  let si = 0;
  while (si < s.length) {
    const vals: number[] = [];
    let j = 0;
    for (; j < 4; j++) {
      if (si === s.length) {
        if (j === 0) break;
        throw corrupt(si - j);
      }
      const c = s[si++]!;
      if (c === "=") {
        if (j < 2) throw corrupt(si - 1);
        if (j === 2) {
          if (si === s.length) throw corrupt(s.length);
          if (s[si] !== "=") throw corrupt(si - 1);
          si++;
        }
        if (si < s.length) throw corrupt(si);
        break;
      }
      const v = B64URL.indexOf(c);
      if (v < 0) throw corrupt(si - 1);
      vals.push(v);
    }
    const n = ((vals[0] ?? 0) << 18) | ((vals[1] ?? 0) << 12) | ((vals[2] ?? 0) << 6) | (vals[3] ?? 0);
    if (vals.length >= 2) out.push((n >> 16) & 0xff);
    if (vals.length >= 3) out.push((n >> 8) & 0xff);
    if (vals.length >= 4) out.push(n & 0xff);
  }
  return new TextDecoder().decode(new Uint8Array(out));
}

/** `<storage>/<b64url(repo)>-index.json`. */
export function repoIndexPath(storageDir: string, repo: string): string {
  return path.join(storageDir, `${encodeRepoName(repo)}-index.json`);
}

/** `<storage>/<b64url(repo)>-tags.json`. */
export function repoTagsPath(storageDir: string, repo: string): string {
  return path.join(storageDir, `${encodeRepoName(repo)}-tags.json`);
}

/**
 * Repositories that have an index file in `storageDir`, decoded and sorted (kit's
 * `GetAllLocalRepos`). A matching file whose name does not decode is an error, as in kit.
 */
export async function listRepositories(storageDir: string): Promise<string[]> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await fsp.readdir(storageDir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw new KitError(`failed to read local storage: ${(e as Error).message}`, { cause: e });
  }
  const repos: string[] = [];
  for (const ent of entries) {
    if (ent.isDirectory()) continue;
    const m = REPO_INDEX_RE.exec(ent.name);
    if (!m) continue;
    try {
      repos.push(decodeRepoName(m[1]!));
    } catch (e) {
      throw new KitError(`failed to parse repo from index ${ent.name}: ${(e as Error).message}`, { cause: e });
    }
  }
  return repos.sort(compareGoStrings);
}

/** Only image manifests are scoped to a repository (kit's localRepo); everything else is a shared blob. */
function isRepoScoped(desc: Descriptor): boolean {
  return desc.mediaType === OCI_MANIFEST;
}

/**
 * A repository `<registry>/<repository>` in kit's local storage: a {@link Target} that can also
 * resume partial blobs ({@link Resumer}), delete manifests ({@link Deleter}) and untag.
 */
export class LocalRepository implements Target, Resumer, Deleter, Untagger, PooledPusher {
  readonly layout: LayoutStore;
  /** `<registry>/<repository>`, e.g. `localhost/example` or `localhost/_`. */
  readonly name: string;

  constructor(layout: LayoutStore, name: string) {
    this.layout = layout;
    this.name = name;
  }

  /** Opens the storage directory (creating the layout files when needed) and the repository. */
  static async open(storageDir: string, name: string, opts: LayoutOptions = {}): Promise<LocalRepository> {
    return new LocalRepository(await LayoutStore.open(storageDir, opts), name);
  }

  get indexPath(): string {
    return repoIndexPath(this.layout.root, this.name);
  }
  get tagsPath(): string {
    return repoTagsPath(this.layout.root, this.name);
  }

  // ----- files ---------------------------------------------------------------------------------

  /** The repository index (empty when the file does not exist). */
  async readIndex(): Promise<IndexFile> {
    const text = await readOptional(this.indexPath);
    return text === undefined ? { schemaVersion: 2, manifests: [] } : parseIndex(text, this.indexPath);
  }

  /** The tag map (empty when the file does not exist). */
  async readTags(): Promise<Map<string, StoredDescriptor>> {
    const text = await readOptional(this.tagsPath);
    return text === undefined ? new Map() : parseTags(text, this.tagsPath);
  }

  /** kit's `localIndex.save`: dedupe by digest, compact JSON, delete the file when empty. */
  async #writeIndex(idx: IndexFile): Promise<void> {
    const seen = new Set<string>();
    const list = (idx.manifests ?? []).filter((d) => !seen.has(d.digest) && seen.add(d.digest));
    if (list.length === 0) {
      await fsp.rm(this.indexPath, { force: true });
      return;
    }
    await atomicWriteFile(this.indexPath, encodeIndex({ ...idx, manifests: list }));
  }

  /** kit's `tagsIndex.save`: keys sorted, delete the file when empty. */
  async #writeTags(tags: Map<string, StoredDescriptor>): Promise<void> {
    if (tags.size === 0) {
      await fsp.rm(this.tagsPath, { force: true });
      return;
    }
    await atomicWriteFile(this.tagsPath, encodeTags(tags));
  }

  /** Manifests in this repository, in insertion order. */
  async manifests(): Promise<Descriptor[]> {
    return (await this.readIndex()).manifests ?? [];
  }

  /** Tags pointing at `desc`, sorted. */
  async tagsOf(desc: Descriptor): Promise<string[]> {
    const out: string[] = [];
    for (const [t, d] of await this.readTags()) if (d.digest === desc.digest) out.push(t);
    return out.sort(compareGoStrings);
  }

  async #hasManifest(desc: Descriptor): Promise<boolean> {
    return (await this.manifests()).some((d) => d.digest === desc.digest);
  }

  // ----- Target --------------------------------------------------------------------------------

  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    throwIfAborted(opts.signal);
    if (isRepoScoped(desc) && !(await this.#hasManifest(desc))) throw notFound(desc);
    return this.layout.fetch(desc, opts);
  }

  /**
   * A manifest exists when it is in this repository's index and it is whole: its blob reads
   * back sound and the blobs it names (config, layers) are stored. A manifest whose blob or
   * layer was removed as damaged is then copied again by a pull. A blob exists when its file does.
   */
  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    throwIfAborted(opts.signal);
    if (isRepoScoped(desc)) return (await this.#hasManifest(desc)) && (await this.#isWhole(desc, opts));
    return this.layout.exists(desc, opts);
  }

  async #isWhole(desc: Descriptor, opts: StoreOptions): Promise<boolean> {
    let children: Descriptor[];
    try {
      children = successorsOf(desc, await fetchBytes(this.layout, desc, undefined, opts));
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      return false; // missing, damaged (and now removed) or unreadable: copying it again decides
    }
    // The blobs it names; a `subject` is another manifest, which need not be in this repository.
    for (const c of children) {
      if (!isManifestType(c.mediaType) && !(await this.layout.exists(c, opts))) return false;
    }
    return true;
  }

  /**
   * Pushes a blob, or a manifest: written to the shared store if missing, then recorded in the
   * shared index and this repository's index (a manifest already in the store is not an error).
   */
  async push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}): Promise<void> {
    if (!isRepoScoped(desc)) {
      await this.layout.push(desc, body, opts);
      return;
    }
    await this.#pushScoped(desc, body, opts);
  }

  /** {@link push}, giving each chunk back to `pool` once written ({@link PooledPusher}). */
  async pushPooled(desc: Descriptor, body: ReadableStream<Uint8Array>, pool: ChunkPool, opts: StoreOptions = {}): Promise<void> {
    if (!isRepoScoped(desc)) {
      await this.layout.pushPooled(desc, body, pool, opts);
      return;
    }
    await this.#pushScoped(desc, body, opts);
  }

  /** A manifest: stored if missing, then recorded in both indexes. */
  async #pushScoped(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions): Promise<void> {
    try {
      checkDescriptor(desc);
      if (await this.layout.exists(desc, opts)) {
        await body.cancel().catch(() => {});
      } else {
        await this.layout.pushBlob(desc, body, opts);
      }
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) {
        await body.cancel(e).catch(() => {});
        throw e;
      }
    }
    await this.addManifest(desc, opts);
  }

  /**
   * Records a manifest whose blob is in the store: in the shared `index.json` and in this
   * repository's index; a ref-name annotation on `desc` becomes a tag (kit's `addManifest`).
   */
  async addManifest(desc: Descriptor, opts: StoreOptions = {}): Promise<void> {
    checkDescriptor(desc);
    await this.layout.withLock(async () => {
      await this.layout.addToIndexLocked([desc]);
      const tag = desc.annotations?.[ANNOTATION_REF_NAME];
      const entry = withoutRefName(desc);
      const idx = await this.readIndex();
      const list = idx.manifests ?? [];
      if (!list.some((d) => d.digest === entry.digest)) {
        list.push(entry);
        idx.manifests = list;
        await this.#writeIndex(idx);
      }
      if (tag) {
        const tags = await this.readTags();
        tags.set(tag, entry);
        await this.#writeTags(tags);
      }
    }, opts.signal);
  }

  /** Blobs continue where an earlier download stopped (the shared layout's `ingest/<hex>`). */
  openPartial(desc: Descriptor, opts: StoreOptions = {}): Promise<PartialDownload> {
    return this.layout.openPartial(desc, opts);
  }

  /** A digest is looked up in this repository's index; anything else is a tag. */
  async resolve(ref: string, opts: StoreOptions = {}): Promise<Descriptor> {
    throwIfAborted(opts.signal);
    if (ref === "") throw missingReference();
    if (isDigest(ref)) {
      const d = (await this.manifests()).find((m) => m.digest === ref);
      if (d) return d;
    } else {
      const d = (await this.readTags()).get(ref);
      if (d) return d;
    }
    throw new NotFoundError(`${ref}: not found`);
  }

  /**
   * Points tag `ref` at `desc`, which must be a manifest of this repository. Tagging a manifest
   * with its own digest does nothing (a digest is not a tag).
   */
  async tag(desc: Descriptor, ref: string, opts: StoreOptions = {}): Promise<void> {
    if (ref === "") throw missingReference();
    checkDescriptor(desc);
    await this.layout.withLock(async () => {
      if (!(await this.#hasManifest(desc))) throw notFound(desc);
      if (isDigest(ref)) {
        if (ref === desc.digest) return;
        throw new KitError(`Cannot tag ${desc.digest} as ${ref}: a digest cannot be used as a tag`);
      }
      const tags = await this.readTags();
      tags.set(ref, withoutRefName(copyDescriptor(desc)));
      await this.#writeTags(tags);
    }, opts.signal);
  }

  /** Removes tag `ref`; NotFoundError when this repository has no such tag. */
  async untag(ref: string, opts: StoreOptions = {}): Promise<void> {
    if (ref === "") throw missingReference();
    await this.layout.withLock(async () => {
      const tags = await this.readTags();
      if (!tags.delete(ref)) throw new NotFoundError(`${ref}: not found`);
      await this.#writeTags(tags);
    }, opts.signal);
  }

  /**
   * Deletes a manifest from this repository with kit's rules (docs/format.md#remove): if at most one
   * repository index lists it, it is deleted from the shared store with garbage collection of
   * whatever no other listed manifest still uses; it always leaves this repository's index and
   * every tag of it goes. Anything other than an image manifest is deleted from the shared store.
   * Blobs already missing are not an error, unless nothing at all was there to delete.
   */
  async delete(desc: Descriptor, opts: StoreOptions = {}): Promise<DeleteResult> {
    checkDescriptor(desc);
    if (!isRepoScoped(desc)) return this.layout.delete(desc, opts.signal);
    return this.layout.withLock(async () => {
      let refs = 0;
      for (const repo of await listRepositories(this.layout.root)) {
        const r = repo === this.name ? this : new LocalRepository(this.layout, repo);
        if (await r.#hasManifest(desc)) refs++;
      }
      const inRepo = await this.#hasManifest(desc);
      let result: DeleteResult = { deleted: [], missing: [] };
      if (refs <= 1) result = await this.layout.deleteLocked(desc);
      const tags = await this.readTags();
      let untagged = false;
      for (const [t, d] of tags) {
        if (d.digest === desc.digest) {
          tags.delete(t);
          untagged = true;
        }
      }
      if (untagged) await this.#writeTags(tags);
      if (inRepo) {
        const idx = await this.readIndex();
        idx.manifests = (idx.manifests ?? []).filter((d) => d.digest !== desc.digest);
        await this.#writeIndex(idx);
      }
      if (!inRepo && !untagged && refs <= 1 && result.deleted.length === 0) throw notFound(desc);
      return result;
    }, opts.signal);
  }
}

async function readOptional(p: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(p, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** A repository's tags and manifest digests, as {@link readLocalReferences} lists them. */
export interface LocalReferences {
  /** `<registry>/<repository>`. */
  name: string;
  /** Sorted tags of every manifest. */
  tags: string[];
  /** Manifest digests in index order. */
  digests: string[];
}

/**
 * Every repository in `storageDir` with its tags and manifest digests, read from the index and
 * tag files only: nothing is opened for writing, no blob is read (shell completion).
 */
export async function readLocalReferences(storageDir: string): Promise<LocalReferences[]> {
  const out: LocalReferences[] = [];
  for (const name of await listRepositories(storageDir)) {
    const indexText = await readOptional(repoIndexPath(storageDir, name));
    const tagsText = await readOptional(repoTagsPath(storageDir, name));
    const index = indexText === undefined ? { manifests: [] } : parseIndex(indexText, repoIndexPath(storageDir, name));
    const tags = tagsText === undefined ? new Map() : parseTags(tagsText, repoTagsPath(storageDir, name));
    out.push({ name, tags: [...tags.keys()].sort(compareGoStrings), digests: (index.manifests ?? []).map((d) => d.digest) });
  }
  return out;
}
