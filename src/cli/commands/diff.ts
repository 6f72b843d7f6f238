import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { parseLayoutArg, remoteOpener, storageOpener } from "../session.ts";
import { diffModelKits, diffSide, type DiffSide } from "../../modelkit/diff.ts";

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
    const side = (n: 1 | 2): DiffSide => {
      const layout = parseLayoutArg(ctx, args[n - 1]!);
      return layout ? { where: "layout", layout } : diffSide(args[n - 1]!, n);
    };
    const sides: [DiffSide, DiffSide] = [side(1), side(2)];
    const stores = { local: storageOpener(ctx), remote: remoteOpener(ctx, networkOptions(flags, ctx.cwd)) };
    for (const line of await diffModelKits(sides, stores, { logger: ctx.log, signal: ctx.signal })) ctx.log.info(line);
  },
});
