import { describe, expect, test } from "bun:test";
import {
  formatTime,
  formatYamlFloat,
  goParseInt,
  isBase60Float,
  isOldBool,
  parseTimestamp,
  resolveScalar,
  YamlTimestamp,
} from "../../src/kitfile/values.ts";

describe("resolveScalar (yaml.v3 resolve)", () => {
  test("untagged plain scalars", () => {
    expect(resolveScalar("", "012")).toEqual({ tag: "!!int", value: 10n });
    expect(resolveScalar("", "-0b11")).toEqual({ tag: "!!int", value: -3n });
    expect(resolveScalar("", "0o777")).toEqual({ tag: "!!int", value: 511n });
    expect(resolveScalar("", "-9223372036854775809")).toEqual({ tag: "!!float", value: -9223372036854775809 });
    expect(resolveScalar("", "+18446744073709551615")).toEqual({ tag: "!!float", value: 18446744073709551615 });
    expect(resolveScalar("", "1.")).toEqual({ tag: "!!float", value: 1 });
    expect(resolveScalar("", ".e1")).toEqual({ tag: "!!str", value: ".e1" });
    expect(resolveScalar("", "NaN")).toEqual({ tag: "!!str", value: "NaN" });
    expect(resolveScalar("", "Yes")).toEqual({ tag: "!!str", value: "Yes" });
    expect(resolveScalar("", "")).toEqual({ tag: "!!null", value: null });
    expect(resolveScalar("", "0x_1F")).toEqual({ tag: "!!int", value: 31n });
  });

  test("explicit tags", () => {
    expect(resolveScalar("!!str", "true")).toEqual({ tag: "!!str", value: "true" });
    expect(resolveScalar("!!float", "7")).toEqual({ tag: "!!float", value: 7 });
    expect(resolveScalar("!!null", "~")).toEqual({ tag: "!!null", value: null });
    expect(resolveScalar("!!timestamp", "2024-01-02").tag).toBe("!!timestamp");
    expect(resolveScalar("!custom", "5")).toEqual({ tag: "!custom", value: "5" });
    expect(() => resolveScalar("!!bool", "yes")).toThrow("cannot decode !!str `yes` as a !!bool");
    expect(() => resolveScalar("!!int", "1.5")).toThrow("cannot decode !!float `1.5` as a !!int");
    expect(() => resolveScalar("!!null", "x")).toThrow("cannot decode !!str `x` as a !!null");
  });
});

describe("Go number and time helpers", () => {
  test("goParseInt: ParseInt / ParseUint with base 0", () => {
    expect(goParseInt("0", true)).toBe(0n);
    expect(goParseInt("-0", true)).toBe(0n);
    expect(goParseInt("0X1f", true)).toBe(31n);
    expect(goParseInt("09", true)).toBeUndefined();
    expect(goParseInt("+5", false)).toBeUndefined();
    expect(goParseInt("9223372036854775808", true)).toBeUndefined();
    expect(goParseInt("-9223372036854775808", true)).toBe(-9223372036854775808n);
    expect(goParseInt("18446744073709551616", false)).toBeUndefined();
    expect(goParseInt("", true)).toBeUndefined();
  });

  test("formatYamlFloat: strconv.FormatFloat(f, 'g', -1, 64)", () => {
    const cases: [number, string][] = [
      [1e6, "1e+06"], [999999, "999999"], [1e-4, "0.0001"], [1.5e-5, "1.5e-05"], [123.456, "123.456"],
      [1e100, "1e+100"], [-1e-100, "-1e-100"], [0.1 + 0.2, "0.30000000000000004"], [2 ** 53, "9.007199254740992e+15"],
    ];
    for (const [f, want] of cases) expect(formatYamlFloat(f)).toBe(want);
  });

  test("YAML 1.1 look-alikes that yaml.v3 quotes", () => {
    expect(["y", "NO", "Off", "on"].every(isOldBool)).toBe(true);
    expect(["yEs", "true", "oN"].some(isOldBool)).toBe(false);
    expect(["1:20", "-1:20:30.5", "190:20:30"].every(isBase60Float)).toBe(true);
    expect(["1:60", "a:1", ":1", "1:2a"].some(isBase60Float)).toBe(false);
  });

  test("timestamps: Go layouts, ranges, RFC 3339 text", () => {
    expect(parseTimestamp("2024-01-02 3:4:5")!.toRFC3339Nano()).toBe("2024-01-02T03:04:05Z");
    expect(parseTimestamp("2024-01-02   10:00:00")!.toRFC3339Nano()).toBe("2024-01-02T10:00:00Z");
    expect(parseTimestamp("2024-01-02T10:00:00,5Z")!.toRFC3339Nano()).toBe("2024-01-02T10:00:00.5Z");
    expect(parseTimestamp("2024-01-02T10:00:00.1234567891Z")!.nanosecond).toBe(123456789);
    expect(parseTimestamp("2024-01-02T10:00:00+00:00")!.toRFC3339Nano()).toBe("2024-01-02T10:00:00Z");
    expect(parseTimestamp("0001-01-01")!.toRFC3339Nano()).toBe("0001-01-01T00:00:00Z");
    expect(parseTimestamp("2024-01-02T10:00Z")).toBeUndefined();
    expect(parseTimestamp("2024-01-02T10:00:60Z")).toBeUndefined();
    expect(parseTimestamp("2024-01-02T10:00:00+0200")).toBeUndefined();
    expect(parseTimestamp("2024-01-02x")).toBeUndefined();
    const t = new YamlTimestamp(0, 5, -3600);
    expect(t.getTime()).toBe(0);
    expect(t.toRFC3339Nano()).toBe("1969-12-31T23:00:00.000000005-01:00");
    expect(formatTime(new Date(Date.UTC(2000, 0, 1, 0, 0, 0, 10)))).toBe("2000-01-01T00:00:00.01Z");
  });
});
