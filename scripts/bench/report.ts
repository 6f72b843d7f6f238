/**
 * The benchmark table: rows with our time, the reference time, their ratio (reference time ÷ our
 * time, so above 1 means kit is faster; computed from runs taken side by side, so machine noise
 * mostly cancels), the goal, peak RSS, the write state measured around the row and pass/miss;
 * and writing the result into a markdown file between markers.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Sample } from "./measure.ts";

export const BEGIN_MARKER = "<!-- bench:begin -->";
export const END_MARKER = "<!-- bench:end -->";

/** Peak RSS must stay under this in every row. */
export const MAX_RSS = 200_000_000;

export interface Goal {
  /** What the goal says, as printed. */
  text: string;
  /** Reference time ÷ our time must be at least this. */
  minRatio?: number;
  /** Our time must be at most this. */
  maxSeconds?: number;
  /** The size ({@link Row.size}) must be at most this many bytes. */
  maxBytes?: number;
  /** The ratio goal applies only when writes were fast (the page cache absorbing them). */
  fastWritesOnly?: boolean;
}

export interface Row {
  name: string;
  goal: Goal;
  /** Median of our runs (peak RSS: the largest of them). */
  ours?: Sample;
  /** Median of the reference runs. */
  ref?: Sample;
  /** The reference command as shown. */
  refLabel?: string;
  /** Bytes processed, to print a throughput beside the time. */
  bytes?: number;
  /** A size measured instead of a time (the binary). */
  size?: number;
  /** The write state measured before and after the row's runs ("fast (3100 MiB/s)", "slow", "fast → slow"). */
  writes?: string;
  /** True when writes were fast both before and after the row's runs. */
  fastWrites?: boolean;
  /** Why the row was not measured ("not available yet: …"). */
  skipped?: string;
  /** The error that stopped this row. */
  error?: string;
}

/** Reference time ÷ our time: above 1, kit is faster. */
export function ratio(row: Row): number | undefined {
  return row.ours && row.ref ? row.ref.seconds / row.ours.seconds : undefined;
}

/** pass / miss (with what missed), or the skip or error text. */
export function verdict(row: Row): string {
  if (row.error) {
    const lines = row.error.split("\n").map((l) => l.trim()).filter(Boolean);
    const last = lines.at(-1) ?? "";
    return `error: ${last.length > 160 ? `${last.slice(0, 157)}...` : last}`;
  }
  if (row.skipped) return row.skipped;
  if (row.size !== undefined) return row.goal.maxBytes !== undefined && row.size > row.goal.maxBytes ? "**miss** (size)" : "pass";
  if (!row.ours) return "not measured";
  const misses: string[] = [];
  const r = ratio(row);
  let unjudged = false;
  if (row.goal.minRatio !== undefined && r !== undefined && r < row.goal.minRatio) {
    if (row.goal.fastWritesOnly && !row.fastWrites) unjudged = true;
    else misses.push("ratio");
  }
  if (row.goal.maxSeconds !== undefined && row.ours.seconds > row.goal.maxSeconds) misses.push("time");
  if (row.ours.rss >= MAX_RSS) misses.push("RSS");
  if (misses.length) return `**miss** (${misses.join(", ")})`;
  return unjudged ? "pass (ratio not judged: writes were slow)" : "pass";
}

export function passed(row: Row): boolean {
  return verdict(row).startsWith("pass");
}

function fmtSeconds(s: number): string {
  if (s < 1) return `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms`;
  return `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

function fmtRate(bytes: number, s: number): string {
  const mib = bytes / 2 ** 20 / s;
  return `${mib >= 100 ? mib.toFixed(0) : mib.toFixed(1)} MiB/s`;
}

function fmtTime(sample: Sample | undefined, bytes?: number, size?: number): string {
  if (size !== undefined) return fmtBytes(size);
  if (!sample) return "—";
  return bytes ? `${fmtSeconds(sample.seconds)} (${fmtRate(bytes, sample.seconds)})` : fmtSeconds(sample.seconds);
}

export function fmtRss(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}

const esc = (s: string) => s.replaceAll("|", "\\|");

/** The markdown table (header line first). */
export function table(rows: Row[]): string {
  const lines = [
    "| Row | Ours | Reference | Ratio | Goal | Peak RSS | Writes | Result |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const r = ratio(row);
    const ref = row.ref ? `${fmtTime(row.ref, row.bytes)}: ${row.refLabel ?? ""}` : row.refLabel && !row.ours ? row.refLabel : "—";
    lines.push(
      `| ${esc(row.name)} | ${fmtTime(row.ours, row.bytes, row.size)} | ${esc(ref)} | ${r === undefined ? "—" : `${r.toFixed(2)}×`} | ${esc(row.goal.text)} | ${row.ours ? fmtRss(row.ours.rss) : "—"} | ${row.writes ?? "—"} | ${esc(verdict(row))} |`,
    );
  }
  return lines.join("\n");
}

/** Replaces the text between the markers of `file` with `body`, keeping everything around it. */
export function writeBetweenMarkers(file: string, body: string): void {
  const text = readFileSync(file, "utf8");
  const b = text.indexOf(BEGIN_MARKER);
  const e = text.indexOf(END_MARKER);
  if (b < 0 || e < 0 || e < b) {
    throw new Error(`${file} has no ${BEGIN_MARKER} … ${END_MARKER} section to write the results into`);
  }
  const out = `${text.slice(0, b + BEGIN_MARKER.length)}\n${body.trimEnd()}\n${text.slice(e)}`;
  writeFileSync(file, out);
}
