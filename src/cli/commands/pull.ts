import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseLocationArg, parseSingleRef, transferSession, withProgress } from "../session.ts";
import { signatureCheck, verifyKeyFlags } from "../signing.ts";
import { kitLocationToString } from "../../oci/location.ts";
import { displayRef, LOCAL_REGISTRY, refToString } from "../../oci/reference.ts";
import { pullModelKit } from "../../modelkit/transfer.ts";
import { KitError } from "../../util/errors.ts";

export const pullCommand = defineCommand({
  name: "pull",
  use: "pull [flags] SOURCE [DESTINATION]",
  short: "Retrieve modelkits from a remote registry to your local environment",
  long: `Download a ModelKit from a registry into local storage.

Blobs already in local storage are not downloaded again. A download that is interrupted — a
dropped connection, or the command itself stopped — continues from where it stopped the next
time. ModelKits that the model refers to (model.path naming another ModelKit) are pulled too.

SOURCE is a registry reference REGISTRY/REPOSITORY[:TAG|@DIGEST], or an OCI image layout in
skopeo's spelling: oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST] (no network is used).
The ModelKit is stored under DESTINATION when given, otherwise under its own reference: for a
layout written by kit push, the reference it had when it was written. Without a TAG, a layout
must hold exactly one ModelKit.`,
  example: `  # Pull a ModelKit by tag
  kit pull registry.example.com/myorg/mymodel:v1

  # Pull by digest from a registry on localhost over plain HTTP
  kit pull localhost:5000/mymodel@sha256:<digest> --plain-http

  # Bring a ModelKit in from a tar file written by kit push (air-gapped servers)
  kit pull oci-archive:mymodel.tar

  # ... under another name
  kit pull oci-archive:mymodel.tar:v1 internal/mymodel:v1`,
  args: { min: 1, max: 2 },
  flags: { ...networkFlags, ...verifyKeyFlags },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const src = parseLocationArg(ctx, args[0]!, "reference");
    if (src.kind === "reference" && src.ref.registry === LOCAL_REGISTRY) throw new KitError("Invalid arguments: registry is required when pulling");
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
