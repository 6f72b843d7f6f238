/**
 * Progress for long work (pack, unpack, push, pull). Library code only reports byte counts
 * through {@link Progress}, so it never touches the terminal; `cli/session.ts` picks a display:
 * bars on a terminal ({@link terminalProgress}: the layer, percent, rate and ETA), a plain line
 * per long transfer every few seconds without one ({@link lineProgress}, for CI logs), or none.
 * Both end with a summary line ({@link summaryLine}: `Pushed 1.9 GiB in 16.2 s (119 MiB/s)`).
 * @module
 */
import { formatBytes, terminalSafe } from "./log.ts";

/**
 * The progress display of a command: `plain` or `fancy` bars on a terminal, periodic `lines`
 * without one, or `none` (`--progress none`, `-vvv`).
 */
export type ProgressMode = "none" | "plain" | "fancy" | "lines";

/** What library code sees: named tasks with byte counts. */
export interface Progress {
  task(title: string, total: number): ProgressTask;
  /** Clears the bars before a log line is printed, so lines and bars don't interleave. */
  suspend<T>(fn: () => T): T;
  close(): void;
}
export interface ProgressTask {
  /** Bytes moved (negative when a transfer starts over). */
  add(bytes: number): void;
  /** Bytes that were there before (a resumed transfer): they count toward the bar, not toward the rate. */
  already(bytes: number): void;
  done(): void;
}

export const noTask: ProgressTask = { add() {}, already() {}, done() {} };

export const noProgress: Progress = {
  task: () => noTask,
  suspend: (fn) => fn(),
  close() {},
};

/** A {@link Progress} the CLI drives: it is told about Ctrl-C and asked for the summary. */
export interface Display extends Progress {
  /** Draws or reports now (the display's own timer does this too). */
  tick(): void;
  /** Ctrl-C: clears the bars at once (and the `^C` the terminal echoed) and draws nothing more. */
  interrupt(): void;
  /** Bytes moved since the display started, the seconds since then, and whether the user saw progress. */
  stats(): { bytes: number; seconds: number; shown: boolean };
}

// ---- formatting ----

/** `512 B/s`, `9.5 MiB/s`, `119 MiB/s`: three significant digits at most, 1024-based units. */
export function formatRate(bytesPerSecond: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = Math.max(0, bytesPerSecond);
  let i = 0;
  // Rounded as printed: 1023.7 KiB/s is shown as 1.0 MiB/s, never as 1024 KiB/s.
  while (i < units.length - 1 && (v >= 10 ? Math.round(v) : Math.round(v * 10) / 10) >= 1000) {
    v /= 1024;
    i++;
  }
  const n = i === 0 ? String(Math.round(v)) : v >= 9.95 ? String(Math.round(v)) : v.toFixed(1);
  return `${n} ${units[i]}/s`;
}

/** How long something took: `0.04 s`, `16.2 s`, `2 min 5 s`, `1 h 2 min`. */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 0.995) return `${s.toFixed(2)} s`;
  if (s < 59.95) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The time left, compact for a bar: `5s`, `2m05s`, `1h02m`, `>99h`. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  const m = Math.ceil(s / 60);
  if (m >= 100 * 60) return ">99h";
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** `Pushed 1.9 GiB in 16.2 s (119 MiB/s)`. */
export function summaryLine(verb: string, bytes: number, seconds: number): string {
  const rate = seconds > 0 ? ` (${formatRate(bytes / seconds)})` : "";
  return `${verb} ${formatBytes(bytes)} in ${formatElapsed(seconds)}${rate}`;
}

/** Whole percent, 100 only when complete. */
function percent(done: number, total: number): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  if (done >= total) return 100;
  return Math.min(99, Math.floor((Math.max(0, done) / total) * 100));
}

