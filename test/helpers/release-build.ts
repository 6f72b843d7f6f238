/**
 * The release build, once per test run: a clean clone of this repository (committed files only)
 * with the installed node_modules, network cut off (`unshare -n` when this user may), Bun's
 * runtime cache empty, runs `bun scripts/build.ts --all`. Every test file that needs the release
 * archives awaits {@link releaseBuild}; `bun test` shares modules between files, so the build runs
 * once however many files use it. The clone is removed after the last test file (a
 * {@link tempDir}).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot, tempDir } from "./kit.ts";

/** How long the build may take (two shared cores, four targets). */
export const RELEASE_BUILD_TIMEOUT_MS = 20 * 60_000;

export interface ReleaseBuild {
  /** The clone the build ran in. */
  clone: string;
  /** `<clone>/dist/release`: the archives and SHA256SUMS. */
  release: string;
  /** A directory for the tests' own files (same filesystem as the clone). */
  work: string;
  code: number;
  stdout: string;
  stderr: string;
  /** Whether the network was cut off. */
  offline: boolean;
  seconds: number;
}

/** Hard links need one filesystem: work next to node_modules when the temp dir is elsewhere. */
function workBase(): string {
  const nm = path.join(repoRoot, "node_modules");
  return statSync(os.tmpdir()).dev === statSync(nm).dev ? os.tmpdir() : path.join(repoRoot, ".tmp");
}

async function build(): Promise<ReleaseBuild> {
  const base = workBase();
  mkdirSync(base, { recursive: true });
  const work = tempDir("kit-release-it-", base);
  const clone = path.join(work, "kit");
  execFileSync("git", ["clone", "--quiet", repoRoot, clone], { stdio: "ignore" });
  // "after npm ci": the installed packages, hard-linked (no copy of 1+ GB)
  execFileSync("cp", ["-al", path.join(repoRoot, "node_modules"), path.join(clone, "node_modules")]);
  const cache = path.join(work, "bun-cache");
  mkdirSync(cache);
  const offline = spawnSync("unshare", ["-n", "true"]).status === 0;
  const bun = path.join(clone, "node_modules", ".bin", "bun");
  const cmd = offline ? ["unshare", "-n", bun] : [bun];
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, BUN_INSTALL_CACHE_DIR: cache };
  const t0 = performance.now();
  // asynchronous, so other files' tests are not blocked while one awaits the build
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd[0]!, [...cmd.slice(1), "scripts/build.ts", "--all"], { cwd: clone, env, timeout: RELEASE_BUILD_TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
  const seconds = (performance.now() - t0) / 1000;
  console.log(`release build: ${seconds.toFixed(1)} s${offline ? ", network cut off" : " (unshare -n not permitted: network not cut off)"}`);
  return { clone, release: path.join(clone, "dist", "release"), work, ...r, offline, seconds };
}

let pending: Promise<ReleaseBuild> | undefined;

/** The one release build of this test run (started by the first caller). */
export function releaseBuild(): Promise<ReleaseBuild> {
  pending ??= build();
  return pending;
}

/** The release build, failing when it did not succeed (for tests that only use its archives). */
export async function releaseArchives(): Promise<ReleaseBuild> {
  const b = await releaseBuild();
  if (b.code !== 0) throw new Error(`bun scripts/build.ts --all failed (${b.code}):\n${b.stdout}\n${b.stderr}`);
  return b;
}
