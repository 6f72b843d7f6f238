import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage, parseLocationArg, parseSingleRef, startProgress } from "../session.ts";
import { requireSignature, verifyKeyFlags } from "../signing.ts";
import { layoutRefToString } from "../../oci/location.ts";
import { displayRef, LOCAL_REGISTRY, refToString } from "../../oci/reference.ts";
import { pullModelKit } from "../../modelkit/transfer.ts";
import { openSession } from "../../registry/remote.ts";
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
    const ui = startProgress(ctx, "Pulled");
    try {
      // A registry session is opened up front for a registry (its settings checked before anything
      // else), only when a parent needs it for a layout.
      const session = src.kind === "reference" ? await openSession(net, remoteContext(ctx, ui.log)) : undefined;
      ui.log.info(`Pulling ${src.kind === "layout" ? layoutRefToString(src) : refToString(src.ref)}`);
      const pulled = await pullModelKit({
        storage: async () => storage,
        session: async () => session ?? openSession(net, remoteContext(ctx, ui.log)),
        src,
        dest,
        concurrency: net.concurrency,
        logger: ui.log,
        progress: ui.progress,
        signal: ctx.signal,
        verify: (source, r, d) => requireSignature(ctx, flags["verify-key"], source, r, ui.log, d),
      });
      ui.finish();
      if (src.kind === "layout" || dest) ctx.log.info(`Pulled ${pulled.desc.digest} as ${displayRef(refToString(pulled.ref))}`);
      else ctx.log.info(`Pulled ${pulled.desc.digest}`);
    } finally {
      ui.close();
    }
  },
});
