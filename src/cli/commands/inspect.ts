import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { loadModelKitArg, modelKitReadFlags } from "../read-modelkit.ts";
import { inspectJson } from "../../modelkit/inspect.ts";

export const inspectCommand = defineCommand({
  name: "inspect",
  use: "inspect [flags] MODELKIT",
  short: "Inspect a modelkit's manifest",
  ...HELP.inspect,
  args: { min: 1, max: 1 },
  argCompletion: "modelkit",
  flags: modelKitReadFlags,
  async run(ctx, args, flags) {
    ctx.log.info(inspectJson(await loadModelKitArg(ctx, args[0]!, flags)));
  },
});
