/**
 * What `kit list` shows about each ModelKit in local storage (docs/format.md#list):
 * one entry per manifest of every repository, repositories in byte order, entries by digest, tags
 * sorted. Manifests that are not ModelKits are skipped (kit v1.7 crashed on them), and `--filter`
 * keeps the kits whose Kitfile has at least one matching entry. A remote repository is listed the
 * same way from its tags (every tag, not only `latest` as kit v1.7 did).
 * @module
 */
import type { Kitfile } from "../kitfile/schema.ts";
import { layoutEntryNamer, type KitLocation, type LayoutRef } from "../oci/location.ts";
import { displayRef, LOCAL_REGISTRY, repoKey, tagOrDigest, type ModelRef } from "../oci/reference.ts";
import { type LayoutSource, refNameOf } from "../store/oci-layout.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { digestProblem } from "../oci/digest.ts";
import type { Manifest } from "../oci/manifest.ts";
import { OCI_MANIFEST } from "../oci/media-types.ts";
import type { LayoutStore } from "../store/layout.ts";
import { listRepositories, LocalRepository } from "../store/local.ts";
import { type ReadOnlyTarget, type StoreOptions, withKnownManifests } from "../store/target.ts";
import { CancelledError, errorMessage, hintIn, KitError, NotFoundError } from "../util/errors.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { formatBytes, type Logger } from "../util/log.ts";
import { mapLimit, throwIfAborted } from "../util/pool.ts";
import { matchesFilters, type Filter, type LayerKind } from "./layer-filter.ts";
import { NotAModelKitError } from "./contents.ts";
import { inspectModelKit } from "./inspect.ts";
import { findLayoutKit, openLayout, type RemoteOpener } from "./locate.ts";

/** One listed ModelKit; field names and order are kit's JSON (`modelInfo`). */
export interface ModelKitInfo {
  /** Repository for display (`localhost/` and a leading `_` dropped; `<none>` when empty). */
  repo: string;
  digest: string;
  /** Sorted tags; `null` when untagged (Go nil slice). */
  tags: string[] | null;
  /** `package.name` or `<none>`. */
  modelName: string;
  /** FormatBytes of the sum of layer sizes (config and manifest not counted). */
  size: string;
  /** First of `package.authors` or `<none>`. */
  author: string;
}

export const NONE = "<none>";

export interface ListOptions {
  /** `--filter` values; empty = every ModelKit. */
  filters?: Filter[];
  /** Receives the debug line for each skipped manifest. */
  logger?: Logger;
  signal?: AbortSignal;
}

/** kit's `modelInfo.fill`: name, author and size from the manifest and (optional) Kitfile. */
export function modelKitInfo(repo: string, digest: string, tags: string[], manifest: Manifest, kitfile: Kitfile | undefined): ModelKitInfo {
  const size = (manifest.layers ?? []).reduce((n, l) => n + l.size, 0);
  return {
    repo: repo === "" ? NONE : repo,
    digest,
    tags: tags.length ? tags : null,
    modelName: kitfile?.package?.name || NONE,
    size: formatBytes(size),
    author: kitfile?.package?.authors?.[0] || NONE,
  };
}

/**
 * kit's `KitfileContainsMatchingLayer`: true when some Kitfile entry (model, model part, dataset,
 * code, docs, prompt, MCP server) passes the filters, or a filter names the `kitfile` type. A kit
 * without a Kitfile (a ModelPack without the annotation) matches only when there are no filters.
 */
export function kitMatchesFilters(filters: Filter[], kitfile: Kitfile | undefined): boolean {
  if (filters.length === 0) return true;
  if (!kitfile) return false;
  if (filters.some((f) => f.types.includes("kitfile"))) return true;
  const entries: Array<[LayerKind, { name?: string; path?: string } | undefined]> = [
    ["model", kitfile.model],
    ...(kitfile.model?.parts ?? []).map((p): [LayerKind, typeof p] => ["modelpart", p]),
    ...(kitfile.datasets ?? []).map((d): [LayerKind, typeof d] => ["dataset", d]),
    ...(kitfile.code ?? []).map((c): [LayerKind, typeof c] => ["code", c]),
    ...(kitfile.docs ?? []).map((d): [LayerKind, typeof d] => ["docs", d]),
    ...(kitfile.prompts ?? []).map((p): [LayerKind, typeof p] => ["prompt", p]),
    ...(kitfile.mcpServers ?? []).map((m): [LayerKind, typeof m] => ["mcpserver", m]),
  ];
  return entries.some(([kind, e]) => e !== undefined && matchesFilters(filters, kind, e));
}

