/** Errors that say what to do next (issue: the first hour), each with its exact text. */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { packKit } from "./modelkit-fixtures.ts";

const FORM = "A ModelKit reference is [REGISTRY/]REPOSITORY[:TAG|@DIGEST] in lower case, e.g. registry.example.com/myorg/my-model:v1 or my-model:v1\n";

test("no Kitfile: pack says to run kit init", async () => {
  const home = tempDir();
  const dir = tempDir();
  expect(await runInProcess(["pack", dir], { env: { KITOPS_HOME: home } })).toEqual({
    code: 1,
    stdout: `Generate one with: kit init ${dir}\n`,
    stderr: `[ERROR] Invalid arguments: No Kitfile found in ${dir}. Consider using the -f flag to specify its path\n`,
  });
});

test("a bad reference shows the expected form with an example", async () => {
  const env = { KITOPS_HOME: tempDir() };
  expect(await runInProcess(["pull", "Registry.io/Org/M:v1"], { env })).toEqual({
    code: 1,
    stdout: FORM,
    stderr: "[ERROR] Invalid arguments: failed to parse reference Registry.io/Org/M:v1: repository (Org/M) name must be lowercase\n",
  });
  expect((await runInProcess(["unpack", "my model"], { env })).stdout).toBe(FORM);
});

test("push without a registry gives an example with one", async () => {
  expect(await runInProcess(["push", "my-model:v2"], { env: { KITOPS_HOME: tempDir() } })).toEqual({
    code: 1,
    stdout: "Name the registry, e.g. kit push my-model:v2 registry.example.com/myorg/my-model:v2\n",
    stderr: "[ERROR] Invalid arguments: registry is required when pushing\n",
  });
});

test("kit dev start on a ModelKit whose model is safetensors says so before copying anything", async () => {
  const home = tempDir();
  await packKit(home, { Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: weights/model.safetensors\n", "weights/model.safetensors": "w".repeat(64) }, { tag: "st:v1" });
  const r = await runInProcess(["dev", "start", "st:v1"], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('[ERROR] Failed to start dev server: The model path weights/model.safetensors is a ".safetensors" file, not a .gguf file\n');
  expect(r.stdout).toContain("convert the model to GGUF");
  const devCache = path.join(home, "cache", "dev");
  expect(existsSync(devCache) ? readdirSync(devCache) : []).toEqual([]);
  // an unpacked directory is checked as before (by its file)
  const dir = tempDir();
  mkdirSync(path.join(dir, "m"));
  writeFileSync(path.join(dir, "Kitfile"), "manifestVersion: 1.0.0\nmodel:\n  path: m/w.bin\n");
  writeFileSync(path.join(dir, "m", "w.bin"), "x");
  expect((await runInProcess(["dev", "start", dir], { env: { KITOPS_HOME: home } })).stderr).toContain("not a .gguf file");
});

test("unpack into a path that is a file says so, not with a raw system error", async () => {
  const home = tempDir();
  await packKit(home, { Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n", "m.bin": "w" }, { tag: "f:v1" });
  const dir = tempDir();
  const file = path.join(dir, "afile");
  writeFileSync(file, "x");
  const r = await runInProcess(["unpack", "f:v1", "-d", file], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`[ERROR] Failed to unpack: failed to create directory ${file}: not a directory\n`);
  expect(r.stdout).toContain("Give --dir a directory, or a path that does not exist yet");
  expect(readdirSync(dir)).toEqual(["afile"]);
});

test("an unpack that fails at a layer announces no later layer and leaves none of their directories", async () => {
  const home = tempDir();
  await packKit(home, {
    Kitfile: "manifestVersion: 1.0.0\nmodel:\n  name: w\n  path: weights.bin\ndatasets:\n  - name: training\n    path: data\n  - name: other\n    path: data2\n",
    "weights.bin": "w",
    "data/sub/deeper/b.csv": "a,b\n",
    "data2/x/c.csv": "c\n",
  }, { tag: "p2:v1" });
  const dir = tempDir();
  writeFileSync(path.join(dir, "weights.bin"), "mine");
  const r = await runInProcess(["unpack", "p2:v1", "-d", dir], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("[ERROR] Failed to unpack: path 'weights.bin' already exists");
  expect(r.stdout + r.stderr).not.toContain("Unpacking dataset");
  expect(readdirSync(dir).sort()).toEqual(["Kitfile", "weights.bin"]);
});
