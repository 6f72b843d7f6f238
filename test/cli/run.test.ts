import { expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
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
