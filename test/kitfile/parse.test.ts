import { afterAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KitfileError } from "../../src/kitfile/errors.ts";
import { findKitfile, MAX_KITFILE_BYTES, parseKitfile, readKitfile } from "../../src/kitfile/parse.ts";
import { YamlTimestamp } from "../../src/kitfile/values.ts";
import { NotFoundError } from "../../src/util/errors.ts";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "kit-kitfile-parse-"));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function parse(text: string) {
  return parseKitfile(text, "Kitfile").kitfile;
}

function parseError(text: string): string {
  try {
    parseKitfile(text, "Kitfile");
  } catch (e) {
    expect(e).toBeInstanceOf(KitfileError);
    return (e as Error).message;
  }
  throw new Error("expected a parse error");
}

/** Parses `value` as `model.parameters.v`. */
function param(value: string): unknown {
  const k = parse(`model:\n  parameters:\n    v: ${value}\n`);
  return (k.model!.parameters as Record<string, unknown>).v;
}

describe("parseKitfile: string fields keep the literal text of any scalar", () => {
  const cases: [string, string][] = [
    ["1.0", "1.0"],
    ["1.10", "1.10"],
    ["1.0.0", "1.0.0"],
    ["true", "true"],
    ["yes", "yes"],
    ["0x1F", "0x1F"],
    ["017", "017"],
    ["1e3", "1e3"],
    ["2024-01-02", "2024-01-02"],
    ["~", ""],
    ["null", ""],
    ["", ""],
    ['"~"', "~"],
    ["'null'", "null"],
    ['"a\\tb"', "a\tb"],
    ["|\n    line one\n    line two", "line one\nline two\n"],
    [">-\n    folded\n    text", "folded text"],
    ["plain text\n    continued", "plain text continued"],
    ["!!binary aGVsbG8=", "hello"],
  ];
  for (const [yaml, want] of cases) {
    test(`version: ${JSON.stringify(yaml)} → ${JSON.stringify(want)}`, () => {
      expect(parse(`package:\n  version: ${yaml}\n`).package!.version).toBe(want);
    });
  }

  test("manifestVersion 1.0 stays the string 1.0; name: true stays true", () => {
    const k = parse("manifestVersion: 1.0\npackage:\n  name: true\n");
    expect(k.manifestVersion).toBe("1.0");
    expect(k.package).toEqual({ name: "true" });
  });

  test("authors accept any scalar; a null author is an empty string", () => {
    expect(parse("package:\n  authors: [Jane, 5, ~, 'x']\n").package!.authors).toEqual(["Jane", "5", "", "x"]);
  });
});

