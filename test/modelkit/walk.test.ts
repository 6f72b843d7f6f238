import { afterAll, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { walkLayer } from "../../src/modelkit/walk.ts";
import { memoryLogger } from "../../src/util/log.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "kit-walk-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function walk(context: string, layerPath = ".") {
  return walkLayer({ context, layerPath, excluded: () => false, descendIgnoredDirs: false, logger: memoryLogger() });
}

test("entries come depth first in byte order; a symlink inside the context is its target", async () => {
  const ctx = fs.mkdtempSync(path.join(root, "ctx-"));
  fs.mkdirSync(path.join(ctx, "b"));
  fs.writeFileSync(path.join(ctx, "b", "x"), "xx");
  fs.writeFileSync(path.join(ctx, "a"), "a");
  fs.writeFileSync(path.join(ctx, "..weights"), "www");
  fs.symlinkSync("..weights", path.join(ctx, "link"));
  const entries = await walk(ctx);
  expect(entries.map((e) => [e.name, e.type, e.size])).toEqual([
    ["..weights", "file", 3],
    ["a", "file", 1],
    ["b", "dir", 0],
    ["b/x", "file", 2],
    ["link", "file", 3],
  ]);
  expect(entries[4]!.source).toBe(path.join(fs.realpathSync(ctx), "..weights"));
});

test("a symlink leading outside the context is an error naming it", async () => {
  const ctx = fs.mkdtempSync(path.join(root, "ctx-"));
  const outside = fs.mkdtempSync(path.join(root, "out-"));
  fs.writeFileSync(path.join(outside, "secret"), "s");
  fs.symlinkSync(path.join(outside, "secret"), path.join(ctx, "leak"));
  await expect(walk(ctx)).rejects.toThrow(`Symlink leak points outside the context directory (to ${fs.realpathSync(outside)}/secret)`);
  // A sibling directory whose name starts with the context's name is outside too.
  fs.mkdirSync(`${ctx}-sibling`);
  fs.writeFileSync(`${ctx}-sibling/f`, "f");
  fs.rmSync(path.join(ctx, "leak"));
  fs.symlinkSync(`${ctx}-sibling/f`, path.join(ctx, "leak"));
  await expect(walk(ctx)).rejects.toThrow("Symlink leak points outside the context directory");
});