/** Seconds left at `rate`, undefined when unknown or complete. */
function etaSeconds(v: TaskView): number | undefined {
  if (!v.rate || v.rate <= 0 || v.total <= 0 || v.done >= v.total) return undefined;
  return (v.total - v.done) / v.rate;
}

/**
 * Columns a string takes on a terminal: East Asian wide characters and most emoji take two,
 * combining marks and zero-width characters none.
 */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

function charWidth(c: number): number {
  if ((c >= 0x300 && c <= 0x36f) || (c >= 0x1ab0 && c <= 0x1aff) || (c >= 0x1dc0 && c <= 0x1dff) ||
    (c >= 0x20d0 && c <= 0x20ff) || (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xfe20 && c <= 0xfe2f) ||
    (c >= 0x200b && c <= 0x200f) || c === 0x2060 || c === 0xfeff) return 0;
  if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) || (c >= 0x3041 && c <= 0x33ff) ||
    (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd)) return 2;
  return 1;
}

/** `s` cut to `width` columns (ending in `…` when cut) and padded with spaces to exactly `width`. */
export function fitWidth(s: string, width: number): string {
  if (width <= 0) return "";
  let w = displayWidth(s);
  if (w <= width) return s + " ".repeat(width - w);
  let out = "";
  w = 0;
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…" + " ".repeat(width - 1 - w);
}

/** What a line shows of one task. `rate` is bytes per second, undefined until known. */
export interface TaskView {
  title: string;
  total: number;
  done: number;
  rate?: number;
}

export interface BarStyle {
  style: "plain" | "fancy";
  /** Colour the filled part of the bar (a terminal without NO_COLOR). */
  colour: boolean;
}

const BAR_MIN = 10;
const BAR_MAX = 40;
const TITLE_MIN = 12;
/** Widths the optional fields are padded to, so the bars of several lines stay aligned. */
const ETA_WIDTH = 9; // "ETA 1h02m"
const RATE_WIDTH = 9; // "999 MiB/s"
const BYTES_WIDTH = 19; // "512.0 MiB / 1.1 GiB"

/**
 * One bar line, at most `columns - 1` columns wide (the last column would wrap on some
 * terminals): `title |=====>----| 45%  512.0 MiB / 1.1 GiB  119 MiB/s  ETA 5s`. On narrow
 * terminals the byte counts go first, then the rate, then the ETA; the title shrinks to 12
 * columns and the bar to 10 before that, and below that only the title and the percent remain.
 * `titleWidth` is the width the titles of all lines are padded to.
 */
export function barLine(v: TaskView, columns: number, titleWidth: number, look: BarStyle): string {
  const avail = Math.max(0, columns - 1);
  const pct = `${percent(v.done, v.total)}%`.padStart(4);
  const title = terminalSafe(v.title, true);
  const want = Math.max(1, titleWidth);
  const eta = etaSeconds(v);
  const optional = {
    eta: (eta === undefined ? "" : `ETA ${formatEta(eta)}`).padEnd(ETA_WIDTH),
    rate: (v.rate === undefined ? "" : formatRate(v.rate)).padStart(RATE_WIDTH),
    bytes: `${formatBytes(Math.max(0, v.done))} / ${formatBytes(v.total)}`.padStart(BYTES_WIDTH),
  };
  let titleW = Math.min(want, TITLE_MIN);
  // title, space, |bar|, space, percent
  let used = titleW + 1 + BAR_MIN + 2 + 1 + pct.length;
  if (used > avail) {
    // Too narrow for a bar: the title and the percent, or what fits of them.
    const t = Math.max(0, Math.min(want, avail - pct.length - 1));
    return t > 0 ? `${fitWidth(title, t)} ${pct}` : pct.slice(0, avail);
  }
  const shown = new Set<keyof typeof optional>();
  for (const k of ["eta", "rate", "bytes"] as const) {
    const w = 2 + optional[k].length;
    if (used + w <= avail) {
      shown.add(k);
      used += w;
    }
  }
  const growTitle = Math.min(avail - used, want - titleW);
  titleW += growTitle;
  used += growTitle;
  const barW = BAR_MIN + Math.min(avail - used, BAR_MAX - BAR_MIN);
  let line = `${fitWidth(title, titleW)} |${drawBar(v, barW, look)}| ${pct}`;
  for (const k of ["bytes", "rate", "eta"] as const) if (shown.has(k)) line += `  ${optional[k]}`;
  return line.trimEnd();
}