describe("parseKitfile: structure", () => {
  test("every section, keys reordered to schema order", () => {
    const k = parse(`manifestVersion: 1.0.0
mcpServers:
  - description: fs
    path: fs.mcpb
    name: filesystem
prompts:
  - path: system.prompt.md
    name: sys
docs:
  - description: readme
datasets:
  - remoteHash: abc
    remotePath: s3://b/k
    path: data
    name: train
code:
  - license: MIT
    path: src
model:
  parts:
    - type: lora
      path: lora.bin
  path: model.bin
  name: m
package:
  authors: [a]
  name: kit
`);
    expect(JSON.stringify(k)).toBe(JSON.stringify({
      manifestVersion: "1.0.0",
      package: { name: "kit", authors: ["a"] },
      model: { name: "m", path: "model.bin", parts: [{ path: "lora.bin", type: "lora" }] },
      code: [{ path: "src", license: "MIT" }],
      datasets: [{ name: "train", path: "data", remotePath: "s3://b/k", remoteHash: "abc" }],
      docs: [{ description: "readme" }],
      prompts: [{ name: "sys", path: "system.prompt.md" }],
      mcpServers: [{ name: "filesystem", path: "fs.mcpb", description: "fs" }],
    }));
  });

  test("absent manifestVersion and package become \"\" and {}; null sections are absent", () => {
    expect(parse("model: ~\ncode: ~\n")).toEqual({ manifestVersion: "", package: {} });
  });

  test("model: {} is an empty model, null list elements are empty entries", () => {
    expect(parse("model: {}\ncode:\n  - ~\n  -\n  - path: x\n")).toEqual({
      manifestVersion: "",
      package: {},
      model: {},
      code: [{}, {}, { path: "x" }],
    });
  });

  test("only the first YAML document is read, with a warning", () => {
    const r = parseKitfile("manifestVersion: 1.0.0\n---\nmodle: [\n", "Kitfile");
    expect(r.kitfile).toEqual({ manifestVersion: "1.0.0", package: {} });
    expect(r.warnings).toEqual(["Kitfile contains 2 YAML documents; only the first one is used"]);
  });

  test("anchors, aliases and merge keys work in structs and parameters", () => {
    const k = parse(`package: &p
  name: kit
model:
  name: *p
  parameters:
    base: &b {lr: 0.1, epochs: 3}
    run:
      <<: *b
      epochs: 5
    runs:
      <<: [{a: 1}, {a: 2, b: 2}]
`.replace("name: *p", "description: x"));
    expect(k.package).toEqual({ name: "kit" });
    expect(k.model!.parameters).toEqual({ base: { lr: 0.1, epochs: 3n }, run: { epochs: 5n, lr: 0.1 }, runs: { a: 1n, b: 2n } });
  });

  test("an alias to a string field takes the anchor's text", () => {
    expect(parse("package:\n  name: &n my-kit\n  description: *n\n").package).toEqual({ name: "my-kit", description: "my-kit" });
  });

  test("errors: self-referencing anchor, merge of a scalar", () => {
    expect(parseError("model:\n  parameters: &x [*x]\n")).toBe("Kitfile line 2: anchor 'x' value contains itself");
    expect(parseError("model:\n  parameters:\n    <<: 5\n")).toBe(
      "Kitfile line 3: map merge requires map or sequence of maps as the value",
    );
  });

  test("a key that is not a scalar is refused in structs", () => {
    expect(parseError("package:\n  ? [a]\n  : b\n")).toBe("Kitfile line 2: keys in package must be field names, not a list");
  });

  test("a YAML syntax error is one line, however many errors it cascades into; a too-deep document says so", () => {
    const deep = () => parseKitfile(`manifestVersion: 1.0.0\nmodel:\n  path: ${"[".repeat(200_000)}\n`, "Kitfile");
    expect(deep).toThrow(/^Kitfile line 3: invalid YAML: the document is nested too deeply to read \(and \d+ more YAML errors\)$/);
    const cascade = () => parseKitfile(`manifestVersion: 1.0.0\npackage:\n  description: ${"{a: ".repeat(500)}\n`, "Kitfile");
    expect(cascade).toThrow(/^Kitfile line 3: invalid YAML: [^\n]+ \(and \d+ more YAML errors\)$/);
  });

  test("KitfileError carries line, field and every problem", () => {
    try {
      parseKitfile("package:\n  nmae: x\nmodel:\n  name: [a]\n", "dir/Kitfile");
      throw new Error("no error");
    } catch (e) {
      const err = e as KitfileError;
      expect(err).toBeInstanceOf(KitfileError);
      expect(err.message).toBe(
        'dir/Kitfile line 2: unknown field "nmae" in package (allowed: name, version, description, license, authors)\n' +
          "dir/Kitfile line 4: model.name must be a string, not a list",
      );
      expect(err.line).toBe(2);
      expect(err.field).toBe("package.nmae");
      expect(err.problems.map((p) => p.field)).toEqual(["package.nmae", "model.name"]);
    }
  });
});

