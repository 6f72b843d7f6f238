/**
 * Which layer a file belongs to when layer paths nest (docs/format.md#layer-ownership). Kit
 * compares paths as plain string prefixes, so with layers `data` and `data2` (or `.` and `data`,
 * `database.csv`) files can fall out of every layer [quirk]. We compare whole path segments
 * instead: a file belongs to the most specific layer path that contains it.
 * @module
 */
import { cleanPath } from "../kitfile/paths.ts";

/** True when `path` is `base` or lies below it, comparing whole segments (`.` contains everything relative). */
export function isWithinPath(path: string, base: string): boolean {
  const p = cleanPath(path.trim());
  const b = cleanPath(base.trim());
  if (b === ".") return p !== ".." && !p.startsWith("../") && !p.startsWith("/");
  if (p === b) return true;
  return p.startsWith(b.endsWith("/") ? b : b + "/");
}

/**
 * True when `file` (relative to the context) must be left out of the layer at `layerPath` because
 * another layer path claims it: for every other layer path L that is not `layerPath` itself or one of
 * its ancestors, a file at or below L belongs to L.
 */
export function belongsToOtherLayer(file: string, layerPath: string, otherLayerPaths: readonly string[]): boolean {
  for (const other of otherLayerPaths) {
    if (isWithinPath(layerPath, other)) continue; // `other` is this layer or a parent of it
    if (isWithinPath(file, other)) return true;
  }
  return false;
}
