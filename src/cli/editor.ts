/**
 * kit's offer to edit a generated Kitfile before `kit import` packs it (docs/format.md#import): on a
 * terminal, `Would you like to edit Kitfile before packing? (y/N): `; an answer starting with `y`
 * opens `$EDITOR` (else `nano` on Linux and macOS, `notepad` on Windows) on the Kitfile and reads
 * it back. With no editor, kit's warnings say where the Kitfile is and which command finishes the
 * import, and the import stops (its work directory is kept).
 * @module
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { readKitfile } from "../kitfile/parse.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import { ImportPaused, type ReviewRequest } from "../modelkit/import.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { Context } from "./command.ts";

export const EDIT_PROMPT = "Would you like to edit Kitfile before packing? (y/N): ";

/** `name` found in the directories of PATH, or undefined. */
function lookPath(name: string, env: Record<string, string | undefined>): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The editor to run: `$EDITOR`, else nano (Linux, macOS), else notepad (Windows). */
export function editorFor(env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): string | undefined {
  if (env.EDITOR) return env.EDITOR;
  if (platform === "linux" || platform === "darwin") return lookPath("nano", env);
  if (platform === "win32") return "notepad";
  return undefined;
}

/** Runs the editor on `file` with the terminal attached; `$EDITOR` may carry arguments (`code --wait`). */
function runEditor(editor: string, file: string, env: Record<string, string | undefined>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = process.platform === "win32"
      ? spawn(editor, [file], { stdio: "inherit", env: env as NodeJS.ProcessEnv })
      : spawn("/bin/sh", ["-c", `${editor} "$1"`, "sh", file], { stdio: "inherit", env: env as NodeJS.ProcessEnv });
    child.on("error", (e) => reject(new KitError(`error running external editor: ${e.message}`)));
    child.on("close", (code, sig) => {
      if (code === 0) resolve();
      else reject(new KitError(`error running external editor: ${sig ? `killed by ${sig}` : `exit status ${code}`}`));
    });
  });
}

/**
 * The review hook of `kit import` for this terminal: `resume` is the command that finishes the
 * import once the Kitfile at the given path was edited (printed when there is no editor).
 */
export function terminalReview(ctx: Context, log: Logger, resume: (r: ReviewRequest) => string): (r: ReviewRequest) => Promise<Kitfile> {
  return async (r) => {
    const answer = await ctx.stdin.prompt(EDIT_PROMPT);
    if (!answer.trim().toLowerCase().startsWith("y")) return r.kitfile;
    const editor = editorFor(ctx.env);
    if (!editor) {
      log.warn("Could not determine default editor from $EDITOR environment variable");
      log.warn("Please manually edit Kitfile at path");
      log.warn(`    ${r.kitfilePath}`);
      log.warn("and run command");
      log.warn(`    ${resume(r)}`);
      log.warn("to complete process");
      throw new ImportPaused("no editor found");
    }
    await runEditor(editor, r.kitfilePath, ctx.env);
    let parsed;
    try {
      parsed = await readKitfile(r.kitfilePath, { signal: ctx.signal });
    } catch (e) {
      throw new KitError(`failed to load Kitfile from ${r.kitfilePath}: ${(e as Error).message}`, { cause: e });
    }
    for (const w of parsed.warnings) log.warn(w);
    return parsed.kitfile;
  };
}
