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
import { createTransport, DEFAULT_NETWORK_OPTIONS, type NetworkOptions } from "../registry/network-options.ts";
import type { S3Opener } from "../modelkit/remote-datasets.ts";
import { S3Client, s3SettingsFromEnv } from "../s3/client.ts";
import { LayoutStore } from "../store/layout.ts";
import { migrateLegacyStorage, needsMigration } from "../store/migrate.ts";
import { errorMessage, KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { homePaths } from "../util/paths.ts";
import { lineProgress, noProgress, summaryLine, terminalProgress, type Display, type Progress } from "../util/progress.ts";
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

/** What a command draws progress with, and the logger to use meanwhile. */
export interface ProgressUi {
  progress: Progress;
  /** Clears the bars (so log lines and bars never interleave). */
  log: Logger;
  /**
   * After success: clears the bars and prints the summary line (`Pushed 1.9 GiB in 16.2 s
   * (119 MiB/s)`) when the user saw progress and bytes were moved.
   */
  finish(): void;
  /** Clears the bars; safe to call more than once. */
  close(): void;
}

/** Milliseconds between the plain progress lines of a long transfer without a terminal. */
const LINE_PERIOD_MS = 10_000;

/**
 * The period of the plain progress lines: {@link LINE_PERIOD_MS}, or
 * `KITOPS_PROGRESS_INTERVAL_MS` (a positive number of milliseconds; set by the tests, which
 * cannot wait ten seconds per check).
 */
export function linePeriod(env: Record<string, string | undefined>): number {
  const v = Number(env.KITOPS_PROGRESS_INTERVAL_MS);
  return Number.isFinite(v) && v > 0 ? v : LINE_PERIOD_MS;
}

/**
 * This command's progress display (docs/format.md#progress): bars on a terminal, plain lines
 * for long transfers without one, nothing at `--progress none`. `done` is the summary's verb
 * (`Pushed`); without it there is no summary. Ctrl-C (the context's signal) clears the bars at
 * once, so the error line starts on a clean line.
 */
export function startProgress(ctx: Context, done?: string): ProgressUi {
  if (ctx.progress === "none") return { progress: noProgress, log: ctx.log, finish() {}, close() {} };
  const display: Display = ctx.progress === "lines"
    ? lineProgress({ report: (line) => ctx.log.info(line), periodMs: linePeriod(ctx.env) })
    : terminalProgress({
      write: (s) => ctx.stdout.write(s),
      columns: () => process.stdout.columns || ctx.stdout.columns,
      style: ctx.progress,
      colour: ctx.stdout.colour,
    });
  const onAbort = () => display.interrupt();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    ctx.signal.removeEventListener("abort", onAbort);
    display.close();
  };
  const wrap = (f: (m: string) => void) => (m: string) => display.suspend(() => f(m));
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
  return {
    progress: display,
    log,
    close,
    finish() {
      close();
      const s = display.stats();
      if (done && s.shown && s.bytes > 0) ctx.log.info(summaryLine(done, s.bytes, s.seconds));
    },
  };
}

/** What a reference looks like, for errors about one. */
const REFERENCE_FORM = "A ModelKit reference is [REGISTRY/]REPOSITORY[:TAG|@DIGEST] in lower case, e.g. registry.example.com/myorg/my-model:v1 or my-model:v1";

/**
 * A reference argument with kit's comma-separated extra tags (`repo:a,b,c` → tags `b`, `c`,
 * never validated, as in kit): the first reference is parsed, the rest is returned as is. With
 * `failure`, a parse error reads `<failure>: <why>` (each command's wording as kit's).
 */
export function parseRefArg(arg: string, failure?: string): { ref: ModelRef; extraTags: string[]; explicit: boolean } {
  if (failure !== undefined) {
    try {
      return parseRefArg(arg);
    } catch (e) {
      throw new KitError(`${failure}: ${errorMessage(e)}`, { cause: e, hint: REFERENCE_FORM });
    }
  }
  const [first = "", ...extraTags] = arg.split(",");
  // Whether the argument itself named a tag or digest (the parser fills in `latest` otherwise).
  return { ref: parseReference(first), extraTags, explicit: namesTagOrDigest(first) };
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
  return { kind: "reference", ref: parseSingleRef(arg, what), explicit: namesTagOrDigest(arg) };
}

/**
 * The reference argument of push and pull: kit's `Invalid arguments: ...` when it does not parse
 * or names several tags (`what` says which argument).
 */
export function parseSingleRef(arg: string, what: string): ModelRef {
  const parsed = parseRefArg(arg, `Invalid arguments: failed to parse reference ${arg}`);
  if (parsed.extraTags.length) throw new KitError(`Invalid arguments: ${what} cannot include multiple tags`);
  return parsed.ref;
}

/**
 * The S3 client of remote datasets, opened on first use: settings from the environment, kit's
 * HTTP stack with the default network options (the registry flags do not apply to S3).
 */
export function s3Opener(ctx: Context, log: Logger = ctx.log): S3Opener {
  let client: Promise<S3Client> | undefined;
  return () => (client ??= createTransport(DEFAULT_NETWORK_OPTIONS, { version: ctx.version, env: ctx.env, logger: log })
    .then((t) => new S3Client(s3SettingsFromEnv(ctx.env), t)));
}

/** A {@link RemoteOpener} with one registry session for the whole command, opened on first use. */
export function remoteOpener(ctx: Context, net: NetworkOptions, log?: Logger): RemoteOpener {
  return lazyRemote(() => openSession(net, remoteContext(ctx, log)));
}
