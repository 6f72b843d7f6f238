/**
 * The Kitfile: valibot schemas for every section kit knows today (docs/format.md#kitfile) and the
 * types inferred from them. Schemas are transform-free, so what was parsed is what gets written.
 *
 * Field order in each schema is kit's struct order, which is also the order of the config JSON
 * and of the YAML kit prints. Every field is optional: an absent string is kit's empty string.
 * `digest`/`diffId` (layer info) only ever come from or go to the config JSON, never YAML.
 *
 * `parameters` holds any YAML value, decoded as yaml.v3 does (see {@link ParameterValue}).
 * @module
 */
import * as v from "valibot";
import type { YamlTimestamp } from "./values.ts";

const Str = v.optional(v.string());

/** Layer info filled in by pack: compressed blob digest and uncompressed tar digest. */
export const LayerInfoSchema = v.object({ digest: Str, diffId: Str });
const layerInfo = LayerInfoSchema.entries;

export const PackageSchema = v.object({
  name: Str,
  version: Str,
  description: Str,
  license: Str,
  authors: v.optional(v.array(v.string())),
});

export const ModelPartSchema = v.object({
  name: Str,
  path: Str,
  license: Str,
  type: Str,
  ...layerInfo,
});

export const ModelSchema = v.object({
  name: Str,
  path: Str,
  license: Str,
  framework: Str,
  format: Str,
  version: Str,
  description: Str,
  parts: v.optional(v.array(ModelPartSchema)),
  parameters: v.optional(v.unknown()),
  ...layerInfo,
});

export const CodeSchema = v.object({
  path: Str,
  description: Str,
  license: Str,
  ...layerInfo,
});

export const DatasetSchema = v.object({
  name: Str,
  path: Str,
  remotePath: Str,
  remoteHash: Str,
  description: Str,
  license: Str,
  parameters: v.optional(v.unknown()),
  ...layerInfo,
});

/** `path` is never omitted when written (kit has no omitempty on it): absent means `""`. */
export const DocsSchema = v.object({
  path: Str,
  description: Str,
  ...layerInfo,
});

export const PromptSchema = v.object({
  name: Str,
  path: Str,
  description: Str,
  ...layerInfo,
});

export const McpServerSchema = v.object({
  name: Str,
  path: Str,
  description: Str,
  ...layerInfo,
});

/** `manifestVersion` is always written (absent means `""`); `package` is always written to JSON. */
export const KitfileSchema = v.object({
  manifestVersion: Str,
  package: v.optional(PackageSchema),
  model: v.optional(ModelSchema),
  code: v.optional(v.array(CodeSchema)),
  datasets: v.optional(v.array(DatasetSchema)),
  docs: v.optional(v.array(DocsSchema)),
  prompts: v.optional(v.array(PromptSchema)),
  mcpServers: v.optional(v.array(McpServerSchema)),
});

export type LayerInfo = v.InferOutput<typeof LayerInfoSchema>;
export type Package = v.InferOutput<typeof PackageSchema>;
export type ModelPart = v.InferOutput<typeof ModelPartSchema>;
export type Model = v.InferOutput<typeof ModelSchema>;
export type Code = v.InferOutput<typeof CodeSchema>;
export type Dataset = v.InferOutput<typeof DatasetSchema>;
export type Docs = v.InferOutput<typeof DocsSchema>;
export type Prompt = v.InferOutput<typeof PromptSchema>;
export type McpServer = v.InferOutput<typeof McpServerSchema>;
export type Kitfile = v.InferOutput<typeof KitfileSchema>;

/**
 * A decoded `parameters` value. From YAML: integers are `bigint` (Go int64/uint64, so values past
 * 2^53 survive), floats are `number` (Go float64), unquoted timestamps are {@link YamlTimestamp}.
 * From a config JSON every number is a `number` (float64), as in Go. Maps always have string keys.
 */
export type ParameterValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | YamlTimestamp
  | ParameterValue[]
  | { [key: string]: ParameterValue };
