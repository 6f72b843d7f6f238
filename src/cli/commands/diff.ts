import { defineCommand, type Context } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseLayoutArg, remoteOpener } from "../session.ts";
import { parseOrasReference } from "../../oci/reference.ts";
import { diffManifest, diffReport, diffSideName, type DiffSide } from "../../modelkit/diff.ts";
import type { LayoutStore } from "../../store/layout.ts";
import { CancelledError, KitError, errorMessage, hintIn } from "../../util/errors.ts";

const REMOTE_PREFIX = "remote://";
const LOCAL_PREFIX = "local://";

function parseArg(ctx: Context, arg: string, n: 1 | 2): DiffSide {
  const layout = parseLayoutArg(ctx, arg);
  if (layout) return { where: "layout", layout };
  const where = arg.startsWith(REMOTE_PREFIX) ? "remote" : arg.startsWith(LOCAL_PREFIX) ? "local" : "any";
  const name = arg.startsWith(REMOTE_PREFIX) ? arg.slice(REMOTE_PREFIX.length) : arg;
  const stripped = name.startsWith(LOCAL_PREFIX) ? name.slice(LOCAL_PREFIX.length) : name;
  try {
    return { where, ref: parseOrasReference(stripped) };
  } catch (e) {
    throw new KitError(`Invalid arguments: failed to parse reference for ref${n}: ${(e as Error).message}`, { cause: e });
  }
}

export const diffCommand = defineCommand({
  name: "diff",
  use: "diff <ModelKit1> <ModelKit2>",
  short: "Compare two ModelKits",
  long: `Compare two ModelKits to see the differences in their layers.

ModelKits can be specified from either a local or from a remote registry. References name the
registry explicitly (e.g. localhost/mymodel:v1). To specify a local ModelKit, prefix the
reference with 'local://', e.g. 'local://jozu.ml/foo/bar:v1'. To specify a remote ModelKit,
prefix the reference with 'remote://', e.g. 'remote://jozu.ml/foo/bar:v1'. If no prefix is
specified, the local storage is checked first. An OCI image layout is named
oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST].`,
  example: `  # Compare two local ModelKits
  kit diff localhost/mymodel:v1 localhost/mymodel:v2

  # Compare two ModelKits from a remote registry
  kit diff remote://jozu.ml/foo:champion remote://jozu.ml/bar:latest

  # Compare local ModelKit with a remote ModelKit
  kit diff local://jozu.ml/foo:latest remote://jozu.ml/foo:latest

  # Compare a local ModelKit with the one in a tar file
  kit diff localhost/mymodel:v1 oci-archive:mymodel.tar`,
  args: { min: 2, max: 2 },
  argCompletion: "modelkit",
  flags: { ...networkFlags },
  async run(ctx, args, flags) {
    const sideA = parseArg(ctx, args[0]!, 1);
    const sideB = parseArg(ctx, args[1]!, 2);
    let storage: Promise<LayoutStore> | undefined;
    const stores = { local: () => (storage ??= openStorage(ctx)), remote: remoteOpener(ctx, networkOptions(flags, ctx.cwd)) };
    const opts = { logger: ctx.log, signal: ctx.signal };
    const [a, b] = await Promise.allSettled([diffManifest(sideA, stores, opts), diffManifest(sideB, stores, opts)]);
    const failed = (n: 1 | 2, reason: unknown) => {
      if (reason instanceof CancelledError || ctx.signal.aborted) return reason;
      return new KitError(`Failed to get manifest for ModelKit${n}: ${errorMessage(reason)}`, { cause: reason, hint: hintIn(reason) });
    };
    if (a.status === "rejected") throw failed(1, a.reason);
    if (b.status === "rejected") throw failed(2, b.reason);
    if (a.value.descriptor.digest === b.value.descriptor.digest) {
      ctx.log.info("ModelKits are identical");
      return;
    }
    for (const line of diffReport(diffSideName(sideA), diffSideName(sideB), a.value.manifest, b.value.manifest)) ctx.log.info(line);
  },
});
