import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage, parseSingleRef, startProgress } from "../session.ts";
import { LOCAL_REGISTRY, refToString } from "../../oci/reference.ts";
import { pushModelKit } from "../../modelkit/transfer.ts";
import { openSession } from "../../registry/remote.ts";
import { KitError } from "../../util/errors.ts";

export const pushCommand = defineCommand({
  name: "push",
  use: "push [flags] SOURCE [DESTINATION]",
  short: "Upload a modelkit to a specified registry",
  long: `Push a ModelKit from local storage to a registry.

SOURCE names a ModelKit in local storage; it is uploaded to DESTINATION, or to the same
reference when no destination is given (SOURCE must then name a registry). Blobs the registry
already has are not uploaded again; a failed upload is retried in a fresh upload session.`,
  example: `  # Push a ModelKit packed as registry.example.com/myorg/mymodel:v1
  kit push registry.example.com/myorg/mymodel:v1

  # Push a local ModelKit to a registry under another name
  kit push mymodel:v1 registry.example.com/myorg/mymodel:v1

  # A registry on localhost over plain HTTP
  kit push localhost:5000/mymodel:v1 --plain-http`,
  args: { min: 1, max: 2 },
  argCompletion: "modelkit",
  flags: { ...networkFlags },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const src = parseSingleRef(args[0]!, "reference");
    const dst = args.length > 1 ? parseSingleRef(args[1]!, "target reference") : src;
    if (dst.registry === LOCAL_REGISTRY) {
      throw new KitError("Invalid arguments: registry is required when pushing", {
        hint: `Name the registry, e.g. kit push ${refToString(src).replace(/^localhost\//, "")} registry.example.com/myorg/${src.repository}:${src.tag ?? "latest"}`,
      });
    }
    const storage = await openStorage(ctx);
    const ui = startProgress(ctx, "Pushed");
    try {
      const session = await openSession(net, remoteContext(ctx, ui.log));
      ui.log.info(args.length > 1 ? `Pushing ${refToString(src)} to ${refToString(dst)}` : `Pushing ${refToString(src)}`);
      const desc = await pushModelKit({ storage, session, src, dst, concurrency: net.concurrency, logger: ui.log, progress: ui.progress, signal: ctx.signal });
      ui.finish();
      ctx.log.info(`Pushed ${desc.digest}`);
    } finally {
      ui.close();
    }
  },
});
