import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseLocationArg, parseSingleRef, transferSession, withProgress } from "../session.ts";
import { signatureCheck, verifyKeyFlags } from "../signing.ts";
import { kitLocationToString, parseLayoutRef } from "../../oci/location.ts";
import { displayRef, LOCAL_REGISTRY, refToString } from "../../oci/reference.ts";
import { pullModelKit } from "../../modelkit/transfer.ts";
import { KitError } from "../../util/errors.ts";

export const pullCommand = defineCommand({
  name: "pull",
  use: "pull [flags] SOURCE [DESTINATION]",
  short: "Retrieve modelkits from a remote registry to your local environment",
  ...HELP.pull,
  args: { min: 1, max: 2 },
  flags: { ...networkFlags, ...verifyKeyFlags },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const src = parseLocationArg(ctx, args[0]!, "reference");
    if (src.kind === "reference" && src.ref.registry === LOCAL_REGISTRY) throw new KitError("Invalid arguments: registry is required when pulling");
    if (args.length > 1 && parseLayoutRef(args[1]!)) {
      throw new KitError(`Invalid arguments: ${args[1]} is a layout; pull stores into local storage under a name such as team/model:v1`, {
        hint: `To write a layout, push to it: kit push ${args[0]} ${args[1]}`,
      });
    }
    const dest = args.length > 1 ? parseSingleRef(args[1]!, "target reference") : undefined;
    const storage = await openStorage(ctx);
    const pulled = await withProgress(ctx, "Pulled", undefined, async (ui) => {
      // A registry's session is opened up front; for a layout, only when a parent needs it.
      const session = await transferSession(ctx, net, ui.log, src.kind === "reference");
      ui.log.info(`Pulling ${kitLocationToString(src)}`);
      const verify = signatureCheck(ctx, flags["verify-key"], ui.log);
      return pullModelKit({ storage: async () => storage, session, src, dest, concurrency: net.concurrency, logger: ui.log, progress: ui.progress, signal: ctx.signal, verify });
    });
    if (src.kind === "layout" || dest) ctx.log.info(`Pulled ${pulled.desc.digest} as ${displayRef(refToString(pulled.ref))}`);
    else ctx.log.info(`Pulled ${pulled.desc.digest}`);
  },
});
