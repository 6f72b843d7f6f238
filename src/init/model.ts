/**
 * Model selection for `kit init` (docs/format.md#init): one candidate is the model, named after
 * its file name without extension (kit uses the whole path: `model/tiny`); among several, the
 * largest is the model (with a name) when its size exceeds avg + avg/2 in integer math, the
 * others become parts in listing order; otherwise the first candidate is the model (no name) and
 * the rest are parts.
 * @module
 */

import type { Model, ModelPart } from "../kitfile/schema.ts";
import { extension } from "./classify.ts";
import type { FileListing } from "./dir-listing.ts";

/** Picks the model among the candidates (docs/format.md#init). */
export function chooseModel(files: FileListing[]): Model | undefined {
  if (files.length === 0) return undefined;
  const nameOf = (f: FileListing) => f.name.slice(0, f.name.length - extension(f.name).length);
  if (files.length === 1) return { name: nameOf(files[0]!), path: files[0]!.path };
  let largest: FileListing | undefined;
  let total = 0;
  for (const f of files) {
    if (f.size > (largest?.size ?? 0)) largest = f;
    total += f.size;
  }
  const avg = Math.floor(total / files.length);
  const parts = (rest: FileListing[]): ModelPart[] => rest.map((f) => ({ path: f.path }));
  if (largest && largest.size > avg + Math.floor(avg / 2)) {
    return { name: nameOf(largest), path: largest.path, parts: parts(files.filter((f) => f !== largest)) };
  }
  return { path: files[0]!.path, parts: parts(files.slice(1)) };
}