/**
 * A manifest read for listing; `undefined` when it is not a ModelKit. `where` names the
 * repository (and tags) in the debug line of a skipped manifest.
 */
async function readEntry(repo: ReadOnlyTarget, desc: Descriptor, where: string, opts: ListOptions): Promise<{ manifest: Manifest; kitfile?: Kitfile } | undefined> {
  const skip = (why: string) => {
    opts.logger?.debug(`Skipping ${desc.digest} in ${where}: not a ModelKit (${why})`);
    return undefined;
  };
  if (desc.mediaType !== OCI_MANIFEST) return skip(`media type ${desc.mediaType}`);
  // Integrity problems (a damaged or missing blob) are errors; content that is simply something
  // other than a ModelKit is skipped.
  try {
    const kit = await inspectModelKit(repo, desc.digest, { signal: opts.signal });
    return { manifest: kit.manifest, kitfile: kit.synthesised ? undefined : kit.kitfile };
  } catch (e) {
    if (e instanceof NotAModelKitError) return skip(e.message);
    throw e;
  }
}

/**
 * A ModelKit that cannot be read (a damaged or missing blob, a config that does not parse) is
 * left out of the listing with a warning naming it and the command that removes it: one bad kit
 * never hides the others.
 */
function warnUnreadable(logger: Logger | undefined, what: string, e: unknown, remove: string): void {
  logger?.warn(`Skipping ModelKit ${what}, which cannot be read: ${(e as Error).message}`);
  logger?.warn(`Remove it with: ${remove}`);
}

/** Every ModelKit in local storage, in kit's order (docs/format.md#list). */
export async function listLocalModelKits(storage: LayoutStore, opts: ListOptions = {}): Promise<ModelKitInfo[]> {
  const filters = opts.filters ?? [];
  const all: ModelKitInfo[] = [];
  for (const name of await listRepositories(storage.root)) {
    throwIfAborted(opts.signal);
    const repo = new LocalRepository(storage, name);
    const display = displayRef(name);
    let tagMap;
    let manifests;
    try {
      tagMap = await repo.readTags();
      manifests = await repo.manifests();
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      // One unreadable repository must not hide the others.
      opts.logger?.warn(`Skipping repository ${display || name}: ${(e as Error).message}`);
      continue;
    }
    const infos: ModelKitInfo[] = [];
    // Listed just now: resolving each manifest again and the repository's membership check on
    // every fetch would read its index file three times per kit (the blobs are still verified).
    const listed = withKnownManifests(repo, manifests, storage);
    for (const desc of manifests) {
      let entry;
      try {
        entry = await readEntry(listed, desc, repo.name, opts);
      } catch (e) {
        if (e instanceof CancelledError) throw e;
        warnUnreadable(opts.logger, `${display || name}@${desc.digest}`, e, `kit remove ${display || name}@${desc.digest}`);
        continue;
      }
      if (!entry) continue;
      if (!kitMatchesFilters(filters, entry.kitfile)) continue;
      const tags: string[] = [];
      for (const [t, d] of tagMap) if (d.digest === desc.digest) tags.push(t);
      tags.sort(compareGoStrings);
      infos.push(modelKitInfo(display, desc.digest, tags, entry.manifest, entry.kitfile));
    }
    infos.sort((a, b) => compareGoStrings(a.repo, b.repo) || compareGoStrings(a.digest, b.digest));
    all.push(...infos);
  }
  return all;
}

/**
 * The ModelKits of an OCI image layout (`kit list oci:DIR`, `kit list oci-archive:FILE`), shown
 * like the local listing: one entry per manifest with its tags in the layout (sorted), `repo` the
 * repository of the reference it goes by (docs/format.md#oci-layouts), entries by repository then
 * digest. Manifests that are not ModelKits (signatures, container images) are skipped with a
 * debug line. With `only`, just that manifest.
 */