function drawBar(v: TaskView, width: number, look: BarStyle): string {
  const frac = v.total > 0 ? Math.min(1, Math.max(0, v.done) / v.total) : v.done > 0 ? 1 : 0;
  const filled = Math.floor(frac * width);
  let full: string;
  let empty: string;
  if (look.style === "fancy") {
    full = "█".repeat(filled);
    empty = "░".repeat(width - filled);
  } else {
    full = filled === 0 ? "" : filled === width ? "=".repeat(width) : "=".repeat(filled - 1) + ">";
    empty = "-".repeat(width - filled);
  }
  return (look.colour && full ? `\x1b[36m${full}\x1b[0m` : full) + empty;
}

/** The plain line of a long transfer: `model tiny (tiny.gguf): 45% (512.0 MiB / 1.1 GiB), 119 MiB/s, ETA 5s`. */
export function plainLine(v: TaskView): string {
  let s = `${terminalSafe(v.title, true)}: ${percent(v.done, v.total)}% (${formatBytes(Math.max(0, v.done))} / ${formatBytes(v.total)})`;
  if (v.rate !== undefined) s += `, ${formatRate(v.rate)}`;
  const eta = etaSeconds(v);
  if (eta !== undefined) s += `, ETA ${formatEta(eta)}`;
  return s;
}

// ---- tracking ----

/** Rates are measured over this much recent time, so the ETA follows a changing speed. */
const RATE_WINDOW_MS = 5000;
/** No rate is shown before a task has run this long (the first chunks say little). */
const RATE_MIN_MS = 500;

interface TaskState {
  title: string;
  total: number;
  /** Bytes the bar counts (moved and already there). */
  done: number;
  /** Bytes moved by this run. */
  moved: number;
  started: number;
  /** (time, moved) samples within the rate window, oldest first. */
  samples: { t: number; n: number }[];
  /** Next time a plain line is due (line displays). */
  nextReport: number;
}

/** The tasks of a display and its byte count; the clock is injectable for tests. */
class Tracker {
  readonly live: TaskState[] = [];
  moved = 0;
  tasks = 0;
  readonly started: number;
  constructor(readonly now: () => number) {
    this.started = now();
  }
  open(title: string, total: number, nextReport: number): TaskState {
    const t = this.now();
    const s: TaskState = { title, total, done: 0, moved: 0, started: t, samples: [{ t, n: 0 }], nextReport: t + nextReport };
    this.live.push(s);
    this.tasks++;
    return s;
  }
  add(s: TaskState, n: number): void {
    s.done += n;
    s.moved += n;
    this.moved += n;
  }
  close(s: TaskState): void {
    const i = this.live.indexOf(s);
    if (i >= 0) this.live.splice(i, 1);
  }
  /** Records a sample of every live task and returns their views. */
  views(): TaskView[] {
    const t = this.now();
    return this.live.map((s) => {
      s.samples.push({ t, n: s.moved });
      while (s.samples.length > 2 && s.samples[1]!.t <= t - RATE_WINDOW_MS) s.samples.shift();
      const first = s.samples[0]!;
      const dt = t - first.t;
      const v: TaskView = { title: s.title, total: s.total, done: s.done };
      if (t - s.started >= RATE_MIN_MS && dt > 0) v.rate = ((s.moved - first.n) * 1000) / dt;
      return v;
    });
  }
  stats(shown: boolean) {
    return { bytes: this.moved, seconds: (this.now() - this.started) / 1000, shown };
  }
}

