import { defineCommand, type Context } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage } from "../session.ts";
import { displayRef, LOCAL_REGISTRY, parseReference, refToString, repoKey, type ModelRef } from "../../oci/reference.ts";
import { inspectJson, inspectModelKit, type InspectedModelKit } from "../../modelkit/inspect.ts";
import { openRemoteRepository } from "../../registry/remote.ts";
import type { NetworkOptions } from "../../registry/transport.ts";
import { LocalRepository } from "../../store/local.ts";
import { CancelledError, KitError, NotFoundError, hintIn } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";

/** Parses the MODELKIT argument of `inspect`/`info` with kit's checks (`Invalid arguments: ...`). */
export function parseModelKitArg(arg: string, remote: boolean): ModelRef {
  try {
    const ref = parseReference(arg);
    if (ref.extraTags.length > 0) throw new KitError(`invalid reference format: extra tags are not supported: ${ref.extraTags.join(", ")}`);
    if (ref.reference === "") throw new KitError(`missing tag or digest from ModelKit reference '${arg}'`);
    if (remote && ref.registry === LOCAL_REGISTRY) {
      throw new KitError(`can not check remote: ${displayRef(refToString(ref))} does not contain registry`);
    }
    return ref;
  } catch (e) {
    throw new KitError(`Invalid arguments: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads a ModelKit (manifest and Kitfile, verified) from its registry; nothing is stored. */
export async function inspectRemote(ctx: Context, ref: ModelRef, net: NetworkOptions, logger?: Logger): Promise<InspectedModelKit> {
  const repo = await openRemoteRepository(ref, net, remoteContext(ctx));
  return inspectModelKit(repo, ref.reference, { signal: ctx.signal, logger });
}

/**
 * The ModelKit named by `ref`, from local storage or (with `net`, i.e. `--remote`) its registry,
 * with kit's messages: `Could not find modelkit <ref>` or `Error resolving modelkit: <err>`.
 * `logger` gets the warning for a ModelKit without a Kitfile.
 */
export async function loadModelKit(ctx: Context, ref: ModelRef, net: NetworkOptions | undefined, logger?: Logger): Promise<InspectedModelKit> {
  try {
    if (net) return await inspectRemote(ctx, ref, net, logger);
    const storage = await openStorage(ctx);
    return await inspectModelKit(new LocalRepository(storage, repoKey(ref)), ref.reference, { signal: ctx.signal, logger });
  } catch (e) {
    if (e instanceof CancelledError || ctx.signal.aborted) throw e;
    if (e instanceof NotFoundError) throw new KitError(`Could not find modelkit ${displayRef(refToString(ref))}`, { cause: e });
    throw new KitError(`Error resolving modelkit: ${(e as Error).message}`, { cause: e, hint: hintIn(e) });
  }
}

export const inspectCommand = defineCommand({
  name: "inspect",
  use: "inspect [flags] MODELKIT",
  short: "Inspect a modelkit's manifest",
  long: `Print the contents of a modelkit manifest to the screen.

Prints a JSON document with the ModelKit's digest, the version of kit that packed it, its Kitfile
(with layer digests) and its OCI manifest. By default, kit reads local storage; to inspect a
modelkit stored on a remote registry, use the --remote flag.`,
  example: `  # Inspect a local modelkit:
  kit inspect mymodel:mytag

  # Inspect a local modelkit by digest:
  kit inspect mymodel@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

  # Inspect a remote modelkit:
  kit inspect --remote registry.example.com/my-model:1.0.0`,
  args: { min: 1, max: 1 },
  argCompletion: "modelkit",
  flags: {
    ...networkFlags,
    remote: { type: "bool", short: "r", help: "Check remote registry instead of local storage" },
  },
  async run(ctx, args, flags) {
    const ref = parseModelKitArg(args[0]!, flags.remote);
    const net = networkOptions(flags, ctx.cwd);
    const kit = await loadModelKit(ctx, ref, flags.remote ? net : undefined);
    ctx.log.info(inspectJson(kit));
  },
});
