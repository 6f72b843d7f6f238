/**
 * The completion scripts run in the real shells against the compiled binary: bash (its
 * completion function called as bash calls it), zsh (the function with the completion
 * builtins replaced by recorders) and fish (`complete -C`). PowerShell cannot be installed here;
 * its script is checked for structure in test/cli/run.test.ts.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitBinary, runKit, tempDir } from "../helpers/kit.ts";
import { project } from "../helpers/files.ts";

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const required = process.env.KIT_TEST_REQUIRE_TOOLS === "1";

const home = tempDir("kit-completion-");
const env = { KITOPS_HOME: path.join(home, "home"), PATH: `${path.dirname(kitBinary)}:${process.env.PATH}`, HOME: home };
const script = async (shell: string) => {
  const file = path.join(home, `kit.${shell}`);
  writeFileSync(file, (await runKit(["completion", shell], { env })).stdout);
  return file;
};
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { cwd: home, env: { ...process.env, ...env }, encoding: "utf8" });
  expect(r.stderr).toBe("");
  return r.stdout;
};

beforeAll(async () => {
  const ctx = project({ Kitfile: "manifestVersion: 1.0\nmodel:\n  path: m.bin\n", "m.bin": "weights" }, { prefix: "kit-completion-ctx-" });
  for (const tag of ["mymodel:v1,v2", "org/other:latest"]) expect((await runKit(["pack", ctx, "-t", tag], { env })).code).toBe(0);
  mkdirSync(path.join(home, "proj"));
  writeFileSync(path.join(home, "plain.txt"), "x");
});

test("bash: commands, flag values, ModelKit references (after ':' and '='), directories", async () => {
  const file = await script("bash");
  const complete = (line: string) =>
    run("bash", ["-c", `source ${file}; COMP_LINE='${line}'; COMP_POINT=${line.length}; __kit_complete; printf '%s\\n' "\${COMPREPLY[@]}"`]).trim().split("\n");
  expect(complete("kit pa")).toEqual(["pack"]);
  expect(complete("kit unpack ")).toEqual(["mymodel:", "org/other:latest"]);
  // bash replaces only the part after the ':' / '=' word break
  expect(complete("kit unpack mymodel:v")).toEqual(["v1", "v2"]);
  expect(complete("kit pack --compression=gz")).toEqual(["gzip", "gzip-fastest"]);
  expect(complete("kit list --format ")).toEqual(["table", "json"]);
  expect(complete("kit pack pr")).toEqual(["proj"]);
  expect(complete("kit pack -f pl")).toEqual(["plain.txt"]);
  expect(complete("kit version --sh")).toEqual(["--show-update-notifications"]);
});

describe.skipIf(!has("zsh") && !required)("zsh", () => {
  test("the completion function offers what __complete answers, with descriptions", async () => {
    const file = await script("zsh");
    expect(spawnSync("zsh", ["-n", file]).status).toBe(0);
    const complete = (line: string) =>
      run("zsh", [
        "-c",
        `compdef() { :; }; source ${file}
_describe() { print -r -- "\${(P)4}|\${@:5}"; }; _files() { print files; }; _path_files() { print "dirs $*"; }
words=(\${(s: :)1}); [[ "$1" == *" " ]] && words+=(""); CURRENT=\${#words}; _kit`,
        "zsh",
        line,
      ]).trim();
    expect(complete("kit pa")).toBe("pack:Pack a ModelKit|");
    expect(complete("kit unpack ")).toBe("mymodel\\: org/other\\:latest|-S"); // -S "": no space after
    expect(complete("kit pack --compression ")).toBe("none gzip gzip-fastest zstd|");
    expect(complete("kit pack ")).toBe("dirs -/");
    expect(complete("kit pack -f ")).toBe("files");
    expect(complete("kit version x")).toBe("");
  });
});

describe.skipIf(!has("fish") && !required)("fish", () => {
  test("complete -C lists what __complete answers", async () => {
    const file = await script("fish");
    const complete = (line: string) => run("fish", ["-c", `source ${file}; complete -C'${line}'`]).trim().split("\n");
    expect(complete("kit pa")).toEqual(["pack\tPack a ModelKit"]);
    expect(complete("kit unpack mymodel:")).toEqual(["mymodel:v1", "mymodel:v2"]);
    expect(complete("kit pack --compression ")).toEqual(["gzip", "gzip-fastest", "none", "zstd"]);
    expect(complete("kit --prog")).toEqual(["--progress\tConfigure progress bars for longer operations (options: none, plain, fancy)"]);
  });
});
