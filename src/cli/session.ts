/**
 * Per-command helpers shared by the command files: opening local storage (with kit's legacy
 * migration) and progress bars that keep log lines readable.
 * @module
 */
import { LayoutStore } from "../store/layout.ts";
import { migrateLegacyStorage, needsMigration } from "../store/migrate.ts";
import type { Logger } from "../util/log.ts";
import { homePaths } from "../util/paths.ts";
import { noProgress, terminalProgress, type Progress } from "../util/progress.ts";
import type { Context } from "./command.ts";

/** Opens `<home>/storage`, migrating a pre-v0.3.0 layout first as kit does. */
export async function openStorage(ctx: Context): Promise<LayoutStore> {
  const dir = homePaths(ctx.home).storage;
  if (await needsMigration(dir)) {
    ctx.log.info("Migrating local storage to new format");
    await migrateLegacyStorage(dir, { logger: ctx.log, signal: ctx.signal });
  }
  return LayoutStore.open(dir);
}

/**
 * Progress bars for this command when the user wants them and stdout is a terminal, plus a
 * logger that clears the bars before each line so lines and bars never interleave.
 */
export function startProgress(ctx: Context): { progress: Progress; log: Logger; close(): void } {
  if (ctx.progress === "none") return { progress: noProgress, log: ctx.log, close() {} };
  const progress = terminalProgress((s) => void process.stdout.write(s), ctx.stdout.columns, ctx.progress);
  const wrap = (f: (m: string) => void) => (m: string) => progress.suspend(() => f(m));
  const base = ctx.log;
  const log: Logger = {
    level: base.level,
    enabled: base.enabled,
    trace: wrap(base.trace),
    debug: wrap(base.debug),
    info: wrap(base.info),
    warn: wrap(base.warn),
    error: wrap(base.error),
    print: wrap(base.print),
  };
  return { progress, log, close: () => progress.close() };
}
