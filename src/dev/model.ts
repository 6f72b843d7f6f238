/**
 * Which file `kit dev` serves (docs/format.md#dev): the Kitfile's model (a ModelKit reference resolved
 * to the root ancestor's model path), inside the context directory, being a `.gguf` file or a
 * directory holding exactly one `.gguf` model. A model split into parts
 * (`name-00001-of-00003.gguf`, …) counts as one: its first part is loaded and llama.cpp finds
 * the rest. Multimodal projector files (`mmproj*.gguf`) are not models and are skipped.
 * @module
 */
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { Kitfile } from "../kitfile/schema.ts";
import { modelReference } from "../kitfile/paths.ts";
import type { ParentSource } from "../modelkit/locate.ts";
import { resolveModelReferences } from "../modelkit/modelref.ts";
import { KitError } from "../util/errors.ts";
import { errnoCode } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";

export interface DevModel {
  /** Absolute path of the .gguf file to load (the first part of a split model). */
  file: string;
  /** The id the API reports: the Kitfile's model name, else the file name without `.gguf`. */
  id: string;
}

const NEEDED = "The model for kit dev must be a .gguf file, or a directory holding exactly one .gguf model";
const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

const isGguf = (name: string) => name.toLowerCase().endsWith(".gguf");

/** Weight formats kit dev cannot serve, recognised by name alone. */
const OTHER_WEIGHTS = /\.(safetensors|bin|pt|pth|ckpt|onnx|h5|keras|pkl|joblib|npz|msgpack|tflite|mlmodel)$/i;

/**
 * Before anything of a ModelKit is copied: a model path (or its parts) naming another weight
 * format than GGUF is refused by its name, with the same advice as for an unpacked file.
 */
export function assertServableByName(kitfile: Kitfile): void {
  const paths = [kitfile.model?.path, ...(kitfile.model?.parts ?? []).map((p) => p.path)].filter((p): p is string => !!p && !modelReference(p));
  if (paths.some((p) => isGguf(p))) return;
  const other = paths.find((p) => OTHER_WEIGHTS.test(p));
  if (other) {
    throw new KitError(`The model path ${other} is a "${path.extname(other)}" file, not a .gguf file`, {
      hint: `${NEEDED}; convert the model to GGUF (llama.cpp's convert_hf_to_gguf.py) to serve it with kit dev`,
    });
  }
}
const isProjector = (name: string) => name.toLowerCase().startsWith("mmproj");

/** Regular files under `dir` (not following symlinks), relative paths with `/`, sorted. */
async function listFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

function summarise(files: string[], max = 5): string {
  if (files.length === 0) return "nothing";
  const shown = files.slice(0, max).join(", ");
  return files.length > max ? `${shown} and ${files.length - max} more` : shown;
}

/**
 * Picks the model file in a directory: exactly one .gguf, or the parts of one split model.
 * Throws naming what was found when that is not the case.
 */
export async function findGgufInDir(dir: string, shown: string): Promise<string> {
  const files = await listFiles(dir);
  const ggufs = files.filter((f) => isGguf(f) && !isProjector(path.posix.basename(f)));
  if (ggufs.length === 1) return path.join(dir, ggufs[0]!);
  if (ggufs.length === 0) {
    const projectors = files.filter((f) => isGguf(f));
    const found = projectors.length ? `only multimodal projector files (${summarise(projectors)})` : summarise(files);
    throw new KitError(`Could not find a .gguf model file in ${shown}: it holds ${found}`, { hint: NEEDED });
  }
  // one split model: every file is a part of the same set, and the set is complete
  const parts = ggufs.map((f) => ({ f, m: SPLIT.exec(path.posix.basename(f)) }));
  const first = parts[0]!;
  if (first.m && parts.every((p) => p.m && path.posix.dirname(p.f) === path.posix.dirname(first.f) && p.m[1] === first.m![1] && p.m[3] === first.m![3])) {
    const total = Number(first.m[3]);
    const have = new Set(parts.map((p) => Number(p.m![2])));
    const missing: number[] = [];
    for (let i = 1; i <= total; i++) if (!have.has(i)) missing.push(i);
    if (missing.length === 0 && have.size === total) return path.join(dir, parts.find((p) => Number(p.m![2]) === 1)!.f);
    throw new KitError(`The split model in ${shown} is incomplete: part${missing.length === 1 ? "" : "s"} ${missing.join(", ")} of ${total} missing`);
  }
  throw new KitError(`Found ${ggufs.length} .gguf model files in ${shown}: ${summarise(ggufs)}`, {
    hint: `${NEEDED}: point model.path in the Kitfile at one of them`,
  });
}