export async function listLayoutModelKits(layout: LayoutSource, opts: ListOptions & { only?: { digest: string; name: ModelRef } } = {}): Promise<ModelKitInfo[]> {
  const filters = opts.filters ?? [];
  const entries = (await layout.entries({ signal: opts.signal })).filter((e) => opts.only === undefined || e.digest === opts.only.digest);
  // One row per manifest and name, the name each entry goes by (what `pull` of it stores): one
  // kit pushed under two names is two rows.
  const nameOf = layoutEntryNamer(entries, layout.path);
  const groups = new Map<string, { desc: Descriptor; name: ModelRef; tags: string[] }>();
  for (const e of entries) {
    const name = nameOf(e);
    const key = `${e.digest} ${repoKey(name)}`;
    if (opts.only !== undefined && key !== `${opts.only.digest} ${repoKey(opts.only.name)}`) continue;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { desc: e, name, tags: [] }));
    const tag = refNameOf(e);
    if (tag !== undefined) g.tags.push(tag);
  }
  const known = withKnownManifests(layout, [...groups.values()].map((g) => g.desc));
  const infos: ModelKitInfo[] = [];
  for (const { desc, name, tags } of groups.values()) {
    throwIfAborted(opts.signal);
    tags.sort(compareGoStrings);
    let entry;
    try {
      entry = await readEntry(known, desc, layout.name, opts);
    } catch (e) {
      if (e instanceof CancelledError || opts.signal?.aborted) throw e;
      // One damaged kit never hides the others (as in local storage); the layout cannot be repaired here.
      opts.logger?.warn(`Skipping ModelKit ${desc.digest} in ${layout.name}, which cannot be read: ${errorMessage(e)}`);
      continue;
    }
    if (!entry || !kitMatchesFilters(filters, entry.kitfile)) continue;
    infos.push(modelKitInfo(displayRef(repoKey(name)), desc.digest, tags, entry.manifest, entry.kitfile));
  }
  infos.sort((a, b) => compareGoStrings(a.repo, b.repo) || compareGoStrings(a.digest, b.digest));
  return infos;
}

/**
 * `kit list oci:DIR[:TAG|@DIGEST]`, `kit list oci-archive:FILE[:TAG|@DIGEST]`: every ModelKit of
 * the layout, or only the one the location names ({@link listLayoutModelKits}).
 */
export async function listLayoutReference(l: LayoutRef, opts: ListOptions = {}): Promise<ModelKitInfo[]> {
  const layout = await openLayout(l, { signal: opts.signal });
  const named = l.tag !== undefined || l.digest !== undefined;
  const kit = named ? await findLayoutKit(layout, l, { signal: opts.signal }) : undefined;
  const only = kit && { digest: kit.desc.digest, name: kit.name };
  return listLayoutModelKits(layout, { ...opts, only });
}

/** What a remote listing reads: a repository's tags, and its manifests and blobs. */
export interface TaggedSource extends ReadOnlyTarget {
  /** Every tag of the repository (all pages). */
  tags(opts?: StoreOptions): Promise<string[]>;
}

export interface RemoteListOptions extends ListOptions {
  /** A tag or digest to list on its own (`kit list reg/repo:tag`); every tag when absent. */
  reference?: string;
  /** Requests in flight at once (default 5). */
  concurrency?: number;
}

/**
 * The ModelKits of a remote repository, shown like the local listing (docs/format.md#list): one entry per
 * manifest with all the tags that point to it (sorted), entries ordered by digest, `repo` the
 * repository path. Every tag is listed (kit v1.7 showed only `latest` [quirk]); with
 * `opts.reference` only that tag or digest. Manifests that are not ModelKits are skipped with a
 * debug line, as is a tag deleted between listing and reading it. `name` (`registry/repository`)
 * is used in messages: `failed to list tags on repository <name>: <err>`, `failed to resolve
 * reference <tag>: <err>` (kit's), `Failed to read ModelKit <digest> in <name>: <err>`.
 */
