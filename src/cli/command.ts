/**
 * Commands: each command file exports one `defineCommand({...})`. Its flag table drives parsing,
 * `--help` and shell completion, so they cannot drift apart. `run` returns or throws; `run.ts`
 * prints the error and picks the exit code, and only `main.ts` exits.
 * @module
 */
import type { Logger } from "../util/log.ts";
import type { FlagTable, FlagValues } from "./flags.ts";
import { renderFlagUsages } from "./flags.ts";
import type { ProgressMode } from "../util/progress.ts";

/** What every command receives: resolved global options and the process's I/O. */
export interface Context {
  log: Logger;
  /** The kit home (`--config` → `$KITOPS_HOME` → platform default). */
  home: string;
  /**
   * Progress display after TTY detection: bars (`fancy`/`plain`) when stdout is a terminal,
   * periodic plain `lines` when it is not, `none` with `--progress none` or `-vvv`.
   */
  progress: ProgressMode;
  /** Log verbosity count from -v. */
  verbosity: number;
  env: Record<string, string | undefined>;
  cwd: string;
  stdin: {
    isTTY: boolean;
    /** Reads all of stdin as bytes. */
    readAll(): Promise<Uint8Array>;
    /** The stdin byte stream (for `-f -`). */
    stream(): ReadableStream<Uint8Array>;
    /** Prompts on the terminal; `secret` hides the typed text. */
    prompt(question: string, secret?: boolean): Promise<string>;
  };
  stdout: {
    isTTY: boolean;
    columns: number;
    /** Escape colours are allowed (a terminal, no `NO_COLOR`, not Windows). */
    colour: boolean;
    /** Raw text to stdout (progress bars' escape sequences): nothing is made safe here. */
    write(s: string): void;
  };
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** The kit binary's own version (goes into manifests). */
  version: string;
}

export interface ArgRule {
  min: number;
  max: number;
}

export interface CommandSpec<F extends FlagTable> {
  name: string;
  /** Cobra "Use" line, e.g. `pack [flags] DIRECTORY`. */
  use: string;
  short: string;
  long?: string;
  example?: string;
  aliases?: string[];
  args?: ArgRule;
  /**
   * Extra argument rules checked with the count rules, before the pre-run hook (cobra's custom
   * `Args` function): returns the message cobra prints as `Error: <msg>` plus usage.
   */
  validateArgs?: (args: string[], flags: FlagValues<F>) => string | undefined;
  flags: F;
  /**
   * What shell completion offers for the positional arguments: ModelKits in local storage,
   * directories or files; nothing when absent.
   */
  argCompletion?: "modelkit" | "dirs" | "files";
  /** Cobra's `help [command]`: prints the help of the named command instead of running. */
  helpTopic?: boolean;
  hidden?: boolean;
  subcommands?: Command[];
  /** Runs the command. Absent for pure groups (`kit dev`, `kit cache`), which print help. */
  run?: (ctx: Context, args: string[], flags: FlagValues<F>) => Promise<void>;
}

export interface Command extends CommandSpec<FlagTable> {
  parent?: Command;
  /** Set on a placeholder from {@link lazyCommand}: imports the real command. */
  load?: () => Promise<Command>;
}

export function defineCommand<F extends FlagTable>(spec: CommandSpec<F>): Command {
  const cmd = spec as unknown as Command;
  for (const s of cmd.subcommands ?? []) s.parent = cmd;
  return cmd;
}

/**
 * A command known to the command table by name and one-line description only: its module (flags,
 * help texts, and everything it runs) is imported when it is used ({@link loaded}), so that
 * `kit version` or `kit --help` does not load the registry client, the dev server or the template
 * engine. `short` must be the command's own (checked when it is loaded).
 */
export function lazyCommand(name: string, short: string, load: () => Promise<Command>): Command {
  return { name, use: name, short, flags: {}, load };
}

/** The real command behind a {@link lazyCommand} placeholder, which it replaces in its parent. */
export async function loaded(cmd: Command): Promise<Command> {
  if (!cmd.load) return cmd;
  const real = await cmd.load();
  if (real.name !== cmd.name || real.short !== cmd.short) {
    throw new Error(`The command table's entry "${cmd.name}: ${cmd.short}" does not match its module ("${real.name}: ${real.short}")`);
  }
  const siblings = cmd.parent?.subcommands;
  const i = siblings?.indexOf(cmd) ?? -1;
  if (siblings && i >= 0) siblings[i] = real;
  real.parent = cmd.parent;
  return real;
}

/** `cmd` with every placeholder below it loaded (for what walks the whole tree: completion). */
export async function loadAll(cmd: Command): Promise<Command> {
  const real = await loaded(cmd);
  for (const s of [...(real.subcommands ?? [])]) await loadAll(s);
  return real;
}

