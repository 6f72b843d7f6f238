import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { LayerCache } from "../../src/modelkit/layer-cache.ts";
import { pack } from "../../src/modelkit/pack.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { noTask, type Progress } from "../../src/util/progress.ts";
import { tempDir } from "../helpers/kit.ts";

const KITFILE = "manifestVersion: 1.0.0\nmodel:\n  path: model\ndatasets:\n  - path: data\n";

/** Records which layers were read (a task is opened only when a layer's files are read). */
function spyProgress() {
  const read: string[] = [];
  const p: Progress = { task: (title) => (read.push(title), noTask), suspend: (f) => f(), close() {} };
  return { p, read };
}

async function setup() {
  const ctx = tempDir("kit-cache-ctx-");
  mkdirSync(path.join(ctx, "model"));
  mkdirSync(path.join(ctx, "data"));
  writeFileSync(path.join(ctx, "model", "w.bin"), "weights v1");
  writeFileSync(path.join(ctx, "data", "a.csv"), "1,2");
  // Timestamps well in the past, so the files are not "racy".
  const old = new Date(Date.now() - 3600_000);
  for (const f of ["model/w.bin", "data/a.csv", "model", "data"]) utimesSync(path.join(ctx, f), old, old);
  const storage = await LayoutStore.open(path.join(tempDir("kit-cache-store-"), "storage"));
  const cacheDir = path.join(tempDir("kit-cache-dir-"), "layers");
  // The files were just written, so their ctime is "now": look at them from 10 s in the future.
  const later = () => Date.now() + 10_000;
  const run = async (cache = new LayerCache(cacheDir, later)) => {
    const { p, read } = spyProgress();
    const logger = memoryLogger("debug");
    const r = await pack({
      context: ctx, kitfile: parseKitfile(KITFILE, "Kitfile").kitfile, storage, repo: "localhost/c", tags: ["1"], compression: "none",
      layerFormat: "tar", shape: "newest", cliVersion: "t", created: "2026-01-01T00:00:00Z", logger, progress: p, layerCache: cache,
    });
    return { r, read: read.sort(), logger };
  };
  return { ctx, storage, cacheDir, run };
}

test("re-packing an unchanged project reads no file and gives the same digests", async () => {
  const { run } = await setup();
  const first = await run();
  expect(first.read).toEqual(["Dataset data", "Model model"]);
  const second = await run();
  expect(second.read).toEqual([]);
  expect(second.r.manifest.digest).toBe(first.r.manifest.digest);
  expect(second.logger.text()).toContain("Layer model is unchanged since it was last packed");
});

test("a changed file re-reads only its layer", async () => {
  const { ctx, run } = await setup();
  const first = await run();
  writeFileSync(path.join(ctx, "data", "a.csv"), "3,4");
  const old = new Date(Date.now() - 3000_000);
  utimesSync(path.join(ctx, "data", "a.csv"), old, old);
  const second = await run();
  expect(second.read).toEqual(["Dataset data"]);
  expect(second.r.layers[0]!.digest).toBe(first.r.layers[0]!.digest);
  expect(second.r.layers[1]!.digest).not.toBe(first.r.layers[1]!.digest);
});

test("same size and restored mtime still re-reads (ctime and inode are part of the key)", async () => {
  const { ctx, run } = await setup();
  const first = await run();
  const f = path.join(ctx, "model", "w.bin");
  const old = new Date(Date.now() - 3600_000);
  writeFileSync(f, "weights v2");
  utimesSync(f, old, old);
  const second = await run();
  expect(second.read).toEqual(["Model model"]);
  expect(second.r.layers[0]!.digest).not.toBe(first.r.layers[0]!.digest);
});

test("corrupt entries and missing blobs are detected, never trusted", async () => {
  const { storage, cacheDir, run } = await setup();
  const first = await run();
  const entries = readdirSync(cacheDir, { recursive: true }).map(String).filter((f) => f.endsWith(".json"));
  expect(entries).toHaveLength(2);
  for (const e of entries) {
    const file = path.join(cacheDir, e);
    writeFileSync(file, readFileSync(file, "utf8").replace(/"size":\d+/, '"size":1'));
  }
  const tampered = await run();
  expect(tampered.read).toEqual(["Dataset data", "Model model"]);
  expect(tampered.r.manifest.digest).toBe(first.r.manifest.digest);

  rmSync(storage.blobPath(first.r.layers[1]!.digest), { force: true });
  const missing = await run();
  expect(missing.read).toEqual(["Dataset data"]);
  expect(readFileSync(storage.blobPath(first.r.layers[1]!.digest)).byteLength).toBe(first.r.layers[1]!.size);
});

test("racy files (changed within the last two seconds) are not cached", async () => {
  const { ctx, cacheDir, run } = await setup();
  writeFileSync(path.join(ctx, "model", "w.bin"), "fresh");
  const now = () => Date.now();
  await run(new LayerCache(cacheDir, now));
  const second = await run(new LayerCache(cacheDir, now));
  // Every file here was changed (ctime) just now: nothing is cached, everything is read again.
  expect(second.read).toEqual(["Dataset data", "Model model"]);
  expect(existsSync(cacheDir)).toBe(false);
});