describe("parseKitfile: parameters decode as yaml.v3 does", () => {
  const cases: [string, unknown][] = [
    ["123", 123n],
    ["-123", -123n],
    ["+7", 7n],
    ["1_000_000", 1000000n],
    ["0x1F", 31n],
    ["0o17", 15n],
    ["017", 15n],
    ["0b101", 5n],
    ["-0x10", -16n],
    ["9223372036854775807", 9223372036854775807n],
    ["9223372036854775808", 9223372036854775808n], // uint64
    ["18446744073709551615", 18446744073709551615n],
    ["18446744073709551616", 18446744073709551616], // beyond uint64: a float
    ["08", 8], // not octal, so a float
    ["12.3", 12.3],
    ["1e+06", 1e6],
    ["1.2e+3", 1200],
    [".5", 0.5],
    ["-.5e1", -5],
    ["1e400", "1e400"], // out of float64 range: a string
    [".inf", Infinity],
    ["-.Inf", -Infinity],
    ["true", true],
    ["False", false],
    ["TRUE", true],
    ["yes", "yes"],
    ["on", "on"],
    ["y", "y"],
    ["~", null],
    ["null", null],
    ["NULL", null],
    ["", null],
    ['"123"', "123"],
    ["'true'", "true"],
    ["!!str 12", "12"],
    ["!!float 3", 3],
    ["!!int 0x10", 16n],
    ["!custom 12", "12"],
    ["0x", "0x"],
    ["1_", 1n],
    ["_1", "_1"],
    ["+.inf", Infinity],
    ["2024-01-02T10:00:00", "2024-01-02T10:00:00"], // T form needs a zone
    ["1:20", "1:20"],
    ["[1, a, {b: c}]", [1n, "a", { b: "c" }]],
    ["{}", {}],
    ["[]", []],
    ["|\n      text\n", "text\n"],
  ];
  for (const [yaml, want] of cases) {
    test(`${JSON.stringify(yaml)}`, () => {
      const got = param(yaml);
      if (typeof want === "number" && Number.isNaN(want)) expect(Number.isNaN(got)).toBe(true);
      else expect(got).toEqual(want);
    });
  }

  test(".nan is NaN", () => {
    expect(Number.isNaN(param(".nan") as number)).toBe(true);
  });

  const times: [string, string, number][] = [
    ["2024-01-02", "2024-01-02T00:00:00Z", Date.UTC(2024, 0, 2)],
    ["2024-1-2", "2024-01-02T00:00:00Z", Date.UTC(2024, 0, 2)],
    ["2024-01-02T10:20:30Z", "2024-01-02T10:20:30Z", Date.UTC(2024, 0, 2, 10, 20, 30)],
    ["2024-01-02t10:20:30.123456789+02:00", "2024-01-02T10:20:30.123456789+02:00", Date.UTC(2024, 0, 2, 8, 20, 30, 123)],
    ["2024-01-02 10:20:30.5", "2024-01-02T10:20:30.5Z", Date.UTC(2024, 0, 2, 10, 20, 30, 500)],
    ["2024-01-02T10:20:30-05:30", "2024-01-02T10:20:30-05:30", Date.UTC(2024, 0, 2, 15, 50, 30)],
    ["2024-02-29", "2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
  ];
  for (const [yaml, rfc, ms] of times) {
    test(`timestamp ${yaml}`, () => {
      const t = param(yaml);
      expect(t).toBeInstanceOf(YamlTimestamp);
      expect((t as YamlTimestamp).toRFC3339Nano()).toBe(rfc);
      expect((t as Date).getTime()).toBe(ms);
    });
  }
  for (const notTime of ["2023-02-29", "2024-13-01", "2024-01-02T25:00:00Z", "2024-01-02 10:00:00Z", "24-01-02"]) {
    test(`${notTime} is not a timestamp`, () => {
      expect(param(notTime)).toBe(notTime);
    });
  }

  test("nested maps and lists keep their values; keys like __proto__ are ordinary keys", () => {
    const p = param("\n      __proto__: 1\n      list: [[a, b], [c]]\n      deep: {a: {b: {c: [1.5, true, null]}}}") as Record<string, unknown>;
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(Object.keys(p)).toEqual(["__proto__", "list", "deep"]);
    expect(p.list).toEqual([["a", "b"], ["c"]]);
    expect(p.deep).toEqual({ a: { b: { c: [1.5, true, null] } } });
  });

  test("dataset parameters decode too; null parameters are absent", () => {
    const k = parse("datasets:\n  - path: d\n    parameters: {rows: 10}\n  - path: e\n    parameters: ~\n");
    expect(k.datasets).toEqual([{ path: "d", parameters: { rows: 10n } }, { path: "e" }]);
  });

  test("non-string keys are refused, quoted ones are fine", () => {
    expect(param('\n      "1": one\n      "true": yes')).toEqual({ "1": "one", true: "yes" });
    expect(parseError("model:\n  parameters:\n    true: x\n")).toBe(
      'Kitfile line 3: model.parameters: key true is a boolean, but parameter keys must be strings (quote it: "true")',
    );
    expect(parseError("datasets:\n  - parameters:\n      a:\n        2024-01-01: x\n")).toBe(
      'Kitfile line 4: datasets[0].parameters.a: key 2024-01-01 is a timestamp, but parameter keys must be strings (quote it: "2024-01-01")',
    );
    expect(parseError("model:\n  parameters:\n    ~: x\n")).toBe(
      'Kitfile line 3: model.parameters: key ~ is null, but parameter keys must be strings (quote it: "~")',
    );
    expect(parseError("model:\n  parameters:\n    [a]: x\n")).toBe(
      "Kitfile line 3: model.parameters: map keys must be strings, not a list",
    );
  });

  test("duplicate keys in parameters, even quoted against plain", () => {
    expect(parseError("model:\n  parameters:\n    a: 1\n    'a': 2\n")).toBe(
      'Kitfile line 4: duplicate key "a" in model.parameters (first defined on line 3)',
    );
  });

  test("invalid !!binary", () => {
    expect(parseError("model:\n  parameters: !!binary '***'\n")).toBe(
      "Kitfile line 2: model.parameters: !!binary value contains invalid base64 data",
    );
  });
});

describe("parseKitfile: empty documents", () => {
  for (const text of ["", "\n\n", "# comment\n", "---\n", "~\n", "null\n"]) {
    test(JSON.stringify(text), () => {
      expect(parseError(text)).toBe(
        "Kitfile is empty: a Kitfile must be a YAML mapping with at least one of manifestVersion, package, model, code, datasets, docs, prompts, mcpServers",
      );
    });
  }
});

describe("readKitfile and findKitfile", () => {
  test("reads a file, naming it by its path in messages", async () => {
    const p = path.join(tmpRoot, "Kitfile");
    fs.writeFileSync(p, "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n");
    expect((await readKitfile(p)).kitfile).toEqual({ manifestVersion: "1.0.0", package: {}, model: { path: "m.bin" } });
    fs.writeFileSync(p, "modle: x\n");
    await expect(readKitfile(p)).rejects.toThrow(`${p} line 1: unknown field "modle" in the top level`);
  });

  test("reads standard input for -", async () => {
    const stdin = new Response("manifestVersion: 1.0.0\npackage:\n  name: from-stdin\n").body!;
    const r = await readKitfile("-", { stdin });
    expect(r.kitfile.package).toEqual({ name: "from-stdin" });
    const bad = new Response("nope: 1\n").body!;
    await expect(readKitfile("-", { stdin: bad })).rejects.toThrow('<stdin> line 1: unknown field "nope"');
  });

  test("standard input larger than the limit is refused without reading it all", async () => {
    let pulled = 0;
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    const endless = new ReadableStream<Uint8Array>({
      pull(ctl) {
        pulled++;
        ctl.enqueue(chunk);
      },
    });
    const err = await readKitfile("-", { stdin: endless }).catch((e) => e);
    expect(err).toBeInstanceOf(KitfileError);
    expect(err.message).toBe(`<stdin> is larger than ${MAX_KITFILE_BYTES / (1024 * 1024)} MiB; a Kitfile describes files, it does not contain them`);
    expect(pulled).toBeLessThanOrEqual(MAX_KITFILE_BYTES / chunk.length + 2);
  });

  test("- without a stdin stream is an error, not a read of the process's stdin", async () => {
    await expect(readKitfile("-")).rejects.toThrow("Cannot read the Kitfile from standard input: no input stream was given");
  });

  test("a directory where a file is expected is a clear error", async () => {
    const d = path.join(tmpRoot, "adir");
    fs.mkdirSync(d);
    const err = await readKitfile(d).catch((e) => e);
    expect(err).toBeInstanceOf(KitfileError);
    expect(err.message).toBe(`Kitfile ${d} is a directory, not a file`);
  });

  test("a missing file is NotFoundError", async () => {
    const p = path.join(tmpRoot, "missing", "Kitfile");
    const err = await readKitfile(p).catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe(`Kitfile ${p} does not exist`);
  });

  test("findKitfile tries Kitfile, kitfile, .kitfile in that order", async () => {
    const d = path.join(tmpRoot, "ctx");
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, ".kitfile"), "x");
    expect(await findKitfile(d)).toBe(path.join(d, ".kitfile"));
    fs.writeFileSync(path.join(d, "kitfile"), "x");
    const second = await findKitfile(d);
    // On a case-insensitive file system `Kitfile` already matches `kitfile`.
    expect([path.join(d, "kitfile"), path.join(d, "Kitfile")]).toContain(second);
    fs.writeFileSync(path.join(d, "Kitfile"), "x");
    expect(await findKitfile(d)).toBe(path.join(d, "Kitfile"));
  });

  test("findKitfile: kit's message when there is none", async () => {
    const d = path.join(tmpRoot, "empty-ctx");
    fs.mkdirSync(d);
    const err = await findKitfile(d).catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe(`No Kitfile found in ${d}. Consider using the -f flag to specify its path`);
  });
});
