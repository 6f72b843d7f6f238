/**
 * Per-command helpers shared by the command files: opening local storage (with kit's legacy
 * migration), progress bars that keep log lines readable, reference arguments, and finding a
 * ModelKit in local storage or else its registry.
 * @module
 */
import { displayRef, LOCAL_REGISTRY, parseReference, refToString, type ModelRef } from "../oci/reference.ts";
import { firstSource, localParentSource, remoteParentSource, type ParentSource } from "../modelkit/modelref.ts";
import { openSession, type RegistrySession } from "../registry/remote.ts";
import type { RemoteRepository } from "../registry/repository.ts";
import type { NetworkOptions } from "../registry/network-options.ts";
import { LayoutStore } from "../store/layout.ts";
import { migrateLegacyStorage, needsMigration } from "../store/migrate.ts";
import type { ReadOnlyTarget } from "../store/target.ts";
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
 * The reference argument of push and pull: kit's `Invalid arguments: ...` when it does not parse
 * or names several tags (`what` says which argument).
 */
export function parseSingleRef(arg: string, what: string): ModelRef {
  let ref: ModelRef;
  try {
    ref = parseReference(arg);
  } catch (e) {
    throw new KitError(`Invalid arguments: failed to parse reference ${arg}: ${errorMessage(e)}`);
  }
  if (ref.extraTags.length) throw new KitError(`Invalid arguments: ${what} cannot include multiple tags`);
  return ref;
}

/** Opens the registry repository of a reference (for reading). */
export type RemoteOpener = (ref: ModelRef) => Promise<RemoteRepository>;

/** A {@link RemoteOpener} with one registry session for the whole command, opened on first use. */
export function lazyRemote(ctx: Context, net: NetworkOptions, log?: Logger): RemoteOpener {
  let session: Promise<RegistrySession> | undefined;
  return async (r) => (await (session ??= openSession(net, remoteContext(ctx, log)))).repository(r.registry, r.repository);
}

/** A ModelKit from its local repository, else (for a reference naming a registry) from its registry. */
export function localThenRemote(storage: LayoutStore, remote: RemoteOpener): ParentSource {
  return firstSource(localParentSource(storage), remoteParentSource(remote));
}

/**
 * Where a ModelKit can be read: its local repository, else its registry through `remote`
 * (layers are then streamed from the registry and nothing is stored locally). kit's messages
 * when it is in neither.
 */
export async function sourceFor(storage: LayoutStore, ref: ModelRef, remote?: RemoteOpener): Promise<ReadOnlyTarget> {
  const found = await (remote ? localThenRemote(storage, remote) : localParentSource(storage))(ref);
  if (found) return found.source;
  if (ref.registry === LOCAL_REGISTRY) throw new KitError(`failed to find reference ${displayRef(refToString(ref))}: not found`);
  throw new KitError(`reference ${refToString(ref)} is not present in local storage and could not be found in remote`);
}
