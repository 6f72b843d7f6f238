import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseLayoutArg, remoteOpener } from "../session.ts";
import { diffModelKits, diffSide, type DiffSide } from "../../modelkit/diff.ts";

export const diffCommand = defineCommand({
  name: "diff",
  use: "diff <ModelKit1> <ModelKit2>",
  short: "Compare two ModelKits",
  ...HELP.diff,
  args: { min: 2, max: 2 },
  argCompletion: "modelkit",
  flags: { ...networkFlags },
  async run(ctx, args, flags) {
    const side = (n: 1 | 2): DiffSide => {
      const layout = parseLayoutArg(ctx, args[n - 1]!);
      return layout ? { where: "layout", layout } : diffSide(args[n - 1]!, n);
    };
    const sides: [DiffSide, DiffSide] = [side(1), side(2)];
    const stores = { local: () => openStorage(ctx), remote: remoteOpener(ctx, networkOptions(flags, ctx.cwd)) };
    for (const line of await diffModelKits(sides, stores, { logger: ctx.log, signal: ctx.signal })) ctx.log.info(line);
  },
});
