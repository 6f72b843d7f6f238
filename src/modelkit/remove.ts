/**
 * `kit remove`: kit's rules for removing ModelKits from local storage and from a registry.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { displayRef, refToString, repoKey, tagOrDigest, withDigest, withTag, type ModelRef } from "../oci/reference.ts";
import { registryErrorIn } from "../registry/http.ts";
import type { LayoutStore } from "../store/layout.ts";
import { listRepositories, LocalRepository } from "../store/local.ts";
import { isTagLister, type Deleter, type ReadOnlyTarget, type TagLister, type Untagger } from "../store/target.ts";
import { CancelledError, KitError, NotFoundError, errorMessage, hintIn } from "../util/errors.ts";
import { compareGoStrings } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";
import { mapLimit } from "../util/pool.ts";

export interface RemoveOptions {
  /** Delete the manifest with every tag, even when the reference is a tag. */
  force: boolean;
  /** Registry requests in flight at once (default 5). */
  concurrency?: number;
  logger: Logger;
  signal?: AbortSignal;
}

/** A registry repository that can delete manifests and untag. */
export type RemovableRepository = ReadOnlyTarget & Deleter & Untagger;

/**
 * kit's `removeRemoteModel` (KitOps v1.9; docs/format.md#remove): a tag is only untagged (`Untagging remote
 * ModelKit <ref>`; the registry is left to prune what is no longer tagged). A registry that
 * cannot remove a tag alone (400/405) gets kit v1.7's delete by digest when no other tag of the
 * repository refers to the manifest, else a refusal naming those tags. A digest, or a tag
 * with `force`, deletes the manifest by digest with every tag pointing to it (`Deleting remote
 * ModelKit <ref@digest>`). A registry refusing deletes (405) is `removing models is unsupported by
 * registry <reg>`.
 */
