import { expect, test } from "bun:test";
import {
  barLine,
  displayWidth,
  fitWidth,
  formatElapsed,
  formatEta,
  formatRate,
  lineProgress,
  plainLine,
  summaryLine,
  terminalProgress,
  type TaskView,
} from "../../src/util/progress.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const plain = { style: "plain", colour: false } as const;

test("rates: three significant digits, 1024-based, never 1000 of a unit", () => {
  expect(formatRate(0)).toBe("0 B/s");
  expect(formatRate(512)).toBe("512 B/s");
  expect(formatRate(999)).toBe("999 B/s");
  expect(formatRate(1000)).toBe("1.0 KiB/s");
  expect(formatRate(9.5 * MiB)).toBe("9.5 MiB/s");
  expect(formatRate(9.97 * MiB)).toBe("10 MiB/s");
  expect(formatRate(119.4 * MiB)).toBe("119 MiB/s");
  expect(formatRate(1023.7 * 1024)).toBe("1.0 MiB/s");
  expect(formatRate(2.25 * GiB)).toBe("2.3 GiB/s");
  expect(formatRate(-5)).toBe("0 B/s");
});

test("elapsed times and ETAs", () => {
  expect(formatElapsed(0.04)).toBe("0.04 s");
  expect(formatElapsed(0.996)).toBe("1.0 s");
  expect(formatElapsed(16.24)).toBe("16.2 s");
  expect(formatElapsed(59.97)).toBe("1 min 0 s");
  expect(formatElapsed(125)).toBe("2 min 5 s");
  expect(formatElapsed(3720)).toBe("1 h 2 min");
  expect(formatEta(0.2)).toBe("1s");
  expect(formatEta(4.2)).toBe("5s");
  expect(formatEta(59.5)).toBe("1m00s");
  expect(formatEta(125)).toBe("2m05s");
  expect(formatEta(3601)).toBe("1h01m");
  expect(formatEta(100 * 3600)).toBe(">99h");
});

test("the summary line", () => {
  expect(summaryLine("Pushed", 2 * GiB, 16)).toBe("Pushed 2.0 GiB in 16.0 s (128 MiB/s)");
  expect(summaryLine("Unpacked", 1536, 0.5)).toBe("Unpacked 1.5 KiB in 0.50 s (3.0 KiB/s)");
  expect(summaryLine("Packed", 10, 0)).toBe("Packed 10 B in 0.00 s");
});

test("display widths: wide characters take two columns, combining marks none", () => {
  expect(displayWidth("model")).toBe(5);
  expect(displayWidth("数据集")).toBe(6);
  expect(displayWidth("e\u0301")).toBe(1);
  expect(fitWidth("abc", 5)).toBe("abc  ");
  expect(fitWidth("abcdef", 4)).toBe("abc…");
  expect(fitWidth("数据集合", 5)).toBe("数据…");
  expect(displayWidth(fitWidth("数据集合", 4))).toBe(4);
});

const view: TaskView = { title: "dataset training (data/train.csv)", total: GiB, done: 0.45 * GiB, rate: 119 * MiB };

test("a bar line on a wide terminal: title, bar, percent, bytes, rate and ETA", () => {
  const line = barLine(view, 120, 33, plain);
  expect(line).toBe(`dataset training (data/train.csv) |${"=".repeat(14)}>${"-".repeat(20)}|  45%  460.8 MiB / 1.0 GiB  119 MiB/s  ETA 5s`);
  expect(displayWidth(line)).toBeLessThanOrEqual(119);
});

test("narrow terminals drop the byte counts, then the rate, then the ETA, and never wrap", () => {
  const at = (cols: number) => barLine(view, cols, 33, plain);
  expect(at(80)).toContain("45%");
  expect(at(80)).toContain("460.8 MiB / 1.0 GiB");
  expect(at(80)).toContain("ETA 5s");
  expect(at(60)).not.toContain("MiB / ");
  expect(at(60)).toContain("119 MiB/s");
  expect(at(60)).toContain("ETA 5s");
  expect(at(50)).not.toContain("MiB/s");
  expect(at(50)).toContain("ETA 5s");
  expect(at(40)).not.toContain("ETA");
  expect(at(40)).toBe("dataset training (da… |===>------|  45%");
  expect(at(20)).toBe("dataset train…  45%");
  expect(at(5)).toBe(" 45%");
  expect(at(0)).toBe("");
  for (let cols = 0; cols <= 200; cols++) {
    for (const title of [view.title, "数据集 训练数据 (数据/训练.csv)", "x"]) {
      expect(displayWidth(barLine({ ...view, title }, cols, Math.min(40, displayWidth(title)), plain))).toBeLessThanOrEqual(Math.max(0, cols - 1));
    }
  }
});

test("bars of several lines stay aligned", () => {
  const a = barLine({ ...view, title: "model tiny (tiny.gguf)" }, 100, 33, plain);
  const b = barLine({ ...view, title: "code src", done: 10, total: 10 * MiB, rate: undefined }, 100, 33, plain);
  expect(a.indexOf("|")).toBe(b.indexOf("|"));
  expect(a.lastIndexOf("|")).toBe(b.lastIndexOf("|"));
  expect(b).toContain("   0%");
  expect(b).not.toContain("ETA");
});

