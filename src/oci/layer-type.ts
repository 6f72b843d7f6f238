/**
 * Layer media types: kit's newest strict grammar plus the ModelPack types for reading
 * (docs/format.md#media-types, docs/format.md#modelpack).
 * @module
 */
import { KitError } from "../util/errors.ts";

export type LayerBase = "model" | "modelpart" | "code" | "dataset" | "docs" | "mcpb";
export type LayerFormat = "tar" | "raw";
export type Compression = "none" | "gzip" | "gzip-fastest" | "zstd";

export interface LayerType {
  base: LayerBase;
  format: LayerFormat;
  compression: "none" | "gzip" | "zstd";
  /** True for CNCF ModelPack media types. */
  modelpack: boolean;
}

const KIT_BASES: readonly LayerBase[] = ["model", "modelpart", "code", "dataset", "docs", "mcpb"];
const KIT_RE = /^application\/vnd\.kitops\.modelkit\.(\w+)\.v1\.(\w+)(?:\+(\w+))?$/;
const MODELPACK_RE = /^application\/vnd\.cncf\.model\.(weight\.config|weight|dataset|code|doc)\.v1\.(\w+)(?:\+(\w+))?$/;
const MODELPACK_BASE: Record<string, LayerBase> = {
  weight: "model",
  "weight.config": "modelpart",
  dataset: "dataset",
  code: "code",
  doc: "docs",
};

function compressionOf(s: string | undefined): LayerType["compression"] | undefined {
  if (s === undefined || s === "" || s === "none") return "none";
  if (s === "gzip" || s === "gzip-fastest") return "gzip";
  if (s === "zstd") return "zstd";
  return undefined;
}

/** Parses a layer media type; undefined for anything that is not a ModelKit layer. */
export function parseLayerType(mediaType: string): LayerType | undefined {
  let m = KIT_RE.exec(mediaType);
  if (m) {
    const base = m[1] as LayerBase;
    const format = m[2] as LayerFormat;
    const compression = compressionOf(m[3]);
    if (!KIT_BASES.includes(base) || (format !== "tar" && format !== "raw") || !compression) return undefined;
    return { base, format, compression, modelpack: false };
  }
  m = MODELPACK_RE.exec(mediaType);
  if (m) {
    const format = m[2] as LayerFormat;
    const compression = compressionOf(m[3]);
    if ((format !== "tar" && format !== "raw") || !compression) return undefined;
    return { base: MODELPACK_BASE[m[1]!]!, format, compression, modelpack: true };
  }
  return undefined;
}

/** `application/vnd.kitops.modelkit.<base>.v1.<format>[+gzip|+zstd]`. */
export function layerMediaType(base: LayerBase, format: LayerFormat, compression: Compression): string {
  if (base === "mcpb") return "application/vnd.kitops.modelkit.mcpb.v1.raw";
  const suffix = compression === "none" ? "" : compression === "zstd" ? "+zstd" : "+gzip";
  return `application/vnd.kitops.modelkit.${base}.v1.${format}${suffix}`;
}

const MODELPACK_NAME: Partial<Record<LayerBase, string>> = {
  model: "weight",
  modelpart: "weight.config",
  dataset: "dataset",
  code: "code",
  docs: "doc",
};

/**
 * `application/vnd.cncf.model.<weight|weight.config|dataset|code|doc>.v1.<format>[+gzip|+zstd]`;
 * MCP bundles have no ModelPack type.
 */
export function modelPackMediaType(base: LayerBase, format: LayerFormat, compression: Compression): string {
  const name = MODELPACK_NAME[base];
  if (!name) throw new KitError(`${base} layers have no ModelPack media type`);
  const suffix = compression === "none" ? "" : compression === "zstd" ? "+zstd" : "+gzip";
  return `application/vnd.cncf.model.${name}.v1.${format}${suffix}`;
}

export function parseCompression(s: string): Compression {
  if (s === "none" || s === "gzip" || s === "gzip-fastest" || s === "zstd") return s;
  throw new KitError(`Invalid compression type: must be one of 'none', 'gzip', 'gzip-fastest', or 'zstd'`);
}

export function parseLayerFormat(s: string): LayerFormat {
  if (s === "tar" || s === "raw") return s;
  throw new KitError("invalid layer format: must be either 'tar' or 'raw'");
}
