import { expect, test } from "bun:test";
import { GoFloat, GoMap, goJson, goJsonIndent, goQuote, goRFC3339Nano, goTimeRFC3339 } from "../../src/util/go-json.ts";

test("goQuote escapes as Go's encoding/json", () => {
  expect(goQuote(`a<b>&c`)).toBe(`"a\\u003cb\\u003e\\u0026c"`);
  expect(goQuote("l\u2028p\u2029")).toBe(`"l\\u2028p\\u2029"`);
  expect(goQuote("\n\r\t\b\f\u0001\"\\")).toBe(`"\\n\\r\\t\\b\\f\\u0001\\"\\\\"`);
  expect(goQuote("é😀")).toBe(`"é😀"`);
  expect(goQuote("bad\ud800x")).toBe(`"bad\ufffdx"`);
});

test("numbers: ints, floats, exponent thresholds", () => {
  expect(goJson([1, new GoFloat(1e6), new GoFloat(12.3), new GoFloat(1e21), new GoFloat(1e-7), new GoFloat(0.000001), 10n ** 19n]))
    .toBe("[1,1000000,12.3,1e+21,1e-7,0.000001,10000000000000000000]");
});

test("structs keep field order, maps sort keys, undefined omitted, null kept", () => {
  expect(goJson({ b: 1, a: undefined, c: null, m: new GoMap({ z: 1, B: 2, a: 3 }) })).toBe(`{"b":1,"c":null,"m":{"B":2,"a":3,"z":1}}`);
});

test("MarshalIndent layout", () => {
  expect(goJsonIndent({ a: [1, 2], b: {}, c: [], d: "x,{" }, "  ")).toBe(
    `{\n  "a": [\n    1,\n    2\n  ],\n  "b": {},\n  "c": [],\n  "d": "x,{"\n}`,
  );
});

test("times: RFC3339Nano with trimmed fraction and offset; Dates in UTC", () => {
  expect(goRFC3339Nano(0)).toBe("1970-01-01T00:00:00Z");
  expect(goRFC3339Nano(1_700_000_000, 250_000_000, 3600 + 1800)).toBe("2023-11-14T23:43:20.25+01:30");
  expect(goRFC3339Nano(1_700_000_000, 5, -7 * 3600)).toBe("2023-11-14T15:13:20.000000005-07:00");
  expect(goTimeRFC3339(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120)))).toBe("2024-01-02T03:04:05.12Z");
  expect(goTimeRFC3339(new Date(-1))).toBe("1969-12-31T23:59:59.999Z");
  expect(goJson({ t: new Date(Date.UTC(2024, 0, 2)) })).toBe(`{"t":"2024-01-02T00:00:00Z"}`);
});