test("fancy style, colour only when allowed, escape sequences in titles made safe", () => {
  const fancy = barLine({ ...view, done: GiB }, 100, 20, { style: "fancy", colour: false });
  expect(fancy).toContain("████");
  expect(fancy).toContain("100%");
  expect(fancy).not.toContain("\x1b");
  expect(barLine(view, 100, 20, { style: "plain", colour: true })).toContain("\x1b[36m=");
  const hostile = barLine({ ...view, title: "U \x1b]0;x\x07" }, 100, 20, plain);
  expect(hostile).toContain("U \\u001b]0;x\\u0007");
  expect(hostile).not.toContain("\x07");
});

test("the plain line", () => {
  expect(plainLine(view)).toBe("dataset training (data/train.csv): 45% (460.8 MiB / 1.0 GiB), 119 MiB/s, ETA 5s");
  expect(plainLine({ title: "model m", total: 100, done: 0 })).toBe("model m: 0% (0 B / 100 B)");
});

/** A fake clock in milliseconds. */
function clock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

/** Bars on a terminal `columns` wide with a fake clock `c`; `out.text` is what was written. */
function bars(columns: number) {
  const c = clock();
  const out = { text: "" };
  const p = terminalProgress({ write: (s) => void (out.text += s), columns: () => columns, style: "plain", colour: false, now: c.now });
  return { c, out, p };
}

test("terminal bars: drawn with percent, rate and ETA; cleared from the first column; summary figures", () => {
  const { c, out, p } = bars(100);
  const t = p.task("model tiny (tiny.gguf)", 100 * MiB);
  c.t = 1000;
  t.add(10 * MiB);
  c.t = 2000;
  t.add(10 * MiB);
  p.tick();
  expect(out.text).toContain("model tiny (tiny.gguf) |");
  expect(out.text).toContain(" 20%");
  expect(out.text).toContain("10 MiB/s");
  expect(out.text).toContain("ETA 8s");
  out.text = "";
  p.suspend(() => {});
  // Back to the first column before moving up: a `^C` echoed after the bars leaves nothing behind.
  expect(out.text.startsWith("\r\x1b[1A\x1b[J")).toBe(true);
  t.done();
  expect(p.stats()).toEqual({ bytes: 20 * MiB, seconds: 2, shown: true });
  p.close();
});

test("Ctrl-C clears the bars and the echoed ^C at once and nothing is drawn after", () => {
  const { c, out, p } = bars(80);
  p.task("a", 10).add(5);
  p.task("b", 10).add(5);
  p.tick();
  out.text = "";
  p.interrupt();
  expect(out.text).toBe("\r\x1b[2A\x1b[J\r\x1b[K");
  out.text = "";
  p.tick();
  p.suspend(() => {});
  p.task("c", 10).add(1);
  p.tick();
  p.close();
  expect(out.text).toBe("");
});

test("a resumed transfer: the bar counts what was there, the rate and the summary do not", () => {
  const { c, out, p } = bars(120);
  const t = p.task("model m", 100 * MiB);
  t.already(50 * MiB);
  c.t = 1000;
  t.add(10 * MiB);
  p.tick();
  expect(out.text).toContain(" 60%");
  expect(out.text).toContain("10 MiB/s");
  expect(out.text).toContain("ETA 4s");
  expect(p.stats().bytes).toBe(10 * MiB);
  p.close();
});

test("the rate follows the recent speed", () => {
  const { c, out, p } = bars(120);
  const t = p.task("m", 10 * GiB);
  for (let s = 1; s <= 10; s++) {
    c.t = s * 1000;
    t.add(s <= 5 ? 100 * MiB : 10 * MiB);
    p.tick();
  }
  out.text = "";
  p.tick();
  expect(out.text).toContain("10 MiB/s");
  p.close();
});

test("plain lines: only for transfers still running after the period, then once per period", () => {
  const c = clock();
  const lines: string[] = [];
  const p = lineProgress({ report: (l) => void lines.push(l), periodMs: 10_000, now: c.now });
  const short = p.task("code src", 10 * MiB);
  const long = p.task("model big (big.gguf)", 100 * MiB);
  c.t = 3000;
  short.add(10 * MiB);
  short.done();
  long.add(30 * MiB);
  p.tick();
  c.t = 9999;
  p.tick();
  expect(lines).toEqual([]);
  expect(p.stats().shown).toBe(false);
  c.t = 10_000;
  long.add(40 * MiB);
  p.tick();
  c.t = 15_000;
  p.tick();
  expect(lines).toEqual(["model big (big.gguf): 70% (70.0 MiB / 100.0 MiB), 5.7 MiB/s, ETA 6s"]);
  c.t = 20_000;
  long.add(10 * MiB);
  p.tick();
  expect(lines.length).toBe(2);
  expect(lines[1]).toStartWith("model big (big.gguf): 80% (80.0 MiB / 100.0 MiB), ");
  long.done();
  expect(p.stats()).toEqual({ bytes: 90 * MiB, seconds: 20, shown: true });
  p.close();
});
