import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { defineCommand } from "../../src/cli/command.ts";
import { execute, type Io } from "../../src/cli/run.ts";
import { CancelledError, KitError, NotFoundError } from "../../src/util/errors.ts";
import { buildInfo } from "../../src/util/build-info.ts";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { APPENDIX_A_FILES, packKit } from "./modelkit-fixtures.ts";

test("--help renders from the flag tables", async () => {
  const r = await runInProcess(["--help"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Usage:\n  kit [command]\n");
  expect(r.stdout).toContain("\nAvailable Commands:\n");
  expect(r.stdout).toMatch(/\n  version +Display the version information for the CLI\n/);
  expect(r.stdout).toContain("      --log-level string   Log messages above specified level");
  expect(r.stdout).toContain(`Use "kit [command] --help" for more information about a command.`);
});

test("the command table names each command as its module does; a command is imported when first used", async () => {
  const { rootCommand } = await import("../../src/cli/root.ts");
  const { lazyCommand, loaded } = await import("../../src/cli/command.ts");
  for (const entry of [...rootCommand.subcommands!]) {
    const real = await loaded(entry);
    expect([real.name, real.short]).toEqual([entry.name, entry.short]);
    expect(real.load).toBeUndefined();
    expect(real.parent).toBe(rootCommand);
    expect(rootCommand.subcommands).toContain(real);
  }
  const wrong = lazyCommand("pack", "Something else", async () => (await import("../../src/cli/commands/pack.ts")).packCommand);
  await expect(loaded(wrong)).rejects.toThrow(`The command table's entry "pack: Something else" does not match its module ("pack: Pack a ModelKit")`);
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
  const home = tempDir();
  const r = await runInProcess(["version", "-v"], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(0);
  // kit's pre-run debug line, then the command's lines
  expect(r.stdout).toStartWith(`[DEBUG] Using config directory: ${home}\n[INFO ] Version: `);
  expect((await runInProcess(["version", "-v", "--config", "rel/home"], { env: { KITOPS_HOME: home } })).stdout).toStartWith(
    "[DEBUG] Using config directory from flag: rel/home\n",
  );
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

describe("cobra's help, --version and suggestions", () => {
  test("kit help [command…] prints the help of the named command; an unknown topic prints the usage", async () => {
    expect(await runInProcess(["help", "pack"])).toEqual(await runInProcess(["pack", "--help"]));
    expect(await runInProcess(["help", "dev", "start"])).toEqual(await runInProcess(["dev", "start", "-h"]));
    expect(await runInProcess(["help"])).toEqual(await runInProcess(["--help"]));
    const r = await runInProcess(["help", "nope"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toStartWith("Unknown help topic [`nope`]\nUsage:\n  kit [command]\n");
    expect((await helpCommands()).find(([n]) => n === "help")).toEqual(["help", "Help about any command"]);
  });

  test("kit --version", async () => {
    expect(await runInProcess(["--version"])).toEqual({ code: 0, stdout: `kit version ${buildInfo.version}\n`, stderr: "" });
    expect((await runInProcess(["--help"])).stdout).toContain("      --version            version for kit\n");
    expect((await runInProcess(["pack", "--version"])).stderr).toStartWith("Error: unknown flag: --version\n");
  });

  test("a mistyped command gets cobra's suggestions (edit distance 2, or a prefix)", async () => {
    expect(await runInProcess(["pakc"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `Error: unknown command "pakc" for "kit"\n\nDid you mean this?\n\tpack\n\nRun 'kit --help' for usage.\n`,
    });
    expect((await runInProcess(["pul"])).stderr).toContain("Did you mean this?\n\tpush\n\tpull\n\n");
    expect((await runInProcess(["lis"])).stderr).toContain("Did you mean this?\n\tlist\n\n");
    expect((await runInProcess(["completio"])).stderr).toContain("\tcompletion\n");
    // `help` is never suggested; nothing close: no suggestion block
    expect((await runInProcess(["halp"])).stderr).toBe(`Error: unknown command "halp" for "kit"\nRun 'kit --help' for usage.\n`);
  });
});

describe("shell completion", () => {
  const complete = async (words: string[], env: Record<string, string> = {}) => {
    const r = await runInProcess(["__complete", ...words], { env });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    return { candidates: lines.slice(0, -1), directive: Number(lines.at(-1)!.slice(1)) };
  };

  test("sub-commands with descriptions, flags, and flag values from the flag tables", async () => {
    const top = await complete([""]);
    expect(top.candidates.map((c) => c.split("\t")[0])).toEqual((await helpCommands()).map(([n]) => n));
    expect(top.candidates).toContain("pack\tPack a ModelKit");
    expect(top.directive).toBe(4);
    expect(await complete(["pa"])).toEqual({ candidates: ["pack\tPack a ModelKit"], directive: 4 });
    expect((await complete(["pack", "--comp"])).candidates.map((c) => c.split("\t")[0])).toEqual(["--compression", "--compat"]);
    expect((await complete(["pack", "-"])).candidates.map((c) => c.split("\t")[0])).toContain("-t");
    expect((await complete(["version", "--show-update-notifications", "--"])).candidates.map((c) => c.split("\t")[0])).not.toContain(
      "--show-update-notifications",
    );
    expect(await complete(["pack", "--compression", ""])).toEqual({ candidates: ["none", "gzip", "gzip-fastest", "zstd"], directive: 4 });
    expect(await complete(["pack", "--compression=gz"])).toEqual({ candidates: ["--compression=gzip", "--compression=gzip-fastest"], directive: 4 });
    expect(await complete(["list", "--format", ""])).toEqual({ candidates: ["table", "json"], directive: 4 });
    expect(await complete(["--progress", "f"])).toEqual({ candidates: ["fancy"], directive: 4 });
    expect(await complete(["unpack", "-f", "da"])).toEqual({ candidates: ["datasets"], directive: 4 });
    expect((await complete(["pack", "-v", "--log-level", ""])).candidates).toEqual(["trace", "debug", "info", "warn", "error"]);
    // a flag value without a list of values, and a directory argument: the shell completes paths
    expect(await complete(["pack", "-f", ""])).toEqual({ candidates: [], directive: 0 });
    expect(await complete(["pack", ""])).toEqual({ candidates: [], directive: 16 });
    expect(await complete(["version", ""])).toEqual({ candidates: [], directive: 4 });
    expect((await complete(["help", "dev", ""])).candidates.map((c) => c.split("\t")[0])).toEqual(["start", "stop", "logs"]);
    const noDesc = await runInProcess(["__completeNoDesc", "pa"]);
    expect(noDesc.stdout).toBe("pack\n:4\n");
  });

  test("ModelKit references from local storage, as kit completes them", async () => {
    const home = tempDir();
    const d = await packKit(home, APPENDIX_A_FILES, { tag: "example:v1,v2" });
    await packKit(home, { Kitfile: "manifestVersion: 1.0.0\ncode:\n  - path: src\n", "src/a.py": "1\n" }, { tag: "org/single:latest" });
    await packKit(home, { Kitfile: "manifestVersion: 1.0.0\ncode:\n  - path: src\n", "src/a.py": "2\n" });
    const env = { KITOPS_HOME: home };
    expect(await complete(["unpack", ""], env)).toEqual({ candidates: ["example:", "org/single:latest"], directive: 6 });
    expect(await complete(["inspect", "example:"], env)).toEqual({ candidates: ["example:v1", "example:v2"], directive: 6 });
    expect((await complete(["info", "example@"], env)).candidates).toEqual([`example@${d}`]);
    expect((await complete(["tag", "org"], env)).candidates).toEqual(["org/single:latest"]);
    // --config names the storage to read
    expect((await complete(["--config", home, "remove", ""])).candidates).toEqual(["example:", "org/single:latest"]);
    // an empty or missing storage completes nothing, and creates nothing
    const empty = path.join(tempDir(), "nohome");
    expect(await complete(["unpack", ""], { KITOPS_HOME: empty })).toEqual({ candidates: [], directive: 6 });
    expect(existsSync(empty)).toBe(false);
  });

  test("a script for every shell, each asking __complete (or __completeNoDesc with --no-descriptions)", async () => {
    const commands = (await helpCommands()).map(([n]) => n);
    expect(commands).toEqual(expect.arrayContaining(["completion", "help", "pack", "unpack"]));
    for (const shell of ["bash", "zsh", "fish", "powershell"]) {
      const r = await runInProcess(["completion", shell]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(" __complete ");
      expect(r.stdout).not.toContain("__completeNoDesc");
      const nd = await runInProcess(["completion", shell, "--no-descriptions"]);
      expect(nd.stdout).toContain(" __completeNoDesc ");
      expect(nd.stdout).not.toContain(" __complete ");
      expect((await runInProcess(["completion", shell, "--help"])).stdout).toContain("--no-descriptions   disable completion descriptions");
    }
    expect((await runInProcess(["completion", "--help"])).stdout).toMatch(/\n {2}powershell +Generate the autocompletion script for powershell\n/);
  });

  test("the PowerShell script is a native argument completer that handles every directive", async () => {
    const ps = (await runInProcess(["completion", "powershell"])).stdout;
    expect(ps).toContain("Register-ArgumentCompleter -Native -CommandName 'kit' -ScriptBlock {");
    expect(ps).toContain("param($WordToComplete, $CommandAst, $CursorPosition)");
    expect(ps).toContain("& $Program __complete @Rest $Word");
    for (const bit of [1, 2, 4, 16]) expect(ps).toContain(`$Directive -band ${bit}`);
    expect(ps).toContain("[System.Management.Automation.CompletionResult]::new(");
    // balanced braces and parentheses outside strings
    const code = ps.replace(/'[^'\n]*'|"[^"\n]*"/g, "").replace(/^#.*$/gm, "");
    const count = (c: string) => code.split(c).length - 1;
    expect(count("{")).toBe(count("}"));
    expect(count("(")).toBe(count(")"));
  });
});

describe("errors kit reports as Invalid arguments", () => {
  test("pack: no Kitfile, --compression, --layer-format, --tag", async () => {
    const home = tempDir();
    const ctx = tempDir();
    const pack = (...args: string[]) => runInProcess(["pack", ctx, ...args], { env: { KITOPS_HOME: home } });
    expect(await pack()).toEqual({ code: 1, stdout: `Generate one with: kit init ${ctx}\n`, stderr: `[ERROR] Invalid arguments: No Kitfile found in ${ctx}. Consider using the -f flag to specify its path\n` });
    writeFileSync(path.join(ctx, "Kitfile"), "manifestVersion: 1.0\n");
    expect((await pack("--compression", "lzma")).stderr).toBe(
      "[ERROR] Invalid arguments: Invalid compression type: must be one of 'none', 'gzip', 'gzip-fastest', or 'zstd'\n",
    );
    expect((await pack("--layer-format", "zip")).stderr).toBe("[ERROR] Invalid arguments: invalid layer format: must be either 'tar' or 'raw'\n");
    expect((await pack("-t", "Bad:v1")).stderr).toBe("[ERROR] Invalid arguments: failed to parse reference: repository (Bad) name must be lowercase\n");
    // -v shows kit's debug lines for the command
    const v = await pack("-t", "m:v1,v2", "-v");
    expect(v.stdout).toContain(`[DEBUG] Context dir: ${ctx}\n[DEBUG] Model file: ${path.join(ctx, "Kitfile")}\n[DEBUG] Packing localhost/m:v1\n[DEBUG] Additional tags: v2\n`);
  });

  test("unpack: a bad --filter or reference", async () => {
    const env = { KITOPS_HOME: tempDir() };
    expect(await runInProcess(["unpack", "x:v1", "-f", "a:b:c"], { env })).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Invalid arguments: invalid filter: should be in format <type1>,<type2>[:<filter1>,<filter2>]\n",
    });
    expect((await runInProcess(["unpack", "x:v1", "--filter", "weights"], { env })).stderr).toStartWith("[ERROR] Invalid arguments: invalid filter type weights (must be one of");
    expect((await runInProcess(["unpack", "Bad:v1"], { env })).stderr).toBe("[ERROR] Invalid arguments: failed to parse reference: repository (Bad) name must be lowercase\n");
    expect((await runInProcess(["unpack", "x:a,b"], { env })).stderr).toBe("[ERROR] Invalid arguments: can not unpack multiple tags\n");
  });
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
