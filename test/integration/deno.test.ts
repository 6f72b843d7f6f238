/** The source runs under Deno too (web standards and node: APIs only). */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { repoRoot, runKit, tempDir } from "../helpers/kit.ts";

const deno = path.join(repoRoot, "node_modules", ".bin", "deno");

test("deno run -A src/main.ts version prints the same version as dist/kit", async () => {
  const home = tempDir();
  const r = spawnSync(deno, ["run", "-A", path.join(repoRoot, "src/main.ts"), "version"], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: process.env.HOME, KITOPS_HOME: home, DENO_NO_UPDATE_CHECK: "1" },
    timeout: 120_000,
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const denoVersion = r.stdout.split("\n")[0];
  const bin = await runKit(["version"], { env: { KITOPS_HOME: home } });
  expect(denoVersion).toBe(bin.stdout.split("\n")[0]!);
  expect(r.stdout).toContain("Runtime: deno ");
});
