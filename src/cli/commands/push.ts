import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseLocationArg, transferSession, withProgress } from "../session.ts";
import { kitLocationToString, layoutRefToString } from "../../oci/location.ts";
import { LOCAL_REGISTRY, refToString } from "../../oci/reference.ts";
import { pushModelKit } from "../../modelkit/transfer.ts";
import { KitError } from "../../util/errors.ts";

export const pushCommand = defineCommand({
  name: "push",
  use: "push [flags] SOURCE [DESTINATION]",
  short: "Upload a modelkit to a specified registry",
  ...HELP.push,
  args: { min: 1, max: 2 },
  argCompletion: "modelkit",
  flags: { ...networkFlags },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const src = parseLocationArg(ctx, args[0]!, "reference");
    const dst = args.length > 1 ? parseLocationArg(ctx, args[1]!, "target reference") : src;
    if (args.length < 2 && src.kind === "layout") throw new KitError("Invalid arguments: a DESTINATION is required when pushing from a layout");
    if (dst.kind === "reference" && dst.ref.registry === LOCAL_REGISTRY) {
      const example = src.kind === "reference" ? `${refToString(src.ref).replace(/^localhost\//, "")} registry.example.com/myorg/${src.ref.repository}:${src.ref.tag ?? "latest"}` : "SOURCE registry.example.com/myorg/model:v1";
      throw new KitError("Invalid arguments: registry is required when pushing", { hint: `Name the registry, e.g. kit push ${example}` });
    }
    if (dst.kind === "layout" && dst.digest !== undefined) throw new KitError(`Invalid arguments: ${layoutRefToString(dst)}: a destination takes a :TAG, not a digest`);
    const desc = await withProgress(ctx, "Pushed", undefined, async (ui) => {
      // Only a registry destination needs a session (its settings checked before anything else).
      const session = await transferSession(ctx, net, ui.log, dst.kind === "reference");
      const announce = (to: string) => ui.log.info(args.length > 1 ? `Pushing ${kitLocationToString(src)} to ${to}` : `Pushing ${kitLocationToString(src)}`);
      return pushModelKit({ storage: () => openStorage(ctx), session, src, dst, announce, concurrency: net.concurrency, logger: ui.log, progress: ui.progress, signal: ctx.signal });
    });
    ctx.log.info(`Pushed ${desc.digest}`);
  },
});