function taskOf(tracker: Tracker, s: TaskState, onDone: () => void): ProgressTask {
  let finished = false;
  return {
    add: (n) => tracker.add(s, n),
    already: (n) => void (s.done += n),
    done: () => {
      if (finished) return;
      finished = true;
      tracker.close(s);
      onDone();
    },
  };
}

const unref = (t: ReturnType<typeof setInterval>) => (t as { unref?: () => void }).unref?.();

// ---- displays ----

export interface TerminalOptions extends BarStyle {
  write: (s: string) => void;
  /** The terminal's width now (read at every redraw, so a resized window is followed). */
  columns: () => number;
  /** Milliseconds; `performance.now()` by default. */
  now?: () => number;
}

/** Bars drawn at most this many at once (the newest). */
const MAX_BARS = 8;

/**
 * Bars on a terminal, redrawn every 100 ms below the log lines. Every redraw starts with a
 * carriage return, so a `^C` the terminal echoed is cleared with the bars.
 */
export function terminalProgress(o: TerminalOptions): Display {
  const tracker = new Tracker(o.now ?? (() => performance.now()));
  let drawn = 0;
  let stopped = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const clear = () => {
    if (drawn > 0) o.write(`\r\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    if (stopped) return;
    const views = tracker.views().slice(-MAX_BARS);
    const columns = o.columns() || 80;
    const titleWidth = Math.min(40, Math.max(...views.map((v) => displayWidth(terminalSafe(v.title, true))), 1));
    const text = views.map((v) => barLine(v, columns, titleWidth, o)).join("\n");
    // One write: the old bars are replaced without a blank frame in between.
    const up = drawn > 0 ? `\r\x1b[${drawn}A\x1b[J` : "";
    if (up || text) o.write(up + (text ? text + "\n" : ""));
    drawn = views.length;
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    task(title, total) {
      const s = tracker.open(title, total, 0);
      if (!timer && !stopped) {
        timer = setInterval(draw, 100);
        unref(timer);
      }
      return taskOf(tracker, s, () => {
        draw();
        if (tracker.live.length === 0) stop();
      });
    },
    suspend(fn) {
      clear();
      try {
        return fn();
      } finally {
        if (tracker.live.length) draw();
      }
    },
    tick: draw,
    interrupt() {
      if (stopped) return;
      stop();
      clear();
      o.write("\r\x1b[K");
      stopped = true;
    },
    stats: () => tracker.stats(tracker.tasks > 0),
    close() {
      stop();
      clear();
      stopped = true;
    },
  };
}

export interface LineOptions {
  /** Receives each plain line (the CLI logs it at info level, to stdout). */
  report: (line: string) => void;
  /** A task's first line comes after this long, and another every time as long again. */
  periodMs: number;
  now?: () => number;
}

/**
 * Without a terminal (CI logs): a plain line for every transfer still running after
 * `periodMs`, and again every `periodMs`; short transfers print nothing.
 */
export function lineProgress(o: LineOptions): Display {
  const tracker = new Tracker(o.now ?? (() => performance.now()));
  let reported = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    const t = tracker.now();
    const views = tracker.views();
    tracker.live.forEach((s, i) => {
      if (t < s.nextReport) return;
      while (s.nextReport <= t) s.nextReport += o.periodMs;
      reported = true;
      o.report(plainLine(views[i]!));
    });
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    task(title, total) {
      const s = tracker.open(title, total, o.periodMs);
      if (!timer) {
        // Checked a few times per period, at least once a second.
        timer = setInterval(tick, Math.max(20, Math.min(1000, o.periodMs / 4)));
        unref(timer);
      }
      return taskOf(tracker, s, () => {
        if (tracker.live.length === 0) stop();
      });
    },
    suspend: (fn) => fn(),
    tick,
    interrupt: stop,
    stats: () => tracker.stats(reported),
    close: stop,
  };
}
