/**
 * The benchmark table: rows with our time, the reference time, their ratio (computed from runs
 * taken side by side, so machine noise mostly cancels), the goal, peak RSS and pass/miss; the
 * machine header; and writing the result into a markdown file between markers.
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
  /** Our time ÷ reference time must be at most this. */
  maxRatio?: number;
  /** Our time must be at most this. */
  maxSeconds?: number;
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
  /** Why the row was not measured ("not available yet: …"). */
  skipped?: string;
  /** The error that stopped this row. */
  error?: string;
}

export function ratio(row: Row): number | undefined {
  return row.ours && row.ref ? row.ours.seconds / row.ref.seconds : undefined;
}

/** pass / miss (with what missed), or the skip or error text. */
export function verdict(row: Row): string {
  if (row.error) {
    const lines = row.error.split("\n").map((l) => l.trim()).filter(Boolean);
    const last = lines.at(-1) ?? "";
    return `error: ${last.length > 160 ? `${last.slice(0, 157)}...` : last}`;
  }
  if (row.skipped) return row.skipped;
  if (!row.ours) return "not measured";
  const misses: string[] = [];
  const r = ratio(row);
  if (row.goal.maxRatio !== undefined && r !== undefined && r > row.goal.maxRatio) misses.push("ratio");
  if (row.goal.maxSeconds !== undefined && row.ours.seconds > row.goal.maxSeconds) misses.push("time");
  if (row.ours.rss >= MAX_RSS) misses.push("RSS");
  return misses.length ? `**miss** (${misses.join(", ")})` : "pass";
}

export function passed(row: Row): boolean {
  return verdict(row) === "pass";
}

function fmtSeconds(s: number): string {
  if (s < 1) return `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms`;
  return `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

function fmtRate(bytes: number, s: number): string {
  const mib = bytes / 2 ** 20 / s;
  return `${mib >= 100 ? mib.toFixed(0) : mib.toFixed(1)} MiB/s`;
}

function fmtTime(sample: Sample | undefined, bytes?: number): string {
  if (!sample) return "—";
  return bytes ? `${fmtSeconds(sample.seconds)} (${fmtRate(bytes, sample.seconds)})` : fmtSeconds(sample.seconds);
}

export function fmtRss(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}

const esc = (s: string) => s.replaceAll("|", "\\|");

/** The markdown table (header line first). */
export function table(rows: Row[]): string {
  const lines = [
    "| Row | Ours | Reference | Ratio | Goal | Peak RSS | Result |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const r = ratio(row);
    const ref = row.ref ? `${fmtTime(row.ref, row.bytes)}: ${row.refLabel ?? ""}` : row.refLabel && !row.ours ? row.refLabel : "—";
    lines.push(
      `| ${esc(row.name)} | ${fmtTime(row.ours, row.bytes)} | ${esc(ref)} | ${r === undefined ? "—" : `${r.toFixed(2)}×`} | ${esc(row.goal.text)} | ${row.ours ? fmtRss(row.ours.rss) : "—"} | ${esc(verdict(row))} |`,
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
