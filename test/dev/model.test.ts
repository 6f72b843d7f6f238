/** Which file kit dev serves (docs/format.md#dev): a .gguf inside the context, following model references. */
import { describe, expect, test } from "bun:test";
import { symlinkSync } from "node:fs";
import path from "node:path";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { resolveDevModel, findGgufInDir } from "../../src/dev/model.ts";
import { pack } from "../../src/modelkit/pack.ts";
import { localParentSource } from "../../src/modelkit/locate.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { KitError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { project } from "../helpers/files.ts";
import { tempDir } from "../helpers/kit.ts";

async function resolve(dir: string, kitfileText: string, extra: Partial<Parameters<typeof resolveDevModel>[0]> = {}) {
  const { kitfile } = parseKitfile(kitfileText, "Kitfile");
  return resolveDevModel({ kitfile, kitfilePath: path.join(dir, "Kitfile"), contextDir: dir, ...extra });
}

async function failure(p: Promise<unknown>): Promise<KitError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KitError);
    return e as KitError;
  }
  throw new Error("expected a failure");
}

const KF = (p: string, name = "") => `manifestVersion: 1.0.0\nmodel:\n${name ? `  name: ${name}\n` : ""}  path: ${p}\n`;

describe("resolveDevModel", () => {
  test("a .gguf file: its absolute path; id from model.name, else the file name", async () => {
    const dir = project({ "m/llama.gguf": "x" });
    expect(await resolve(dir, KF("m/llama.gguf", "my-llama"))).toEqual({ file: path.join(dir, "m/llama.gguf"), id: "my-llama" });
    expect(await resolve(dir, KF("./m/llama.gguf"))).toEqual({ file: path.join(dir, "m/llama.gguf"), id: "llama" });
  });

  test("a directory with exactly one .gguf (searched recursively; projector files skipped)", async () => {
    const dir = project({ "m/README.md": "x", "m/sub/model.Q4.gguf": "x", "m/mmproj-f16.gguf": "x" });
    expect((await resolve(dir, KF("m"))).file).toBe(path.join(dir, "m/sub/model.Q4.gguf"));
  });

  test("a split model counts as one: its first part is loaded", async () => {
    const dir = project({ "m/big-00002-of-00003.gguf": "x", "m/big-00001-of-00003.gguf": "x", "m/big-00003-of-00003.gguf": "x" });
    expect(await resolve(dir, KF("m"))).toEqual({ file: path.join(dir, "m/big-00001-of-00003.gguf"), id: "big" });
  });

  test("an incomplete split model names the missing parts", async () => {
    const dir = project({ "m/big-00001-of-00003.gguf": "x", "m/big-00003-of-00003.gguf": "x" });
    expect((await failure(resolve(dir, KF("m")))).message).toBe("The split model in m is incomplete: part 2 of 3 missing");
  });

  test("a directory without a .gguf names what it holds and what is needed", async () => {
    const dir = project({ "m/model.safetensors": "x", "m/config.json": "{}" });
    const e = await failure(resolve(dir, KF("m")));
    expect(e.message).toBe("Could not find a .gguf model file in m: it holds config.json, model.safetensors");
    expect(e.hint).toBe("The model for kit dev must be a .gguf file, or a directory holding exactly one .gguf model");
    const empty = project({ "e/": "" });
    expect((await failure(resolve(empty, KF("e")))).message).toBe("Could not find a .gguf model file in e: it holds nothing");
    const proj = project({ "p/mmproj-model.gguf": "x" });
    expect((await failure(resolve(proj, KF("p")))).message).toBe("Could not find a .gguf model file in p: it holds only multimodal projector files (mmproj-model.gguf)");
  });

  test("more than one .gguf: all are named", async () => {
    const dir = project({ "m/a.gguf": "x", "m/b/c.gguf": "x" });
    const e = await failure(resolve(dir, KF("m")));
    expect(e.message).toBe("Found 2 .gguf model files in m: a.gguf, b/c.gguf");
    expect(e.hint).toBe("The model for kit dev must be a .gguf file, or a directory holding exactly one .gguf model: point model.path in the Kitfile at one of them");
  });

  test("a file that is not .gguf", async () => {
    const dir = project({ "model.safetensors": "12345" });
    const e = await failure(resolve(dir, KF("model.safetensors")));
    expect(e.message).toBe('The model path model.safetensors is a ".safetensors" (5 bytes) file, not a .gguf file');
    expect(e.hint).toContain("convert the model to GGUF");
  });

  test("paths outside the context are refused, also through symlinks", async () => {
    const outside = project({ "x.gguf": "x" });
    const dir = project({ Kitfile: "" });
    expect((await failure(resolve(dir, KF("../x.gguf")))).message).toBe(`The model path ../x.gguf points outside the context directory ${dir}`);
    symlinkSync(path.join(outside, "x.gguf"), path.join(dir, "link.gguf"));
    expect((await failure(resolve(dir, KF("link.gguf")))).message).toBe(
      `The model path link.gguf is a link to ${path.join(outside, "x.gguf")}, outside the context directory ${dir}`,
    );
  });

  test("a missing model path, or none at all", async () => {
    const dir = project({});
    const e = await failure(resolve(dir, KF("gone.gguf")));
    expect(e.message).toBe(`The model path gone.gguf does not exist in ${dir}`);
    const none = await failure(resolve(dir, "manifestVersion: 1.0.0\npackage:\n  name: x\n"));
    expect(none.message).toBe(`${path.join(dir, "Kitfile")} has no model: its model section is missing`);
  });

  test("a model reference resolves to the root ancestor's model path", async () => {
    const parentDir = project({ "weights/base.gguf": "x" });
    const storage = await LayoutStore.open(path.join(tempDir("kit-devstore-"), "storage"));
    const parentKf = parseKitfile("manifestVersion: 1.0.0\nmodel:\n  name: base\n  path: weights/base.gguf\n", "Kitfile").kitfile;
    await pack({
      context: parentDir, kitfile: parentKf, storage, repo: "localhost/base", tags: ["v1"], compression: "none", layerFormat: "tar",
      shape: "newest", cliVersion: "test", created: "2026-01-01T00:00:00Z", logger: memoryLogger(),
    });
    // the child's context holds the parent's model files, as kit unpack leaves them
    const child = project({ "weights/base.gguf": "x" });
    const m = await resolve(child, KF("base:v1"), { parents: localParentSource(storage) });
    expect(m).toEqual({ file: path.join(child, "weights/base.gguf"), id: "base" });
    expect((await failure(resolve(child, KF("missing:v1"), { parents: localParentSource(storage) }))).message).toBe(
      "Failed to resolve referenced modelkit missing:v1: missing:v1 was not found in local storage or its registry",
    );
  });
});

describe("findGgufInDir", () => {
  test("symlinked files are not followed", async () => {
    const dir = project({ "real/a.gguf": "x", "m/": "" });
    symlinkSync(path.join(dir, "real/a.gguf"), path.join(dir, "m/a.gguf"));
    expect((await failure(findGgufInDir(path.join(dir, "m"), "m"))).message).toBe("Could not find a .gguf model file in m: it holds nothing");
  });
});
