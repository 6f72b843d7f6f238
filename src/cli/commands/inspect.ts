import { defineCommand, type Context } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage, parseLayoutArg, parseRefArg } from "../session.ts";
import { layoutRefToString } from "../../oci/location.ts";
import { displayRef, LOCAL_REGISTRY, refToString, repoKey, type ModelRef } from "../../oci/reference.ts";
import { inspectJson, loadModelKit, type InspectedModelKit } from "../../modelkit/inspect.ts";
import { openKit } from "../../modelkit/locate.ts";
import { openRemoteRepository } from "../../registry/remote.ts";
import { LocalRepository } from "../../store/local.ts";
import { KitError } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";

/** The flags of `inspect` and `info`: the network flags and `--remote`. */
export const modelKitReadFlags = {
  ...networkFlags,
  remote: { type: "bool", short: "r", help: "Check remote registry instead of local storage" },
} as const;

/** Parses the MODELKIT argument of `inspect`/`info` with kit's checks (`Invalid arguments: ...`). */
export function parseModelKitArg(arg: string, remote: boolean): ModelRef {
  try {
    const { ref, extraTags } = parseRefArg(arg);
    if (extraTags.length > 0) throw new KitError(`invalid reference format: extra tags are not supported: ${extraTags.join(", ")}`);
    if (remote && ref.registry === LOCAL_REGISTRY) {
      throw new KitError(`can not check remote: ${displayRef(refToString(ref))} does not contain registry`);
    }
    return ref;
  } catch (e) {
    throw new KitError(`Invalid arguments: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The ModelKit of `inspect`/`info`: from local storage, with `--remote` from its registry, or from
 * the `oci:`/`oci-archive:` layout the argument names (nothing stored).
 */
export async function loadArg(ctx: Context, args: string[], flags: Parameters<typeof networkOptions>[0] & { remote: boolean }, logger?: Logger): Promise<InspectedModelKit> {
  const layout = parseLayoutArg(ctx, args[0]!);
  if (layout) {
    if (flags.remote) throw new KitError(`Invalid arguments: --remote does not apply to ${layoutRefToString(layout)}`);
    const kit = await openKit(layout, { storage: () => openStorage(ctx), signal: ctx.signal });
    return loadModelKit(kit.ref, () => kit.locate(kit.ref), { signal: ctx.signal, logger });
  }
  const ref = parseModelKitArg(args[0]!, flags.remote);
  const net = networkOptions(flags, ctx.cwd);
  return loadModelKit(ref, async () => {
    if (flags.remote) return openRemoteRepository(ref, net, remoteContext(ctx));
    return new LocalRepository(await openStorage(ctx), repoKey(ref));
  }, { signal: ctx.signal, logger });
}

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
    ctx.log.info(inspectJson(await loadArg(ctx, args, flags)));
  },
});
