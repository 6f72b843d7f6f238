/**
 * File classification tables for `kit init`, newest kit rules (docs/format.md#init).
 * Suffix tests are case-sensitive; prompt names are compared lower-cased.
 * @module
 */

export type FileType = "model" | "dataset" | "docs" | "metadata" | "prompt" | "mcp" | "unknown";

/** Model weight suffixes. `.bin` left this list after v1.7; see MODEL_BIN_PATTERN. */
export const MODEL_SUFFIXES: readonly string[] = [
  ".safetensors", ".pkl", ".joblib",
  ".pth", ".pt", ".mar", ".pt2", ".ptl",
  ".pb", ".ckpt", ".tflite", ".tfrecords",
  ".npy", ".npz",
  ".keras", ".h5", ".caffemodel", ".pmml", ".coreml",
  ".gguf", ".ggml", ".ggmf", ".llamafile", ".onnx",
];

/**
 * kit's glob `*pytorch_model*.bin`. kit matches it against the path relative to the context, so a
 * file below a sub-directory never matched (`*` does not cross `/`); we match the base name.
 */
const MODEL_BIN_PATTERN = /^.*pytorch_model.*\.bin$/s;

export const METADATA_SUFFIXES: readonly string[] = [".json", ".yaml", ".xml", ".txt"];
export const DOCS_SUFFIXES: readonly string[] = [".md", ".adoc", ".html", ".pdf"];
export const DATASET_SUFFIXES: readonly string[] = [".tar", ".zip", ".parquet", ".csv"];
/** MCP bundles (`mcpServers`, v1.15). */
export const MCP_SUFFIX = ".mcpb";
/** Lower-cased base names that are prompt/agent files. */
export const PROMPT_NAMES: readonly string[] = ["agents.md", "skill.md", "claude.md"];

/** Kitfile names skipped while generating (default names: docs/format.md#kitfile). */
export const KITFILE_NAMES: readonly string[] = ["Kitfile", "kitfile", ".kitfile"];

function baseName(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? p : p.slice(i + 1);
}

const anySuffix = (s: string, list: readonly string[]) => list.some((x) => s.endsWith(x));

/** Classifies one file by its name or relative path. Prompt detection comes first (kit's order). */
export function fileType(nameOrPath: string): FileType {
  const base = baseName(nameOrPath);
  const lower = base.toLowerCase();
  if (PROMPT_NAMES.includes(lower) || lower.includes(".prompt")) return "prompt";
  if (anySuffix(base, MODEL_SUFFIXES) || MODEL_BIN_PATTERN.test(base)) return "model";
  if (anySuffix(base, METADATA_SUFFIXES)) return "metadata";
  if (anySuffix(base, DOCS_SUFFIXES)) return "docs";
  if (anySuffix(base, DATASET_SUFFIXES)) return "dataset";
  if (base.endsWith(MCP_SUFFIX)) return "mcp";
  return "unknown";
}

/** Go's filepath.Ext of a base name: from the last `.` on, or "" when there is none. */
export function extension(name: string): string {
  const i = name.lastIndexOf(".");
  return i < 0 ? "" : name.slice(i);
}
