import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseSingleRef, remoteOpener } from "../session.ts";
import { assertNoDamageLeft, fsck } from "../../modelkit/fsck.ts";

export const fsckCommand = defineCommand({
  name: "fsck",
  use: "fsck [flags] [MODELKIT...]",
  short: "Check local storage for damaged and unused content",
  ...HELP.fsck,
  args: { min: 0, max: Infinity },
  flags: {
    repair: { type: "bool", help: "Remove damaged blobs and orphans, and fetch damaged ModelKits again from their registry" },
    ...networkFlags,
  },
  async run(ctx, args, flags) {
    const refs = args.map((a) => parseSingleRef(a, "each reference"));
    const net = networkOptions(flags, ctx.cwd);
    const storage = await openStorage(ctx);
    const o = { storage, refs, repair: flags.repair, remote: remoteOpener(ctx, net), logger: ctx.log, signal: ctx.signal, fetchConcurrency: net.concurrency };
    assertNoDamageLeft(await fsck(o), flags.repair);
  },
});
