/**
 * Where a ModelKit is read from: its repository in local storage, else (for a reference naming a
 * registry) its registry, where layers are streamed and nothing is stored; or, for an `oci:` or
 * `oci-archive:` location, the OCI image layout itself (docs/format.md#oci-layouts), with its
 * model-reference parents looked up in the same layout first. Unpack, info, inspect, diff, list,
 * push, pull, dev and pack's model references all find kits through here.
 * @module
 */
import { type Descriptor, plainDescriptor } from "../oci/descriptor.ts";
import { kitLocationToString, layoutEntryNamer, layoutRefToString, layoutWithDigest, type KitLocation, type LayoutRef } from "../oci/location.ts";
import { artifactKind, InvalidManifestError, parseManifest } from "../oci/manifest.ts";
import { DOCKER_MANIFEST_LIST, OCI_INDEX } from "../oci/media-types.ts";
import { displayRef, isTag, LOCAL_REGISTRY, refToString, repoKey, tagOrDigest, withDigest, type ModelRef, type RepositoryRef } from "../oci/reference.ts";
import type { RegistrySession } from "../registry/remote.ts";
import type { RemoteRepository } from "../registry/repository.ts";
import type { StoredDescriptor } from "../store/index-file.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import { OciArchive } from "../store/oci-archive.ts";
import { LayoutError, type LayoutSource, missingBlob, OciLayoutDir, refNameOf } from "../store/oci-layout.ts";
import { fetchBytes, isManifestType, type ReadOnlyTarget, type StoreOptions, withKnownManifests } from "../store/target.ts";
import { KitError, NotFoundError } from "../util/errors.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { NotAModelKitError } from "./contents.ts";

/** Finds a ModelKit: the store holding it and what to resolve there, or undefined when absent. */
export type ParentSource = (ref: ModelRef) => Promise<{ source: ReadOnlyTarget; ref: string } | undefined>;

/** Opens the registry repository of a reference (for reading). */
export type RemoteOpener = (ref: RepositoryRef) => Promise<RemoteRepository>;

/** A {@link RemoteOpener} with one registry session for the whole command, opened on first use. */
export function lazyRemote(open: () => Promise<RegistrySession>): RemoteOpener {
  let session: Promise<RegistrySession> | undefined;
  return async (r) => (await (session ??= open())).repository(r.registry, r.repository);
}

