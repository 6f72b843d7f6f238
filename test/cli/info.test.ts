import { beforeAll, describe, expect, test } from "bun:test";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { APPENDIX_A_DIGEST, APPENDIX_A_FILES, packKit, pushManifest } from "./modelkit-fixtures.ts";

const KITFILE = `manifestVersion: 1.0.0
package:
  name: my-model
  version: 1.0.0
  description: A test model
  license: Apache-2.0
  authors: [Alice, "Bob Smith"]
model:
  name: base
  path: model.bin
  framework: pytorch
  parameters:
    steps: 1000000
    lr: 0.001
    tags: [a, b]
    flag: true
code:
  - path: src
    description: Training code
datasets:
  - name: train
    path: data/train.csv
    parameters:
      rows: 2
docs:
  - path: README.md
`;

describe("kit info", () => {
  const home = tempDir();
  const info = (...args: string[]) => runInProcess(["info", ...args], { env: { KITOPS_HOME: home } });
  let digest = "";
  let untagged = "";
  beforeAll(async () => {
    digest = await packKit(home, {
      Kitfile: KITFILE,
      "model.bin": "weights",
      "src/train.py": "pass\n",
      "data/train.csv": "x,y\n",
      "README.md": "hi\n",
    }, { tag: "my-model:v1" });
    untagged = await packKit(home, { Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: plain\ndocs:\n  - path: notes.txt\n", "notes.txt": "n" });
  });

  test("prints the Kitfile as kit's YAML (parameters sorted, numbers after the JSON round trip)", async () => {
    expect(await info("my-model:v1")).toEqual({
      code: 0,
      stderr: "",
      stdout: `manifestVersion: 1.0.0
package:
  name: my-model
  version: 1.0.0
  description: A test model
  license: Apache-2.0
  authors: [Alice, Bob Smith]
model:
  name: base
  path: model.bin
  framework: pytorch
  parameters:
    flag: true
    lr: 0.001
    steps: 1e+06
    tags:
      - a
      - b
code:
  - path: src
    description: Training code
datasets:
  - name: train
    path: data/train.csv
    parameters:
      rows: 2
docs:
  - path: README.md
`,
    });
  });

  test("--filter selects dot paths, with or without the leading dot", async () => {
    const f = async (filter: string) => {
      const r = await info("my-model:v1", "--filter", filter);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      return r.stdout;
    };
    expect(await f(".package.name")).toBe("my-model\n");
    expect(await f("package.name")).toBe("my-model\n");
    expect(await f("manifestVersion")).toBe("1.0.0\n");
    expect(await f("package.authors")).toBe("- Alice\n- Bob Smith\n");
    expect(await f("model.parameters")).toBe("flag: true\nlr: 0.001\nsteps: 1e+06\ntags:\n  - a\n  - b\n");
    expect(await f("code")).toBe("- path: src\n  description: Training code\n");
    expect(await f("docs")).toBe("- path: README.md\n");
    expect(await f("model.version")).toBe('""\n');
    const inspect = JSON.parse((await runInProcess(["inspect", "my-model:v1"], { env: { KITOPS_HOME: home } })).stdout);
    expect(await f("model.digest")).toBe(`${inspect.kitfile.model.digest}\n`);
  });

  test("--filter datasets works (kit's Go field name DataSets made it unreachable) and so does mcpServers", async () => {
    const datasets = "- name: train\n  path: data/train.csv\n  parameters:\n    rows: 2\n";
    expect((await info("my-model:v1", "-f", "datasets")).stdout).toBe(datasets);
    expect((await info("my-model:v1", "-f", ".Datasets")).stdout).toBe(datasets);
    expect((await info("my-model:v1", "-f", "mcpServers")).stdout).toBe("[]\n");
    expect(await info("my-model:v1", "-f", "datasets.name")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Error filtering output: cannot find required node\n" });
  });

  test("--filter errors are kit's", async () => {
    expect(await info("my-model:v1", "--filter", "datasets[0]")).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Invalid filter: array access using '[]' is not currently supported\n",
    });
    expect(await info("my-model:v1", "--filter", "..package")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Invalid filter: invalid filter: ..package\n" });
    expect(await info("my-model:v1", "--filter", "package.nickname")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Error filtering output: cannot find required node\n" });
  });

  test("a kit without a model gives null for model; a bare digest names an untagged kit", async () => {
    expect(await info(untagged, "-f", "model")).toEqual({ code: 0, stdout: "null\n", stderr: "" });
    expect((await info(untagged)).stdout).toBe("manifestVersion: 1.0.0\npackage:\n  name: plain\ndocs:\n  - path: notes.txt\n");
    // A bare digest resolves in localhost/_ only, as in kit.
    expect(await info(digest)).toEqual({ code: 1, stdout: "", stderr: `[ERROR] Could not find modelkit ${digest}\n` });
    expect((await info(`my-model@${digest}`, "-f", "package.name")).stdout).toBe("my-model\n");
  });

  test("reference errors and --remote", async () => {
    expect(await info("nope:v1")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Could not find modelkit nope:v1\n" });
    expect(await info("my-model:v1,v2")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Invalid arguments: invalid reference format: extra tags are not supported: v2\n" });
    expect(await info("My-Model:v1")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Invalid arguments: repository (My-Model) name must be lowercase\n" });
    expect(await info("--remote", "my-model:v1")).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Invalid arguments: can not check remote: my-model:v1 does not contain registry\n",
    });
    // --remote against a registry: test/integration/remote-commands.test.ts.
    expect((await info()).stderr).toStartWith("Error: accepts 1 arg(s), received 0\n");
  });
});

test("info on something that is not a ModelKit, and on a ModelPack without a Kitfile", async () => {
  const home = tempDir();
  const info = (...args: string[]) => runInProcess(["info", ...args], { env: { KITOPS_HOME: home } });
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  expect((await info("example:v1")).stdout).toBe(APPENDIX_A_FILES.Kitfile);
  expect((await info(`example@${APPENDIX_A_DIGEST}`)).stdout).toBe(APPENDIX_A_FILES.Kitfile);
  await pushManifest(home, "localhost/image", { configMediaType: "application/vnd.oci.image.config.v1+json", config: "{}" }, "latest");
  expect(await info("image:latest")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Error resolving modelkit: reference exists but is not a modelkit\n" });
  await pushManifest(home, "localhost/pack", {
    configMediaType: "application/vnd.cncf.model.config.v1+json",
    config: "{}",
    layers: [{
      mediaType: "application/vnd.cncf.model.weight.v1.tar",
      digest: "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
      size: 1024,
      annotations: { "org.cncf.model.filepath": "model.bin" },
    }],
  }, "v1");
  expect(await info("pack:v1")).toEqual({
    code: 0,
    stdout: "manifestVersion: 1.0.0\nmodel:\n  path: model.bin\n",
    stderr: "[WARN ] Artifact does not include Kitfile: functionality may be impacted\n",
  });
});
