/**
 * The test command (README, CI): builds dist/kit, runs `bun test`, and ends with one line
 * `N passed, N failed` (CI reads that line, not bun's own summary). Extra arguments go to
 * `bun test` (e.g. a path filter). The tests run with TMPDIR set to a fresh directory, removed
 * afterwards: `bun test` never emits the process `exit` event, so temp dirs the tests leave
 * (several GB in a full run) would otherwise stay in the system temp directory.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dir, "..");
const bun = process.execPath;

const build = spawnSync(bun, [path.join(root, "scripts/build.ts")], { cwd: root, stdio: "inherit" });
if (build.status !== 0) {
  console.log("0 passed, 1 failed");
  process.exit(1);
}

mkdirSync(path.join(root, ".tmp"), { recursive: true });
const junit = path.join(root, ".tmp", "junit.xml");
rmSync(junit, { force: true });
const tmp = mkdtempSync(path.join(os.tmpdir(), "kit-test-run-"));
// Bun 1.4.5 ignores a timeout in bunfig.toml: the per-test default is given here.
const run = spawnSync(bun, ["test", "--timeout=120000", "--reporter=junit", `--reporter-outfile=${junit}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, TMPDIR: tmp },
});
try {
  rmSync(tmp, { recursive: true, force: true });
} catch (e) {
  console.error(`could not remove the tests' temp directory ${tmp}: ${(e as Error).message}`);
}

let passed = 0;
let failed = 0;
if (existsSync(junit)) {
  const xml = readFileSync(junit, "utf8");
  const m = xml.match(/<testsuites[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"[^>]*\bskipped="(\d+)"/);
  if (m) {
    const [tests, failures, skipped] = [Number(m[1]), Number(m[2]), Number(m[3])];
    failed = failures;
    passed = tests - failures - skipped;
  }
}
// A crash outside any test (a file that fails to load, an unhandled error) fails the run.
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
