import { describe, expect, test } from "bun:test";
import { kitfileToConfigJson, parseConfigJson } from "../../src/kitfile/config.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import type { Kitfile } from "../../src/kitfile/schema.ts";
import { naturalCompare } from "../../src/kitfile/values.ts";
import { kitfileToYaml, valueToYaml } from "../../src/kitfile/yaml.ts";
import { GoFloat } from "../../src/util/go-json.ts";

const parse = (text: string) => parseKitfile(text, "Kitfile").kitfile;
/** YAML → Kitfile → config JSON → Kitfile → YAML, as `kit info` and `kit unpack` see a packed Kitfile. */
const viaConfig = (text: string) => kitfileToYaml(parseConfigJson(kitfileToConfigJson(parse(text))));

const HEADER = "manifestVersion: 1.0.0\npackage:\n  name: test-kitfile\nmodel:\n  name: test-model\n  path: tmp/path/to/model\n";

describe("kitfileToYaml reproduces kit's own round-trip vectors (pkg/artifact/testdata/parameters)", () => {
  const vectors: Record<string, string> = {
    "basic parameters": "  parameters:\n    test-a: a\n    test-b: b\n    test-c: c\n",
    "data types": "  parameters:\n    test-bool: true\n    test-bool-str: \"true\"\n    test-float: 12.3\n    test-negative: -123\n" +
      "    test-number: 123\n    test-string: string\n",
    "list parameters": "  parameters:\n    - item-a\n    - item-b\n    - item-c\n",
    "single value": "  parameters: |\n    test-string\n",
    "nested parameters": `  parameters:
    test-list-of-lists:
      - - a-1
        - a-2
      - - b-1
        - b-2
    test-maps:
      a:
        b:
          c:
            d:
              e: f
    test-nested-list:
      - item-a
      - item-b
      - item-object:
          - subfield-1: 1
          - subfield-2: 2
    test-nested-map:
      test-a: a
      test-b: b
      test-c: c
`,
  };
  for (const [name, params] of Object.entries(vectors)) {
    test(name, () => {
      expect(kitfileToYaml(parse(HEADER + params))).toBe(HEADER + params);
    });
  }
});

describe("kitfileToYaml: structure", () => {
  test("every section in struct order, omitted empties, digests never shown", () => {
    const k: Kitfile = {
      mcpServers: [{ name: "fs", path: "fs.mcpb", digest: "sha256:1" }],
      prompts: [{ path: "p.md", name: "p" }],
      docs: [{ description: "no path" }, { path: "README.md", diffId: "sha256:2" }],
      datasets: [{ license: "CC", path: "data", name: "train", remotePath: "s3://b/k", remoteHash: "etag" }],
      code: [{ path: "src", description: "" }, {}],
      model: { parts: [{ type: "lora", path: "l.bin" }], path: "m.bin", name: "m", digest: "sha256:3" },
      package: { authors: ["Jane Doe", "John"], name: "kit", description: "" },
      manifestVersion: "1.0.0",
    };
    expect(kitfileToYaml(k)).toBe(`manifestVersion: 1.0.0
package:
  name: kit
  authors: [Jane Doe, John]
model:
  name: m
  path: m.bin
  parts:
    - path: l.bin
      type: lora
code:
  - path: src
  - {}
datasets:
  - name: train
    path: data
    remotePath: s3://b/k
    remoteHash: etag
    license: CC
docs:
  - path: ""
    description: no path
  - path: README.md
prompts:
  - name: p
    path: p.md
mcpServers:
  - name: fs
    path: fs.mcpb
`);
  });

  test("manifestVersion is always written; an empty package is omitted; an empty model is {}", () => {
    expect(kitfileToYaml({})).toBe('manifestVersion: ""\n');
    expect(kitfileToYaml({ manifestVersion: "1.0", package: { authors: [] }, model: {}, code: [] })).toBe(
      'manifestVersion: "1.0"\nmodel: {}\n',
    );
    expect(kitfileToYaml({ package: { authors: ["a"] } })).toBe('manifestVersion: ""\npackage:\n  authors: [a]\n');
  });

  test("authors in flow style are quoted for flow context", () => {
    const k: Kitfile = { manifestVersion: "1.0.0", package: { authors: ["Doe, Jane", "x:y", "- a", "true", "", "a\nb", "it's"] } };
    expect(kitfileToYaml(k)).toBe(
      "manifestVersion: 1.0.0\npackage:\n  authors: ['Doe, Jane', 'x:y', '- a', \"true\", \"\", \"a\\nb\", it's]\n",
    );
  });

  test("parameters: null is omitted, other falsy values are written", () => {
    expect(kitfileToYaml({ model: { parameters: null } })).toBe('manifestVersion: ""\nmodel: {}\n');
    expect(kitfileToYaml({ model: { parameters: 0n } })).toBe('manifestVersion: ""\nmodel:\n  parameters: 0\n');
    expect(kitfileToYaml({ model: { parameters: "" } })).toBe('manifestVersion: ""\nmodel:\n  parameters: ""\n');
    expect(kitfileToYaml({ model: { parameters: false } })).toBe('manifestVersion: ""\nmodel:\n  parameters: false\n');
    expect(kitfileToYaml({ datasets: [{ parameters: {} }] })).toBe('manifestVersion: ""\ndatasets:\n  - parameters: {}\n');
  });
});

