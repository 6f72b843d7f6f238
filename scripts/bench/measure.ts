/**
 * Timing and peak memory of one process run: wall time taken around `/usr/bin/time -v` (which
 * adds about a millisecond of spawning) and the peak resident set size that GNU time reports
 * (for a shell pipeline: the largest process of it). Start-up times of many short runs, the
 * write-rate probe, page-cache helpers, best-of and medians.
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const GNU_TIME = "/usr/bin/time";

export interface Sample {
  seconds: number;
  /** Peak RSS in bytes. */
  rss: number;
}

export interface RunSpec {
  /** argv; a shell pipeline is `["bash", "-c", "set -o pipefail; …"]`. */
  argv: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** Fails unless GNU time is installed (Debian package `time`). */
export function checkGnuTime(): void {
  if (!existsSync(GNU_TIME)) {
    throw new Error(`${GNU_TIME} is missing: install Debian's time package (apt-get install -y time)`);
  }
}

let scratch: string | undefined;
function timeOutputFile(): string {
  scratch ??= mkdtempSync(path.join(os.tmpdir(), "kit-bench-time-"));
  return path.join(scratch, "time.txt");
}

/** Removes the scratch directory used for GNU time's reports. */
export function cleanupMeasure(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** Thrown when a measured command was stopped by Ctrl-C (the bench then stops too). */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

function interrupted(r: { status: number | null; signal: NodeJS.Signals | null }): boolean {
  return r.status === 130 || r.signal === "SIGINT";
}

/** Runs `spec` once under GNU time; throws with the command's stderr when it fails. */
export function measure(spec: RunSpec): Sample {
  const out = timeOutputFile();
  rmSync(out, { force: true });
  const t0 = performance.now();
  const r = spawnSync(GNU_TIME, ["-v", "-o", out, ...spec.argv], {
    cwd: spec.cwd,
    env: spec.env ? { ...process.env, ...spec.env } : process.env,
    stdio: ["ignore", "ignore", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error) throw r.error;
  if (interrupted(r)) throw new Interrupted();
  if (r.status !== 0) {
    const stderr = r.stderr?.toString().trim() ?? "";
    throw new Error(`${spec.argv.join(" ")} exited with ${r.status ?? r.signal}${stderr ? `:\n${stderr}` : ""}`);
  }
  const report = readFileSync(out, "utf8");
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  if (!m) throw new Error(`GNU time printed no peak RSS for ${spec.argv.join(" ")}:\n${report}`);
  return { seconds, rss: Number(m[1]) * 1024 };
}

/** Runs a command and returns its stdout; throws with its stderr when it fails. */
export function run(argv: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    input: opts.input,
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (interrupted(r)) throw new Interrupted();
  if (r.status !== 0) {
    throw new Error(`${argv.join(" ")} exited with ${r.status ?? r.signal}:\n${r.stderr.toString().trim()}`);
  }
  return r.stdout.toString();
}

/** True when `cmd` is an executable on PATH. */
export function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** A shell pipeline as an argv (bash with pipefail, so a failing stage fails the run). */
export function pipeline(script: string): string[] {
  return ["bash", "-c", `set -o pipefail; ${script}`];
}

/** Single-quotes a path for the shell. */
export function sh(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Reads files or whole trees once so that timed runs find them in the page cache. */
export function warmPageCache(paths: string[]): void {
  for (const p of paths) run(pipeline(`tar cf - -C ${sh(path.dirname(p))} ${sh(path.basename(p))} | cat > /dev/null`));
}

/** Flushes dirty pages (the previous run's output) so they are not written back during the next run. */
export function syncDisks(): void {
  spawnSync("sync", [], { stdio: "ignore" });
}

/** Times many runs of a short command directly (no GNU time in between); returns the median seconds. */
export function medianRun(argv: string[], runs: number, env?: Record<string, string | undefined>): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(argv[0]!, argv.slice(1), { env: env ? { ...process.env, ...env } : process.env, stdio: ["ignore", "ignore", "pipe"] });
    times.push((performance.now() - t0) / 1000);
    if (r.error) throw r.error;
    if (interrupted(r)) throw new Interrupted();
    if (r.status !== 0) throw new Error(`${argv.join(" ")} exited with ${r.status ?? r.signal}:\n${r.stderr.toString().trim()}`);
  }
  return median(times);
}

/** What the write probe found: MiB/s into the page cache, and the state that rate means. */
export interface WriteRate {
  mibPerSecond: number;
  fast: boolean;
}

/**
 * Writes `bytes` of zeros into a new file under `dir` (dd, 1 MiB blocks, no sync), then removes it
 * and syncs. On some machines (this project's CI VM among them) writes into the page cache are
 * either absorbed at memory speed or, after sustained writing, throttled to the disk's rate: a
 * rate of 1 GiB/s or more is the fast state.
 */
export function probeWriteRate(dir: string, bytes: number): WriteRate {
  const file = path.join(dir, `write-probe-${process.pid}`);
  const mib = Math.max(1, Math.round(bytes / 2 ** 20));
  syncDisks();
  const t0 = performance.now();
  run(["dd", "if=/dev/zero", `of=${file}`, "bs=1M", `count=${mib}`, "status=none"]);
  const seconds = (performance.now() - t0) / 1000;
  rmSync(file, { force: true });
  syncDisks();
  const mibPerSecond = mib / seconds;
  return { mibPerSecond, fast: mibPerSecond >= 1024 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * The best (shortest) time and the largest peak RSS over several samples. On a shared machine
 * noise only ever adds time, so the best run is the closest to what the program costs.
 */
export function summarize(samples: Sample[]): Sample {
  return { seconds: Math.min(...samples.map((s) => s.seconds)), rss: Math.max(...samples.map((s) => s.rss)) };
}
