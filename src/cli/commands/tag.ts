import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { openStorage, parseRefArg } from "../session.ts";
import { refToString } from "../../oci/reference.ts";
import { tagModelKit } from "../../modelkit/tag.ts";

const parseArg = (arg: string) => parseRefArg(arg, "Invalid arguments: failed to parse reference").ref;

export const tagCommand = defineCommand({
  name: "tag",
  use: "tag SOURCE_MODELKIT[:TAG] TARGET_MODELKIT[:TAG]",
  short: "Create a tag that refers to a modelkit",
  ...HELP.tag,
  args: { min: 2, max: 2 },
  argCompletion: "modelkit",
  flags: {},
  async run(ctx, args) {
    // Extra comma tags are ignored, as kit does.
    const source = parseArg(args[0]!);
    const target = parseArg(args[1]!);
    await tagModelKit(await openStorage(ctx), source, target, ctx.signal);
    ctx.log.info(`Modelkit ${refToString(source)} tagged as ${refToString(target)}`);
  },
});
