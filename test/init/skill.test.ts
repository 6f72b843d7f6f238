import { describe, expect, test } from "bun:test";
import { findSkillFile, parseSkillFrontMatter } from "../../src/init/skill.ts";
import { memoryLogger } from "../../src/util/log.ts";

describe("parseSkillFrontMatter", () => {
  const cases: Array<[string, string, { name: string; description: string; license: string } | undefined]> = [
    [
      "valid",
      "---\nname: pdf-tools\ndescription: PDF processing\nlicense: Apache-2.0\n---\n# Skill body",
      { name: "pdf-tools", description: "PDF processing", license: "Apache-2.0" },
    ],
    ["name only", "---\nname: my-skill\n---\n# Body", { name: "my-skill", description: "", license: "" }],
    ["no front-matter", "# Just markdown\nNo front matter.", undefined],
    ["empty front-matter", "---\n---\n# Body", undefined],
    ["blank front-matter", "---\n  \n---\n", undefined],
    ["no closing delimiter", "---\nname: test\n# body", undefined],
    ["leading blank line", "\n---\nname: x\n---\n", undefined],
    [
      "dashes inside a value",
      "---\nname: my-skill\ndescription: Use --- to separate\nother: ---value\n---\n",
      { name: "my-skill", description: "Use --- to separate", license: "" },
    ],
    ["CRLF", "---\r\nname: crlf-skill\r\ndescription: Windows style\r\n---\r\n# Body", { name: "crlf-skill", description: "Windows style", license: "" }],
    [
      "non-string scalars keep their text, null is empty",
      "---\nname: 1.10\ndescription: ~\nlicense: true\n---\n",
      { name: "1.10", description: "", license: "true" },
    ],
    ["block scalar", "---\nname: x\ndescription: |\n  two\n  lines\n---\n", { name: "x", description: "two\nlines\n", license: "" }],
    ["comments only", "---\n# nothing here\n---\n", { name: "", description: "", license: "" }],
    ["unknown keys ignored", "---\nname: a\nallowed-tools: [Bash, Read]\n---\n", { name: "a", description: "", license: "" }],
  ];
  for (const [title, text, want] of cases) {
    test(title, () => {
      const log = memoryLogger();
      expect(parseSkillFrontMatter(text, "SKILL.md", log)).toEqual(want);
      expect(log.err).toEqual([]);
    });
  }

  const malformed: Array<[string, string, string]> = [
    ["bad YAML", "---\nname: [invalid yaml\n---\n# Body", "Flow sequence in block collection must be sufficiently indented"],
    ["not a mapping", "---\njust a string\n---\n", "front-matter is not a mapping"],
    ["list value", "---\nname: [a, b]\n---\n", "name must be a string"],
    ["duplicate key", "---\nname: a\nname: b\n---\n", "Map keys must be unique"],
  ];
  for (const [title, text, reason] of malformed) {
    test(`malformed: ${title}`, () => {
      const log = memoryLogger();
      expect(parseSkillFrontMatter(text, "x/SKILL.md", log)).toBeUndefined();
      expect(log.err.join("")).toStartWith(`[WARN ] Malformed frontmatter in x/SKILL.md: ${reason}`);
    });
  }
});

test("findSkillFile matches SKILL.md in any case", () => {
  const dir = (names: string[]) => ({
    name: "d",
    path: "d",
    subdirs: [],
    files: names.map((n) => ({ name: n, path: `d/${n}`, size: 0 })),
  });
  expect(findSkillFile(dir(["README.md", "Skill.md"]))?.path).toBe("d/Skill.md");
  expect(findSkillFile(dir(["skill.md"]))?.name).toBe("skill.md");
  expect(findSkillFile(dir(["README.md", "SKILL.md.bak"]))).toBeUndefined();
  expect(findSkillFile(dir([]))).toBeUndefined();
});
