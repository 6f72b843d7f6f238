import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { loadModelKitArg, modelKitReadFlags } from "../read-modelkit.ts";
import { filterKitfile } from "../../kitfile/info-filter.ts";
import { kitfileToYaml } from "../../kitfile/yaml.ts";

export const infoCommand = defineCommand({
  name: "info",
  use: "info [flags] MODELKIT",
  short: "Show the configuration for a modelkit",
  ...HELP.info,
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
