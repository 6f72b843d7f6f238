import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseRefArg, remoteOpener } from "../session.ts";
import { displayRef, refToString } from "../../oci/reference.ts";
import { removeModelKits } from "../../modelkit/remove.ts";
import { KitError } from "../../util/errors.ts";

export const removeCommand = defineCommand({
  name: "remove",
  use: "remove [flags] registry/repository[:tag|@digest]",
  short: "Remove a modelkit from local storage or remote registry",
  ...HELP.remove,
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
