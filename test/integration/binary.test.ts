/** The compiled binary, run from an empty directory with nothing but its own file. */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitBinary, repoRoot, runKit, tempDir } from "../helpers/kit.ts";

const pkgVersion = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;

test("dist/kit --help from an empty directory", async () => {
  const cwd = tempDir();
  const r = await runKit(["--help"], { cwd, env: { KITOPS_HOME: path.join(cwd, "home") } });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Usage:\n  kit [command]");
  expect(r.stderr).toBe("");
});

test("dist/kit version prints the embedded version, commit and build time", async () => {
  const cwd = tempDir();
  const r = await runKit(["version"], { cwd, env: { KITOPS_HOME: path.join(cwd, "home") } });
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split("\n");
  expect(lines[0]).toBe(`Version: ${pkgVersion}`);
  expect(lines[1]).toMatch(/^Commit: ([0-9a-f]{7,40}|unknown)$/);
  expect(lines[2]).toMatch(/^Built: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test("NO_COLOR and a pipe: no escape codes in errors", async () => {
  const r = await runKit(["version", "--log-level", "nope"], { env: { NO_COLOR: "1" } });
  expect(r.code).toBe(1);
  expect(r.stderr).toBe("[ERROR] Invalid log level 'nope'. Options are 'trace', 'debug', 'info', 'warn', 'error'\n");
});

test("unknown command exits 1 with cobra's message", async () => {
  const r = await runKit(["nope"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`Error: unknown command "nope" for "kit"`);
});

test("a closed stdout (kit … | head -1) is not an error", () => {
  const cwd = tempDir();
  mkdirSync(path.join(cwd, "ctx"));
  writeFileSync(path.join(cwd, "ctx", "Kitfile"), "manifestVersion: 1.0.0\ncode:\n  - path: .\ndocs:\n  - path: a.md\n");
  writeFileSync(path.join(cwd, "ctx", "a.md"), "# a");
  writeFileSync(path.join(cwd, "ctx", "main.py"), "print(1)");
  const r = spawnSync("bash", ["-c", `"${kitBinary}" pack ctx --config home | head -1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`], { cwd, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("status=0\n");
});