export async function listRemoteModelKits(source: TaggedSource, repo: string, name: string, opts: RemoteListOptions = {}): Promise<ModelKitInfo[]> {
  const filters = opts.filters ?? [];
  const concurrency = opts.concurrency ?? 5;
  const single = opts.reference !== undefined && opts.reference !== "";
  let refs: string[];
  if (single) {
    refs = [opts.reference!];
  } else {
    try {
      refs = await source.tags({ signal: opts.signal });
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      // The registry client's NotFoundError already names the repository.
      if (e instanceof NotFoundError) throw e;
      throw new KitError(`failed to list tags on repository ${name}: ${(e as Error).message}`, { cause: e, hint: (e as KitError).hint });
    }
  }

  // Tags → manifests; each manifest is read once however many tags point to it.
  const byDigest = new Map<string, { desc: Descriptor; tags: string[] }>();
  const resolved = await mapLimit(refs, concurrency, async (ref, signal) => {
    try {
      return { ref, desc: await source.resolve(ref, { signal }) };
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      if (!single && e instanceof NotFoundError) {
        opts.logger?.debug(`Skipping tag ${ref} in ${name}: ${e.message}`);
        return undefined;
      }
      const what = e instanceof NotFoundError ? "not found" : (e as Error).message;
      throw new KitError(`failed to resolve reference ${ref}: ${what}`, { cause: e, hint: (e as KitError).hint });
    }
  }, opts.signal);
  for (const r of resolved) {
    if (!r) continue;
    let group = byDigest.get(r.desc.digest);
    if (!group) byDigest.set(r.desc.digest, (group = { desc: r.desc, tags: [] }));
    if (digestProblem(r.ref) !== undefined) group.tags.push(r.ref);
  }

  // Resolving by digest again would cost a request per manifest: answer it from what we know.
  const groups = [...byDigest.values()];
  const known = withKnownManifests(source, groups.map((g) => g.desc));
  const infos = await mapLimit(groups, concurrency, async ({ desc, tags }, signal) => {
    tags.sort(compareGoStrings);
    const where = tags.length ? `${name} (tags ${tags.join(", ")})` : name;
    let entry;
    try {
      entry = await readEntry(known, desc, where, { ...opts, signal });
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      warnUnreadable(opts.logger, `${name}@${desc.digest}`, e, `kit remove --remote --force ${name}@${desc.digest}`);
      return undefined;
    }
    if (!entry || !kitMatchesFilters(filters, entry.kitfile)) return undefined;
    return modelKitInfo(repo, desc.digest, tags, entry.manifest, entry.kitfile);
  }, opts.signal);
  const out = infos.filter((i): i is ModelKitInfo => i !== undefined);
  out.sort((a, b) => compareGoStrings(a.digest, b.digest));
  return out;
}

/**
 * `kit list REPOSITORY`: the ModelKits of a remote repository — every tag, or only the one `ref`
 * names when `explicit` (the argument had a tag or digest). Rows as the local listing.
 */
export async function listRemoteReference(
  open: RemoteOpener,
  ref: ModelRef,
  explicit: boolean,
  opts: { filters: Filter[]; concurrency: number; logger: Logger; signal: AbortSignal },
): Promise<ModelKitInfo[]> {
  try {
    return await listRemoteModelKits(await open(ref), ref.repository, `${ref.registry}/${ref.repository}`, {
      reference: explicit ? tagOrDigest(ref) : undefined,
      ...opts,
    });
  } catch (e) {
    if (e instanceof CancelledError || opts.signal.aborted) throw e;
    const hint = hintIn(e) ?? (ref.registry === LOCAL_REGISTRY ? "Run kit list without a REPOSITORY argument to list ModelKits in local storage" : undefined);
    throw new KitError(errorMessage(e), { cause: e, hint });
  }
}

/**
 * `kit list [REPOSITORY]`: local storage without a location; the ModelKits of a layout; or those
 * of a remote repository ({@link listRemoteReference}, `explicit` from the argument).
 */
export async function listModelKits(
  loc: KitLocation | undefined,
  stores: { storage: () => Promise<LayoutStore>; remote: RemoteOpener },
  opts: { filters: Filter[]; concurrency: number; logger: Logger; signal: AbortSignal },
): Promise<ModelKitInfo[]> {
  if (!loc) return listLocalModelKits(await stores.storage(), opts);
  if (loc.kind === "layout") return listLayoutReference(loc, opts);
  return listRemoteReference(stores.remote, loc.ref, loc.explicit ?? false, opts);
}
