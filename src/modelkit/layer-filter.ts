/**
 * `--filter types[:names]` for unpack and list (docs/format.md#filters).
 * @module
 */
import { KitError } from "../util/errors.ts";

export const FILTER_TYPES = ["kitfile", "model", "datasets", "code", "docs", "prompts", "mcpservers"] as const;
export type FilterType = (typeof FILTER_TYPES)[number];

export interface Filter {
  types: FilterType[];
  /** Names or paths; empty = every entry of the types. */
  names: string[];
}

export function parseFilter(s: string): Filter {
  const parts = s.split(":");
  if (parts.length > 2) throw new KitError("invalid filter: should be in format <type1>,<type2>[:<filter1>,<filter2>]");
  const types: FilterType[] = [];
  for (const raw of parts[0]!.split(",")) {
    const t = raw.trim().toLowerCase();
    if (!(FILTER_TYPES as readonly string[]).includes(t)) {
      throw new KitError(
        `invalid filter type ${raw.trim()} (must be one of 'kitfile', 'model', 'datasets', 'code', 'docs', 'prompts', or 'mcpservers')`,
      );
    }
    types.push(t as FilterType);
  }
  const names = parts.length === 2 ? parts[1]!.split(",").map((n) => n.trim()).filter((n) => n !== "") : [];
  return { types, names };
}

/** The types unpack's deprecated flags (`--kitfile`, `--model`, ...) select, one flag each. */
const SINGLE_TYPE_FLAGS = ["kitfile", "model", "code", "datasets", "docs"] as const;

/**
 * The `--filter` values; without any, one filter of the types whose deprecated flag is set in
 * `flags` ({@link SINGLE_TYPE_FLAGS}); without those either, none (everything).
 */
export function parseFilters(values: string[], flags: Partial<Record<FilterType, unknown>> = {}): Filter[] {
  if (values.length) return values.map(parseFilter);
  const types: FilterType[] = SINGLE_TYPE_FLAGS.filter((t) => flags[t]);
  return types.length ? [{ types, names: [] }] : [];
}

/** The filter type a layer kind answers to (`modelpart` counts as `model`). */
export type LayerKind = "model" | "modelpart" | "code" | "dataset" | "docs" | "prompt" | "mcpserver";
const KIND_TO_TYPE: Record<LayerKind, FilterType> = {
  model: "model",
  modelpart: "model",
  code: "code",
  dataset: "datasets",
  docs: "docs",
  prompt: "prompts",
  mcpserver: "mcpservers",
};

/** Whether an entry passes the filters. No filters at all = everything. Code and docs match on path only. */
export function matchesFilters(filters: Filter[], kind: LayerKind, entry: { name?: string; path?: string }): boolean {
  if (filters.length === 0) return true;
  const type = KIND_TO_TYPE[kind];
  const byPathOnly = kind === "code" || kind === "docs";
  return filters.some((f) => {
    if (!f.types.includes(type)) return false;
    if (f.names.length === 0) return true;
    return f.names.some((n) => (entry.path !== undefined && n === entry.path) || (!byPathOnly && entry.name !== undefined && entry.name !== "" && n === entry.name));
  });
}

export function selectsKitfile(filters: Filter[]): boolean {
  return filters.length === 0 || filters.some((f) => f.types.includes("kitfile"));
}

/** Filters for a parent ModelKit of a model reference: only the model (docs/format.md#filters). */
export function parentFilters(filters: Filter[]): Filter[] | undefined {
  if (filters.length === 0) return [{ types: ["model"], names: [] }];
  const kept = filters.filter((f) => f.types.includes("model")).map((f) => ({ types: ["model" as FilterType], names: f.names }));
  return kept.length ? kept : undefined;
}