/** `source` when it resolves `ref`; undefined when it does not know it. */
async function ifResolves(source: ReadOnlyTarget, ref: ModelRef): Promise<{ source: ReadOnlyTarget; ref: string } | undefined> {
  try {
    await source.resolve(tagOrDigest(ref));
    return { source, ref: tagOrDigest(ref) };
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

export function localParentSource(storage: LayoutStore): ParentSource {
  return (ref) => ifResolves(new LocalRepository(storage, repoKey(ref)), ref);
}

/** Kits from their registry; references without a registry (`localhost`) are not looked up. */
export function remoteParentSource(open: RemoteOpener): ParentSource {
  return async (ref) => (ref.registry === LOCAL_REGISTRY ? undefined : ifResolves(await open(ref), ref));
}

/** Local storage first, then (when `remote` is given) the registry. */
export function localThenRemote(storage: LayoutStore, remote?: RemoteOpener): ParentSource {
  const local = localParentSource(storage);
  if (!remote) return local;
  const reg = remoteParentSource(remote);
  return async (ref) => (await local(ref)) ?? reg(ref);
}

/** The store to read `ref` from ({@link localThenRemote}); kit's messages when it is in neither. */
export async function sourceFor(storage: LayoutStore, ref: ModelRef, remote?: RemoteOpener): Promise<ReadOnlyTarget> {
  const found = await localThenRemote(storage, remote)(ref);
  if (found) return found.source;
  if (ref.registry === LOCAL_REGISTRY) throw new KitError(`failed to find reference ${displayRef(refToString(ref))}: not found`);
  throw new KitError(`reference ${refToString(ref)} is not present in local storage and could not be found in remote`);
}

// ----- OCI image layouts (oci:DIR, oci-archive:FILE) ----------------------------------------------

/** Opens the layout a location names, for reading (nothing in it changes). */
export function openLayout(l: LayoutRef, opts: StoreOptions = {}): Promise<LayoutSource> {
  return l.format === "oci" ? OciLayoutDir.open(l.path, opts) : OciArchive.open(l.path, opts);
}

/** A ModelKit found in a layout. */
export interface LayoutKit {
  layout: LayoutSource;
  /** Its manifest (plain: the entry's annotations stay in the layout). */
  desc: Descriptor;
  /** The reference it goes by (recorded when written, or derived: oci/location.ts `layoutEntryNamer`). */
  name: ModelRef;
  /** Its tag in the layout, when it has one. */
  tag?: string;
}

/** What a layout entry holds, in words, for a manifest that is not a ModelKit; undefined for a ModelKit. */
async function notAModelKit(layout: LayoutSource, entry: Descriptor, opts: StoreOptions): Promise<string | undefined> {
  if (entry.mediaType === OCI_INDEX || entry.mediaType === DOCKER_MANIFEST_LIST) return "an image index (a multi-platform image)";
  if (!isManifestType(entry.mediaType)) return `a ${entry.mediaType}`;
  if (!(await layout.exists(entry, opts))) {
    throw new LayoutError(`${layout.name}: index.json names manifest ${entry.digest}, which the layout does not hold`, {
      hint: "The layout is incomplete: write it again from the original",
    });
  }
  let m;
  try {
    m = parseManifest(await fetchBytes(layout, entry, undefined, opts));
  } catch (e) {
    if (e instanceof InvalidManifestError) return "not a readable image manifest";
    throw e;
  }
  if (artifactKind(m) !== "other") return undefined;
  const config = m.config.mediaType;
  return config === "application/vnd.oci.image.config.v1+json" || config === "application/vnd.docker.container.image.v1+json"
    ? "a container image"
    : `an artifact of type ${m.artifactType || config}`;
}

/** `oci:PATH:TAG` for an entry with a tag, `oci:PATH@DIGEST` otherwise. */
function entryLocation(l: LayoutRef, e: Descriptor): string {
  const tag = refNameOf(e);
  return layoutRefToString(tag ? { ...l, digest: undefined, tag } : layoutWithDigest(l, e.digest));
}

function layoutKitOf(layout: LayoutSource, name: ModelRef, e: StoredDescriptor): LayoutKit {
  return { layout, desc: plainDescriptor(e), name, tag: refNameOf(e) };
}

/**
 * The ModelKit a layout location names: by its tag, by its digest, or (with neither) the only
 * ModelKit in the layout. A manifest that is not a ModelKit is refused saying what it is; several
 * ModelKits and no tag are refused listing them.
 */
export async function findLayoutKit(layout: LayoutSource, l: LayoutRef, opts: StoreOptions = {}): Promise<LayoutKit> {
  const entries = await layout.entries(opts);
  const nameOf = layoutEntryNamer(entries, layout.path);
  const shown = layoutRefToString(l);
  if (l.tag !== undefined || l.digest !== undefined) {
    const e = l.digest !== undefined ? entries.find((x) => x.digest === l.digest) : entries.findLast((x) => refNameOf(x) === l.tag);
    if (!e) {
      const tags = [...new Set(entries.map(refNameOf).filter((t): t is string => t !== undefined))].sort(compareGoStrings);
      throw new NotFoundError(`${shown}: not found in the layout`, {
        hint: tags.length ? `Its tags: ${tags.join(", ")}` : "The layout has no tags: name a ModelKit by @DIGEST (kit list shows them)",
      });
    }
    const what = await notAModelKit(layout, e, opts);
    if (what) throw new NotAModelKitError(`${shown} is not a ModelKit: it is ${what}`);
    return layoutKitOf(layout, nameOf(e), e);
  }
  const kits: StoredDescriptor[] = [];
  const kitDigests = new Set<string>();
  const others: string[] = [];
  for (const e of entries) {
    if (kitDigests.has(e.digest)) continue;
    const what = await notAModelKit(layout, e, opts);
    if (what) others.push(`${entryLocation(l, e)} is ${what}`);
    else {
      kits.push(e);
      kitDigests.add(e.digest);
    }
  }
  if (kits.length === 1) return layoutKitOf(layout, nameOf(kits[0]!), kits[0]!);
  if (kits.length === 0) {
    throw new NotAModelKitError(others.length ? `${shown} holds no ModelKit: ${others.join("; ")}` : `${shown} is empty: it holds no ModelKit`);
  }
  const list = kits.map((k) => `${entryLocation(l, k)} (${displayRef(refToString(nameOf(k)))})`);
  throw new KitError(`${shown} holds ${kits.length} ModelKits; name one with :TAG or @DIGEST: ${list.join(", ")}`, {
    hint: `kit list ${shown} shows them`,
  });
}

/**
 * A {@link ParentSource} for the ModelKits of a layout, by the reference each goes by (a kit
 * pinned to its digest is found by its digest).
 */
export function layoutParentSource(layout: LayoutSource): ParentSource {
  return async (ref) => {
    const want = refToString(ref);
    const entries = await layout.entries();
    const nameOf = layoutEntryNamer(entries, layout.path);
    for (const e of entries) {
      if (ref.digest !== undefined ? e.digest === ref.digest : refToString(nameOf(e)) === want) {
        const key = tagOrDigest(ref);
        return { source: withKnownManifests(layout, new Map([[key, plainDescriptor(e)]])), ref: key };
      }
    }
    return undefined;
  };
}

/** A ModelKit argument opened for reading. */
export interface OpenedKit {
  /** The reference to read it by: the argument, or for a layout the name its kit goes by, pinned to its digest. */
  ref: ModelRef;
  /** Finds the kit (by `ref`) and the kits its model refers to. */
  locate: (ref: ModelRef) => Promise<ReadOnlyTarget>;
  /** The argument as the user wrote it, for messages. */
  display: string;
  /** For a layout location: the kit found in it. */
  layoutKit?: LayoutKit;
}

/**
 * Opens a ModelKit location for reading: kit's reference through local storage and its registry
 * ({@link sourceFor}); a layout through itself, the parents of its kit in the layout first, then
 * in local storage and their registry. `storage` is opened only when needed (a layout is read
 * without touching local storage).
 */
export async function openKit(
  loc: KitLocation,
  o: { storage: () => Promise<LayoutStore>; remote?: RemoteOpener; signal?: AbortSignal },
): Promise<OpenedKit> {
  const fallback = async (r: ModelRef) => sourceFor(await o.storage(), r, o.remote);
  if (loc.kind === "reference") return { ref: loc.ref, locate: fallback, display: kitLocationToString(loc) };
  const layout = await openLayout(loc, { signal: o.signal });
  const kit = await findLayoutKit(layout, loc, { signal: o.signal });
  const inLayout = layoutParentSource(layout);
  return {
    ref: withDigest(kit.name, kit.desc.digest),
    locate: async (r) => (await inLayout(r))?.source ?? fallback(r),
    display: kitLocationToString(loc),
    layoutKit: kit,
  };
}

/** The tag a ModelKit from this location carries along: the layout's tag of it, else its name's. */
export function sourceTag(kit: OpenedKit): string | undefined {
  const k = kit.layoutKit;
  if (!k) return kit.ref.tag;
  if (k.tag !== undefined && isTag(k.tag)) return k.tag;
  return k.name.tag;
}

/** Every one of `children` is in the layout `source` (`name` in messages): a pull checks before it stores anything. */
export async function checkComplete(source: ReadOnlyTarget, name: string, children: Descriptor[], opts: StoreOptions = {}): Promise<void> {
  for (const c of children) if (!(await source.exists(c, opts))) throw missingBlob(name, c);
}
