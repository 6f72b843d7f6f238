/**
 * Per-command helpers shared by the command files: opening local storage (with kit's legacy
 * migration), progress bars that keep log lines readable, reference arguments, and the registry
 * session of a command.
 * @module
 */
import path from "node:path";
import { parseLayoutRef, type KitLocation, type LayoutRef } from "../oci/location.ts";
import { namesTagOrDigest, parseReference, type ModelRef } from "../oci/reference.ts";
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

/**
 * A reference argument with kit's comma-separated extra tags (`repo:a,b,c` → tags `b`, `c`,
 * never validated, as in kit): the first reference is parsed, the rest is returned as is.
 * `defaultTag`: the reference named no tag or digest (`ref` has `latest`).
 */
export function parseRefArg(arg: string): { ref: ModelRef; extraTags: string[]; defaultTag: boolean } {
  const [first = "", ...extraTags] = arg.split(",");
  return { ref: parseReference(first), extraTags, defaultTag: !namesTagOrDigest(first) };
}

/**
 * An `oci:PATH[:TAG|@DIGEST]` or `oci-archive:PATH[:TAG|@DIGEST]` argument (docs/format.md#oci-layouts),
 * PATH made absolute against the working directory; undefined for any other argument.
 * `Invalid arguments: ...` when it does not parse.
 */
export function parseLayoutArg(ctx: Context, arg: string): LayoutRef | undefined {
  let l: LayoutRef | undefined;
  try {
    l = parseLayoutRef(arg);
  } catch (e) {
    throw new KitError(`Invalid arguments: ${errorMessage(e)}`, { cause: e, hint: (e as KitError).hint });
  }
  return l && { ...l, path: path.resolve(ctx.cwd, l.path) };
}

/**
 * A ModelKit argument of push and pull: a layout ({@link parseLayoutArg}) or one reference
 * ({@link parseSingleRef}).
 */
export function parseLocationArg(ctx: Context, arg: string, what: string): KitLocation {
  const layout = parseLayoutArg(ctx, arg);
  if (layout) return layout;
  return { kind: "reference", ref: parseSingleRef(arg, what), defaultTag: !namesTagOrDigest(arg) };
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