describe("scalar styles (yaml.v3 stringv + libyaml select_scalar_style)", () => {
  const table: [string, string][] = [
    ["hello world", "hello world"],
    ["", '""'],
    ["true", '"true"'],
    ["False", '"False"'],
    ["yes", '"yes"'],
    ["Off", '"Off"'],
    ["y", '"y"'],
    ["yEs", "yEs"],
    ["null", '"null"'],
    ["~", '"~"'],
    ["123", '"123"'],
    ["1.0", '"1.0"'],
    ["0x1F", '"0x1F"'],
    ["017", '"017"'],
    ["1e3", '"1e3"'],
    [".inf", '".inf"'],
    ["1:20", '"1:20"'],
    ["12:30:45", '"12:30:45"'],
    ["2024-01-02", '"2024-01-02"'],
    ["2024-01-02T00:00:00Z", '"2024-01-02T00:00:00Z"'],
    ["<<", "<<"], // '<' has no resolve hint, so yaml.v3 writes it plain
    ["1.0.0", "1.0.0"],
    ["v1.10", "v1.10"],
    ["-", "'-'"],
    ["- item", "'- item'"],
    ["-dash", "-dash"],
    ["a: b", "'a: b'"],
    ["a:b", "a:b"],
    ["key:", "'key:'"],
    ["Hello #comment", "'Hello #comment'"],
    ["a#b", "a#b"],
    ["#hash", "'#hash'"],
    ["@at", "'@at'"],
    ["`tick", "'`tick'"],
    ["%pct", "'%pct'"],
    ["*star", "'*star'"],
    ["&amp", "'&amp'"],
    ["!bang", "'!bang'"],
    ["|pipe", "'|pipe'"],
    [">gt", "'>gt'"],
    ["[x]", "'[x]'"],
    ["{x}", "'{x}'"],
    [",c", "',c'"],
    ["'quoted'", "'''quoted'''"],
    ['"dq"', `'"dq"'`],
    ["?q", "?q"],
    ["? q", "'? q'"],
    [":c", ":c"],
    ["---", "'---'"],
    ["...x", "'...x'"],
    [" lead", "' lead'"],
    ["trail ", "'trail '"],
    ["a\tb", '"a\\tb"'],
    ["bell\u0007", '"bell\\a"'],
    ["nul\u0000", '"nul\\0"'],
    ["esc\u001b", '"esc\\e"'],
    ["del\u007f", '"del\\x7F"'],
    ["c1\u0085", '"c1\\N"'],
    ["bom\ufeff", '"bom\\uFEFF"'],
    ["nbsp\u00a0x", "nbsp\u00a0x"],
    ["é and 日本", "é and 日本"],
    ["emoji 😀", '"emoji \\U0001F600"'],
    ["back\\slash", "back\\slash"],
    ["x\r\ny", '"x\\r\\ny"'],
    ["ls\u2028x", "'ls\u2028  x'"],
    ["one\ntwo", "|-\n  one\n  two"],
    ["one\ntwo\n", "|\n  one\n  two"],
    ["one\n\n", "|+\n  one\n"],
    ["\n", "|2+\n"],
    ["\nlead", "|2-\n\n  lead"],
    ["  indented\nx", "|2-\n    indented\n  x"],
    ["a\n\nb", "|-\n  a\n\n  b"],
    ["tab\tin\nblock", "|-\n  tab\tin\n  block"],
    ["space before \nbreak", '"space before \\nbreak"'],
    ["trailing\nspace ", '"trailing\\nspace "'],
    ["x\n y", "|-\n  x\n   y"],
  ];
  for (const [s, want] of table) {
    test(JSON.stringify(s), () => {
      expect(valueToYaml({ k: s })).toBe(`k: ${want}\n`);
    });
  }

  test("quoted map keys", () => {
    expect(valueToYaml({ "true": 1n, "a b": 2n, "": 3n, "n": 4n, "x: y": 5n })).toBe(
      '"": 3\na b: 2\n"n": 4\n"true": 1\n\'x: y\': 5\n',
    );
  });

  test("keys that cannot be simple keys (multi-line, longer than 128 bytes)", () => {
    const long = "k".repeat(129);
    expect(valueToYaml({ [long]: 1n })).toBe(`? ${long}\n: 1\n`);
    expect(valueToYaml({ ["k".repeat(128)]: 1n })).toBe(`${"k".repeat(128)}: 1\n`);
    expect(valueToYaml({ "a\nb": "v" })).toBe("? |-\n  a\n  b\n: v\n");
  });
});

