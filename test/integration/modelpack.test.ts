/**
 * `kit pack --use-model-pack` through the compiled binary: the CNCF ModelPack format (checked
 * against the model-spec's JSON Schema), read back by inspect, info, list, diff and unpack, and a
 * round trip through a real registry (Debian's docker-registry) into a fresh kit home.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { zstdDecompressSync } from "node:zlib";
import { hashTree, project } from "../helpers/files.ts";
import { runKit, tempDir } from "../helpers/kit.ts";
import { modelPackConfigErrors } from "../helpers/modelpack-schema.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const KITFILE = `manifestVersion: 1.0.0
package:
  name: sentiment
  version: 2.0.0
  description: ModelPack round trip
  license: Apache-2.0
  authors: [Ada]
model:
  name: clf
  path: model.gguf
  format: gguf
  license: MIT
  parts:
    - path: tokenizer.json
code:
  - path: src
datasets:
  - name: train
    path: data
docs:
  - path: README.md
prompts:
  - path: SKILL.md
`;
const FILES = {
  Kitfile: KITFILE,
  "model.gguf": "GGUF" + "w".repeat(5000),
  "tokenizer.json": '{"vocab":{}}',
  "src/serve.py": "print('serve')\n",
  "data/train.csv": "text,label\nhi,1\n",
  "data/sub/more.csv": "x\n",
  "README.md": "# sentiment\n",
  "SKILL.md": "---\nname: sentiment\ndescription: classify\n---\nUse it.\n",
};
/** The project's files and the unpacked ones are the same; the Kitfile is written as kit writes it (the one `kit info` prints). */
async function expectUnpacked(out: string, ctx: string, info: () => Promise<{ stdout: string }>) {
  expect(hashTree(out, ["Kitfile"])).toEqual(hashTree(ctx, ["Kitfile"]));
  expect(readFileSync(path.join(out, "Kitfile"), "utf8")).toBe((await info()).stdout);
}
const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");