async function removeRemoteRef(repo: RemovableRepository, ref: ModelRef, o: RemoveOptions): Promise<void> {
  const { logger: log, signal, force } = o;
  const display = displayRef(refToString(ref));
  let desc: Descriptor;
  try {
    desc = await repo.resolve(tagOrDigest(ref), { signal });
  } catch (e) {
    if (e instanceof CancelledError || signal?.aborted) throw e;
    if (e instanceof NotFoundError) throw new KitError(`model ${display} not found`, { cause: e });
    throw new KitError(`error resolving modelkit: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
  }
  if (ref.digest === undefined && !force) {
    log.info(`Untagging remote ModelKit ${display}`);
    try {
      await repo.untag(ref.tag, { signal });
      return;
    } catch (e) {
      if (e instanceof CancelledError || signal?.aborted) throw e;
      const status = registryErrorIn(e)?.status;
      // Registries without tag deletion (distribution 2.x answers 400 DIGEST_INVALID, others 405):
      // kit v1.7 deleted the manifest by digest; that is safe only when no other tag needs it.
      if ((status !== 400 && status !== 405) || !isTagLister(repo)) {
        throw new KitError(`failed to untag ModelKit in remote: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
      }
      const others = await otherTagsOf(repo, ref.tag, desc, o);
      if (others.length > 0) {
        throw new KitError(
          `failed to untag ModelKit in remote: registry ${ref.registry} cannot remove a tag on its own, and deleting ${desc.digest} would also remove the tags ${others.join(", ")}`,
          { cause: e, hint: "Use --force to delete the ModelKit with every tag that refers to it" },
        );
      }
      log.info(`Registry ${ref.registry} cannot remove a tag on its own and no other tag refers to ${desc.digest}: deleting the ModelKit instead`);
    }
  }
  log.info(`Deleting remote ModelKit ${displayRef(refToString(withDigest(ref, desc.digest)))}`);
  try {
    await repo.delete(desc, { signal });
  } catch (e) {
    if (e instanceof CancelledError || signal?.aborted) throw e;
    if (registryErrorIn(e)?.status === 405) throw new KitError(`removing models is unsupported by registry ${ref.registry}`, { cause: e });
    throw new KitError(`failed to remove remote model: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
  }
}

/** The repository's tags other than `tag` that point to `desc` (sorted), each resolved on the registry. */
async function otherTagsOf(repo: RemovableRepository & TagLister, tag: string, desc: Descriptor, o: RemoveOptions): Promise<string[]> {
  let tags: string[];
  try {
    tags = (await repo.tags({ signal: o.signal })).filter((t) => t !== tag);
  } catch (e) {
    throw new KitError(`failed to untag ModelKit in remote: cannot list the repository's tags to check that no other tag refers to ${desc.digest}: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
  }
  const resolved = await mapLimit(tags, o.concurrency ?? 5, async (t, signal) => {
    try {
      return (await repo.resolve(t, { signal })).digest === desc.digest ? t : undefined;
    } catch (e) {
      if (e instanceof NotFoundError) return undefined; // deleted meanwhile
      throw new KitError(`failed to untag ModelKit in remote: cannot check tag ${t}: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
    }
  }, o.signal);
  return resolved.filter((t): t is string => t !== undefined).sort(compareGoStrings);
}

/**
 * `kit remove --remote REF[,tag...]`. Extra comma tags are handled like the first reference, each
 * failure printed and the others still done, as the local remove does (kit ignores them with
 * --remote); the command fails at the end when any failed.
 */
export async function removeRemote(repo: RemovableRepository, ref: ModelRef, extraTags: string[], o: RemoveOptions): Promise<void> {
  const { logger: log, signal } = o;
  await removeRemoteRef(repo, ref, o);
  const failed: string[] = [];
  for (const tag of extraTags) {
    try {
      await removeRemoteRef(repo, withTag(ref, tag), o);
    } catch (e) {
      if (e instanceof CancelledError || signal?.aborted) throw e;
      log.error(`Failed to remove tag ${tag}: ${errorMessage(e)}`);
      failed.push(tag);
    }
  }
  throwIfSomeFailed(failed, "tag");
}

/** Exit 1 after the other parts were done when any part failed (each failure was printed). */
function throwIfSomeFailed(failed: string[], what: string): void {
  if (failed.length > 0) throw new KitError(`Could not remove ${failed.length} ${what}${failed.length === 1 ? "" : "s"}: ${failed.join(", ")}`);
}

/**
 * kit's `removeModelRef`: a digest (or `force`) deletes the manifest with all its tags; a tag
 * deletes it when it is the manifest's only tag and otherwise only untags it.
 */
async function removeRef(repo: LocalRepository, ref: ModelRef, o: RemoveOptions): Promise<Descriptor> {
  const { logger: log, signal, force } = o;
  let desc: Descriptor;
  try {
    desc = await repo.resolve(tagOrDigest(ref), { signal });
  } catch (e) {
    if (e instanceof NotFoundError) throw new KitError(`model ${displayRef(refToString(ref))} not found`, { cause: e });
    throw new KitError(`error resolving model: ${(e as Error).message}`, { cause: e });
  }
  const deleteManifest = async () => {
    try {
      await repo.delete(desc, { signal });
    } catch (e) {
      throw new KitError(`failed to delete model: ${(e as Error).message}`, { cause: e });
    }
  };
  if (ref.digest !== undefined || force) {
    log.debug(`Deleting manifest with digest ${tagOrDigest(ref)}`);
    await deleteManifest();
    return desc;
  }
  const tags = await repo.tagsOf(desc);
  if (tags.length <= 1) {
    log.debug(`Deleting manifest tagged ${ref.tag}`);
    await deleteManifest();
  } else {
    log.debug(`Found other tags for manifest: [${tags.join(", ")}]`);
    log.debug(`Untagging ${ref.tag}`);
    try {
      await repo.untag(ref.tag, { signal });
    } catch (e) {
      throw new KitError(`failed to untag model: ${(e as Error).message}`, { cause: e });
    }
  }
  return desc;
}

/** `kit remove REF[,tag...]`: the first reference must succeed; extra tags are all tried, then a failure fails the command. */
export async function removeLocal(storage: LayoutStore, ref: ModelRef, extraTags: string[], o: RemoveOptions): Promise<void> {
  const log = o.logger;
  const repo = new LocalRepository(storage, repoKey(ref));
  let desc: Descriptor;
  try {
    desc = await removeRef(repo, ref, o);
  } catch (e) {
    throw new KitError(`Failed to remove: ${(e as Error).message}`, { cause: e });
  }
  log.info(`Removed ${displayRef(refToString(ref))} (digest ${desc.digest})`);
  const failed: string[] = [];
  for (const tag of extraTags) {
    const tagRef = withTag(ref, tag);
    try {
      const d = await removeRef(repo, tagRef, o);
      log.info(`Removed ${displayRef(refToString(tagRef))} (digest ${d.digest})`);
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      log.error(`Failed to remove tag ${tag}: ${(e as Error).message}`);
      failed.push(tag);
    }
  }
  throwIfSomeFailed(failed, "tag");
}

/** `kit remove --all [--force]`: untagged manifests of every repository, or (force) everything. */
export async function removeAllLocal(storage: LayoutStore, o: RemoveOptions): Promise<void> {
  const { logger: log, signal, force } = o;
  const failed: string[] = [];
  for (const name of await listRepositories(storage.root)) {
    const repo = new LocalRepository(storage, name);
    const display = displayRef(name);
    const done = new Set<string>();
    for (const desc of await repo.manifests()) {
      if (done.has(desc.digest)) continue;
      const tags = await repo.tagsOf(desc);
      if (!force && tags.length > 0) {
        log.debug(`Skipping ${desc.digest} (tags: ${tags.join(", ")})`);
        continue;
      }
      for (const tag of tags) {
        try {
          await repo.untag(tag, { signal });
          log.info(`Untagged ${display}:${tag}`);
        } catch (e) {
          if (e instanceof CancelledError) throw e;
          log.error(`Failed to untag ${display}:${tag}: ${(e as Error).message}`);
          failed.push(`${display}:${tag}`);
        }
      }
      try {
        await repo.delete(desc, { signal });
      } catch (e) {
        if (e instanceof CancelledError) throw e;
        log.error(`Failed to remove ${display}@${desc.digest}: ${(e as Error).message}`);
        failed.push(`${display}@${desc.digest}`);
        continue;
      }
      done.add(desc.digest);
      log.info(`Removed ${display}@${desc.digest}`);
    }
  }
  throwIfSomeFailed(failed, "ModelKit or tag");
}


/**
 * `kit remove`: `what` (a reference and kit's extra tags) from its registry when `remote` is
 * given, else from local storage; without `what`, every untagged local ModelKit (every one with
 * `force`).
 */
export async function removeModelKits(
  what: { ref: ModelRef; extraTags: string[] } | undefined,
  stores: { storage: () => Promise<LayoutStore>; remote?: (ref: ModelRef) => Promise<RemovableRepository> },
  o: RemoveOptions,
): Promise<void> {
  if (stores.remote && what) return removeRemote(await stores.remote(what.ref), what.ref, what.extraTags, o);
  if (what) return removeLocal(await stores.storage(), what.ref, what.extraTags, o);
  o.logger.debug(o.force ? "Removing all locally-stored modelkits" : "Removing all untagged modelkits");
  return removeAllLocal(await stores.storage(), o);
}
