/**
 * `kit skill` and `kit unpack --as-skill` through the compiled binary: the embedded SKILL.md and a
 * ModelKit's SKILL.md prompt layers land in the coding agents' skill directories (user-wide under
 * a temporary HOME, or a project's with -d), with -o / -i and agent detection.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashTree, listTree, project } from "../helpers/files.ts";
import { runKit, tempDir } from "../helpers/kit.ts";

const kitSkill = readFileSync(path.join(import.meta.dir, "../../src/modelkit/kit-skill.md"), "utf8");

describe("kit skill", () => {
  test("detected agents get the embedded SKILL.md user-wide; -i keeps, -o replaces, without either it refuses", async () => {
    const home = tempDir("kit-skill-home-");
    mkdirSync(path.join(home, ".claude"));
    mkdirSync(path.join(home, ".config", "opencode"), { recursive: true });
    const env = { HOME: home, KITOPS_HOME: path.join(home, "kit") };
    const r = await runKit(["skill"], { env });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "Detected installed agents: claude-code, opencode\n" +
        `Installed skill 'kitops' for claude-code → ${home}/.claude/skills/kitops\n` +
        `Installed skill 'kitops' for opencode → ${home}/.config/opencode/skills/kitops\n`,
    });
    const file = path.join(home, ".claude/skills/kitops/SKILL.md");
    expect(readFileSync(file, "utf8")).toBe(kitSkill);
    expect(kitSkill).toStartWith("---\nname: kitops\n");
    expect(statSync(file).mode & 0o777).toBe(0o644);

    writeFileSync(file, "edited");
    expect(await runKit(["skill", "--agents", "claude-code"], { env })).toEqual({
      code: 1,
      stdout: "Failed to install skill 'kitops' for claude-code: skill directory already exists (use -o to overwrite)\n",
      stderr: "[ERROR] Failed to install skill for 1 agent(s)\n",
    });
    const keep = await runKit(["skill", "--agents", "claude-code", "-i"], { env });
    expect(keep).toEqual({ code: 0, stderr: "", stdout: "Skipped skill 'kitops' for claude-code: already exists (use -o to overwrite)\n" });
    expect(readFileSync(file, "utf8")).toBe("edited");
    expect((await runKit(["skill", "--agents", "claude-code", "-o"], { env })).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(kitSkill);
  });

  test("-d installs into the project; agents sharing a directory get it once; unknown agents and none detected are errors", async () => {
    const home = tempDir("kit-skill-home-");
    const proj = tempDir("kit-skill-proj-");
    const env = { HOME: home, KITOPS_HOME: path.join(home, "kit") };
    const r = await runKit(["skill", "-d", proj, "--agents=codex,cursor,claude-code"], { env });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        `Installed skill 'kitops' for codex → ${proj}/.agents/skills/kitops\n` +
        "Skipped skill 'kitops' for cursor: already exists (use -o to overwrite)\n" +
        `Installed skill 'kitops' for claude-code → ${proj}/.claude/skills/kitops\n`,
    });
    expect(listTree(proj)).toEqual([".agents/", ".agents/skills/", ".agents/skills/kitops/", ".agents/skills/kitops/SKILL.md", ".claude/", ".claude/skills/", ".claude/skills/kitops/", ".claude/skills/kitops/SKILL.md"]);
    expect(existsSync(path.join(home, ".claude"))).toBe(false);
    const bad = await runKit(["skill", "--agents", "claude,codex"], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toStartWith("[ERROR] Unknown agent 'claude'. Valid agents: adal, amp, antigravity, ");
    expect(await runKit(["skill"], { env })).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] No installed agents detected. Specify agents explicitly, e.g. --agents=claude-code,cursor\n",
    });
  });
});

describe("kit unpack --as-skill", () => {
  const KITFILE = `manifestVersion: 1.0.0
package:
  name: helpers
model:
  path: model.bin
prompts:
  - path: skills/review/
  - name: Fix Tests
    path: skills/fixer/SKILL.md
  - path: system.prompt
`;
  const FILES = {
    Kitfile: KITFILE,
    "model.bin": "weights",
    "skills/review/SKILL.md": "---\nname: Code Review\ndescription: reviews code\n---\nReview carefully.\n",
    "skills/review/checklist.md": "- tests\n",
    "skills/review/scripts/run.sh": "echo hi\n",
    "skills/fixer/SKILL.md": "No front-matter here.\n",
    "system.prompt": "You are helpful.\n",
  };

  test("SKILL.md prompt layers become skills named from their front-matter, the Kitfile or the path; nothing else is written", async () => {
    const home = tempDir("kit-asskill-home-");
    const env = { HOME: home, KITOPS_HOME: path.join(home, "kit") };
    const ctx = project(FILES);
    expect((await runKit(["pack", ctx, "-t", "helpers:v1", "--compression", "gzip"], { env })).code).toBe(0);
    const proj = tempDir("kit-asskill-proj-");
    const r = await runKit(["unpack", "helpers:v1", "--as-skill=claude-code", "-d", proj], { env });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        `Installed skill 'code-review' for claude-code → ${proj}/.claude/skills/code-review\n` +
        `Installed skill 'fix-tests' for claude-code → ${proj}/.claude/skills/fix-tests\n` +
        'Skipping prompt "system.prompt": not a SKILL.md, cannot install as skill\n',
    });
    expect(hashTree(proj)).toEqual({
      ".claude/skills/code-review/SKILL.md": hashTree(ctx)["skills/review/SKILL.md"]!,
      ".claude/skills/code-review/checklist.md": hashTree(ctx)["skills/review/checklist.md"]!,
      ".claude/skills/code-review/scripts/run.sh": hashTree(ctx)["skills/review/scripts/run.sh"]!,
      ".claude/skills/fix-tests/SKILL.md": hashTree(ctx)["skills/fixer/SKILL.md"]!,
    });
    // --filter selects prompts by name or path; -i skips existing skills.
    const again = await runKit(["unpack", "helpers:v1", "--as-skill=claude-code", "-d", proj, "--filter", "prompts:Fix Tests", "-i"], { env });
    expect(again).toEqual({ code: 0, stderr: "", stdout: "Skipped skill 'fix-tests' for claude-code: already exists (use -o to overwrite)\n" });
    const none = await runKit(["unpack", "helpers:v1", "--as-skill=claude-code", "-d", proj, "--filter", "model"], { env });
    expect(none).toEqual({ code: 0, stderr: "", stdout: "No prompt layers matched the specified filters\n" });
  });

  test("without -d the skills go to the detected agents' user directories; a kit without SKILL.md says so", async () => {
    const home = tempDir("kit-asskill-home-");
    mkdirSync(path.join(home, ".codex"));
    const env = { HOME: home, KITOPS_HOME: path.join(home, "kit") };
    expect((await runKit(["pack", project(FILES), "-t", "helpers:v1"], { env })).code).toBe(0);
    const cwd = tempDir("kit-asskill-cwd-");
    const r = await runKit(["unpack", "helpers:v1", "--as-skill", "--filter", "prompts:skills/review/"], { env, cwd });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout: `Detected installed agents: codex\nInstalled skill 'code-review' for codex → ${home}/.codex/skills/code-review\n`,
    });
    expect(listTree(cwd)).toEqual([]);
    const plain = project({ Kitfile: "manifestVersion: 1.0.0\nprompts:\n  - path: a.prompt\n", "a.prompt": "x" });
    expect((await runKit(["pack", plain, "-t", "plain:v1"], { env })).code).toBe(0);
    expect(await runKit(["unpack", "plain:v1", "--as-skill=codex"], { env, cwd })).toEqual({
      code: 0,
      stderr: "",
      stdout:
        'Skipping prompt "a.prompt": not a SKILL.md, cannot install as skill\n' +
        "No agent skills found in modelkit. Prompt layers must contain a SKILL.md file to be installed as skills.\n",
    });
  });
});
