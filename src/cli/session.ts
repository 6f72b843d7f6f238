/**
 * Per-command helpers shared by the command files: opening local storage (with kit's legacy
 * migration), progress bars that keep log lines readable, reference arguments, and the registry
 * session of a command.
 * @module
 */
import { parseReference, type ModelRef } from "../oci/reference.ts";
import { lazyRemote, type RemoteOpener } from "../modelkit/locate.ts";
import { openSession } from "../registry/remote.ts";
import type { NetworkOptions } from "../registry/network-options.ts";
import { LayoutStore } from "../store/layout.ts";
import { migrateLegacyStorage, needsMigration } from "../store/migrate.ts";
import { errorMessage, KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { homePaths } from "../util/paths.ts";
import { noProgress, terminalProgress, type Progress } from "../util/progress.ts";
import type { Context } from "./command.ts";
import { remoteContext } from "./network-flags.ts";

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
  const progress = terminalProgress((s) => ctx.stdout.write(s), ctx.stdout.columns, ctx.progress);
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

/**
 * A reference argument with kit's comma-separated extra tags (`repo:a,b,c` → tags `b`, `c`,
 * never validated, as in kit): the first reference is parsed, the rest is returned as is.
 */
export function parseRefArg(arg: string): { ref: ModelRef; extraTags: string[] } {
  const [first = "", ...extraTags] = arg.split(",");
  return { ref: parseReference(first), extraTags };
}

/**
 * The reference argument of push and pull: kit's `Invalid arguments: ...` when it does not parse
 * or names several tags (`what` says which argument).
 */
export function parseSingleRef(arg: string, what: string): ModelRef {
  let parsed;
  try {
    parsed = parseRefArg(arg);
  } catch (e) {
    throw new KitError(`Invalid arguments: failed to parse reference ${arg}: ${errorMessage(e)}`);
  }
  if (parsed.extraTags.length) throw new KitError(`Invalid arguments: ${what} cannot include multiple tags`);
  return parsed.ref;
}

/** A {@link RemoteOpener} with one registry session for the whole command, opened on first use. */
export function remoteOpener(ctx: Context, net: NetworkOptions, log?: Logger): RemoteOpener {
  return lazyRemote(() => openSession(net, remoteContext(ctx, log)));
}
