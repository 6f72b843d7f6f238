import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseSingleRef, remoteOpener } from "../session.ts";
import { assertNoDamageLeft, fsck } from "../../modelkit/fsck.ts";

export const fsckCommand = defineCommand({
  name: "fsck",
  use: "fsck [flags] [MODELKIT...]",
  short: "Check local storage for damaged and unused content",
  long: `Checks local storage against its own digests and sizes.

Every blob is hashed (as it streams, so memory stays small), every ModelKit's manifest, config and
layers are checked to be stored, sound and of the size the manifest says, tags and index entries
to name stored manifests. Blobs that no ModelKit uses are reported as orphans. With MODELKIT
arguments only those ModelKits are checked.

With --repair, damaged blobs and orphans are removed, and a damaged ModelKit is fetched again
from its registry (with the network flags, as kit pull). A ModelKit that was only packed
locally cannot be fetched: pack it again, or remove it with kit remove. The command fails when
damage remains.`,
  example: `  # Check all of local storage
  kit fsck

  # Check one ModelKit
  kit fsck registry.example.com/myorg/sentiment:v1

  # Remove the damage and fetch damaged ModelKits again
  kit fsck --repair`,
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