/** The sub-command of `cmd` named `name` (aliases count), loaded. */
export async function subcommand(cmd: Command, name: string): Promise<Command | undefined> {
  const sub = cmd.subcommands?.find((s) => s.name === name || s.aliases?.includes(name));
  return sub && loaded(sub);
}

/**
 * The deepest sub-command of `root` that the leading words of `names` name (aliases count);
 * `rest` is what is left.
 */
export async function findSubcommand(root: Command, names: readonly string[]): Promise<{ cmd: Command; rest: string[] }> {
  let cmd = root;
  let i = 0;
  for (; i < names.length; i++) {
    const sub = await subcommand(cmd, names[i]!);
    if (!sub) break;
    cmd = sub;
  }
  return { cmd, rest: names.slice(i) };
}

/** Cobra's Levenshtein distance (bytes, case-insensitive). */
function levenshtein(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[t.length]!;
}

/**
 * Cobra's "Did you mean this?" candidates for a mistyped sub-command of `cmd`: visible
 * commands (not `help`) within edit distance 2, or that start with what was typed.
 */
export function suggestionsFor(cmd: Command, typed: string): string[] {
  return (cmd.subcommands ?? [])
    .filter((c) => !c.hidden && !c.helpTopic)
    .filter((c) => levenshtein(typed, c.name) <= 2 || c.name.toLowerCase().startsWith(typed.toLowerCase()))
    .map((c) => c.name);
}

/** Cobra's `unknown command` error text, with its suggestions. */
export function unknownCommandMessage(cmd: Command, typed: string): string {
  const suggestions = suggestionsFor(cmd, typed);
  let msg = `unknown command "${typed}" for "${commandPath(cmd)}"`;
  if (suggestions.length) msg += "\n\nDid you mean this?\n" + suggestions.map((s) => `\t${s}\n`).join("");
  return msg;
}

export function commandPath(cmd: Command): string {
  return cmd.parent ? `${commandPath(cmd.parent)} ${cmd.name}` : cmd.name;
}

/** Cobra's arg-count messages. */
export function checkArgs(cmd: Command, args: string[]): string | undefined {
  const r = cmd.args;
  if (!r) return undefined;
  const n = args.length;
  if (r.min === r.max && n !== r.min) {
    if (r.min === 0) return `unknown command "${args[0]}" for "${commandPath(cmd)}"`;
    return `accepts ${r.min} arg(s), received ${n}`;
  }
  if (n < r.min) {
    if (r.max === Infinity) return `requires at least ${r.min} arg(s), only received ${n}`;
    return `accepts between ${r.min} and ${r.max} arg(s), received ${n}`;
  }
  if (n > r.max) {
    if (r.min === 0) return `accepts at most ${r.max} arg(s), received ${n}`;
    return `accepts between ${r.min} and ${r.max} arg(s), received ${n}`;
  }
  return undefined;
}

function useLine(cmd: Command): string {
  const parentPath = cmd.parent ? commandPath(cmd.parent) + " " : "";
  let use = cmd.use;
  if (!use.includes("[flags]")) use += " [flags]";
  return parentPath + use;
}

/** Cobra's usage text (what follows `Error: ...` and the tail of `--help`). */
export function renderUsage(cmd: Command, globals: FlagTable): string {
  const path = commandPath(cmd);
  const subs = (cmd.subcommands ?? []).filter((s) => !s.hidden);
  let s = "Usage:";
  if (cmd.run) s += `\n  ${useLine(cmd)}`;
  if (subs.length) s += `\n  ${path} [command]`;
  if (cmd.aliases?.length) s += `\n\nAliases:\n  ${[cmd.name, ...cmd.aliases].join(", ")}`;
  if (cmd.example) s += `\n\nExamples:\n${cmd.example.replace(/\n+$/, "")}`;
  if (subs.length) {
    const all = [...subs].sort((a, b) => a.name.localeCompare(b.name));
    const pad = Math.max(...all.map((c) => c.name.length), 11);
    s += "\n\nAvailable Commands:";
    for (const c of all) s += `\n  ${c.name.padEnd(pad)} ${c.short}`;
  }
  const isRoot = !cmd.parent;
  const local = { ...cmd.flags, ...(isRoot ? globals : {}), help: { type: "bool", short: "h", help: `help for ${cmd.name}` } } as FlagTable;
  s += `\n\nFlags:\n${renderFlagUsages(local).replace(/\s+$/, "")}`;
  if (!isRoot) s += `\n\nGlobal Flags:\n${renderFlagUsages(globals).replace(/\s+$/, "")}`;
  if (subs.length) s += `\n\nUse "${path} [command] --help" for more information about a command.`;
  return s + "\n";
}

/** Cobra's `--help` output: the long description, then the usage. */
export function renderHelp(cmd: Command, globals: FlagTable): string {
  const desc = (cmd.long ?? cmd.short).replace(/\s+$/, "");
  return `${desc}\n\n${renderUsage(cmd, globals)}`;
}
