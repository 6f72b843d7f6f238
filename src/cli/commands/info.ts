import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { loadModelKit, parseModelKitArg } from "./inspect.ts";
import { filterKitfile } from "../../kitfile/info-filter.ts";
import type { Kitfile } from "../../kitfile/schema.ts";
import { datasetNode, emitYaml, kitfileToYaml, mcpServerNode, type YNode } from "../../kitfile/yaml.ts";

/**
 * Lists kit's reflection cannot select because their Go field names (`DataSets`, `MCPServers`)
 * are not the Title-cased YAML keys. We select them by their YAML key as well (compat §1.5 quirk,
 * fixed here).
 */
const FIXED_LISTS: Record<string, (k: Kitfile) => YNode> = {
  Datasets: (k) => ({ kind: "seq", items: (k.datasets ?? []).map(datasetNode), flow: false }),
  McpServers: (k) => ({ kind: "seq", items: (k.mcpServers ?? []).map(mcpServerNode), flow: false }),
};

/** `kit info --filter`: kit's selection, plus `datasets` and `mcpServers`. */
export function infoFilter(k: Kitfile, filter: string): string {
  try {
    return filterKitfile(k, filter);
  } catch (e) {
    const segments = filter.replace(/^\./, "").split(".");
    const seg = segments[0] ?? "";
    const fixed = segments.length === 1 && seg !== "" ? FIXED_LISTS[seg[0]!.toUpperCase() + seg.slice(1)] : undefined;
    if (fixed && (e as Error).message === "error filtering output: cannot find required node") return emitYaml(fixed(k));
    throw e;
  }
}

export const infoCommand = defineCommand({
  name: "info",
  use: "info [flags] MODELKIT",
  short: "Show the configuration for a modelkit",
  long: `Print the contents of a modelkit config to the screen.

Prints the ModelKit's Kitfile as YAML. Use --filter with a dot path (.package.name, model.path,
datasets, ...) to print a single value. By default, kit reads local storage; to see the
configuration for a modelkit stored on a remote registry, use the --remote flag.`,
  example: `  # See configuration for a local modelkit:
  kit info mymodel:mytag

  # See configuration for a local modelkit by digest:
  kit info mymodel@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

  # Print only the package name
  kit info mymodel:mytag --filter .package.name

  # See configuration for a remote modelkit:
  kit info --remote registry.example.com/my-model:1.0.0`,
  args: { min: 1, max: 1 },
  argCompletion: "modelkit",
  flags: {
    ...networkFlags,
    remote: { type: "bool", short: "r", help: "Check remote registry instead of local storage" },
    filter: { type: "string", short: "f", help: "filter with node selectors" },
  },
  async run(ctx, args, flags) {
    const ref = parseModelKitArg(args[0]!, flags.remote);
    const net = networkOptions(flags, ctx.cwd);
    const kit = await loadModelKit(ctx, ref, flags.remote ? net : undefined, ctx.log);
    ctx.log.print(flags.filter ? infoFilter(kit.kitfile, flags.filter) : kitfileToYaml(kit.kitfile));
  },
});
