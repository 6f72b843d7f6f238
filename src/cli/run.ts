/**
 * Runs one kit invocation: finds the command, parses flags, applies the global options (the
 * pre-run hook) and calls the command. Returns the exit code; `main.ts` is the only caller
 * that exits.
 * @module
 */
import { createLogger, LEVELS, terminalSafe, type Level, type Logger, type Sink } from "../util/log.ts";
import { CancelledError, KitError, UsageError, asKitError, errorMessage, isInternalError } from "../util/errors.ts";
import { defaultHomeSources, resolveHome } from "../util/paths.ts";
import { buildInfo } from "../util/build-info.ts";
import { checkArgs, commandPath, findSubcommand, renderHelp, renderUsage, subcommand, unknownCommandMessage, type Command, type Context } from "./command.ts";
import { parseFlags, type FlagTable } from "./flags.ts";
import { globalFlags } from "./globals.ts";
import type { ProgressMode } from "../util/progress.ts";

export interface Io extends Sink {
  /** May be a getter: answering it can cost milliseconds, so it is read only when needed. */
  readonly stdoutIsTTY: boolean;
  readonly columns: number;
  stdin: Context["stdin"];
  env: Record<string, string | undefined>;
  cwd: string;
  signal: AbortSignal;
  platform: NodeJS.Platform;
}

/** Finds (and loads) the deepest sub-command named by the leading non-flag words of argv. */
async function findCommand(root: Command, argv: string[]): Promise<{ cmd: Command; rest: string[] }> {
  let cmd = root;
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a.startsWith("-")) {
      rest.push(a);
      // a global/local flag that takes a separate value: keep the value with it
      const name = a.startsWith("--") ? a.slice(2) : undefined;
      const spec = name && !name.includes("=") ? (globalFlags as FlagTable)[name] ?? cmd.flags[name] : undefined;
      if (spec && spec.type !== "bool" && spec.type !== "count" && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    const sub = await subcommand(cmd, a);
    if (!sub) break;
    cmd = sub;
  }
  return { cmd, rest: [...rest, ...argv.slice(i)] };
}