describe("numbers, booleans, null, timestamps", () => {
  const table: [unknown, string][] = [
    [123n, "123"],
    [-9223372036854775808n, "-9223372036854775808"],
    [18446744073709551615n, "18446744073709551615"],
    [12.3, "12.3"],
    [1000000, "1e+06"],
    [123456, "123456"],
    [1234567, "1.234567e+06"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1e21, "1e+21"],
    [1.5e-300, "1.5e-300"],
    [5, "5"],
    [-0, "-0"],
    [-2.5, "-2.5"],
    [Infinity, ".inf"],
    [-Infinity, "-.inf"],
    [NaN, ".nan"],
    [new GoFloat(2), "2"],
    [true, "true"],
    [false, "false"],
    [null, "null"],
    [undefined, "null"],
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 600)), "2024-01-02T03:04:05.6Z"],
  ];
  for (const [v, want] of table) {
    test(`${String(v)} → ${want}`, () => {
      expect(valueToYaml({ v })).toBe(`v: ${want}\n`);
    });
  }

  test("timestamps parsed from YAML keep their offset and nanoseconds", () => {
    expect(kitfileToYaml(parse("model:\n  parameters:\n    t: 2024-01-02t10:00:00.000000500+05:30\n"))).toBe(
      'manifestVersion: ""\nmodel:\n  parameters:\n    t: 2024-01-02T10:00:00.0000005+05:30\n',
    );
  });
});

describe("valueToYaml (kit info --filter output)", () => {
  test("documents for single values", () => {
    expect(valueToYaml("my-name")).toBe("my-name\n");
    expect(valueToYaml(null)).toBe("null\n");
    expect(valueToYaml("true")).toBe('"true"\n');
    expect(valueToYaml("")).toBe('""\n');
    expect(valueToYaml("a\nb")).toBe("|-\n  a\n  b\n");
    expect(valueToYaml("a\n")).toBe("|\n  a\n");
    expect(valueToYaml(1000000)).toBe("1e+06\n");
    expect(valueToYaml([])).toBe("[]\n");
    expect(valueToYaml({})).toBe("{}\n");
    expect(valueToYaml(["a", ["b", "c"], { d: 1n }, [], {}])).toBe("- a\n- - b\n  - c\n- d: 1\n- []\n- {}\n");
    expect(valueToYaml({ b: [{ c: 1n, d: [2n] }], a: { x: "y" } })).toBe(
      "a:\n  x: \"y\"\nb:\n  - c: 1\n    d:\n      - 2\n",
    );
    expect(valueToYaml(new Map([["z", 1n], ["a", 2n]]))).toBe("a: 2\nz: 1\n");
  });
});

