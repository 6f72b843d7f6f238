/**
 * The CNCF ModelPack config (`application/vnd.cncf.model.config.v1+json`) kit writes for
 * `pack --use-model-pack`, from the Kitfile (docs/format.md#modelpack): the bytes Go's
 * `json.Marshal` writes for the model-spec `Model` struct.
 * @module
 */
import { compareGoStrings, goJson } from "../util/go-json.ts";
import type { Kitfile } from "./schema.ts";

/** Sorted, de-duplicated licences of the package, the model, its parts, the datasets and the code. */
function licensesOf(k: Kitfile): string[] {
  const all = [
    k.package?.license,
    k.model?.license,
    ...(k.model?.parts ?? []).map((p) => p.license),
    ...(k.datasets ?? []).map((d) => d.license),
    ...(k.code ?? []).map((c) => c.license),
  ].filter((l): l is string => typeof l === "string" && l !== "");
  return [...new Set(all)].sort(compareGoStrings);
}

/**
 * The config JSON: `descriptor` (createdAt, authors, name, version, licenses, title,
 * description — empty ones left out), `modelfs` (`type: layers` and the layers' diffIds in
 * manifest order) and `config` (`format` from the model).
 */
export function modelPackConfigJson(k: Kitfile, diffIds: string[], createdAt: string): string {
  const pkg = k.package ?? {};
  const licenses = licensesOf(k);
  return goJson({
    descriptor: {
      createdAt: createdAt || undefined,
      authors: pkg.authors?.length ? pkg.authors : undefined,
      family: undefined,
      name: pkg.name || undefined,
      docURL: undefined,
      sourceURL: undefined,
      datasetsURL: undefined,
      version: pkg.version || undefined,
      revision: undefined,
      vendor: undefined,
      licenses: licenses.length ? licenses : undefined,
      title: pkg.name || undefined,
      description: pkg.description || undefined,
    },
    // Go's nil slice when there are no layers.
    modelfs: { type: "layers", diffIds: diffIds.length ? diffIds : null },
    config: { format: k.model?.format || undefined },
  });
}
