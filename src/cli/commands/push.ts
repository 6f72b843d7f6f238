import { defineCommand } from "../command.ts";
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
  long: `Push a ModelKit from local storage to a registry, or to and from an OCI image layout.

SOURCE names a ModelKit in local storage; it is uploaded to DESTINATION, or to the same
reference when no destination is given (SOURCE must then name a registry). Blobs the registry
already has are not uploaded again; a failed upload is retried in a fresh upload session.

For transfers without a registry (air-gapped servers), SOURCE and DESTINATION may also be an
OCI image layout in skopeo's spelling: oci:DIR[:TAG|@DIGEST] (a directory) or
oci-archive:FILE[:TAG|@DIGEST] (a tar file). A layout holds any number of ModelKits; pushing into
an existing one adds the ModelKit and keeps the others. Without a TAG the source's tag is used.
The ModelKit's full reference is recorded in the layout, so kit pull restores it on the far
side. PATH ends at its first ':' (a Windows drive letter such as C:\ excepted). Signatures and
attestations travel with the ModelKit.`,
  example: `  # Push a ModelKit packed as registry.example.com/myorg/mymodel:v1
  kit push registry.example.com/myorg/mymodel:v1

  # Push a local ModelKit to a registry under another name
  kit push mymodel:v1 registry.example.com/myorg/mymodel:v1

  # A registry on localhost over plain HTTP
  kit push localhost:5000/mymodel:v1 --plain-http

  # Write a ModelKit into a tar file to carry across an air gap, then push it on from there
  kit push registry.example.com/myorg/mymodel:v1 oci-archive:mymodel.tar
  kit push oci-archive:mymodel.tar registry.internal/myorg/mymodel:v1`,
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
      ui.log.info(args.length > 1 ? `Pushing ${kitLocationToString(src)} to ${kitLocationToString(dst)}` : `Pushing ${kitLocationToString(src)}`);
      return pushModelKit({ storage: () => openStorage(ctx), session, src, dst, concurrency: net.concurrency, logger: ui.log, progress: ui.progress, signal: ctx.signal });
    });
    ctx.log.info(`Pushed ${desc.digest}`);
  },
});
