import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage, parseSingleRef, startProgress } from "../session.ts";
import { requireSignature, verifyKeyFlags } from "../signing.ts";
import { LOCAL_REGISTRY, refToString } from "../../oci/reference.ts";
import { pullModelKit } from "../../modelkit/transfer.ts";
import { openSession } from "../../registry/remote.ts";
import { KitError } from "../../util/errors.ts";

export const pullCommand = defineCommand({
  name: "pull",
  use: "pull [flags] REGISTRY/REPOSITORY[:TAG|@DIGEST]",
  short: "Retrieve modelkits from a remote registry to your local environment",
  long: `Download a ModelKit from a registry into local storage.

Blobs already in local storage are not downloaded again. A download that is interrupted — a
dropped connection, or the command itself stopped — continues from where it stopped the next
time. ModelKits that the model refers to (model.path naming another ModelKit) are pulled too.`,
  example: `  # Pull a ModelKit by tag
  kit pull registry.example.com/myorg/mymodel:v1

  # Pull by digest from a registry on localhost over plain HTTP
  kit pull localhost:5000/mymodel@sha256:<digest> --plain-http`,
  args: { min: 1, max: 1 },
  flags: { ...networkFlags, ...verifyKeyFlags },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const ref = parseSingleRef(args[0]!, "reference");
    if (ref.registry === LOCAL_REGISTRY) throw new KitError("Invalid arguments: registry is required when pulling");
    const storage = await openStorage(ctx);
    const ui = startProgress(ctx, "Pulled");
    try {
      const session = await openSession(net, remoteContext(ctx, ui.log));
      ui.log.info(`Pulling ${refToString(ref)}`);
      const desc = await pullModelKit({
        storage, session, ref, concurrency: net.concurrency, logger: ui.log, progress: ui.progress, signal: ctx.signal,
        verify: (source, r, d) => requireSignature(ctx, flags["verify-key"], source, r, ui.log, d),
      });
      ui.finish();
      ctx.log.info(`Pulled ${desc.digest}`);
    } finally {
      ui.close();
    }
  },
});
