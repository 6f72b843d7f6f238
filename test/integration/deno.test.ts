/**
 * The source runs under Deno too (web standards and node: APIs only): version, init, pack, list,
 * unpack and inspect give the same output as the compiled Bun binary.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { project } from "../helpers/files.ts";
import { repoRoot, runKit, tempDir } from "../helpers/kit.ts";

const deno = path.join(repoRoot, "node_modules", ".bin", "deno");

function runDeno(args: string[], env: Record<string, string>, cwd = repoRoot) {
  const r = spawnSync(deno, ["run", "-A", path.join(repoRoot, "src/main.ts"), ...args], {
    cwd,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DENO_NO_UPDATE_CHECK: "1", ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("deno run -A src/main.ts version prints the same version as dist/kit", async () => {
  const home = tempDir();
  const r = runDeno(["version"], { KITOPS_HOME: home });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const bin = await runKit(["version"], { env: { KITOPS_HOME: home } });
  expect(r.stdout.split("\n")[0]).toBe(bin.stdout.split("\n")[0]!);
  expect(r.stdout).toContain("Runtime: deno ");
});

test("Deno smoke suite: init, pack, list, inspect, unpack match the Bun binary byte for byte", async () => {
  const ctx = project({ "weights.safetensors": "w".repeat(4096), "data/train.csv": "a,b\n1,2\n", "README.md": "# smoke" }, { prefix: "kit-deno-" });
  const env = (home: string) => ({ KITOPS_HOME: home, SOURCE_DATE_EPOCH: "1700000000" });
  const homes = { deno: tempDir(), bun: tempDir() };
  const run = async (who: "deno" | "bun", args: string[]) => {
    const r = who === "deno" ? runDeno(args, env(homes[who]), ctx) : await runKit(args, { cwd: ctx, env: env(homes[who]) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return r.stdout.replaceAll(homes[who], "<home>").replaceAll(path.join(ctx, who), "<out>");
  };
  expect(await run("deno", ["init", ".", "--name", "smoke", "-o", "-"])).toBe(await run("bun", ["init", ".", "--name", "smoke", "-o", "-"]));
  expect((await run("deno", ["init", ".", "--name", "smoke"])).endsWith("Saved to path 'Kitfile'\n")).toBe(true);
  const kitfile = readFileSync(path.join(ctx, "Kitfile"), "utf8");
  for (const args of [["pack", ".", "-t", "smoke:v1"], ["list"], ["inspect", "smoke:v1"], ["info", "smoke:v1"]]) {
    expect(await run("deno", args)).toBe(await run("bun", args));
  }
  expect(await run("deno", ["unpack", "smoke:v1", "-d", "deno"])).toBe(await run("bun", ["unpack", "smoke:v1", "-d", "bun"]));
  for (const f of ["weights.safetensors", "data/train.csv", "README.md"]) {
    expect(readFileSync(path.join(ctx, "deno", f))).toEqual(readFileSync(path.join(ctx, f)));
  }
  expect(readFileSync(path.join(ctx, "deno", "Kitfile"), "utf8")).toBe(kitfile);
});

test("signing under Deno: a key pair and a signature made by deno verify with the Bun binary, and the other way round", async () => {
  const ctx = project({ "Kitfile": "manifestVersion: 1.0.0\npackage:\n  name: signed\nmodel:\n  path: m.bin\n", "m.bin": "weights" }, { prefix: "kit-deno-sign-" });
  const env = { KITOPS_HOME: tempDir(), KIT_PASSWORD: "pw" };
  expect((await runKit(["pack", ".", "-t", "org/signed:v1"], { cwd: ctx, env })).code).toBe(0);
  expect(runDeno(["key", "generate", "--output-key-prefix", "deno"], env, ctx).code).toBe(0);
  expect((await runKit(["key", "generate", "--output-key-prefix", "bun"], { cwd: ctx, env })).code).toBe(0);
  const sign = runDeno(["sign", "org/signed:v1", "--key", "deno.key"], env, ctx);
  expect(sign.stderr).toBe("");
  expect((await runKit(["sign", "org/signed:v1", "--key", "bun.key"], { cwd: ctx, env })).code).toBe(0);
  const bun = await runKit(["verify", "org/signed:v1", "--key", "deno.pub"], { cwd: ctx, env });
  expect(bun.stderr).toBe("");
  expect(bun.stdout).toContain("by deno.pub");
  const deno = runDeno(["verify", "org/signed:v1", "--key", "bun.pub"], env, ctx);
  expect(deno.stderr).toBe("");
  expect(deno.stdout).toContain("by bun.pub");
});
