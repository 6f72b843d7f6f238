/** Agent skills: names, agent resolution, installation rules, and prompt layers read as skills. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { AGENT_NAMES, deriveSkillName, installSkill, readSkillLayer, resolveAgents, sanitizeSkillName } from "../../src/modelkit/agent-skills.ts";
import { encodeHeader } from "../../src/store/tar.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { listTree } from "../helpers/files.ts";
import { tempDir } from "../helpers/kit.ts";
import { tarOf } from "../helpers/tar.ts";

const stream = (b: Uint8Array) => new Blob([b as Uint8Array<ArrayBuffer>]).stream();

test("skill names: lower-case kebab-case from the front-matter, the prompt's name, its path or the repository", () => {
  expect(sanitizeSkillName("Code Review!")).toBe("code-review");
  expect(sanitizeSkillName("..Hidden.")).toBe("hidden");
  expect(sanitizeSkillName("***")).toBe("unnamed-skill");
  expect(deriveSkillName("My Skill", { name: "other", path: "x" }, "org/repo")).toBe("my-skill");
  expect(deriveSkillName("", { name: "Fixer", path: "x" }, undefined)).toBe("fixer");
  expect(deriveSkillName(undefined, { path: "skills/docx/" }, undefined)).toBe("docx");
  expect(deriveSkillName(undefined, { path: "skills/pdf/SKILL.md" }, undefined)).toBe("pdf");
  expect(deriveSkillName(undefined, { path: "prompts/triage.prompt.md" }, undefined)).toBe("triage.prompt");
  expect(deriveSkillName(undefined, { path: "SKILL.md" }, "org/helpers")).toBe("helpers");
  expect(deriveSkillName(undefined, { path: "." }, undefined)).toBe("unnamed-skill");
});

describe("resolveAgents", () => {
  test("a list is checked name by name; an empty value detects agents by their configuration directories", async () => {
    const home = tempDir("kit-agents-");
    const log = memoryLogger();
    expect(await resolveAgents(" claude-code , codex ", { HOME: home }, log)).toEqual(["claude-code", "codex"]);
    await expect(resolveAgents("codex,", { HOME: home }, log)).rejects.toThrow("invalid agent list: empty agent name in 'codex,'");
    await expect(resolveAgents("vim", { HOME: home }, log)).rejects.toThrow(`unknown agent 'vim'. Valid agents: ${AGENT_NAMES.join(", ")}`);
    await expect(resolveAgents("", { HOME: home }, log)).rejects.toThrow("no installed agents detected");
    mkdirSync(path.join(home, ".cursor"));
    mkdirSync(path.join(home, "xdg", "goose"), { recursive: true });
    mkdirSync(path.join(home, "claude-config"));
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, "xdg"), CLAUDE_CONFIG_DIR: path.join(home, "claude-config") };
    expect(await resolveAgents("", env, log)).toEqual(["claude-code", "cursor", "goose"]);
    expect(log.text()).toBe("Detected installed agents: claude-code, cursor, goose\n");
  });
});

describe("readSkillLayer and installSkill", () => {
  const prompt = { path: "skills/review/" };

  test("entries are taken relative to the prompt's path; the SKILL.md front-matter names the skill", async () => {
    const tar = tarOf([
      ["skills/review", "dir"],
      ["skills/review/SKILL.md", "---\nname: Review\n---\nbody\n"],
      ["skills/review/lib/x.md", "x", 0o600],
    ]);
    const { entries, skill } = await readSkillLayer(stream(tar), prompt);
    expect(skill).toEqual({ name: "Review" });
    expect(entries.map((e) => [e.name, e.type])).toEqual([["SKILL.md", "file"], ["lib/x.md", "file"]]);
    const single = await readSkillLayer(stream(tarOf([["docs/SKILL.md", "plain"]])), { path: "docs/SKILL.md" });
    expect(single).toMatchObject({ skill: { name: "" }, entries: [{ name: "SKILL.md" }] });
    expect((await readSkillLayer(stream(tarOf([["a.prompt", "x"]])), { path: "a.prompt" })).skill).toBeUndefined();
  });

  test("symlinks and oversized layers are refused; names escaping the skill directory write nothing", async () => {
    const link = new Uint8Array(2048);
    const header = encodeHeader("SKILL.md", 0o777, 0, "0");
    header[156] = 0x32; // typeflag '2': a symlink; checksum recomputed
    header.fill(0x20, 148, 156);
    header.set(new TextEncoder().encode(header.reduce((a, b) => a + b, 0).toString(8).padStart(6, "0") + "\0 "), 148);
    link.set(header);
    await expect(readSkillLayer(stream(link), { path: "." })).rejects.toThrow("unsupported entry type in prompt layer: SKILL.md");
    const big = new Uint8Array(1024 + 10 * 1024 * 1024 + 512);
    big.set(encodeHeader("SKILL.md", 0o644, 10 * 1024 * 1024 + 1, "0"));
    await expect(readSkillLayer(stream(big), { path: "." })).rejects.toThrow("exceeds maximum size");
    const { entries } = await readSkillLayer(stream(tarOf([["SKILL.md", "s"], ["../evil.md", "e"]])), { path: "." });
    const proj = tempDir("kit-skill-evil-");
    await expect(installSkill(entries, "x", { agents: ["codex"], projectDir: proj, overwrite: false, ignoreExisting: false, env: {}, logger: memoryLogger() }))
      .rejects.toThrow("illegal file path in prompt layer: ../evil.md");
    expect(listTree(proj)).toEqual([]);
  });

  test("an existing skill is replaced whole with -o (no stale files) and kept with -i", async () => {
    const proj = tempDir("kit-skill-o-");
    const o = { agents: ["claude-code"], projectDir: proj, overwrite: false, ignoreExisting: false, env: {}, logger: memoryLogger() };
    const enc = (s: string) => new TextEncoder().encode(s);
    await installSkill([{ name: "SKILL.md", type: "file", mode: 0o644, content: enc("v1") }, { name: "old.md", type: "file", mode: 0o644, content: enc("o") }], "s", o);
    const dir = path.join(proj, ".claude/skills/s");
    expect((await installSkill([{ name: "SKILL.md", type: "file", mode: 0o644, content: enc("v2") }], "s", o))[0]!.error).toBe("skill directory already exists (use -o to overwrite)");
    expect((await installSkill([{ name: "SKILL.md", type: "file", mode: 0o644, content: enc("v2") }], "s", { ...o, ignoreExisting: true }))[0]!.skipped).toBe(true);
    expect(readFileSync(path.join(dir, "SKILL.md"), "utf8")).toBe("v1");
    await installSkill([{ name: "SKILL.md", type: "file", mode: 0o644, content: enc("v2") }], "s", { ...o, overwrite: true });
    expect(readFileSync(path.join(dir, "SKILL.md"), "utf8")).toBe("v2");
    expect(existsSync(path.join(dir, "old.md"))).toBe(false);
    expect(listTree(path.join(proj, ".claude/skills"))).toEqual(["s/", "s/SKILL.md"]);
  });
});
