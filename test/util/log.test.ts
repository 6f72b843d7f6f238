import { expect, test } from "bun:test";
import { createLogger, formatBytes, terminalSafe, type Level } from "../../src/util/log.ts";

function capture(level: Level, colour = false) {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger({ level, colour, sink: { out: (s) => void out.push(s), err: (s) => void err.push(s) } });
  return { log, out, err };
}

test("at level info only warnings and errors carry prefixes; streams split", () => {
  const { log, out, err } = capture("info");
  log.debug("hidden");
  log.info("saved model layer");
  log.warn("careful");
  log.error("broken\n");
  expect(out).toEqual(["Saved model layer\n"]);
  expect(err).toEqual(["[WARN ] Careful\n", "[ERROR] Broken\n"]);
});

test("a line that starts with a layout location keeps it as written (not Oci:)", () => {
  const { log, out, err } = capture("info");
  log.error("oci-archive:/x/m.tar holds 2 ModelKits");
  log.info("oci:/x/d:v1 is not a ModelKit");
  log.info("ocean");
  expect(err).toEqual(["[ERROR] oci-archive:/x/m.tar holds 2 ModelKits\n"]);
  expect(out).toEqual(["oci:/x/d:v1 is not a ModelKit\n", "Ocean\n"]);
});

test("at other levels every line is prefixed", () => {
  const { log, out } = capture("trace");
  log.trace("t");
  log.debug("d");
  log.info("i");
  expect(out).toEqual(["[TRACE] T\n", "[DEBUG] D\n", "[INFO ] I\n"]);
});

test("colour wraps only the prefix", () => {
  const { log, err } = capture("info", true);
  log.error("x");
  expect(err).toEqual(["\x1b[0;31m[ERROR] \x1b[0m" + "X\n"]);
});

test("formatBytes as kit", () => {
  const cases: Array<[number, string]> = [
    [0, "0 B"], [1023, "1023 B"], [1024, "1.0 KiB"], [4608, "4.5 KiB"], [1024 * 1024 - 1, "1023.9 KiB"],
    [2048, "2.0 KiB"], [1024 ** 3, "1.0 GiB"], [1.99 * 1024 ** 2, "1.9 MiB"], [2 ** 60, "1024.0 PiB"], [5 * 1024 ** 4, "5.0 TiB"],
  ];
  for (const [n, s] of cases) expect(formatBytes(n)).toBe(s);
});

test("terminalSafe writes control characters as JSON escapes; tab and newline stay unless in a line", () => {
  const hostile = "a\x1b[31mb\x07c\rd\x08e\x9b1mf\x7fg\u202eh\ti\nj\x00";
  expect(terminalSafe(hostile)).toBe("a\\u001b[31mb\\u0007c\\u000dd\\u0008e\\u009b1mf\\u007fg\\u202eh\ti\nj\\u0000");
  expect(terminalSafe("x\ty\nz", true)).toBe("x\\u0009y\\u000az");
  expect(terminalSafe("plain ünïcödé ✓")).toBe("plain ünïcödé ✓");
  // inside a JSON string the escape is JSON's own: the value is unchanged
  expect(JSON.parse(terminalSafe(JSON.stringify({ k: "\x9b\u202e" })))).toEqual({ k: "\x9b\u202e" });
});

test("log lines are made terminal-safe; print is exact unless stdout is a terminal", () => {
  const { log, out, err } = capture("info", true);
  log.info("name \x1b]0;title\x07");
  log.error("body \x1b[2J");
  expect(out).toEqual(["Name \\u001b]0;title\\u0007\n"]);
  expect(err).toEqual(["\x1b[0;31m[ERROR] \x1b[0m" + "Body \\u001b[2J\n"]);
  log.print("raw\x1b[1m\n");
  expect(out[1]).toBe("raw\x1b[1m\n");
  const tty: string[] = [];
  createLogger({ level: "info", colour: false, terminal: true, sink: { out: (s) => void tty.push(s), err() {} } }).print("raw\x1b[1m\n");
  expect(tty).toEqual(["raw\\u001b[1m\n"]);
});
