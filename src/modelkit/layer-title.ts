/**
 * How a layer is named to the user: the word for its kind (as kit's `Unpacking <word> …` lines
 * say it) and, for a progress bar, the entry's name and path (`dataset training (data/train.csv)`).
 * @module
 */
import type { LayerKind } from "./layer-filter.ts";

export const KIND_WORD: Record<LayerKind, string> = {
  model: "model",
  modelpart: "modelpart",
  dataset: "dataset",
  code: "code",
  docs: "docs",
  prompt: "prompt",
  mcpserver: "MCP server",
};

/** A progress bar's title for a Kitfile entry: `Model tiny (tiny.gguf)`, `Code src`, `Dataset training (data)`. */
export function layerTitle(kind: LayerKind, entry: { name?: string; path?: string }): string {
  const word = KIND_WORD[kind];
  const name = entry.name?.trim();
  const where = entry.path || ".";
  return `${word[0]!.toUpperCase()}${word.slice(1)} ${name && name !== where ? `${name} (${where})` : where}`;
}
