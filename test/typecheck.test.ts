/** The whole project type-checks under `strict` (tsc, as `npm run typecheck`). */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./helpers/kit.ts";

test("tsc --noEmit reports no errors", () => {
  const r = spawnSync(path.join(repoRoot, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", repoRoot], { encoding: "utf8", timeout: 300_000 });
  expect(r.stdout + r.stderr).toBe("");
  expect(r.status).toBe(0);
}, 300_000);