export async function execute(root: Command, argv: string[], io: Io): Promise<number> {
  // Cobra's hidden completion request: the words are not parsed as flags.
  if (argv[0] === "__complete" || argv[0] === "__completeNoDesc") {
    const { completeWords, formatCompletion } = await import("./completion.ts");
    const c = await completeWords(root, globalFlags, argv.slice(1), { env: io.env, cwd: io.cwd, platform: io.platform });
    io.out(formatCompletion(c, argv[0] === "__complete"));
    return 0;
  }
  const { cmd, rest } = await findCommand(root, argv);
  const table: FlagTable = { ...globalFlags, ...cmd.flags, help: { type: "bool", short: "h", help: "" } };
  const usageFail = (msg: string) => {
    io.err(terminalSafe(`Error: ${msg}\n${renderUsage(cmd, globalFlags)}\n`));
    return 1;
  };
  let parsed;
  try {
    parsed = parseFlags(table, rest);
  } catch (e) {
    if (e instanceof UsageError) return usageFail(e.message);
    throw e;
  }
  const v = parsed.values;
  if (v.help) {
    io.out(renderHelp(cmd, globalFlags));
    return 0;
  }
  if (cmd === root && v.version) {
    io.out(`${root.name} version ${buildInfo.version}\n`);
    return 0;
  }
  if (cmd.helpTopic) {
    // `kit help [command…]`: cobra's texts, always exit 0.
    const found = await findSubcommand(root, parsed.args);
    if (found.rest.length > 0 && found.cmd === root) {
      io.err(`Unknown help topic [${parsed.args.map((a) => "`" + a + "`").join(" ")}]\n${renderUsage(root, globalFlags)}`);
    } else {
      io.out(renderHelp(found.cmd, globalFlags));
    }
    return 0;
  }
  if (!cmd.run) {
    if (parsed.args.length > 0 && cmd === root) {
      io.err(terminalSafe(`Error: ${unknownCommandMessage(cmd, parsed.args[0]!)}\nRun '${commandPath(cmd)} --help' for usage.\n`));
      return 1;
    }
    io.out(renderHelp(cmd, globalFlags));
    return 0;
  }
  const argErr = checkArgs(cmd, parsed.args) ??
    cmd.validateArgs?.(parsed.args, Object.assign(Object.fromEntries(Object.keys(cmd.flags).map((k) => [k, v[k]])), { changed: parsed.changed }) as never);
  if (argErr) return usageFail(argErr);

  // ---- pre-run hook (docs/format.md#global-flags) ----
  // Whether stdout is a terminal is asked only when an answer is needed (see Io.stdoutIsTTY).
  const tty = {
    get colour() {
      return !io.env.NO_COLOR && io.platform !== "win32" && io.stdoutIsTTY;
    },
    get terminal() {
      return io.stdoutIsTTY;
    },
  };
  const plainLog = createLogger({ level: "info", sink: io, get colour() { return tty.colour; }, get terminal() { return tty.terminal; } });
  const levelFlag = String(v["log-level"]);
  if (!LEVELS.includes(levelFlag as Level)) {
    plainLog.error(`Invalid log level '${levelFlag}'. Options are 'trace', 'debug', 'info', 'warn', 'error'`);
    return 1;
  }
  const verbosity = v.verbose as number;
  let level = levelFlag as Level;
  if (verbosity === 1) level = "debug";
  else if (verbosity >= 2) level = "trace";
  const log: Logger = createLogger({ level, sink: io, get colour() { return tty.colour; }, get terminal() { return tty.terminal; } });
  for (const w of parsed.warnings) log.warn(w);

  let progressFlag = String(v.progress);
  if (progressFlag === "false") progressFlag = "none";
  if (progressFlag === "cherry") progressFlag = "fancy";
  if (!["none", "plain", "fancy"].includes(progressFlag)) {
    log.error(`Invalid progress '${progressFlag}'. Options are 'none', 'plain', 'fancy'`);
    return 1;
  }
  const progressWanted = progressFlag as ProgressMode;

  let home: string;
  try {
    home = resolveHome({ ...defaultHomeSources(String(v.config)), env: io.env, cwd: io.cwd, platform: io.platform });
  } catch (e) {
    return fail(log, e, io.signal);
  }
  log.debug(v.config ? `Using config directory from flag: ${String(v.config)}` : `Using config directory: ${home}`);

  const ctx: Context = {
    log,
    home,
    get progress(): ProgressMode {
      if (verbosity >= 3 || progressWanted === "none") return "none";
      // Without a terminal that can move the cursor (a pipe, a CI log, TERM=dumb): plain lines.
      return !io.stdoutIsTTY || io.env.TERM === "dumb" ? "lines" : progressWanted;
    },
    verbosity,
    env: io.env,
    cwd: io.cwd,
    stdin: io.stdin,
    stdout: {
      get isTTY() {
        return io.stdoutIsTTY;
      },
      get columns() {
        return io.columns;
      },
      get colour() {
        return tty.colour;
      },
      write: (s) => io.out(s),
    },
    signal: io.signal,
    version: buildInfo.version,
  };
  try {
    const values = Object.assign(Object.fromEntries(Object.keys(cmd.flags).map((k) => [k, v[k]])), { changed: parsed.changed });
    await cmd.run(ctx, parsed.args, values as never);
    return 0;
  } catch (e) {
    return fail(log, e, io.signal);
  }
}

/**
 * Reports a command's error and returns the exit code (docs/format.md#exit-codes): 130 when it
 * was cancelled or interrupted, 2 for an internal error (a bug, see {@link isInternalError}),
 * otherwise 1.
 */
function fail(log: Logger, err: unknown, signal: AbortSignal): number {
  const e = asKitError(err);
  if (e instanceof CancelledError || signal.aborted) {
    reportError(log, e);
    return 130;
  }
  if (isInternalError(e)) {
    log.error(internalErrorText(e));
    return 2;
  }
  reportError(log, e);
  return 1;
}

/** How an internal error is shown: `Internal error: ` and the stack, so that it can be reported. */
export function internalErrorText(e: unknown): string {
  return `Internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
}

/** Prints an error the kit way: `[ERROR] <message>`, the hint, and at -vv the cause chain. */
export function reportError(log: Logger, err: unknown): void {
  const e = asKitError(err);
  log.error(errorMessage(e));
  if (e instanceof KitError && e.hint) log.info(e.hint);
  if (log.enabled("trace")) {
    let c = e instanceof Error ? e.cause : undefined;
    while (c) {
      log.trace(`Caused by: ${errorMessage(c)}`);
      c = c instanceof Error ? c.cause : undefined;
    }
    if (!(e instanceof KitError) && e instanceof Error && e.stack) log.trace(e.stack);
  }
}
