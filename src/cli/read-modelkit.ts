/**
 * The MODELKIT argument and flags of `kit inspect` and `kit info`: a ModelKit in local storage,
 * with `--remote` in its registry, or in the OCI layout the argument names.
 * @module
 */
import { layoutRefToString } from "../oci/location.ts";
import { displayRef, LOCAL_REGISTRY, refToString, type ModelRef } from "../oci/reference.ts";
import { loadKitAt, type InspectedModelKit } from "../modelkit/inspect.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { Context } from "./command.ts";
import { networkFlags, networkOptions, type NetworkFlagValues } from "./network-flags.ts";
import { openStorage, parseLayoutArg, parseRefArg, remoteOpener } from "./session.ts";

/** The flags of `inspect` and `info`: the network flags and `--remote`. */
export const modelKitReadFlags = {
  ...networkFlags,
  remote: { type: "bool", short: "r", help: "Check remote registry instead of local storage" },
} as const;

/**
 * The MODELKIT of `inspect` and `info`, with kit's checks (`Invalid arguments: ...`): from local
 * storage, with `--remote` from its registry, or from the `oci:`/`oci-archive:` layout it names.
 */
export async function loadModelKitArg(ctx: Context, arg: string, flags: NetworkFlagValues & { remote: boolean }, logger?: Logger): Promise<InspectedModelKit> {
  const layout = parseLayoutArg(ctx, arg);
  if (layout && flags.remote) throw new KitError(`Invalid arguments: --remote does not apply to ${layoutRefToString(layout)}`);
  if (layout) return loadKitAt(layout, { storage: () => openStorage(ctx), signal: ctx.signal, logger });
  let ref: ModelRef;
  try {
    const parsed = parseRefArg(arg);
    if (parsed.extraTags.length > 0) throw new KitError(`invalid reference format: extra tags are not supported: ${parsed.extraTags.join(", ")}`);
    if (flags.remote && parsed.ref.registry === LOCAL_REGISTRY) {
      throw new KitError(`can not check remote: ${displayRef(refToString(parsed.ref))} does not contain registry`);
    }
    ref = parsed.ref;
  } catch (e) {
    throw new KitError(`Invalid arguments: ${(e as Error).message}`, { cause: e });
  }
  const remote = remoteOpener(ctx, networkOptions(flags, ctx.cwd));
  return loadKitAt({ kind: "reference", ref }, { storage: () => openStorage(ctx), remote: flags.remote ? remote : undefined, signal: ctx.signal, logger });
}