describe("natural key order (yaml.v3 sorter)", () => {
  // The string part of yaml.v3's TestSortedOutput, in the expected order.
  const order = [
    "", ".1", ".2", ".a", "1", "2", "a!10", "a/0001", "a/002", "a/3", "a/10", "a/11", "a/0012", "a/100", "a~10",
    "ab/1", "b/1", "b/01", "b/2", "b/02", "b/3", "b/03", "b1", "b01", "b3", "c2.10", "c10.2", "d1", "d7", "d7abc",
    "d12", "d12a", "e2b", "e4b", "e21a",
  ];
  test("sorting a shuffled copy gives yaml.v3's order", () => {
    const shuffled = [...order].reverse();
    for (let i = 0; i < shuffled.length; i += 3) shuffled.push(shuffled.splice(i, 1)[0]!);
    expect(shuffled.sort(naturalCompare)).toEqual(order);
  });

  test("map keys are emitted in that order", () => {
    const obj: Record<string, bigint> = {};
    for (const k of ["a10", "a2", "B", "a", "_x", "a1", "Z9"]) obj[k] = 1n;
    // A non-letter sorts before a letter unless it follows a digit; letters by code point.
    expect(valueToYaml(obj).split("\n").filter(Boolean).map((l) => l.split(":")[0])).toEqual(["_x", "B", "Z9", "a", "a1", "a2", "a10"]);
  });

  test("the order is not transitive for some keys (a1b < a2 < a10 < a1b), as in yaml.v3", () => {
    // yaml.v3 sorts Go's randomly ordered map keys with this comparator, so such key sets have no
    // fixed order there either; only the pairwise answers are reproduced.
    expect([naturalCompare("a1b", "a2"), naturalCompare("a2", "a10"), naturalCompare("a10", "a1b")]).toEqual([-1, -1, -1]);
  });
});

describe("YAML ↔ config JSON round trips", () => {
  test("numbers become floats after the config round trip (1000000 → 1e+06)", () => {
    const src = "manifestVersion: 1.0.0\nmodel:\n  parameters:\n    int: 1000000\n    small: 123\n    float: 12.3\n    big: 1e21\n" +
      "    neg: -5\n    hex: 0x10\n    exp: 1.2e+3\n";
    expect(kitfileToYaml(parse(src))).toBe(
      "manifestVersion: 1.0.0\nmodel:\n  parameters:\n    big: 1e+21\n    exp: 1200\n    float: 12.3\n    hex: 16\n    int: 1000000\n" +
        "    neg: -5\n    small: 123\n",
    );
    expect(viaConfig(src)).toBe(
      "manifestVersion: 1.0.0\nmodel:\n  parameters:\n    big: 1e+21\n    exp: 1200\n    float: 12.3\n    hex: 16\n    int: 1e+06\n" +
        "    neg: -5\n    small: 123\n",
    );
  });

  test("strings, bools, nulls, nested maps and lists, block strings survive", () => {
    const src = `manifestVersion: 1.0.0
model:
  parameters:
    bool: true
    bool-str: "true"
    empty: ""
    list:
      - a
      - - 1.5
        - b
      - k: v
    map:
      inner:
        deep: x
    none: null
    text: |
      line one
      line two
    yes-word: "yes"
`;
    expect(kitfileToYaml(parse(src))).toBe(src);
    expect(viaConfig(src)).toBe(src);
  });

  test("timestamps become quoted RFC 3339 strings after the config round trip", () => {
    const src = "manifestVersion: 1.0.0\nmodel:\n  parameters:\n    date: 2024-01-02\n";
    expect(kitfileToYaml(parse(src))).toBe("manifestVersion: 1.0.0\nmodel:\n  parameters:\n    date: 2024-01-02T00:00:00Z\n");
    expect(viaConfig(src)).toBe('manifestVersion: 1.0.0\nmodel:\n  parameters:\n    date: "2024-01-02T00:00:00Z"\n');
  });

  test("the YAML we write parses back to the same Kitfile", () => {
    const src = `manifestVersion: "1.0"
package:
  name: "true"
  version: "1.10"
  authors: ['Doe, Jane', "yes"]
model:
  path: models/m:v1.bin
  description: |-
    multi
    line
  parameters:
    "1": one
    a: '#x'
    b: 'a: b'
    c: "2024-01-02"
docs:
  - path: ""
`;
    const k = parse(src);
    expect(kitfileToYaml(k)).toBe(src);
    expect(parse(kitfileToYaml(k))).toEqual(k);
  });
});
