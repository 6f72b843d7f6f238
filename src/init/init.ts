/**
 * `kit init`: the Kitfile for a directory, or for a Hugging Face repository without downloading
 * it (`remote`), and where it goes: PATH/Kitfile, the `-o` file, or standard output (`-o -`, and
 * by default for `remote` without PATH). An existing file is replaced only with `force`.
 * @module
 */
import { stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Kitfile } from "../kitfile/schema.ts";
import { kitfileToYaml } from "../kitfile/yaml.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { generateKitfile } from "./generate.ts";
import { generateRemoteKitfile } from "./hub.ts";

export interface InitOptions {
  cwd: string;
  /** PATH as given, if it was. */
  dir?: string;
  /** `-o`: a file, `-` for standard output, or empty. */
  output: string;
  force: boolean;
  /** The package's name, description and author; undefined when not given (then asked, with `ask`). */
  name?: string;
  description?: string;
  author?: string;
  /** Asks the user on a terminal (not when the Kitfile goes to standard output, nor for `remote`). */
  ask?: (question: string) => Promise<string>;
  depth: number;
  /** `--remote`, with its `ref` and `token`. */
  remote: string;
  ref: string;
  token: string;
  env: Record<string, string | undefined>;
  version: string;
  httpLogger?: Logger;
  logger: Logger;
  signal: AbortSignal;
}

/** Generates the Kitfile and writes it to its file; returns its YAML and the file as given (none: print it). */
export async function initKitfile(o: InitOptions): Promise<{ yaml: string; target?: string }> {
  const dir = o.dir === undefined ? undefined : path.resolve(o.cwd, o.dir);
  if (dir !== undefined && !(await stat(dir).catch(() => undefined))?.isDirectory()) throw new KitError(`Path ${o.dir} is not a directory`);
  const toStdout = o.output === "-" || (o.remote !== "" && !o.output && dir === undefined);
  const target = toStdout ? undefined : o.output ? path.resolve(o.cwd, o.output) : path.join(dir!, "Kitfile");
  // Messages name the file as given (kit's filepath.Join(PATH, "Kitfile")), not resolved.
  const shown = target === undefined ? undefined : o.output ? o.output : path.join(o.dir!, "Kitfile");
  if (target && !o.force && (await stat(target).catch(() => undefined))) {
    throw new KitError(`Kitfile already exists at ${shown}. Use '--force' to overwrite`);
  }
  let { name, description, author } = o;
  // Prompts only on a terminal: scripts and CI never block waiting for input.
  const ask = !toStdout && !o.remote ? o.ask : undefined;
  if (ask) {
    name ??= (await ask("Enter a name for the ModelKit: ")).trim();
    description ??= (await ask("Enter a short description for the ModelKit: ")).trim();
    author ??= (await ask("Enter an author for the ModelKit: ")).trim();
  }
  const opts = {
    name: name || undefined,
    // without a name (no terminal, or no answer), the directory's: kit list shows a name
    defaultName: (dir && path.basename(dir)) || undefined,
    description: description || undefined,
    author: author || undefined,
    depth: o.depth,
    logger: o.logger,
    signal: o.signal,
  };
  let kitfile: Kitfile;
  if (o.remote) {
    kitfile = await generateRemoteKitfile(o.remote, { ref: o.ref, token: o.token, env: o.env, version: o.version, httpLogger: o.httpLogger }, opts);
  } else {
    kitfile = await generateKitfile(dir!, opts);
  }
  const yaml = kitfileToYaml(kitfile);
  if (target) await writeFile(target, yaml, { mode: 0o644 });
  return { yaml, target: shown };
}
