import { expect, test } from "bun:test";
import type { HubFile } from "../../src/init/hub.ts";
import { planDownloads } from "../../src/modelkit/import.ts";
import type { Kitfile } from "../../src/kitfile/schema.ts";
import { NotFoundError } from "../../src/util/errors.ts";

const f = (path: string): HubFile => ({ path, size: 1, oid: "0".repeat(40) });
const files = ["README.md", "config.json", "model.safetensors", "onnx/model.onnx", "onnx/extra/a.bin", "src/run.py", "src/.hidden", ".gitattributes", "unused.txt"].map(f);
const paths = (x: HubFile[]) => x.map((y) => y.path);

test("single-file layers become layers; directory layers take their files except those of nested layers", () => {
  const k: Kitfile = {
    manifestVersion: "1.0.0",
    package: {},
    model: { path: "model.safetensors", parts: [{ path: "config.json" }, { path: "onnx/model.onnx" }] },
    code: [{ path: "src/" }, { path: "onnx" }],
    docs: [{ path: "README.md" }],
  };
  const p = planDownloads(k, files, "acme/x");
  expect(paths(p.layers)).toEqual(["model.safetensors", "config.json", "onnx/model.onnx", "README.md"]);
  // src/.hidden and .gitattributes are never imported; unused.txt is in no layer.
  expect(paths(p.tree).sort()).toEqual(["onnx/extra/a.bin", "src/run.py"]);
});

test("a catch-all layer takes every file no other layer claims", () => {
  const k: Kitfile = { manifestVersion: "1.0.0", package: {}, model: { path: "model.safetensors" }, code: [{ path: "." }] };
  const p = planDownloads(k, files, "acme/x");
  expect(paths(p.layers)).toEqual(["model.safetensors"]);
  expect(paths(p.tree).sort()).toEqual(["README.md", "config.json", "onnx/extra/a.bin", "onnx/model.onnx", "src/run.py", "unused.txt"]);
});

test("a path that is not in the repository is an error naming it", () => {
  const k: Kitfile = { manifestVersion: "1.0.0", package: {}, datasets: [{ path: "data/train.csv" }] };
  expect(() => planDownloads(k, files, "acme/x at main (commit abc)")).toThrow(new NotFoundError("Path data/train.csv of the Kitfile is not in acme/x at main (commit abc)"));
});

test("MCP bundles (raw layers) are read from the tree", () => {
  const k: Kitfile = { manifestVersion: "1.0.0", package: {}, mcpServers: [{ name: "srv", path: "srv.mcpb" }] };
  const p = planDownloads(k, [f("srv.mcpb")], "acme/x");
  expect(p.layers).toEqual([]);
  expect(paths(p.tree)).toEqual(["srv.mcpb"]);
});
