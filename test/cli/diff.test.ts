import { expect, test } from "bun:test";
import type { Descriptor } from "../../src/oci/descriptor.ts";
import type { Digest } from "../../src/oci/digest.ts";
import { compareManifests } from "../../src/modelkit/diff.ts";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { APPENDIX_A_FILES, packKit, pushManifest } from "./modelkit-fixtures.ts";

const KIT = "application/vnd.kitops.modelkit";
const d = (c: string): Digest => `sha256:${c.repeat(64)}`;
const layer = (type: string, c: string, size: number): Descriptor => ({ mediaType: type.includes("/") ? type : `${KIT}.${type}.v1.tar`, digest: d(c), size });
const DASHES = "---------------------------------------";

test("identical manifests", async () => {
  const home = tempDir();
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1,v2", shape: "v1.7" });
  const r = await runInProcess(["diff", "localhost/example:v1", "local://localhost/example:v2"], { env: { KITOPS_HOME: home } });
  expect(r).toEqual({ code: 0, stdout: "ModelKits are identical\n", stderr: "" });
});

test("the full report: configs, annotations, shared and unique layers in a fixed order", async () => {
  const home = tempDir();
  const a = await pushManifest(home, "localhost/a", {
    config: '{"manifestVersion":"1.0.0","package":{"name":"a"}}',
    layers: [layer("model", "1", 2048), layer("code", "2", 1536), layer("dataset", "3", 5000), layer("dataset", "3", 5000), layer("docs", "4", 100)],
    annotations: { x: "1" },
  }, "v1");
  const b = await pushManifest(home, "localhost/b", {
    config: '{"manifestVersion":"1.0.0","package":{"name":"b"}}',
    layers: [
      layer("docs", "7", 300),
      layer("model", "1", 2048),
      layer("code", "5", 1536),
      layer("dataset", "3", 5000),
      layer("dataset", "3", 5000),
      layer("docs", "6", 200),
      layer("application/vnd.cncf.model.weight.v1.tar", "8", 1024),
      layer("application/octet-stream", "9", 10),
    ],
    annotations: { x: "2" },
  }, "v1");
  const manifestA = JSON.parse(await Bun.file(`${home}/storage/blobs/sha256/${a.digest.slice(7)}`).text());
  const manifestB = JSON.parse(await Bun.file(`${home}/storage/blobs/sha256/${b.digest.slice(7)}`).text());
  const r = await runInProcess(["diff", "localhost/a:v1", "localhost/b:v1"], { env: { KITOPS_HOME: home } });
  expect(r).toEqual({
    code: 0,
    stderr: "",
    stdout: [
      "Comparing:",
      "  ModelKit1: localhost/a:v1",
      "  ModelKit2: localhost/b:v1",
      "",
      "Configurations:",
      DASHES,
      "Configs differ:",
      `  ModelKit1 Config Digest: ${manifestA.config.digest.slice(0, 17)}`,
      `  ModelKit2 Config Digest: ${manifestB.config.digest.slice(0, 17)}`,
      "",
      "Annotations:",
      DASHES,
      "  Annotations does not match",
      "",
      "Shared Layers",
      DASHES,
      "Type    | Digest             | Size",
      "Dataset | sha256:3333333333  | 4.8 KiB",
      "Model   | sha256:1111111111  | 2.0 KiB",
      "",
      "Unique Layers to ModelKit1 (localhost/a:v1)",
      DASHES,
      "Type    | Digest             | Size",
      "Code    | sha256:2222222222  | 1.5 KiB",
      "Docs    | sha256:4444444444  | 100 B",
      "",
      "Unique Layers to ModelKit2 (localhost/b:v1)",
      DASHES,
      "Type    | Digest             | Size",
      "(invalid media type) | sha256:9999999999  | 10 B",
      "Weight  | sha256:8888888888  | 1.0 KiB",
      "Code    | sha256:5555555555  | 1.5 KiB",
      "Dataset | sha256:3333333333  | 4.8 KiB",
      "Docs    | sha256:6666666666  | 200 B",
      "Docs    | sha256:7777777777  | 300 B",
      "",
      "",
    ].join("\n"),
  });
});

