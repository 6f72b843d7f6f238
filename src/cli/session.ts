/**
 * Per-command helpers shared by the command files: opening local storage (with kit's legacy
 * migration), progress bars that keep log lines readable and the progress shell around an
 * operation, ModelKit and tag arguments with kit's `Invalid arguments` errors, and the registry
 * session of a command.
 * @module
 */
import path from "node:path";
import { parseLayoutRef, type KitLocation, type LayoutRef } from "../oci/location.ts";
import { namesTagOrDigest, parseReference, repoKey, type ModelRef } from "../oci/reference.ts";
import { lazyRemote, type RemoteOpener } from "../modelkit/locate.ts";
import { openSession, type RegistrySession } from "../registry/remote.ts";
import { createTransport, DEFAULT_NETWORK_OPTIONS, type NetworkOptions } from "../registry/network-options.ts";
import type { S3Opener } from "../modelkit/remote-datasets.ts";
import { S3Client, s3SettingsFromEnv } from "../s3/client.ts";
import { LayoutStore } from "../store/layout.ts";
import { migrateLegacyStorage, needsMigration } from "../store/migrate.ts";
import { asKitError, errorMessage, KitError, withContext } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { homePaths } from "../util/paths.ts";
import { lineProgress, noProgress, summaryLine, terminalProgress, type Display, type Progress } from "../util/progress.ts";
import type { Context } from "./command.ts";
import { remoteContext } from "./network-flags.ts";

const openedStorage = new WeakMap<Context, Promise<LayoutStore>>();

/**
 * Opens `<home>/storage`, migrating a pre-v0.3.0 layout first as kit does; once per command (later
 * calls with the same context share it; a failed open is tried again).
 */
export function openStorage(ctx: Context): Promise<LayoutStore> {
  let opened = openedStorage.get(ctx);
  if (!opened) {
    opened = openStorageNow(ctx);
    openedStorage.set(ctx, opened);
    opened.catch(() => openedStorage.delete(ctx));
  }
  return opened;
}

async function openStorageNow(ctx: Context): Promise<LayoutStore> {
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
 * A ModelKit argument: an OCI layout ({@link parseLayoutArg}) or one reference. Errors read
 * `Invalid arguments: <failure>: <why>` (with the form of a reference as the hint) and
 * `Invalid arguments: <multiple>` for comma-separated extra tags: each command's words, as kit's.
 */
export function parseKitArg(ctx: Context, arg: string, failure: string, multiple: string): KitLocation {
  const layout = parseLayoutArg(ctx, arg);
  if (layout) return layout;
  const { ref, explicit } = singleRef(arg, failure, multiple);
  return { kind: "reference", ref, explicit };
}

function singleRef(arg: string, failure: string, multiple: string): ReturnType<typeof parseRefArg> {
  const parsed = parseRefArg(arg, `Invalid arguments: ${failure}`);
  if (parsed.extraTags.length) throw new KitError(`Invalid arguments: ${multiple}`);
  return parsed;
}

/** A ModelKit argument of push and pull ({@link parseKitArg}); `what` says which argument. */
export function parseLocationArg(ctx: Context, arg: string, what: string): KitLocation {
  return parseKitArg(ctx, arg, `failed to parse reference ${arg}`, `${what} cannot include multiple tags`);
}

/** A reference argument (no layout) with the words of {@link parseLocationArg}. */
export function parseSingleRef(arg: string, what: string): ModelRef {
  return singleRef(arg, `failed to parse reference ${arg}`, `${what} cannot include multiple tags`).ref;
}

/**
 * A `--tag` argument to store a new ModelKit under: its repository and tags (kit's comma-separated
 * extra tags, empty ones dropped). `failure` starts a parse error; a digest is refused, `named`
 * starting that message.
 */
export function parseTagArg(text: string, failure: string, named: string): { repo: string; tags: string[] } {
  const { ref, extraTags } = parseRefArg(text, failure);
  if (ref.digest !== undefined) throw new KitError(`${named} names a digest; use a tag such as ${ref.registry}/${ref.repository}:latest`);
  return { repo: repoKey(ref), tags: [ref.tag, ...extraTags.filter((t) => t !== "")] };
}

/**
 * Runs the parse of command-line arguments: its errors read `Invalid arguments: <message>` (the
 * hint kept), as kit's.
 */
export async function invalidArguments<T>(parse: () => T | Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (e) {
    throw withContext("Invalid arguments", asKitError(e));
  }
}

/**
 * Runs `fn` with this command's progress display ({@link startProgress}, `done` its summary's
 * verb): finished after success, closed in any case. With `failure`, an error reads
 * `<failure>: <message>` (`Failed to unpack: ...`).
 */
export async function withProgress<R>(ctx: Context, done: string | undefined, failure: string | undefined, fn: (ui: ProgressUi) => Promise<R>): Promise<R> {
  const ui = startProgress(ctx, done);
  try {
    const r = await fn(ui);
    ui.finish();
    return r;
  } catch (e) {
    throw failure ? withContext(failure, asKitError(e)) : e;
  } finally {
    ui.close();
  }
}

/**
 * The registry session of a transfer: opened at once when `now` (its settings checked before
 * anything else), otherwise when first asked for.
 */
export async function transferSession(ctx: Context, net: NetworkOptions, log: Logger, now: boolean): Promise<() => Promise<RegistrySession>> {
  let opened: Promise<RegistrySession> | undefined = now ? Promise.resolve(await openSession(net, remoteContext(ctx, log))) : undefined;
  return () => (opened ??= openSession(net, remoteContext(ctx, log)));
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
