import { expect, test } from "bun:test";
import { createLogger, formatBytes, type Level } from "../../src/util/log.ts";

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
