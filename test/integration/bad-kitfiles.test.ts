/** Every malformed Kitfile fixture makes `kit pack` fail with its exact message and exit 1. */
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { repoRoot, runKit, tempDir } from "../helpers/kit.ts";

const dir = path.join(repoRoot, "test", "fixtures", "kitfiles", "bad");
const cases = JSON.parse(readFileSync(path.join(dir, "expected.json"), "utf8")) as Array<{ file: string; stage: string; message: string }>;

describe("kit pack refuses malformed Kitfiles", () => {
  test("there is a case for every fixture, and at least 20", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(cases.map((c) => c.file).sort()).toEqual(readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort());
  });

  for (const c of cases) {
    test(`${c.file} (${c.stage})`, async () => {
      const ctx = tempDir("kit-bad-");
      const kitfile = path.join(ctx, "Kitfile");
      copyFileSync(path.join(dir, c.file), kitfile);
      const r = await runKit(["pack", ctx, "-t", "bad:1"], { env: { KITOPS_HOME: path.join(ctx, ".home") } });
      expect(r.code).toBe(1);
      // Parse errors name the file: the fixtures say "Kitfile" where the CLI says its full path.
      const message = c.stage === "parse" ? c.message.replace(/^Kitfile/gm, kitfile) : c.message;
      expect(r.stderr).toEndWith(`[ERROR] Failed to pack model kit: ${message}\n`);
      expect(r.stdout).toBe("");
    });
  }

  test("no Kitfile in the context", async () => {
    const ctx = tempDir("kit-bad-");
    const r = await runKit(["pack", ctx], { env: { KITOPS_HOME: path.join(ctx, ".home") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`[ERROR] Invalid arguments: No Kitfile found in ${ctx}. Consider using the -f flag to specify its path\n`);
  });

  test("-f naming a directory, and a missing -f file", async () => {
    const ctx = tempDir("kit-bad-");
    mkdirSync(path.join(ctx, "sub"));
    const r = await runKit(["pack", ctx, "-f", path.join(ctx, "sub")], { env: { KITOPS_HOME: path.join(ctx, ".home") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(`[ERROR] Failed to pack model kit: Kitfile ${path.join(ctx, "sub")} is a directory, not a file\n`);
    const m = await runKit(["pack", ctx, "-f", "nope.yaml"], { cwd: ctx, env: { KITOPS_HOME: path.join(ctx, ".home") } });
    expect(m.code).toBe(1);
    expect(m.stderr).toStartWith(`[ERROR] Failed to pack model kit: Kitfile ${path.join(ctx, "nope.yaml")} does not exist\n`);
  });

  test("the context is not a directory", async () => {
    const r = await runKit(["pack", "/definitely/not/here"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to use context path /definitely/not/here: not a directory\n");
  });

  test("a Kitfile piped on stdin with -f -", async () => {
    const ctx = tempDir("kit-bad-");
    const r = await runKit(["pack", ctx, "-f", "-"], { stdin: "manifestVersion: 1.0.0\nmodle:\n  path: x\n", env: { KITOPS_HOME: path.join(ctx, ".home") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`[ERROR] Failed to pack model kit: <stdin> line 2: unknown field "modle" in the top level (allowed: manifestVersion, package, model, code, datasets, docs, prompts, mcpServers)\n`);
  });
});