test("same config and annotations; empty sections print <none>", async () => {
  const home = tempDir();
  const config = '{"manifestVersion":"1.0.0","package":{}}';
  await pushManifest(home, "localhost/a", { config, layers: [layer("model", "1", 5)], annotations: { k: "v" } }, "v1");
  const b = await pushManifest(home, "localhost/a", { config, layers: [layer("model", "1", 5), layer("docs", "2", 6)], annotations: { k: "v" } }, "v2");
  const cfg = (await Bun.file(`${home}/storage/blobs/sha256/${b.digest.slice(7)}`).json()).config.digest as string;
  const r = await runInProcess(["diff", "localhost/a:v1", `local://localhost/a@${b.digest}`], { env: { KITOPS_HOME: home } });
  expect(r.stdout).toBe(
    [
      "Comparing:",
      "  ModelKit1: localhost/a:v1",
      `  ModelKit2: localhost/a@${b.digest}`,
      "",
      "Configurations:",
      DASHES,
      `  Configs are identical (Digest: ${cfg.slice(0, 17)})`,
      "",
      "Annotations:",
      DASHES,
      "  Annotations are identical ",
      "",
      "Shared Layers",
      DASHES,
      "Type    | Digest             | Size",
      "Model   | sha256:1111111111  | 5 B",
      "",
      "Unique Layers to ModelKit1 (localhost/a:v1)",
      DASHES,
      "<none>",
      "",
      `Unique Layers to ModelKit2 (localhost/a@${b.digest})`,
      DASHES,
      "Type    | Digest             | Size",
      "Docs    | sha256:2222222222  | 6 B",
      "",
      "",
    ].join("\n"),
  );
  // At -v every message carries the prefix; the blank lines inside a message do not.
  const v = await runInProcess(["diff", "-v", "localhost/a:v1", "localhost/a:v2"], { env: { KITOPS_HOME: home } });
  expect(v.stdout).toContain("[INFO ] Comparing:\n[INFO ]   ModelKit1: localhost/a:v1\n[INFO ]   ModelKit2: localhost/a:v2\n\n[INFO ] Configurations:\n");
  expect(v.stdout).toEndWith("[INFO ] Docs    | sha256:2222222222  | 6 B\n[INFO ] \n");
});

test("compareManifests never depends on input order for equal media types", () => {
  const m = (layers: Descriptor[]) => ({ schemaVersion: 2, config: layer("model", "c", 1), layers });
  const x = [layer("docs", "b", 1), layer("docs", "a", 1), layer("code", "f", 1)];
  const r1 = compareManifests(m(x), m([]));
  const r2 = compareManifests(m([...x].reverse()), m([]));
  expect(r1.uniqueA.map((l) => l.digest)).toEqual([d("f"), d("a"), d("b")]);
  expect(r2).toEqual(r1);
});

test("diff errors: oras references need a registry; local:// reads only local storage", async () => {
  const home = tempDir();
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  const diff = (...args: string[]) => runInProcess(["diff", ...args], { env: { KITOPS_HOME: home } });
  expect(await diff("example:v1", "localhost/example:v1")).toEqual({
    code: 1,
    stdout: "",
    stderr: "[ERROR] Invalid arguments: failed to parse reference for ref1: invalid reference: missing registry or repository\n",
  });
  expect(await diff("localhost/example:v1", "localhost/Example:v1")).toEqual({
    code: 1,
    stdout: "",
    stderr: '[ERROR] Invalid arguments: failed to parse reference for ref2: invalid reference: invalid repository "Example"\n',
  });
  expect(await diff("localhost/example:v1", "local://localhost/example:v9")).toEqual({
    code: 1,
    stdout: "",
    stderr: "[ERROR] Failed to get manifest for ModelKit2: v9: not found\n",
  });
  // remote:// and the fallback to the registry: test/integration/remote-commands.test.ts.
  expect((await diff("localhost/example:v1")).stderr).toStartWith("Error: accepts 2 arg(s), received 1\n");
});
