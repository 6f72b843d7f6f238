/** The README's main job (`npm run example`) works on the bundled example. */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { repoRoot } from "../helpers/kit.ts";

test("scripts/example.ts packs, lists, shows and unpacks examples/sentiment", () => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, "scripts", "example.ts"), "--no-build"], { cwd: repoRoot, encoding: "utf8", timeout: 120_000 });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("$ kit pack examples/sentiment -t example/sentiment:v1\nSaved model layer: sha256:");
  expect(r.stdout).toMatch(/\nexample\/sentiment +v1 +kit maintainers +sentiment +[\d.]+ KiB +sha256:[0-9a-f]{64}\n/);
  expect(r.stdout).toContain("Round trip OK: 4 files packed into a ModelKit and unpacked identically");
});
