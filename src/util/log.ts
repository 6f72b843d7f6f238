/**
 * kit's log format (docs/format.md#logging): info/debug/trace to stdout, warn/error to stderr; at level
 * `info` only warnings and errors carry a prefix, at any other level every line does; colour
 * wraps only the prefix, and only on a terminal without NO_COLOR.
 * @module
 */

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
  /** Raw text to stdout, no prefix and no newline added (e.g. `kit info` YAML). */
  print(text: string): void;
}

export interface LoggerOptions {
  level: Level;
  colour: boolean;
  sink: Sink;
}

export function createLogger(opts: LoggerOptions): Logger {
  const { level, colour, sink } = opts;
  const enabled = (l: Level) => RANK[l] >= RANK[level];
  const write = (l: Level, msg: string) => {
    if (!enabled(l)) return;
    let text = msg.length > 0 ? msg[0]!.toUpperCase() + msg.slice(1) : msg;
    if (!text.endsWith("\n")) text += "\n";
    const prefixed = level !== "info" || l === "warn" || l === "error";
    if (prefixed) {
      const p = PREFIX[l];
      text = (colour && COLOUR[l] ? COLOUR[l] + p + "\x1b[0m" : p) + text;
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
    print: (t) => sink.out(t),
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
