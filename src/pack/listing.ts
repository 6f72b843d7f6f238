/**
 * What `kit list` shows about each ModelKit in local storage (compat §1.4, §4.5; addendum §3, §4):
 * one entry per manifest of every repository, repositories in byte order, entries by digest, tags
 * sorted. Manifests that are not ModelKits are skipped (kit v1.7 crashed on them), and `--filter`
 * keeps the kits whose Kitfile has at least one matching entry.
 * @module
 */
import type { Kitfile } from "../kitfile/schema.ts";
import { displayRef } from "../oci/reference.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import type { Manifest } from "../oci/manifest.ts";
import { OCI_MANIFEST } from "../oci/media-types.ts";
import type { LayoutStore } from "../store/layout.ts";
import { listRepositories, LocalRepository } from "../store/local.ts";
import { KitError } from "../util/errors.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { formatBytes, type Logger } from "../util/log.ts";
import { throwIfAborted } from "../util/pool.ts";
import { matchesFilters, type Filter, type LayerKind } from "./filter.ts";
import { inspectModelKit, NotAModelKitError } from "./inspect.ts";

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

/** A repository's manifest read for listing; `undefined` when it is not a ModelKit. */
async function readEntry(repo: LocalRepository, desc: Descriptor, opts: ListOptions): Promise<{ manifest: Manifest; kitfile?: Kitfile } | undefined> {
  const skip = (why: string) => {
    opts.logger?.debug(`Skipping ${desc.digest} in ${repo.name}: not a ModelKit (${why})`);
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

/** Every ModelKit in local storage, in kit's order (compat §1.4 "Ordering (local)"). */
export async function listLocalModelKits(storage: LayoutStore, opts: ListOptions = {}): Promise<ModelKitInfo[]> {
  const filters = opts.filters ?? [];
  const all: ModelKitInfo[] = [];
  for (const name of await listRepositories(storage.root)) {
    throwIfAborted(opts.signal);
    const repo = new LocalRepository(storage, name);
    const tagMap = await repo.readTags();
    const display = displayRef(name);
    const infos: ModelKitInfo[] = [];
    for (const desc of await repo.manifests()) {
      let entry;
      try {
        entry = await readEntry(repo, desc, opts);
      } catch (e) {
        if (e instanceof KitError && e.name === "CancelledError") throw e;
        throw new KitError(`Failed to read ModelKit ${desc.digest} in ${display || name}: ${(e as Error).message}`, { cause: e });
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
