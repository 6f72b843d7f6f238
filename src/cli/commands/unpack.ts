import path from "node:path";
import { defineCommand } from "../command.ts";
import { lazyRemote, openStorage, sourceFor, startProgress, type RemoteOpener } from "../session.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { displayRef, parseReference, refToString, type ModelRef } from "../../oci/reference.ts";
import { parentFilters, parseFilter, type Filter, type FilterType } from "../../modelkit/layer-filter.ts";
import { MAX_MODEL_REF_CHAIN, modelReference } from "../../modelkit/modelref.ts";
import { readModelKit, unpackContents } from "../../modelkit/unpack.ts";
import type { LayoutStore } from "../../store/layout.ts";
import { asKitError, KitError, withContext } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import type { Progress } from "../../util/progress.ts";

interface UnpackRun {
  storage: LayoutStore;
  dir: string;
  overwrite: boolean;
  ignoreExisting: boolean;
  log: Logger;
  progress: Progress;
  signal: AbortSignal;
  remote?: RemoteOpener;
}

async function unpackRef(run: UnpackRun, ref: ModelRef, filters: Filter[], visited: string[], isParent: boolean): Promise<void> {
  const source = await sourceFor(run.storage, ref, run.remote);
  const kit = await readModelKit(source, ref.reference, { signal: run.signal, logger: run.log });
  const parentPath = kit.kitfile.model?.path;
  const parent = modelReference(parentPath);
  if (parent) {
    const key = refToString(parent);
    const chain = () => [...visited, key].map((r) => displayRef(r)).join("=>");
    if (visited.includes(key)) throw new KitError(`found cycle in modelkit references: [${chain()}]`);
    // `visited` holds the kit itself and its ancestors so far: up to 10 ancestors, as pack allows.
    if (visited.length > MAX_MODEL_REF_CHAIN) throw new KitError(`reached maximum number of model references: [${chain()}]`);
    const pf = parentFilters(filters);
    if (pf) {
      run.log.info(`Unpacking referenced ModelKit ${parentPath}`);
      await unpackRef(run, parent, pf, [...visited, key], true);
    }
  }
  await unpackContents(source, kit, {
    dir: run.dir,
    filters,
    overwrite: run.overwrite,
    ignoreExisting: run.ignoreExisting,
    logger: run.log,
    progress: run.progress,
    signal: run.signal,
    writeKitfile: !isParent,
  });
}

export const unpackCommand = defineCommand({
  name: "unpack",
  use: "unpack [flags] MODELKIT",
  short: "Produce the components from a ModelKit on the local filesystem",
  long: `Produces all or selected components of a ModelKit on the local filesystem.

Components (the Kitfile, model, datasets, code, docs, prompts and MCP servers) are restored to
the directory given with --dir, or the current directory. Select components with --filter
TYPES[:NAMES], e.g. --filter model or --filter datasets:training,validation; names match an
entry's name or path. Every byte is checked against its digest; archives that try to write
outside the target directory are refused.`,
  example: `  # Unpack everything into ./my-model
  kit unpack mymodel:latest -d ./my-model

  # Unpack only the model and the Kitfile, replacing existing files
  kit unpack mymodel:latest --filter=model,kitfile -o

  # Unpack one dataset by name
  kit unpack mymodel:latest --filter=datasets:validation`,
  args: { min: 1, max: 1 },
  argCompletion: "modelkit",
  flags: {
    dir: { type: "string", short: "d", help: "The target directory to unpack components into. This directory will be created if it does not exist" },
    overwrite: { type: "bool", short: "o", help: "Overwrites existing files and directories in the target unpack directory without prompting" },
    "ignore-existing": { type: "bool", short: "i", help: "Ignore existing files and directories in the target unpack directory without prompting" },
    filter: { type: "stringArray", short: "f", values: ["kitfile", "model", "datasets", "code", "docs", "prompts", "mcpservers"], help: "Filter what is unpacked from the modelkit based on type and name. Can be specified multiple times" },
    kitfile: { type: "bool", help: "Unpack only Kitfile", deprecated: "use --filter=kitfile instead" },
    model: { type: "bool", help: "Unpack only model", deprecated: "use --filter=model instead" },
    code: { type: "bool", help: "Unpack only code", deprecated: "use --filter=code instead" },
    datasets: { type: "bool", help: "Unpack only datasets", deprecated: "use --filter=datasets instead" },
    docs: { type: "bool", help: "Unpack only docs", deprecated: "use --filter=docs instead" },
    ...networkFlags,
  },
  async run(ctx, args, flags) {
    let ref: ModelRef;
    let filters: Filter[];
    try {
      try {
        ref = parseReference(args[0]!);
      } catch (e) {
        throw new KitError(`failed to parse reference: ${(e as Error).message}`, { cause: e });
      }
      if (ref.extraTags.length) throw new KitError("can not unpack multiple tags");
      filters = flags.filter.map(parseFilter);
    } catch (e) {
      throw withContext("Invalid arguments", asKitError(e));
    }
    const net = networkOptions(flags, ctx.cwd);
    ctx.log.debug(`Overwrite: ${flags.overwrite}`);
    ctx.log.debug(`Unpacking ${refToString(ref)}`);
    if (filters.length === 0) {
      const types = (["kitfile", "model", "code", "datasets", "docs"] as const).filter((t) => flags[t]) as FilterType[];
      if (types.length) filters = [{ types, names: [] }];
    }
    const dir = path.resolve(ctx.cwd, flags.dir || ".");
    const storage = await openStorage(ctx);
    ctx.log.info(`Unpacking to ${dir}`);
    const ui = startProgress(ctx);
    const remote = lazyRemote(ctx, net, ui.log);
    try {
      await unpackRef(
        { storage, dir, overwrite: flags.overwrite, ignoreExisting: flags["ignore-existing"], log: ui.log, progress: ui.progress, signal: ctx.signal, remote },
        ref,
        filters,
        [refToString(ref)],
        false,
      );
    } catch (e) {
      throw withContext("Failed to unpack", asKitError(e));
    } finally {
      ui.close();
    }
  },
});
