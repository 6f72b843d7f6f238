/** The ModelPack config `pack --use-model-pack` writes (docs/format.md#modelpack). */
import { expect, test } from "bun:test";
import { modelPackConfigJson } from "../../src/kitfile/modelpack.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { modelPackConfigErrors } from "../helpers/modelpack-schema.ts";

const KITFILE = `manifestVersion: 1.0.0
package:
  name: sentiment
  version: 1.2.3
  description: "A <small> model & friends"
  license: Apache-2.0
  authors: [Ada, Bob]
model:
  path: model.gguf
  format: gguf
  license: MIT
  parts:
    - path: tokenizer.json
      license: Apache-2.0
code:
  - path: src
    license: BSD-3-Clause
datasets:
  - path: data
    license: CC-BY-4.0
docs:
  - path: README.md
`;

test("the model-spec struct in Go's field order: descriptor, modelfs, config; licences sorted and de-duplicated", () => {
  const { kitfile } = parseKitfile(KITFILE, "Kitfile");
  const json = modelPackConfigJson(kitfile, ["sha256:aa", "sha256:bb"], "2026-01-02T03:04:05.123456789+02:00");
  expect(json).toBe(
    '{"descriptor":{"createdAt":"2026-01-02T03:04:05.123456789+02:00","authors":["Ada","Bob"],"name":"sentiment",' +
      '"version":"1.2.3","licenses":["Apache-2.0","BSD-3-Clause","CC-BY-4.0","MIT"],"title":"sentiment",' +
      '"description":"A \\u003csmall\\u003e model \\u0026 friends"},' +
      '"modelfs":{"type":"layers","diffIds":["sha256:aa","sha256:bb"]},"config":{"format":"gguf"}}',
  );
  expect(modelPackConfigErrors(JSON.parse(json))).toEqual([]);
});

test("empty fields are left out, except diffIds (Go's null without layers)", () => {
  const { kitfile } = parseKitfile("manifestVersion: 1.0.0\n", "Kitfile");
  expect(modelPackConfigJson(kitfile, [], "")).toBe('{"descriptor":{},"modelfs":{"type":"layers","diffIds":null},"config":{}}');
  // The schema needs at least one diffId: a ModelPack without layers is not a valid model.
  expect(modelPackConfigErrors(JSON.parse(modelPackConfigJson(kitfile, [], "")))).toEqual(["/modelfs/diffIds must be array"]);
  expect(modelPackConfigErrors(JSON.parse(modelPackConfigJson(kitfile, ["sha256:aa"], "2026-01-02T03:04:05Z")))).toEqual([]);
});
