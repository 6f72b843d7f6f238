/**
 * Progress bars for long work (pack, unpack, push, pull) on a terminal. Off when stdout is not a
 * terminal, at `--progress none`, and at `-vvv`; library code only reports byte counts through
 * {@link Progress}, so it never touches the terminal.
 * @module
 */
import { formatBytes, terminalSafe } from "./log.ts";

export type ProgressMode = "none" | "plain" | "fancy";

/** What library code sees: named tasks with byte counts. */
export interface Progress {
  task(title: string, total: number): ProgressTask;
  /** Clears the bars before a log line is printed, so lines and bars don't interleave. */
  suspend<T>(fn: () => T): T;
  close(): void;
}
export interface ProgressTask {
  add(bytes: number): void;
  done(): void;
}

export const noProgress: Progress = {
  task: () => ({ add() {}, done() {} }),
  suspend: (fn) => fn(),
  close() {},
};

interface Bar { title: string; total: number; done: number; finished: boolean; started: number }

/** Draws bars on a terminal writer, redrawing at most every 100 ms. */
export function terminalProgress(write: (s: string) => void, columns: number, style: "plain" | "fancy"): Progress {
  const bars: Bar[] = [];
  let drawn = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const width = Math.max(10, Math.min(60, columns - 50));
  const clear = () => {
    if (drawn > 0) write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const line = (b: Bar) => {
    const frac = b.total > 0 ? Math.min(1, b.done / b.total) : b.finished ? 1 : 0;
    const filled = Math.round(frac * width);
    const bar = style === "fancy"
      ? "█".repeat(filled) + "░".repeat(width - filled)
      : "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? (filled === width ? "=" : ">") : "") + "-".repeat(width - filled);
    const secs = Math.max(0.001, (performance.now() - b.started) / 1000);
    const rate = `${formatBytes(Math.round(b.done / secs))}/s`;
    const safe = terminalSafe(b.title, true);
    const title = safe.length > 24 ? safe.slice(0, 23) + "…" : safe.padEnd(24);
    return `${title} |${bar}| ${formatBytes(b.done)} / ${formatBytes(b.total)} ${rate}`.slice(0, columns - 1);
  };
  const draw = () => {
    clear();
    const live = bars.slice(-8);
    if (live.length === 0) return;
    write(live.map(line).join("\n") + "\n");
    drawn = live.length;
  };
  const ensureTimer = () => {
    if (!timer) {
      timer = setInterval(draw, 100);
      (timer as { unref?: () => void }).unref?.();
    }
  };
  return {
    task(title, total) {
      const b: Bar = { title, total, done: 0, finished: false, started: performance.now() };
      bars.push(b);
      ensureTimer();
      return {
        add(n) { b.done += n; },
        done() {
          b.finished = true;
          const i = bars.indexOf(b);
          if (i >= 0) bars.splice(i, 1);
          draw();
        },
      };
    },
    suspend(fn) {
      clear();
      try { return fn(); } finally { if (bars.length) draw(); }
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      clear();
    },
  };
}
