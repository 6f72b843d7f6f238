import { defineCommand } from "../command.ts";
import { loadModelKitArg, modelKitReadFlags } from "../session.ts";
import { inspectJson } from "../../modelkit/inspect.ts";

export const inspectCommand = defineCommand({
  name: "inspect",
  use: "inspect [flags] MODELKIT",
  short: "Inspect a modelkit's manifest",
  long: `Print the contents of a modelkit manifest to the screen.

Prints a JSON document with the ModelKit's digest, the version of kit that packed it, its Kitfile
(with layer digests) and its OCI manifest. By default, kit reads local storage; to inspect a
modelkit stored on a remote registry, use the --remote flag. MODELKIT may also be an OCI image
layout: oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST].`,
  example: `  # Inspect a local modelkit:
  kit inspect mymodel:mytag

  # Inspect a local modelkit by digest:
  kit inspect mymodel@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

  # Inspect a remote modelkit:
  kit inspect --remote registry.example.com/my-model:1.0.0

  # Inspect a modelkit in a tar file written by kit push:
  kit inspect oci-archive:my-model.tar`,
  args: { min: 1, max: 1 },
  argCompletion: "modelkit",
  flags: modelKitReadFlags,
  async run(ctx, args, flags) {
    ctx.log.info(inspectJson(await loadModelKitArg(ctx, args[0]!, flags)));
  },
});
