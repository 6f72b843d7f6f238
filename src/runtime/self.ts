/**
 * How to start this same program again (for `kit dev start`, which runs the server as a
 * detached child). Runtime-specific, hence here.
 * @module
 */
import { fileURLToPath } from "node:url";
import { isStandalone, runtimeName } from "./runtime.ts";

/**
 * The argv prefix that runs this kit again: the binary itself when compiled, else the runtime
 * with the entry script (`bun src/main.ts`, `deno run -A src/main.ts`).
 */
export function selfCommand(): string[] {
  if (isStandalone) return [process.execPath];
  // deno-lint-ignore no-explicit-any
  const deno = (globalThis as any).Deno as undefined | { execPath(): string; mainModule: string };
  if (runtimeName === "deno" && deno) return [deno.execPath(), "run", "-A", fileURLToPath(deno.mainModule)];
  const script = process.argv[1];
  if (!script) throw new Error("Cannot tell which script is running: process.argv[1] is empty");
  return [process.execPath, script];
}
