import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { kitfileToConfigJson, parseConfigJson } from "../../src/kitfile/config.ts";
import { KitfileError } from "../../src/kitfile/errors.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import type { Kitfile } from "../../src/kitfile/schema.ts";

const parse = (text: string) => parseKitfile(text, "Kitfile").kitfile;
const D1 = "sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce";

describe("kitfileToConfigJson", () => {
  test("Appendix A: 251 bytes, sha256 43c910ca…", () => {
    const k = parse("manifestVersion: 1.0.0\npackage:\n  name: example\nmodel:\n  path: model.bin\n");
    k.model!.digest = D1;
    k.model!.diffId = D1;
    const json = kitfileToConfigJson(k);
    expect(json).toBe(
      `{"manifestVersion":"1.0.0","package":{"name":"example"},"model":{"path":"model.bin","digest":"${D1}","diffId":"${D1}"}}`,
    );
    const bytes = new TextEncoder().encode(json);
    expect(bytes.length).toBe(251);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(
      "43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00",
    );
  });

  test("manifestVersion and package are always written; empty strings and lists are omitted", () => {
    expect(kitfileToConfigJson({})).toBe('{"manifestVersion":"","package":{}}');
    expect(kitfileToConfigJson({ manifestVersion: "", package: { name: "", authors: [] }, code: [], docs: [] })).toBe(
      '{"manifestVersion":"","package":{}}',
    );
  });

  test("an empty model is still written; docs path is never omitted", () => {
    expect(kitfileToConfigJson({ model: {}, docs: [{}, { description: "d" }] })).toBe(
      '{"manifestVersion":"","package":{},"model":{},"docs":[{"path":""},{"path":"","description":"d"}]}',
    );
  });

  test("struct field order of every section, layer info after each entry's fields", () => {
    const k: Kitfile = {
      mcpServers: [{ digest: "d7", description: "s", path: "s.mcpb", name: "srv" }],
      prompts: [{ diffId: "f6", digest: "d6", description: "p", path: "p.md", name: "pr" }],
      docs: [{ digest: "d5", description: "doc", path: "README.md" }],
      datasets: [{
        digest: "d4",
        parameters: { b: 1n, a: 2n },
        license: "CC",
        description: "ds",
        remoteHash: "h",
        remotePath: "s3://b/k",
        path: "data",
        name: "train",
      }],
      code: [{ diffId: "f3", digest: "d3", license: "MIT", description: "c", path: "src" }],
      model: {
        diffId: "f1",
        digest: "d1",
        parameters: { z: "last", a: "first" },
        parts: [{ diffId: "f2", digest: "d2", type: "lora", license: "L", path: "p.bin", name: "part" }],
        description: "desc",
        version: "1",
        format: "gguf",
        framework: "pt",
        license: "Apache-2.0",
        path: "m.bin",
        name: "m",
      },
      package: { authors: ["a", "b"], license: "MIT", description: "d", version: "v", name: "n" },
      manifestVersion: "1.0.0",
    };
    expect(kitfileToConfigJson(k)).toBe(
      '{"manifestVersion":"1.0.0",' +
        '"package":{"name":"n","version":"v","description":"d","license":"MIT","authors":["a","b"]},' +
        '"model":{"name":"m","path":"m.bin","license":"Apache-2.0","framework":"pt","format":"gguf","version":"1","description":"desc",' +
        '"parts":[{"name":"part","path":"p.bin","license":"L","type":"lora","digest":"d2","diffId":"f2"}],' +
        '"parameters":{"a":"first","z":"last"},"digest":"d1","diffId":"f1"},' +
        '"code":[{"path":"src","description":"c","license":"MIT","digest":"d3","diffId":"f3"}],' +
        '"datasets":[{"name":"train","path":"data","remotePath":"s3://b/k","remoteHash":"h","description":"ds","license":"CC",' +
        '"parameters":{"a":2,"b":1},"digest":"d4"}],' +
        '"docs":[{"path":"README.md","description":"doc","digest":"d5"}],' +
        '"prompts":[{"name":"pr","path":"p.md","description":"p","digest":"d6","diffId":"f6"}],' +
        '"mcpServers":[{"name":"srv","path":"s.mcpb","description":"s","digest":"d7"}]}',
    );
  });

  test("parameters: sorted keys (bytewise), Go numbers, timestamps, HTML escaping", () => {
    const k = parse(`model:
  parameters:
    test-number: 123
    test-float: 12.3
    test-negative: -123
    test-bool: true
    test-bool-str: "true"
    Zebra: z
    _under: u
    big: 18446744073709551615
    huge: 1e21
    tiny: 1e-7
    small: 0.000001
    hex: 0xFF
    sci: 1.2e+3
    whole: 5.0
    negzero: -0.0
    date: 2024-01-02
    stamp: 2024-01-02T10:00:00.250+02:00
    html: "<b>&</b>"
    list: [1, two, [3.5], {k: v}]
    nothing: ~
    empty: {}
`);
    expect(kitfileToConfigJson(k)).toBe(
      '{"manifestVersion":"","package":{},"model":{"parameters":{' +
        '"Zebra":"z","_under":"u","big":18446744073709551615,"date":"2024-01-02T00:00:00Z","empty":{},"hex":255,' +
        '"html":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e","huge":1e+21,"list":[1,"two",[3.5],{"k":"v"}],"negzero":-0,' +
        '"nothing":null,"sci":1200,"small":0.000001,"stamp":"2024-01-02T10:00:00.25+02:00","test-bool":true,' +
        '"test-bool-str":"true","test-float":12.3,"test-negative":-123,"test-number":123,"tiny":1e-7,"whole":5}}}',
    );
  });

  test("kit's test-data-types vector", () => {
    const k = parse(`manifestVersion: 1.0.0
package:
  name: test-kitfile
model:
  name: test-model
  path: tmp/path/to/model
  parameters:
    test-bool: true
    test-bool-str: "true"
    test-float: 12.3
    test-negative: -123
    test-number: 123
    test-string: string
`);
    expect(kitfileToConfigJson(k)).toBe(
      '{"manifestVersion":"1.0.0","package":{"name":"test-kitfile"},"model":{"name":"test-model","path":"tmp/path/to/model","parameters":{"test-bool":true,"test-bool-str":"true","test-float":12.3,"test-negative":-123,"test-number":123,"test-string":"string"}}}',
    );
  });

  test("a scalar or list as parameters; a block string keeps its newline", () => {
    expect(kitfileToConfigJson(parse("model:\n  parameters: |\n    test-string\n"))).toBe(
      '{"manifestVersion":"","package":{},"model":{"parameters":"test-string\\n"}}',
    );
    expect(kitfileToConfigJson(parse("model:\n  parameters: [item-a, item-b]\n"))).toBe(
      '{"manifestVersion":"","package":{},"model":{"parameters":["item-a","item-b"]}}',
    );
    expect(kitfileToConfigJson(parse("model:\n  parameters: 0\n"))).toBe(
      '{"manifestVersion":"","package":{},"model":{"parameters":0}}',
    );
  });

  test("NaN and infinities cannot be encoded, as in Go", () => {
    const err = (() => {
      try {
        kitfileToConfigJson(parse("model:\n  parameters:\n    x: .inf\n"));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(KitfileError);
    expect(err!.message).toBe("json: unsupported value: +Inf (in model.parameters.x; JSON cannot represent NaN or infinity)");
    expect(() => kitfileToConfigJson(parse("datasets:\n  - parameters: [.nan]\n"))).toThrow(
      "json: unsupported value: NaN (in datasets[0].parameters[0]; JSON cannot represent NaN or infinity)",
    );
  });
});

describe("parseConfigJson", () => {
  test("round-trips what kitfileToConfigJson writes (numbers become floats)", () => {
    const json = '{"manifestVersion":"1.0.0","package":{"name":"n","authors":["a"]},"model":{"path":"m","parameters":{"a":1,"b":[1.5,"x",null,{"c":true}]},"digest":"d","diffId":"f"},"docs":[{"path":""}]}';
    const k = parseConfigJson(json);
    expect(k).toEqual({
      manifestVersion: "1.0.0",
      package: { name: "n", authors: ["a"] },
      model: { path: "m", parameters: { a: 1, b: [1.5, "x", null, { c: true }] }, digest: "d", diffId: "f" },
      docs: [{ path: "" }],
    });
    expect(kitfileToConfigJson(k)).toBe(json);
  });

  test("ignores unknown fields; null means absent; null list elements are empty entries", () => {
    const k = parseConfigJson(
      '{"manifestVersion":null,"package":null,"newSection":[1],"model":{"parameters":null,"futureField":"x"},' +
        '"code":[null,{"path":"a","extra":1}],"prompts":[{"name":"p","path":"p.md","subtype":"skill"}]}',
    );
    expect(JSON.stringify(k)).toBe(
      '{"manifestVersion":"","package":{},"model":{},"code":[{},{"path":"a"}],"prompts":[{"name":"p","path":"p.md"}]}',
    );
    expect(parseConfigJson('{"package":{"authors":["a",null]}}').package).toEqual({ authors: ["a", ""] });
    expect(parseConfigJson("null")).toEqual({ manifestVersion: "", package: {} });
  });

  test("large integers are float64, as Go decodes them", () => {
    const k = parseConfigJson('{"model":{"parameters":{"n":18446744073709551615,"m":1000000}}}');
    expect(k.model!.parameters).toEqual({ n: 18446744073709552000, m: 1000000 });
    expect(kitfileToConfigJson(k)).toBe(
      '{"manifestVersion":"","package":{},"model":{"parameters":{"m":1000000,"n":18446744073709552000}}}',
    );
  });

  test("errors: malformed JSON, wrong types, numbers out of float64 range", () => {
    expect(() => parseConfigJson("{")).toThrow(KitfileError);
    expect(() => parseConfigJson('{"package":{"name":5}}')).toThrow(
      "Invalid ModelKit config: package.name: Invalid type: Expected string but received 5",
    );
    expect(() => parseConfigJson('{"code":{"path":"x"}}')).toThrow("Invalid ModelKit config: code: Invalid type: Expected Array");
    expect(() => parseConfigJson('{"model":{"parameters":{"x":1e400}}}')).toThrow(
      "Invalid ModelKit config: model.parameters.x: number out of range for a float64",
    );
  });
});

describe("parseConfigJson on hostile input", () => {
  test("a config nested deeper than Go's 10000 levels is a one-line error, not a stack overflow", () => {
    const deep = (n: number) => `{"manifestVersion":"1.0.0","model":{"path":"m"},"x":${"[".repeat(n)}${"]".repeat(n)}}`;
    expect(() => parseConfigJson(deep(100_000))).toThrow(new KitfileError("Invalid ModelKit config: exceeded max depth (more than 10000 nested arrays or objects)"));
    expect(parseConfigJson(deep(9000)).model).toEqual({ path: "m" });
    // brackets inside strings do not count
    expect(parseConfigJson(`{"manifestVersion":"1.0.0","package":{"name":"${"[".repeat(20000)}"}}`).package?.name).toHaveLength(20000);
  });
});