describe("kit pack --use-model-pack", () => {
  const ctx = project(FILES);
  const home = tempDir("kit-mp-home-");
  const env = { KITOPS_HOME: home, SOURCE_DATE_EPOCH: "1700000000" };
  const kit = (args: string[], e: Record<string, string> = env) => runKit(args, { cwd: ctx, env: e });
  const blob = (h: string, d: string) => readFileSync(path.join(h, "storage", "blobs", "sha256", d.slice(7)));
  let reg: TestRegistry | undefined;
  let digest = "";

  beforeAll(async () => {
    const r = await kit(["pack", ".", "-t", "sentiment:mp", "--use-model-pack", "--compression", "zstd"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    digest = /Model saved: (sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
    if (hasDockerRegistry()) reg = await startRegistry("none");
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test("inspect shows the ModelPack manifest; the config is valid against the ModelPack schema; diffIds are the uncompressed layers' digests", async () => {
    const r = await kit(["inspect", "sentiment:mp"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const out = JSON.parse(r.stdout);
    expect(out.digest).toBe(digest);
    const m = out.manifest;
    expect(m.artifactType).toBe("application/vnd.cncf.model.manifest.v1+json");
    expect(m.config.mediaType).toBe("application/vnd.cncf.model.config.v1+json");
    expect(m.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(
      ["weight", "weight.config", "code", "dataset", "doc", "code"].map((t) => `application/vnd.cncf.model.${t}.v1.tar+zstd`),
    );
    expect(m.layers.map((l: { annotations: Record<string, string> }) => l.annotations["org.cncf.model.filepath"])).toEqual([
      "model.gguf", "tokenizer.json", "src", "data", "README.md", "SKILL.md",
    ]);
    expect(m.layers[5].annotations["ml.kitops.modelkit.layer-subtype"]).toBe("prompt");
    expect(m.annotations["org.opencontainers.image.created"]).toBe("2023-11-14T22:13:20Z");
    // The Kitfile is kept as kit keeps it: the annotation, shown by inspect with its layer info.
    expect(JSON.parse(m.annotations["ml.kitops.modelkit.kitfile"])).toEqual(out.kitfile);
    expect(out.kitfile.model).toMatchObject({ name: "clf", path: "model.gguf", digest: m.layers[0].digest });
    const config = JSON.parse(blob(home, m.config.digest).toString());
    expect(modelPackConfigErrors(config)).toEqual([]);
    const diffIds = m.layers.map((l: { digest: string }) => sha(zstdDecompressSync(blob(home, l.digest))));
    expect(config.modelfs).toEqual({ type: "layers", diffIds });
    expect(out.kitfile.model.diffId).toBe(diffIds[0]);
    expect(config.descriptor).toEqual({
      createdAt: "2023-11-14T22:13:20Z",
      authors: ["Ada"],
      name: "sentiment",
      version: "2.0.0",
      licenses: ["Apache-2.0", "MIT"],
      title: "sentiment",
      description: "ModelPack round trip",
    });
  });

  test("info, list and diff read it like a Kit ModelKit", async () => {
    const info = await kit(["info", "sentiment:mp", "--filter", "model.name"]);
    expect(info).toEqual({ code: 0, stdout: "clf\n", stderr: "" });
    const list = await kit(["list", "--format", "{{ .Repo }} {{ .ModelName }} {{ .Author }} {{ .Digest }}"]);
    expect(list).toEqual({ code: 0, stdout: `sentiment sentiment Ada ${digest}\n`, stderr: "" });
    const list2 = await kit(["list", "--filter", "prompts"]);
    expect(list2.stdout).toContain(digest);
    const kitPack = await kit(["pack", ".", "-t", "sentiment:kit"]);
    expect(kitPack.code).toBe(0);
    const diff = await kit(["diff", "local://localhost/sentiment:mp", "local://localhost/sentiment:kit"]);
    expect(diff.code).toBe(0);
    // Uncompressed Kit layers: other digests, so every layer is listed on its side with its kind.
    expect(diff.stdout).toContain("Weight  | ");
    expect(diff.stdout).toContain("Model   | ");
  });

  test("unpack restores the project; --filter selects by ModelPack layer kind", async () => {
    const out = tempDir("kit-mp-out-");
    const r = await kit(["unpack", "sentiment:mp", "-d", out]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    await expectUnpacked(out, ctx, () => kit(["info", "sentiment:mp"]));
    const only = tempDir("kit-mp-model-");
    expect((await kit(["unpack", "sentiment:mp", "-d", only, "--filter", "model"])).code).toBe(0);
    expect(Object.keys(hashTree(only))).toEqual(["model.gguf", "tokenizer.json"]);
  });

  test("--layer-format raw writes uncompressed ModelPack raw layers; compressed raw and --compat v1.7 are refused", async () => {
    const kf = "manifestVersion: 1.0.0\npackage:\n  name: raw\nmodel:\n  path: model.gguf\ndocs:\n  - path: README.md\n";
    const raw = project({ Kitfile: kf, "model.gguf": FILES["model.gguf"], "README.md": FILES["README.md"] });
    const r = await runKit(["pack", raw, "-t", "raw:mp", "--use-model-pack", "--layer-format", "raw"], { env });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const m = JSON.parse((await kit(["inspect", "raw:mp"])).stdout).manifest;
    expect(m.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.cncf.model.weight.v1.raw", "application/vnd.cncf.model.doc.v1.raw"]);
    expect(modelPackConfigErrors(JSON.parse(blob(home, m.config.digest).toString()))).toEqual([]);
    const out = tempDir("kit-mp-raw-");
    expect((await kit(["unpack", "raw:mp", "-d", out])).code).toBe(0);
    await expectUnpacked(out, raw, () => kit(["info", "raw:mp"]));

    expect(await runKit(["pack", raw, "--use-model-pack", "--layer-format", "raw", "--compression", "gzip"], { env })).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Failed to pack model kit: compression for raw layers is not supported for ModelPack\n",
    });
    expect(await runKit(["pack", raw, "--use-model-pack", "--compat", "v1.7"], { env })).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Failed to pack model kit: cannot pack with --compat v1.7: kit v1.7 cannot express the ModelPack format (--use-model-pack)\n",
    });
  });

  test.skipIf(!hasDockerRegistry())("push to a real registry, pull into a fresh home, unpack identical", async () => {
    const ref = `${reg!.host}/org/sentiment:mp`;
    expect((await kit(["tag", "sentiment:mp", ref])).code).toBe(0);
    const push = await kit(["push", ref, "--plain-http"]);
    expect([push.code, push.stderr]).toEqual([0, ""]);
    const fresh = { KITOPS_HOME: tempDir("kit-mp-fresh-") };
    const pull = await kit(["pull", ref, "--plain-http"], fresh);
    expect([pull.code, pull.stderr]).toEqual([0, ""]);
    expect(pull.stdout).toContain(digest);
    // The pulled manifest is byte for byte the packed one.
    expect(sha(blob(fresh.KITOPS_HOME, digest))).toBe(digest);
    const remote = JSON.parse((await kit(["inspect", "-r", ref, "--plain-http"], fresh)).stdout);
    expect(remote.manifest.artifactType).toBe("application/vnd.cncf.model.manifest.v1+json");
    const out = tempDir("kit-mp-pulled-");
    const r = await kit(["unpack", ref, "-d", out], fresh);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    await expectUnpacked(out, ctx, () => kit(["info", "sentiment:mp"]));
  });
});
