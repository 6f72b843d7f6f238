import { defineCommand, type Context } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage } from "../session.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import { displayRef, parseReference, refToString, repoKey, type ModelRef } from "../../oci/reference.ts";
import { registryErrorIn } from "../../registry/http.ts";
import { openRemoteRepository } from "../../registry/remote.ts";
import type { RemoteRepository } from "../../registry/repository.ts";
import type { NetworkOptions } from "../../registry/transport.ts";
import type { LayoutStore } from "../../store/layout.ts";
import { listRepositories, LocalRepository, referenceIsDigest } from "../../store/local.ts";
import { CancelledError, KitError, NotFoundError, errorMessage, hintIn } from "../../util/errors.ts";

/**
 * kit's `removeRemoteModel` (addendum §4, #978): a tag is only untagged (`Untagging remote
 * ModelKit <ref>`; the registry is left to prune what is no longer tagged); a digest, or a tag
 * with `force`, deletes the manifest by digest with every tag pointing to it (`Deleting remote
 * ModelKit <ref@digest>`). A registry refusing deletes (405) is `removing models is unsupported by
 * registry <reg>`.
 */
async function removeRemoteRef(ctx: Context, repo: RemoteRepository, ref: ModelRef, force: boolean): Promise<void> {
  const display = displayRef(refToString(ref));
  let desc: Descriptor;
  try {
    desc = await repo.resolve(ref.reference, { signal: ctx.signal });
  } catch (e) {
    if (e instanceof CancelledError || ctx.signal.aborted) throw e;
    if (e instanceof NotFoundError) throw new KitError(`model ${display} not found`, { cause: e });
    throw new KitError(`error resolving modelkit: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
  }
  if (!referenceIsDigest(ref.reference) && !force) {
    ctx.log.info(`Untagging remote ModelKit ${display}`);
    try {
      await repo.untag(ref.reference, { signal: ctx.signal });
    } catch (e) {
      if (e instanceof CancelledError || ctx.signal.aborted) throw e;
      const status = registryErrorIn(e)?.status;
      // Registries without tag deletion (distribution 2.x answers 400 DIGEST_INVALID, others 405).
      const hint = status === 400 || status === 405
        ? `The registry may not support removing a tag on its own: use --force to delete the ModelKit with every tag that refers to it`
        : hintIn(e);
      throw new KitError(`failed to untag ModelKit in remote: ${errorMessage(e)}`, { cause: e, hint });
    }
    return;
  }
  const deleteRef: ModelRef = { ...ref, reference: desc.digest, extraTags: [] };
  ctx.log.info(`Deleting remote ModelKit ${displayRef(refToString(deleteRef))}`);
  try {
    await repo.delete(desc, { signal: ctx.signal });
  } catch (e) {
    if (e instanceof CancelledError || ctx.signal.aborted) throw e;
    if (registryErrorIn(e)?.status === 405) throw new KitError(`removing models is unsupported by registry ${ref.registry}`, { cause: e });
    throw new KitError(`failed to remove remote model: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
  }
}

/**
 * `kit remove --remote REF[,tag...]`. Extra comma tags are handled like the first reference, each
 * failure printed without failing the command, as the local remove does (kit ignores them
 * with --remote).
 */
export async function removeRemote(ctx: Context, ref: ModelRef, force: boolean, net: NetworkOptions): Promise<void> {
  const repo = await openRemoteRepository(ref, net, remoteContext(ctx));
  await removeRemoteRef(ctx, repo, ref, force);
  const failed: string[] = [];
  for (const tag of ref.extraTags) {
    try {
      await removeRemoteRef(ctx, repo, { ...ref, reference: tag, extraTags: [] }, force);
    } catch (e) {
      if (e instanceof CancelledError || ctx.signal.aborted) throw e;
      ctx.log.error(`Failed to remove tag ${tag}: ${errorMessage(e)}`);
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
async function removeRef(ctx: Context, repo: LocalRepository, ref: ModelRef, force: boolean): Promise<Descriptor> {
  let desc: Descriptor;
  try {
    desc = await repo.resolve(ref.reference, { signal: ctx.signal });
  } catch (e) {
    if (e instanceof NotFoundError) throw new KitError(`model ${displayRef(refToString(ref))} not found`, { cause: e });
    throw new KitError(`error resolving model: ${(e as Error).message}`, { cause: e });
  }
  const deleteManifest = async () => {
    try {
      await repo.delete(desc, { signal: ctx.signal });
    } catch (e) {
      throw new KitError(`failed to delete model: ${(e as Error).message}`, { cause: e });
    }
  };
  if (referenceIsDigest(ref.reference) || force) {
    ctx.log.debug(`Deleting manifest with digest ${ref.reference}`);
    await deleteManifest();
    return desc;
  }
  const tags = await repo.tagsOf(desc);
  if (tags.length <= 1) {
    ctx.log.debug(`Deleting manifest tagged ${ref.reference}`);
    await deleteManifest();
  } else {
    ctx.log.debug(`Found other tags for manifest: [${tags.join(", ")}]`);
    ctx.log.debug(`Untagging ${ref.reference}`);
    try {
      await repo.untag(ref.reference, { signal: ctx.signal });
    } catch (e) {
      throw new KitError(`failed to untag model: ${(e as Error).message}`, { cause: e });
    }
  }
  return desc;
}

/** `kit remove REF[,tag...]`: the first reference must succeed; extra tags only report failures. */
async function removeModel(ctx: Context, storage: LayoutStore, ref: ModelRef, force: boolean): Promise<void> {
  const repo = new LocalRepository(storage, repoKey(ref));
  let desc: Descriptor;
  try {
    desc = await removeRef(ctx, repo, ref, force);
  } catch (e) {
    throw new KitError(`Failed to remove: ${(e as Error).message}`, { cause: e });
  }
  ctx.log.info(`Removed ${displayRef(refToString(ref))} (digest ${desc.digest})`);
  const failed: string[] = [];
  for (const tag of ref.extraTags) {
    const tagRef: ModelRef = { ...ref, reference: tag, extraTags: [] };
    try {
      const d = await removeRef(ctx, repo, tagRef, force);
      ctx.log.info(`Removed ${displayRef(refToString(tagRef))} (digest ${d.digest})`);
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      ctx.log.error(`Failed to remove tag ${tag}: ${(e as Error).message}`);
      failed.push(tag);
    }
  }
  throwIfSomeFailed(failed, "tag");
}

/** `kit remove --all [--force]`: untagged manifests of every repository, or (force) everything. */
async function removeAll(ctx: Context, storage: LayoutStore, force: boolean): Promise<void> {
  const failed: string[] = [];
  for (const name of await listRepositories(storage.root)) {
    const repo = new LocalRepository(storage, name);
    const display = displayRef(name);
    const done = new Set<string>();
    for (const desc of await repo.manifests()) {
      if (done.has(desc.digest)) continue;
      const tags = await repo.tagsOf(desc);
      if (!force && tags.length > 0) {
        ctx.log.debug(`Skipping ${desc.digest} (tags: ${tags.join(", ")})`);
        continue;
      }
      for (const tag of tags) {
        try {
          await repo.untag(tag, { signal: ctx.signal });
          ctx.log.info(`Untagged ${display}:${tag}`);
        } catch (e) {
          if (e instanceof CancelledError) throw e;
          ctx.log.error(`Failed to untag ${display}:${tag}: ${(e as Error).message}`);
          failed.push(`${display}:${tag}`);
        }
      }
      try {
        await repo.delete(desc, { signal: ctx.signal });
      } catch (e) {
        if (e instanceof CancelledError) throw e;
        ctx.log.error(`Failed to remove ${display}@${desc.digest}: ${(e as Error).message}`);
        failed.push(`${display}@${desc.digest}`);
        continue;
      }
      done.add(desc.digest);
      ctx.log.info(`Removed ${display}@${desc.digest}`);
    }
  }
  throwIfSomeFailed(failed, "ModelKit or tag");
}

export const removeCommand = defineCommand({
  name: "remove",
  use: "remove [flags] registry/repository[:tag|@digest]",
  short: "Remove a modelkit from local storage or remote registry",
  long: `Removes a modelkit from storage on the local disk or from a remote registry.

The model to be removed may be specifed either by a tag or by a digest. If specified by digest,
that modelkit will be removed along with any tags that might refer to it. If specified by tag
(and the --force flag is not used), the modelkit will only be removed if no other tags refer to
it; otherwise it is only untagged. Blobs no remaining modelkit uses are deleted from storage.

When removing modelkits in a remote registry, if the modelkit is specified by digest, the
modelkit will be deleted on the remote (if supported), removing any tags that might refer to it.
If the modelkit is specified with a tag (and the --force flag is not used), it will only be
untagged. If the --force flag is used, the modelkit and all tags referring to it will be removed.`,
  example: `  # Remove modelkit by tag
  kit remove my-registry.com/my-org/my-repo:my-tag

  # Remove modelkit by digest
  kit remove my-registry.com/my-org/my-repo@sha256:<digest>

  # Remove multiple tags for a modelkit
  kit remove my-registry.com/my-org/my-repo:tag1,tag2,tag3

  # Remove all untagged modelkits
  kit remove --all

  # Remove all locally stored modelkits
  kit remove --all --force

  # Untag a remote modelkit
  kit remove --remote my-registry.com/my-org/my-repo:my-tag

  # Delete a remote modelkit and all tags referring to it
  kit remove --remote my-registry.com/my-org/my-repo@sha256:<digest>

  # Delete a remote modelkit and all its tags without using a digest
  kit remove --remote --force my-registry.com/my-org/my-repo:my-tag`,
  args: { min: 0, max: 1 },
  validateArgs(args, flags) {
    if (args.length === 0 && !flags.all) return "modelkit is required for remove unless --all is specified";
    if (args.length === 1 && flags.all) return "modelkit should not be specified when --all flag is used";
    return undefined;
  },
  flags: {
    force: { type: "bool", short: "f", help: "remove modelkit and all other tags that refer to it" },
    all: { type: "bool", short: "a", help: "remove all untagged modelkits" },
    remote: { type: "bool", short: "r", help: "remove modelkit from remote registry" },
    ...networkFlags,
  },
  async run(ctx, args, flags) {
    let ref: ModelRef | undefined;
    if (args.length > 0) {
      try {
        ref = parseReference(args[0]!);
      } catch (e) {
        throw new KitError(`Invalid arguments: failed to parse reference: ${(e as Error).message}`, { cause: e });
      }
      if (ref.reference === "") throw new KitError(`Invalid arguments: tag or digest is required when removing (${args[0]}:<tag>)`);
      ctx.log.debug(`Removing ${displayRef(refToString(ref))} and additional tags: [${ref.extraTags.join(", ")}]`);
    }
    if (flags.remote && flags.all) throw new KitError("Invalid arguments: cannot use --all with --remote");
    const net = networkOptions(flags, ctx.cwd);
    if (flags.all) ctx.log.debug(flags.force ? "Removing all locally-stored modelkits" : "Removing all untagged modelkits");

    if (flags.remote) {
      await removeRemote(ctx, ref!, flags.force, net);
      return;
    }
    const storage = await openStorage(ctx);
    if (flags.all) await removeAll(ctx, storage, flags.force);
    else await removeModel(ctx, storage, ref!, flags.force);
  },
});
