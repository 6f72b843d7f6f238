/**
 * Where a ModelKit is read from: its repository in local storage, else (for a reference naming a
 * registry) its registry, where layers are streamed and nothing is stored. Unpack, info, inspect,
 * diff, dev and pack's model references all find kits through here.
 * @module
 */
import { displayRef, LOCAL_REGISTRY, refToString, repoKey, tagOrDigest, type ModelRef, type RepositoryRef } from "../oci/reference.ts";
import type { RegistrySession } from "../registry/remote.ts";
import type { RemoteRepository } from "../registry/repository.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import type { ReadOnlyTarget } from "../store/target.ts";
import { KitError, NotFoundError } from "../util/errors.ts";

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
