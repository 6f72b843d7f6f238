import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { project } from "../helpers/files.ts";
import { runInProcess, runKit, tempDir } from "../helpers/kit.ts";

function layout(): string {
  return project(
    {
      "model.safetensors": "w".repeat(100),
      "config.json": "{}",
      "data/train.csv": "a,b",
      "data/test.csv": "a,b",
      "docs/guide.md": "# guide",
      "src/train.py": "print(1)",
      "README.md": "# readme",
      ".DS_Store": "junk",
      ".git/HEAD": "ref",
    },
    { prefix: "kit-init-" },
  );
}

const EXPECTED = `manifestVersion: 1.0.0
package:
  name: demo
  description: A demo
model:
  name: model
  path: model.safetensors
  parts:
    - path: config.json
code:
  - path: src/
datasets:
  - path: data/
docs:
  - path: README.md
    description: Readme file
  - path: docs/
`;

test("kit init writes the Kitfile and prints it", async () => {
  const dir = layout();
  const r = await runInProcess(["init", dir, "--name", "demo", "--desc", "A demo"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(readFileSync(path.join(dir, "Kitfile"), "utf8")).toBe(EXPECTED);
  expect(r.stdout).toBe(`Generated Kitfile:\n\n${EXPECTED}Saved to path '${path.join(dir, "Kitfile")}'\n`);
});

test("messages name the Kitfile as the path was given, as kit does (filepath.Join(PATH, \"Kitfile\"))", async () => {
  const dir = layout();
  const r = await runInProcess(["init", ".", "--name", "demo", "--desc", "A demo"], { cwd: dir });
  expect(r.code).toBe(0);
  expect(r.stdout.endsWith("Saved to path 'Kitfile'\n")).toBe(true);
  const again = await runInProcess(["init", path.basename(dir), "--name", "demo"], { cwd: path.dirname(dir) });
  expect(again.stderr).toBe(`[ERROR] Kitfile already exists at ${path.basename(dir)}/Kitfile. Use '--force' to overwrite\n`);
});

test("an existing Kitfile needs --force", async () => {
  const dir = layout();
  writeFileSync(path.join(dir, "Kitfile"), "old");
  const r = await runInProcess(["init", dir, "--name", "demo"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`[ERROR] Kitfile already exists at ${path.join(dir, "Kitfile")}. Use '--force' to overwrite\n`);
  expect((await runInProcess(["init", dir, "--name", "demo", "--desc", "A demo", "-f"])).code).toBe(0);
  expect(readFileSync(path.join(dir, "Kitfile"), "utf8")).toBe(EXPECTED);
});

test("-o - prints only the YAML; --author alone works", async () => {
  const dir = layout();
  const r = await runInProcess(["init", dir, "-o", "-", "--author", "Ada"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toStartWith(`manifestVersion: 1.0.0\npackage:\n  name: ${path.basename(dir)}\n  authors: [Ada]\nmodel:\n`);
});

test("prompts for name, description and author only on a terminal", async () => {
  const dir = layout();
  const r = await runInProcess(["init", dir], { stdinIsTTY: true, answers: ["demo", "A demo", ""] });
  expect(r.code).toBe(0);
  expect(r.stdout).toStartWith("Enter a name for the ModelKit: Enter a short description for the ModelKit: Enter an author for the ModelKit: ");
  expect(readFileSync(path.join(dir, "Kitfile"), "utf8")).toBe(EXPECTED);
  // without a terminal, or with no answer, the package is named after the directory
  const dir2 = layout();
  const piped = await runInProcess(["init", dir2]);
  expect(piped.code).toBe(0);
  expect(readFileSync(path.join(dir2, "Kitfile"), "utf8")).toStartWith(`manifestVersion: 1.0.0\npackage:\n  name: ${path.basename(dir2)}\nmodel:\n`);
  const dir3 = layout();
  const unanswered = await runInProcess(["init", dir3], { stdinIsTTY: true, answers: ["", "", ""] });
  expect(unanswered.code).toBe(0);
  expect(readFileSync(path.join(dir3, "Kitfile"), "utf8")).toStartWith(`manifestVersion: 1.0.0\npackage:\n  name: ${path.basename(dir3)}\nmodel:\n`);
});

test("a fresh project initialised without a terminal lists with its name; a model's name is its file's base name", async () => {
  const root = tempDir("kit-init-fresh-");
  const cwd = path.join(root, "sentiment-model");
  const home = path.join(root, ".home");
  mkdirSync(path.join(cwd, "model"), { recursive: true });
  writeFileSync(path.join(cwd, "model", "tiny.gguf"), "gguf");
  const r = await runKit(["init", "."], { cwd, env: { KITOPS_HOME: home } });
  expect(r.code).toBe(0);
  expect(readFileSync(path.join(cwd, "Kitfile"), "utf8")).toBe(
    "manifestVersion: 1.0.0\npackage:\n  name: sentiment-model\nmodel:\n  name: tiny\n  path: model/tiny.gguf\n",
  );
  expect((await runKit(["pack", ".", "-t", "fresh:v1"], { cwd, env: { KITOPS_HOME: home } })).code).toBe(0);
  const list = await runKit(["list"], { env: { KITOPS_HOME: home } });
  // NAME is the package name (MAINTAINER stays <none> until the Kitfile names an author)
  expect(list.stdout).toMatch(/^fresh +v1 +<none> +sentiment-model +2\.5 KiB +sha256:/m);
});

test("the compiled binary runs init in an empty directory, and pack accepts what it wrote", async () => {
  const cwd = tempDir("kit-init-bin-");
  const home = path.join(cwd, ".home");
  writeFileSync(path.join(cwd, "weights.gguf"), "gguf");
  writeFileSync(path.join(cwd, "notes.md"), "# notes");
  const r = await runKit(["init", ".", "--name", "bin"], { cwd, env: { KITOPS_HOME: home } });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(readFileSync(path.join(cwd, "Kitfile"), "utf8")).toBe(
    "manifestVersion: 1.0.0\npackage:\n  name: bin\nmodel:\n  name: weights\n  path: weights.gguf\ndocs:\n  - path: notes.md\n",
  );
  const p = await runKit(["pack", ".", "-t", "bin:v1"], { cwd, env: { KITOPS_HOME: home } });
  expect(p.stderr).toBe("");
  expect(p.code).toBe(0);
  expect(p.stdout.match(/^Saved \w+ layer/gm)).toEqual(["Saved model layer", "Saved docs layer"]);
  expect(p.stdout).toMatch(/\nModel saved: sha256:[0-9a-f]{64}\n$/);
});
