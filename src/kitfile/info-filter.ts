/**
 * `kit info --filter` (docs/format.md#info-filter): picks a value out of the Kitfile by Go struct field names
 * (each dot-separated segment Title-cased: `package.name` → `Package.Name`) and prints it as YAML.
 * Because the names are Go's, `datasets` (`DataSets`) and `mcpServers` (`MCPServers`) cannot be
 * selected, as in kit. Where kit's reflection would panic (a segment below a list, a string, the
 * parameters or a nil model), this reports the "cannot find" error instead.
 * @module
 */
import { KitError } from "../util/errors.ts";
import type { Kitfile } from "./schema.ts";
import {
  codeNode,
  datasetNode,
  docsNode,
  emitYaml,
  kitfileNode,
  mcpServerNode,
  modelNode,
  modelPartNode,
  packageNode,
  promptNode,
  stringNode,
  valueNode,
  type YNode,
} from "./yaml.ts";

const FILTER_RE = /^\.?[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$/;

type Selected =
  | { type: "kitfile"; value: Kitfile }
  | { type: "struct"; fields: Record<string, () => Selected>; node: () => YNode }
  | { type: "leaf"; node: () => YNode };

const notFound = () => new KitError("error filtering output: cannot find required node");

/**
 * Lists kit's reflection cannot select because their Go field names (`DataSets`, `MCPServers`)
 * are not the Title-cased YAML keys. `kit info --filter` selects them by their YAML key as well
 * (a kit quirk fixed here; see docs/compatibility.md).
 */
const FIXED_LISTS: Record<string, (k: Kitfile) => YNode> = {
  Datasets: (k) => ({ kind: "seq", items: (k.datasets ?? []).map(datasetNode), flow: false }),
  McpServers: (k) => ({ kind: "seq", items: (k.mcpServers ?? []).map(mcpServerNode), flow: false }),
};

function leaf(node: () => YNode): Selected {
  return { type: "leaf", node };
}

function list<T>(xs: T[] | undefined, f: (x: T) => YNode): Selected {
  return leaf(() => ({ kind: "seq", items: (xs ?? []).map(f), flow: false }));
}

function str(s: string | undefined): Selected {
  return leaf(() => stringNode(s ?? ""));
}

/** The embedded `*LayerInfo`: selectable (with its promoted fields) only when the config had one. */
function layerFields(e: { digest?: string; diffId?: string }): Record<string, () => Selected> {
  if (e.digest === undefined && e.diffId === undefined) return {};
  return {
    LayerInfo: () => ({
      type: "struct",
      fields: { Digest: () => str(e.digest), DiffId: () => str(e.diffId) },
      node: () => ({ kind: "map", entries: [] }),
    }),
    Digest: () => str(e.digest),
    DiffId: () => str(e.diffId),
  };
}

function kitfileFields(k: Kitfile): Record<string, () => Selected> {
  const p = k.package ?? {};
  const m = k.model;
  return {
    ManifestVersion: () => str(k.manifestVersion),
    Package: () => ({
      type: "struct",
      node: () => packageNode(p),
      fields: {
        Name: () => str(p.name),
        Version: () => str(p.version),
        Description: () => str(p.description),
        License: () => str(p.license),
        Authors: () => list(p.authors, stringNode),
      },
    }),
    Model: () =>
      m === undefined ? leaf(() => valueNode(null)) : {
        type: "struct",
        node: () => modelNode(m),
        fields: {
          Name: () => str(m.name),
          Path: () => str(m.path),
          License: () => str(m.license),
          Framework: () => str(m.framework),
          Format: () => str(m.format),
          Version: () => str(m.version),
          Description: () => str(m.description),
          Parts: () => list(m.parts, modelPartNode),
          Parameters: () => leaf(() => valueNode(m.parameters ?? null)),
          ...layerFields(m),
        },
      },
    Code: () => list(k.code, codeNode),
    DataSets: () => list(k.datasets, datasetNode),
    Docs: () => list(k.docs, docsNode),
    Prompts: () => list(k.prompts, promptNode),
    MCPServers: () => list(k.mcpServers, mcpServerNode),
  };
}

/** Go `cases.Title(language.Und, cases.NoLower)` for the names a filter can hold. */
function title(seg: string): string {
  return seg.replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

/**
 * The YAML kit prints for `kit info --filter <filter>`. Throws {@link KitError} with kit's
 * messages for an invalid filter or a field that does not exist.
 */
export function filterKitfile(k: Kitfile, filter: string): string {
  if (filter.includes("[")) throw new KitError("invalid filter: array access using '[]' is not currently supported");
  if (!FILTER_RE.test(filter)) throw new KitError(`invalid filter: invalid filter: ${filter}`);
  let cur: Selected = { type: "kitfile", value: k };
  for (const seg of filter.replace(/^\./, "").split(".")) {
    const fields: Record<string, () => Selected> | undefined =
      cur.type === "kitfile" ? kitfileFields(cur.value) : cur.type === "struct" ? cur.fields : undefined;
    const next: (() => Selected) | undefined = fields && Object.hasOwn(fields, title(seg)) ? fields[title(seg)] : undefined;
    if (!next) {
      const fixed = cur.type === "kitfile" && seg !== "" ? FIXED_LISTS[seg[0]!.toUpperCase() + seg.slice(1)] : undefined;
      if (fixed && filter.replace(/^\./, "") === seg) return emitYaml(fixed(k));
      throw notFound();
    }
    cur = next();
  }
  const node = cur.type === "kitfile" ? kitfileNode(cur.value) : cur.node();
  return emitYaml(node);
}
