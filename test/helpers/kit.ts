/**
 * Test helpers: run kit in process (fast, for command logic) or as the compiled binary
 * (integration tests, `dist/kit`, built by the README's test command before `bun test`).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Io } from "../../src/cli/run.ts";

export const repoRoot = path.resolve(import.meta.dir, "../..");
export const kitBinary = path.join(repoRoot, "dist", process.platform === "win32" ? "kit.exe" : "kit");

export interface RunResult { code: number; stdout: string; stderr: string }

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin?: string | Uint8Array;
  stdinIsTTY?: boolean;
  /** Answers for terminal prompts, in order. */
  answers?: string[];
  signal?: AbortSignal;
}

/** Runs kit in this process with captured I/O. */
export async function runInProcess(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdinBytes = typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin ?? new Uint8Array();
  const answers = [...(opts.answers ?? [])];
  const io: Io = {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
    stdoutIsTTY: false,
    columns: 80,
    stdin: {
      isTTY: opts.stdinIsTTY ?? false,
      readAll: async () => stdinBytes,
      stream: () => new Blob([stdinBytes as Uint8Array<ArrayBuffer>]).stream(),
      prompt: async (q) => {
        out.push(q);
        const a = answers.shift();
        if (a === undefined) throw new Error(`unexpected prompt: ${q}`);
        return a;
      },
    },
    env: { ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    signal: opts.signal ?? new AbortController().signal,
    platform: process.platform,
  };
  // Loaded on first use, so tests of lower layers don't load every command.
  const { execute } = await import("../../src/cli/run.ts");
  const { rootCommand } = await import("../../src/cli/root.ts");
  const code = await execute(rootCommand, args, io);
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/** Runs the compiled binary. */
export function runKit(args: string[], opts: RunOptions & { bin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const bin = opts.bin ?? kitBinary;
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run "bun scripts/build.ts" first`);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      // Periodic progress lines only where a test asks for them (test/integration/progress.test.ts):
      // on a loaded machine a transfer can last past 10 s and add lines to exactly checked output.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KITOPS_PROGRESS_INTERVAL_MS: "3600000", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
      signal: opts.signal,
      timeout: opts.timeoutMs ?? 120_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", reject);
    child.on("close", (code, sig) => {
      resolve({ code: code ?? (sig ? 128 : -1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
    else child.stdin.end();
  });
}

/**
 * An isolated environment for in-process runs: a temp dir `root` (the working directory) holding
 * the kit home (`<root>/home`) and a Docker config directory (`<root>/docker`, so no user
 * credentials leak in). `env` is added to every run's environment.
 */
export function kitEnv(prefix = "kit-env-", env: Record<string, string> = {}) {
  const root = tempDir(prefix);
  const home = path.join(root, "home");
  const run = (args: string[], opts: RunOptions = {}) =>
    runInProcess(args, { cwd: root, ...opts, env: { KITOPS_HOME: home, DOCKER_CONFIG: path.join(root, "docker"), ...env, ...opts.env } });
  return { root, home, run };
}

/**
 * A fresh temp dir under `base` (default `os.tmpdir()`), removed when the test run ends (test/preload.ts runs
 * {@link removeTempDirs} in a global afterAll; `bun test` emits no process `exit` event).
 */
export function tempDir(prefix = "kit-test-", base = os.tmpdir()): string {
  const d = mkdtempSync(path.join(base, prefix));
  tempDirs.push(d);
  return d;
}
const tempDirs: string[] = [];

/** Removes every directory {@link tempDir} made (unmounting nothing: tests unmount their own mounts first). */
export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The PID of a process that has exited and been reaped (certainly not running). */
export function deadPid(): number {
  return spawnSync("true").pid!;
}

/** The digest kit printed after `word` (e.g. `Model saved:`). */
export function digestFrom(out: string, word: string): string {
  const m = new RegExp(`${word} (sha256:[0-9a-f]{64})`).exec(out);
  if (!m) throw new Error(`no "${word} <digest>" in output:\n${out}`);
  return m[1]!;
}
