import { describe, expect, test } from "bun:test";
import { parseFlags, renderFlagUsages, type FlagTable } from "../../src/cli/flags.ts";
import { UsageError } from "../../src/util/errors.ts";

const table = {
  file: { type: "string", short: "f", help: "Kitfile" },
  tag: { type: "string", short: "t", help: "tag" },
  force: { type: "bool", short: "F", help: "force" },
  "tls-verify": { type: "bool", default: true, help: "verify" },
  verbose: { type: "count", short: "v", help: "verbosity" },
  filter: { type: "stringArray", help: "filters" },
  "tls-cert": { type: "stringSlice", help: "CA files" },
  concurrency: { type: "int", default: 5, help: "parallel transfers" },
} satisfies FlagTable;

describe("parseFlags", () => {
  test("long, short, attached and separate values; interleaved args", () => {
    const r = parseFlags(table, ["ctx", "--file", "K", "-tmy:v1", "--concurrency=3", "more"]);
    expect(r.args).toEqual(["ctx", "more"]);
    expect(r.values.file).toBe("K");
    expect(r.values.tag).toBe("my:v1");
    expect(r.values.concurrency).toBe(3);
    expect([...r.changed].sort()).toEqual(["concurrency", "file", "tag"]);
  });
  test("defaults when absent", () => {
    const r = parseFlags(table, []);
    expect(r.values).toMatchObject({ file: "", force: false, "tls-verify": true, verbose: 0, filter: [], concurrency: 5 });
    expect(r.changed.size).toBe(0);
  });
  test("bool=false and counting -vvv", () => {
    const r = parseFlags(table, ["--tls-verify=false", "-vvv", "-v"]);
    expect(r.values["tls-verify"]).toBe(false);
    expect(r.values.verbose).toBe(4);
  });
  test("grouped shorts ending in a value flag", () => {
    const r = parseFlags(table, ["-vFf", "x"]);
    expect(r.values).toMatchObject({ verbose: 1, force: true, file: "x" });
  });
  test("-f=value strips the equals sign", () => {
    expect(parseFlags(table, ["-f=Kitfile"]).values.file).toBe("Kitfile");
  });
  test("stringArray repeats, stringSlice splits on commas", () => {
    const r = parseFlags(table, ["--filter", "model", "--filter=datasets:a,b", "--tls-cert", "a.pem,b.pem", "--tls-cert=c.pem"]);
    expect(r.values.filter).toEqual(["model", "datasets:a,b"]);
    expect(r.values["tls-cert"]).toEqual(["a.pem", "b.pem", "c.pem"]);
  });
  test("a repeatable flag's first use replaces its default; a deprecated flag warns once and is not listed", () => {
    const t = {
      arr: { type: "stringArray", default: ["d"], help: "a" },
      slice: { type: "stringSlice", default: ["x", "y"], help: "s" },
      old: { type: "bool", help: "o", deprecated: "use --arr instead" },
    } satisfies FlagTable;
    expect(parseFlags(t, []).values).toMatchObject({ arr: ["d"], slice: ["x", "y"] });
    const r = parseFlags(t, ["--arr", "a", "--arr=b", "--slice", "p,q", "--slice", "", "--old", "--old=false"]);
    expect(r.values).toMatchObject({ arr: ["a", "b"], slice: ["p", "q"], old: false });
    expect(r.warnings).toEqual(["Flag --old has been deprecated, use --arr instead"]);
    expect(renderFlagUsages(t)).toBe("      --arr stringArray     a (default [d])\n      --slice stringSlice   s (default [x,y])\n");
  });
  test("-- ends flag parsing", () => {
    expect(parseFlags(table, ["--", "-f", "x"]).args).toEqual(["-f", "x"]);
  });
  test("errors worded as cobra's", () => {
    expect(() => parseFlags(table, ["--nope"])).toThrow(new UsageError("unknown flag: --nope"));
    expect(() => parseFlags(table, ["-x"])).toThrow(new UsageError("unknown shorthand flag: 'x' in -x"));
    expect(() => parseFlags(table, ["--file"])).toThrow(new UsageError("flag needs an argument: --file"));
    expect(() => parseFlags(table, ["-f"])).toThrow(new UsageError("flag needs an argument: -f, --file"));
    expect(() => parseFlags(table, ["--concurrency", "x"])).toThrow(
      new UsageError(`invalid argument "x" for "--concurrency" flag: strconv.ParseInt: parsing "x": invalid syntax`),
    );
    expect(() => parseFlags(table, ["--force=maybe"])).toThrow(UsageError);
  });
});

test("renderFlagUsages aligns like pflag and shows non-zero defaults", () => {
  const rows: Array<[string, string]> = [
    ["      --concurrency int", "parallel transfers (default 5)"],
    ["  -f, --file string", "Kitfile"],
    ["      --filter stringArray", "filters"],
    ["  -F, --force", "force"],
    ["  -t, --tag string", "tag"],
    ["      --tls-cert stringSlice", "CA files"],
    ["      --tls-verify", "verify (default true)"],
    ["  -v, --verbose count", "verbosity"],
  ];
  expect(renderFlagUsages(table)).toBe(rows.map(([l, h]) => `${l.padEnd(28)}   ${h}\n`).join(""));
});
