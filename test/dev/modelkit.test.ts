/** kit dev start <ModelKit>: only the model (and the Kitfile) is unpacked into <home>/cache/dev/<digest>. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { extractModelKit, devCacheDir, type KitSource } from "../../src/dev/modelkit.ts";
import { resolveDevModel } from "../../src/dev/model.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { parseReference, repoKey, tagOrDigest } from "../../src/oci/reference.ts";
import { pack } from "../../src/modelkit/pack.ts";
import { modelReference } from "../../src/kitfile/paths.ts";
import { localParentSource } from "../../src/modelkit/locate.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { LocalRepository } from "../../src/store/local.ts";
import { KitError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { listTree, project } from "../helpers/files.ts";
import { tempDir } from "../helpers/kit.ts";

/** Every file under dir, relative, sorted. */
const tree = (dir: string) => listTree(dir, { dirs: false }).sort();

async function packInto(storage: LayoutStore, repo: string, files: Record<string, string>, over: Partial<Parameters<typeof pack>[0]> = {}) {
  const dir = project(files);
  const { kitfile } = parseKitfile(files.Kitfile!, "Kitfile");
  return pack({
    context: dir, kitfile, storage, repo, tags: ["v1"], compression: "none", layerFormat: "tar", shape: "newest",
    cliVersion: "test", created: "2026-01-01T00:00:00Z", logger: memoryLogger(), modelIsReference: modelReference(kitfile.model?.path) !== undefined,
    ...over,
  });
}

const source = (storage: LayoutStore): KitSource => async (ref) => {
  const repo = new LocalRepository(storage, repoKey(ref));
  await repo.resolve(tagOrDigest(ref));
  return repo;
};

describe("extractModelKit", () => {
  test("only the Kitfile and the model; reused by the next start", async () => {
    const storage = await LayoutStore.open(path.join(tempDir("kit-devkit-"), "storage"));
    const r = await packInto(storage, "localhost/chat", {
      Kitfile: "manifestVersion: 1.0.0\nmodel:\n  name: chat\n  path: model\ndatasets:\n  - path: data\ncode:\n  - path: src\n",
      "model/chat.gguf": "GGUF weights",
      "data/train.csv": "a,b",
      "src/app.py": "print()",
    });
    const cache = path.join(tempDir("kit-devcache-"), "cache");
    const log = memoryLogger();
    const kit = await extractModelKit({ ref: parseReference("chat:v1"), source: source(storage), cacheRoot: cache, logger: log });
    const dir = path.join(cache, "dev", r.manifest.digest.replace("sha256:", "sha256-"));
    expect(kit).toEqual({ dir, kitfilePath: path.join(dir, "Kitfile"), digest: r.manifest.digest, unpacked: true });
    expect(devCacheDir(cache, r.manifest.digest)).toBe(dir);
    expect(tree(dir)).toEqual(["Kitfile", "model/chat.gguf"]);
    expect(readFileSync(path.join(dir, "model/chat.gguf"), "utf8")).toBe("GGUF weights");
    // nothing left over next to it
    expect(readdirSync(path.join(cache, "dev"))).toEqual([path.basename(dir)]);

    const again = await extractModelKit({ ref: parseReference("chat:v1"), source: source(storage), cacheRoot: cache, logger: log });
    expect(again.unpacked).toBe(false);
    expect(again.dir).toBe(dir);
  });

  test("a ModelPack (pack --use-model-pack, zstd): only its weights and the Kitfile", async () => {
    const storage = await LayoutStore.open(path.join(tempDir("kit-devkit-"), "storage"));
    const r = await packInto(storage, "localhost/mp", {
      Kitfile: "manifestVersion: 1.0.0\nmodel:\n  name: chat\n  path: chat.gguf\n  parts:\n    - path: tokenizer.json\ndocs:\n  - path: README.md\n",
      "chat.gguf": "GGUF weights",
      "tokenizer.json": "{}",
      "README.md": "docs",
    }, { compression: "zstd", modelPack: { createdAt: "2026-01-01T00:00:00Z" } });
    expect(r.config.mediaType).toBe("application/vnd.cncf.model.config.v1+json");
    const cache = path.join(tempDir("kit-devcache-"), "cache");
    const kit = await extractModelKit({ ref: parseReference("mp:v1"), source: source(storage), cacheRoot: cache, logger: memoryLogger() });
    expect(tree(kit.dir)).toEqual(["Kitfile", "chat.gguf", "tokenizer.json"]);
    expect(readFileSync(path.join(kit.dir, "chat.gguf"), "utf8")).toBe("GGUF weights");
    const { kitfile } = parseKitfile(readFileSync(kit.kitfilePath, "utf8"), "Kitfile");
    const model = await resolveDevModel({ kitfile, kitfilePath: kit.kitfilePath, contextDir: kit.dir });
    expect(model).toEqual({ file: path.join(kit.dir, "chat.gguf"), id: "chat" });
  });

  test("two starts at once both get a complete directory", async () => {
    const storage = await LayoutStore.open(path.join(tempDir("kit-devkit-"), "storage"));
    await packInto(storage, "localhost/chat", { Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: m.gguf\n", "m.gguf": "x".repeat(100_000) });
    const cache = path.join(tempDir("kit-devcache-"), "cache");
    const run = () => extractModelKit({ ref: parseReference("chat:v1"), source: source(storage), cacheRoot: cache, logger: memoryLogger() });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.dir).toBe(b.dir);
    expect(tree(a.dir)).toEqual(["Kitfile", "m.gguf"]);
    expect(readdirSync(path.join(cache, "dev"))).toEqual([path.basename(a.dir)]);
  });

  test("a model reference: the parent's model files land in the same directory, and resolve", async () => {
    const storage = await LayoutStore.open(path.join(tempDir("kit-devkit-"), "storage"));
    await packInto(storage, "localhost/base", {
      Kitfile: "manifestVersion: 1.0.0\nmodel:\n  name: base\n  path: weights/base.gguf\ndocs:\n  - path: README.md\n",
      "weights/base.gguf": "base weights",
      "README.md": "docs",
    });
    await packInto(storage, "localhost/tuned", {
      Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: base:v1\ncode:\n  - path: prompts\n",
      "prompts/p.txt": "x",
    });
    const cache = path.join(tempDir("kit-devcache-"), "cache");
    const log = memoryLogger();
    const kit = await extractModelKit({ ref: parseReference("tuned:v1"), source: source(storage), cacheRoot: cache, logger: log });
    expect(tree(kit.dir)).toEqual(["Kitfile", "weights/base.gguf"]);
    expect(log.text()).toContain("Unpacking referenced ModelKit base:v1\n");
    const { kitfile } = parseKitfile(readFileSync(kit.kitfilePath, "utf8"), "Kitfile");
    const model = await resolveDevModel({ kitfile, kitfilePath: kit.kitfilePath, contextDir: kit.dir, parents: localParentSource(storage) });
    expect(model).toEqual({ file: path.join(kit.dir, "weights/base.gguf"), id: "base" });
  });

  test("a failed unpack leaves nothing behind", async () => {
    const storage = await LayoutStore.open(path.join(tempDir("kit-devkit-"), "storage"));
    await packInto(storage, "localhost/broken", { Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: gone:v1\n" });
    const cache = path.join(tempDir("kit-devcache-"), "cache");
    const err = await extractModelKit({ ref: parseReference("broken:v1"), source: source(storage), cacheRoot: cache, logger: memoryLogger() }).catch((e) => e);
    expect(err).toBeInstanceOf(KitError);
    expect(readdirSync(path.join(cache, "dev"))).toEqual([]);
  });
});
