import { defineCommand } from "../command.ts";
import { loadModelKitArg, modelKitReadFlags } from "../session.ts";
import { filterKitfile } from "../../kitfile/info-filter.ts";
import { kitfileToYaml } from "../../kitfile/yaml.ts";

export const infoCommand = defineCommand({
  name: "info",
  use: "info [flags] MODELKIT",
  short: "Show the configuration for a modelkit",
  long: `Print the contents of a modelkit config to the screen.

Prints the ModelKit's Kitfile as YAML. Use --filter with a dot path (.package.name, model.path,
datasets, ...) to print a single value. By default, kit reads local storage; to see the
configuration for a modelkit stored on a remote registry, use the --remote flag. MODELKIT may
also be an OCI image layout: oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST].`,
  example: `  # See configuration for a local modelkit:
  kit info mymodel:mytag

  # See configuration for a local modelkit by digest:
  kit info mymodel@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

  # Print only the package name
  kit info mymodel:mytag --filter .package.name

  # See configuration for a remote modelkit:
  kit info --remote registry.example.com/my-model:1.0.0

  # See configuration for a modelkit in an OCI layout directory:
  kit info oci:./models:v1`,
  args: { min: 1, max: 1 },
  argCompletion: "modelkit",
  flags: {
    ...modelKitReadFlags,
    filter: { type: "string", short: "f", help: "filter with node selectors" },
  },
  async run(ctx, args, flags) {
    const kit = await loadModelKitArg(ctx, args[0]!, flags, ctx.log);
    ctx.log.print(flags.filter ? filterKitfile(kit.kitfile, flags.filter) : kitfileToYaml(kit.kitfile));
  },
});
