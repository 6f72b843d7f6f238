import { describe, expect, test } from "bun:test";
import { parseConfigJson } from "../../src/kitfile/config.ts";
import { filterKitfile } from "../../src/kitfile/info-filter.ts";
import { KitError } from "../../src/util/errors.ts";

// A Kitfile as `kit info` sees it: read back from the config JSON, numbers are float64.
const k = parseConfigJson(JSON.stringify({
  manifestVersion: "1.0.0",
  package: { name: "my-name", authors: ["Jane", "true"] },
  model: {
    name: "m",
    path: "model.bin",
    parts: [{ name: "p", path: "p.bin", type: "lora" }],
    parameters: { epochs: 1000000, lr: 0.001 },
    digest: "sha256:aa",
    diffId: "sha256:bb",
  },
  code: [{ path: "src", digest: "sha256:cc" }],
  datasets: [{ name: "d", path: "data" }],
  prompts: [{ path: "p.md" }],
}));

function fails(filter: string, kf = k): string {
  try {
    filterKitfile(kf, filter);
  } catch (e) {
    expect(e).toBeInstanceOf(KitError);
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("filterKitfile (kit info --filter)", () => {
  const cases: [string, string][] = [
    ["package.name", "my-name\n"],
    [".package.name", "my-name\n"],
    ["manifestVersion", "1.0.0\n"],
    ["package", "name: my-name\nauthors: [Jane, \"true\"]\n"],
    ["package.authors", "- Jane\n- \"true\"\n"],
    ["package.version", '""\n'],
    ["model.name", "m\n"],
    ["model.parameters", "epochs: 1e+06\nlr: 0.001\n"],
    ["model.parts", "- name: p\n  path: p.bin\n  type: lora\n"],
    ["model.digest", "sha256:aa\n"],
    ["model.diffId", "sha256:bb\n"],
    ["model.layerInfo", "{}\n"],
    ["code", "- path: src\n"],
    ["docs", "[]\n"],
    ["prompts", "- path: p.md\n"],
    ["model", "name: m\npath: model.bin\nparts:\n  - name: p\n    path: p.bin\n    type: lora\nparameters:\n  epochs: 1e+06\n  lr: 0.001\n"],
  ];
  for (const [filter, want] of cases) {
    test(filter, () => {
      expect(filterKitfile(k, filter)).toBe(want);
    });
  }

  test("a nil model prints null; a nil parameters prints null", () => {
    const bare = parseConfigJson('{"manifestVersion":"1.0.0","model":{"path":"x"}}');
    expect(filterKitfile(parseConfigJson('{"manifestVersion":"1.0.0"}'), "model")).toBe("null\n");
    expect(filterKitfile(bare, "model.parameters")).toBe("null\n");
    expect(filterKitfile(parseConfigJson("{}"), "package")).toBe("{}\n");
  });

  test("Go field names: datasets (DataSets) and mcpServers (MCPServers), which kit cannot find, are found by their YAML keys too", () => {
    expect(filterKitfile(k, "datasets")).toBe("- name: d\n  path: data\n");
    expect(filterKitfile(k, ".mcpServers")).toBe("[]\n");
    expect(fails("datasets.name")).toBe("error filtering output: cannot find required node");
    // Spelled as the Go field, they are found (Title-casing keeps the rest of the word).
    expect(filterKitfile(k, "DataSets")).toBe("- name: d\n  path: data\n");
    expect(filterKitfile(k, "MCPServers")).toBe("[]\n");
    expect(fails("model.Parts.Name")).toBe("error filtering output: cannot find required node");
  });

  test("unknown fields, fields below lists or values, layer info that was never set", () => {
    expect(fails("model.nope")).toBe("error filtering output: cannot find required node");
    expect(fails("model.parts.name")).toBe("error filtering output: cannot find required node");
    expect(fails("package.name.first")).toBe("error filtering output: cannot find required node");
    expect(fails("model.parameters.epochs")).toBe("error filtering output: cannot find required node");
    expect(fails("model.digest", parseConfigJson('{"model":{"path":"x"}}'))).toBe("error filtering output: cannot find required node");
    expect(fails("model.name", parseConfigJson("{}"))).toBe("error filtering output: cannot find required node");
  });

  test("invalid filters", () => {
    expect(fails("model.parts[0]")).toBe("invalid filter: array access using '[]' is not currently supported");
    expect(fails("model..name")).toBe("invalid filter: invalid filter: model..name");
    expect(fails(".")).toBe("invalid filter: invalid filter: .");
    expect(fails("")).toBe("invalid filter: invalid filter: ");
    expect(fails("model name")).toBe("invalid filter: invalid filter: model name");
  });
});