/**
 * Resolves the model to serve. `kitfile` was read from `kitfilePath`; `contextDir` is where its
 * paths are relative to. A model path naming a ModelKit is followed through `parents` to the
 * root ancestor's model path (its files are expected in `contextDir`, as `kit unpack` puts them).
 */
export async function resolveDevModel(opts: {
  kitfile: Kitfile;
  kitfilePath: string;
  contextDir: string;
  parents?: ParentSource;
  logger?: Logger;
  signal?: AbortSignal;
}): Promise<DevModel> {
  const k = opts.kitfile;
  let modelPath = k.model?.path;
  let name = k.model?.name;
  if (!k.model || !modelPath) {
    throw new KitError(`${opts.kitfilePath} has no model: its model section ${k.model ? "has no path" : "is missing"}`, { hint: NEEDED });
  }
  if (modelReference(modelPath)) {
    if (!opts.parents) throw new KitError(`Cannot resolve the referenced ModelKit ${modelPath}: no storage to read it from`);
    const resolved = await resolveModelReferences(k, { source: opts.parents, self: opts.kitfilePath, logger: opts.logger, signal: opts.signal });
    modelPath = resolved?.merged.model?.path;
    name ||= resolved?.merged.model?.name;
    if (!modelPath || modelReference(modelPath)) throw new KitError(`The ModelKit referenced by ${opts.kitfilePath} has no model path`, { hint: NEEDED });
    opts.logger?.debug(`Model reference ${k.model.path} resolves to model path ${modelPath}`);
  }

  // inside the context directory, also after following symlinks
  const ctx = await realpath(opts.contextDir);
  const abs = path.resolve(ctx, modelPath);
  const inside = (p: string) => {
    const rel = path.relative(ctx, p);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  };
  if (!inside(abs)) throw new KitError(`The model path ${modelPath} points outside the context directory ${opts.contextDir}`);
  let real: string;
  try {
    real = await realpath(abs);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") {
      throw new KitError(`The model path ${modelPath} does not exist in ${opts.contextDir}`, {
        hint: `${NEEDED}; unpack the ModelKit there first (kit unpack), or pass the ModelKit reference to kit dev start`,
      });
    }
    throw e;
  }
  if (!inside(real)) throw new KitError(`The model path ${modelPath} is a link to ${real}, outside the context directory ${opts.contextDir}`);

  const st = await stat(real);
  let file: string;
  if (st.isDirectory()) file = await findGgufInDir(real, modelPath);
  else if (st.isFile()) {
    if (!isGguf(real)) {
      throw new KitError(`The model path ${modelPath} is a ${await describeFile(real)} file, not a .gguf file`, {
        hint: `${NEEDED}; convert the model to GGUF (llama.cpp's convert_hf_to_gguf.py) to serve it with kit dev`,
      });
    }
    file = real;
  } else {
    throw new KitError(`The model path ${modelPath} is neither a file nor a directory`, { hint: NEEDED });
  }
  const base = path.basename(file).replace(/\.gguf$/i, "");
  return { file, id: name || (SPLIT.exec(path.basename(file))?.[1] ?? base) };
}

async function describeFile(p: string): Promise<string> {
  const ext = path.extname(p);
  const st = await lstat(p);
  return `${ext ? `"${ext}"` : "extension-less"} (${st.size} bytes)`;
}
