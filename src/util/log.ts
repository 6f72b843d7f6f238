/**
 * kit's log format (docs/format.md#logging): info/debug/trace to stdout, warn/error to stderr; at level
 * `info` only warnings and errors carry a prefix, at any other level every line does; colour
 * wraps only the prefix, and only on a terminal without NO_COLOR. Every log line, and raw text
 * bound for a terminal, goes through {@link terminalSafe}: text from a registry or a Kitfile never
 * reaches a terminal as an escape sequence.
 * @module
 */

/**
 * C0 controls except tab and newline, DEL, C1 controls (U+0080–U+009F: 8-bit CSI, OSC, …) and the
 * Unicode bidirectional embedding/override/isolate marks, which can hide or reorder text.
 */
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "g");
/** The same, plus tab and newline: for one cell or one line of a layout. */
const UNSAFE_IN_LINE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_IN_LINE_ALL = new RegExp(UNSAFE_IN_LINE.source, "g");

/**
 * Text that is safe to write to a terminal: every control character that could start an escape
 * sequence, move the cursor (CR, BS) or ring the bell is written as its JSON escape (`\u001b`).
 * The JSON escape keeps a JSON document valid and equal in value. Tab and newline stay, unless
 * `inLine` (a table cell, a progress title: the layout must not break).
 */
export function terminalSafe(text: string, inLine = false): string {
  const [one, all] = inLine ? [UNSAFE_IN_LINE, UNSAFE_IN_LINE_ALL] : [UNSAFE, UNSAFE_ALL];
  if (!one.test(text)) return text;
  return text.replace(all, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

export type Level = "trace" | "debug" | "info" | "warn" | "error";
export const LEVELS: readonly Level[] = ["trace", "debug", "info", "warn", "error"];
const RANK: Record<Level, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };
const PREFIX: Record<Level, string> = {
  trace: "[TRACE] ",
  debug: "[DEBUG] ",
  info: "[INFO ] ",
  warn: "[WARN ] ",
  error: "[ERROR] ",
};
const COLOUR: Record<Level, string> = {
  trace: "",
  debug: "\x1b[0;34m",
  info: "\x1b[0;32m",
  warn: "\x1b[0;93m",
  error: "\x1b[0;31m",
};

/** Where log lines go. Injected so commands can be tested without spawning a process. */
export interface Sink {
  out(text: string): void;
  err(text: string): void;
}

export interface Logger {
  readonly level: Level;
  /** True when `level` messages would be printed. */
  enabled(level: Level): boolean;
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /**
   * Raw text to stdout, no prefix and no newline added (e.g. `kit info` YAML): exact when stdout
   * is not a terminal, made {@link terminalSafe} when it is.
   */
  print(text: string): void;
}

const LOCATION_START = /^oci(-archive)?:/;

export interface LoggerOptions {
  level: Level;
  colour: boolean;
  sink: Sink;
  /** Stdout is a terminal: {@link Logger.print} output is made safe too. */
  terminal?: boolean;
}

/** `colour` and `terminal` are read when a line needs them (they may be getters that are costly to answer). */
export function createLogger(opts: LoggerOptions): Logger {
  const { level, sink } = opts;
  const enabled = (l: Level) => RANK[l] >= RANK[level];
  const write = (l: Level, msg: string) => {
    if (!enabled(l)) return;
    let text = terminalSafe(msg);
    // kit's first letter upper-cased, except where a message starts with a layout location
    // (`oci:DIR …`, `oci-archive:FILE …`), which must stay as written to be copied back.
    if (text.length > 0 && !LOCATION_START.test(text)) text = text[0]!.toUpperCase() + text.slice(1);
    if (!text.endsWith("\n")) text += "\n";
    const prefixed = level !== "info" || l === "warn" || l === "error";
    if (prefixed) {
      const p = PREFIX[l];
      text = (COLOUR[l] && opts.colour ? COLOUR[l] + p + "\x1b[0m" : p) + text;
    }
    if (l === "warn" || l === "error") sink.err(text);
    else sink.out(text);
  };
  return {
    level,
    enabled,
    trace: (m) => write("trace", m),
    debug: (m) => write("debug", m),
    info: (m) => write("info", m),
    warn: (m) => write("warn", m),
    error: (m) => write("error", m),
    print: (t) => sink.out(opts.terminal ? terminalSafe(t) : t),
  };
}

/** A logger that records lines; for tests. */
export function memoryLogger(level: Level = "info"): Logger & { out: string[]; err: string[]; text(): string } {
  const out: string[] = [];
  const err: string[] = [];
  const l = createLogger({ level, colour: false, sink: { out: (t) => void out.push(t), err: (t) => void err.push(t) } });
  return Object.assign(l, { out, err, text: () => out.join("") });
}

/** A logger that prints nothing. */
export const silentLogger: Logger = createLogger({ level: "error", colour: false, sink: { out() {}, err() {} } });

/** kit's FormatBytes: one decimal rounded down, 1024-based units. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  for (const u of units) {
    v /= 1024;
    if (v < 1024) return `${(Math.floor(v * 10) / 10).toFixed(1)} ${u}`;
  }
  return `${(v / 1024).toFixed(1)} PiB`;
}
