import { expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { defineCommand } from "../../src/cli/command.ts";
import { execute, type Io } from "../../src/cli/run.ts";
import { CancelledError, KitError, NotFoundError } from "../../src/util/errors.ts";
import { runInProcess, tempDir } from "../helpers/kit.ts";

test("--help renders from the flag tables", async () => {
  const r = await runInProcess(["--help"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Usage:\n  kit [command]\n");
  expect(r.stdout).toContain("\nAvailable Commands:\n");
  expect(r.stdout).toMatch(/\n  version +Display the version information for the CLI\n/);
  expect(r.stdout).toContain("      --log-level string   Log messages above specified level");
  expect(r.stdout).toContain(`Use "kit [command] --help" for more information about a command.`);
});

test("a command's help has its flags and the global flags", async () => {
  const r = await runInProcess(["version", "-h"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Usage:\n  kit version [flags]\n\nFlags:\n  -h, --help");
  expect(r.stdout).toContain("--show-update-notifications");
  expect(r.stdout).toContain("\nGlobal Flags:\n      --config string");
});

test("unknown command is cobra's error, exit 1", async () => {
  const r = await runInProcess(["frobnicate"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`Error: unknown command "frobnicate" for "kit"\nRun 'kit --help' for usage.\n`);
});

test("unknown flag prints the error and the usage", async () => {
  const r = await runInProcess(["version", "--nope"]);
  expect(r.code).toBe(1);
  expect(r.stderr.startsWith("Error: unknown flag: --nope\nUsage:\n  kit version [flags]\n")).toBe(true);
  expect(r.stdout).toBe("");
});

test("extra argument to a no-arg command", async () => {
  const r = await runInProcess(["version", "extra"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toStartWith(`Error: unknown command "extra" for "kit version"\n`);
});

test("invalid log level is kit's message", async () => {
  const r = await runInProcess(["version", "--log-level", "loud"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe("[ERROR] Invalid log level 'loud'. Options are 'trace', 'debug', 'info', 'warn', 'error'\n");
});

test("-v prefixes info lines", async () => {
  const r = await runInProcess(["version", "-v"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^\[INFO \] Version: /);
});

test("version --show-update-notifications writes and removes the opt-out file", async () => {
  const home = tempDir();
  const file = path.join(home, "disable-update-notifications");
  let r = await runInProcess(["version", "--show-update-notifications=false"], { env: { KITOPS_HOME: home } });
  expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  expect(existsSync(file)).toBe(true);
  r = await runInProcess(["version", "--show-update-notifications=true", "--config", home]);
  expect(r.code).toBe(0);
  expect(existsSync(file)).toBe(false);
});

/** The commands `kit --help` lists, with their short help. */
async function helpCommands(): Promise<Array<[string, string]>> {
  const help = (await runInProcess(["--help"])).stdout;
  const block = help.slice(help.indexOf("Available Commands:\n") + 20, help.indexOf("\n\n", help.indexOf("Available Commands:")));
  return block.split("\n").map((l) => /^ {2}(\S+) +(.+)$/.exec(l)!).map((m) => [m[1]!, m[2]!]);
}

test("completion scripts for bash, zsh and fish name every command", async () => {
  const commands = await helpCommands();
  expect(commands.map(([name]) => name)).toEqual(expect.arrayContaining(["pack", "unpack", "push", "pull", "remove", "dev", "version"]));
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await runInProcess(["completion", shell]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(shell === "fish" ? "-l log-level" : "--log-level");
    for (const [name, short] of commands) {
      if (shell === "zsh") expect(r.stdout).toContain(`'${name}:${short.replaceAll("'", "'\\''")}'`);
      if (shell === "fish") expect(r.stdout).toContain(`-a ${name} -d '${short.replaceAll("'", "\\'")}'`);
    }
  }
});

test("bash completion completes commands and flags", async () => {
  const script = (await runInProcess(["completion", "bash"])).stdout;
  const complete = (words: string[]) => {
    const dir = tempDir();
    const file = path.join(dir, "c.bash");
    writeFileSync(file, script);
    const cmd = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _kit_completion; echo "\${COMPREPLY[@]}"`;
    return execFileSync("bash", ["-c", cmd], { encoding: "utf8" }).trim().split(/\s+/);
  };
  expect(complete(["kit", ""]).sort()).toEqual((await helpCommands()).map(([name]) => name).sort());
  expect(complete(["kit", "vers"])).toEqual(["version"]);
  expect(complete(["kit", "version", "--show"])).toEqual(["--show-update-notifications"]);
  expect(complete(["kit", "completion", "z"])).toEqual(["zsh"]);
});

/** Exit code and stderr of a command that throws `thrown` (after `abort`, when given). */
async function failWith(thrown: unknown, abort = false): Promise<{ code: number; stderr: string }> {
  const controller = new AbortController();
  const fail = defineCommand({
    name: "fail",
    use: "fail",
    short: "Throws",
    args: { min: 0, max: 0 },
    flags: {},
    async run() {
      if (abort) controller.abort();
      throw thrown;
    },
  });
  const root = defineCommand({ name: "kit", use: "kit", short: "", flags: {}, subcommands: [fail] });
  const err: string[] = [];
  const io: Io = {
    out: () => {},
    err: (s) => void err.push(s),
    stdoutIsTTY: false,
    columns: 80,
    stdin: { isTTY: false, readAll: async () => new Uint8Array(), stream: () => new Blob([]).stream(), prompt: async () => "" },
    env: { KITOPS_HOME: tempDir() },
    cwd: process.cwd(),
    signal: controller.signal,
    platform: process.platform,
  };
  return { code: await execute(root, ["fail"], io), stderr: err.join("") };
}

const systemError = (code: string, message: string) => Object.assign(new Error(message), { code, syscall: "read" });

test("exit code 1 for errors the command reports: KitErrors, system, zlib and DOM errors", async () => {
  expect(await failWith(new KitError("nope", { hint: "try again" }))).toEqual({ code: 1, stderr: "[ERROR] Nope\n" });
  expect((await failWith(new NotFoundError("model x not found"))).code).toBe(1);
  expect(await failWith(systemError("EIO", "EIO: i/o error, read"))).toEqual({ code: 1, stderr: "[ERROR] EIO: i/o error, read\n" });
  expect(await failWith(systemError("ENOSPC", "ENOSPC: no space left"))).toEqual({ code: 1, stderr: "[ERROR] No space left on device\n" });
  expect((await failWith(Object.assign(new Error("incorrect header check"), { code: "Z_DATA_ERROR" }))).code).toBe(1);
  expect((await failWith(new DOMException("The operation timed out.", "TimeoutError"))).code).toBe(1);
});

test("exit code 2 and the stack for an internal error (a bug)", async () => {
  const bug = await failWith(new TypeError("Cannot read properties of undefined (reading 'digest')"));
  expect(bug.code).toBe(2);
  expect(bug.stderr).toStartWith("[ERROR] Internal error: TypeError: Cannot read properties of undefined (reading 'digest')\n");
  expect(bug.stderr).toContain("run.test.ts");
  // A programming error stays one when Node's argument checks give it a code.
  expect((await failWith(Object.assign(new RangeError("out of range"), { code: "ERR_OUT_OF_RANGE" }))).code).toBe(2);
  expect((await failWith(new Error("invariant broken"))).code).toBe(2);
  expect(await failWith("a thrown string")).toEqual({ code: 2, stderr: "[ERROR] Internal error: a thrown string\n" });
});

test("exit code 130 when cancelled or interrupted, whatever the error", async () => {
  expect(await failWith(new CancelledError())).toEqual({ code: 130, stderr: "[ERROR] Operation cancelled\n" });
  expect((await failWith(new TypeError("stream torn down"), true)).code).toBe(130);
  expect((await failWith(new KitError("request aborted"), true)).code).toBe(130);
});

test("main.ts exits 2 for an error nothing awaited", async () => {
  const dir = tempDir();
  // Throws from a timer (then rejects a promise) once main.ts has installed its handlers, while
  // `kit pack -f -` waits for the Kitfile on standard input.
  for (const stray of ["throw new TypeError('stray bug')", "void Promise.reject(new TypeError('stray bug'))"]) {
    const preload = path.join(dir, `stray-${stray.length}.ts`);
    writeFileSync(preload, `
      const t = setInterval(() => {
        if (process.listenerCount("uncaughtException") === 0) return;
        clearInterval(t);
        setTimeout(() => { ${stray}; }, 0);
      }, 10);
    `);
    const main = path.resolve(import.meta.dir, "../../src/main.ts");
    const child = spawn(process.execPath, ["--preload", preload, main, "pack", dir, "-f", "-"], {
      env: { ...process.env, KITOPS_HOME: path.join(dir, "home") },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    // Without the handlers Bun reports the error and goes on waiting for the Kitfile.
    const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearTimeout(kill);
    child.stdin.destroy();
    expect(stderr).toStartWith("[ERROR] Internal error: TypeError: stray bug\n");
    expect(code).toBe(2);
  }
});
