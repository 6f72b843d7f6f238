import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseRefArg, remoteOpener } from "../session.ts";
import { displayRef, refToString } from "../../oci/reference.ts";
import { removeModelKits } from "../../modelkit/remove.ts";
import { KitError } from "../../util/errors.ts";

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
  argCompletion: "modelkit",
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
    const what = args.length > 0 ? parseRefArg(args[0]!, "Invalid arguments: failed to parse reference") : undefined;
    if (what) ctx.log.debug(`Removing ${displayRef(refToString(what.ref))} and additional tags: [${what.extraTags.join(", ")}]`);
    if (flags.remote && flags.all) throw new KitError("Invalid arguments: cannot use --all with --remote");
    const net = networkOptions(flags, ctx.cwd);
    const stores = { storage: () => openStorage(ctx), remote: flags.remote ? remoteOpener(ctx, net) : undefined };
    await removeModelKits(what, stores, { force: flags.force, concurrency: net.concurrency, logger: ctx.log, signal: ctx.signal });
  },
});
