import { describe, expect, test } from "bun:test";
import { cleanPath } from "../../src/kitfile/paths.ts";
import {
  createIgnore,
  goPathMatch,
  joinPath,
  Pattern,
  PatternMatcher,
  readIgnorePatterns,
} from "../../src/modelkit/ignore.ts";
import { KitError } from "../../src/util/errors.ts";

describe("cleanPath (Go path.Clean)", () => {
  const cases: [string, string][] = [
    ["", "."],
    [".", "."],
    ["./a/", "a"],
    ["a//b/./c/..", "a/b"],
    ["../x", "../x"],
    ["a/../../x", "../x"],
    ["/../a", "/a"],
    ["/", "/"],
    ["//a//", "/a"],
    ["a/b/../..", "."],
  ];
  for (const [input, want] of cases) test(JSON.stringify(input), () => expect(cleanPath(input)).toBe(want));
  test("joinPath", () => {
    expect(joinPath("a/", "PaxHeaders.0", "b")).toBe("a/PaxHeaders.0/b");
    expect(joinPath("", "PaxHeaders.0", "b")).toBe("PaxHeaders.0/b");
    expect(joinPath("", "")).toBe("");
  });
});

describe("readIgnorePatterns (ignorefile.ReadAll)", () => {
  test("BOM, comments, trimming, exclusions, Clean, leading slash", () => {
    const text = "\uFEFF# comment\n  *.tmp  \r\n\n   # indented is a pattern\n! keep.tmp \n/abs/path/\n./rel/../x\n!/y\n/\n";
    expect(readIgnorePatterns(text)).toEqual(["*.tmp", "# indented is a pattern", "!keep.tmp", "abs/path", "x", "!y", "/"]);
  });
  test("BOM only stripped on the first line", () => {
    expect(readIgnorePatterns("a\n\uFEFFb")).toEqual(["a", "\uFEFFb"]);
  });
  test("a lone ! stays for the matcher to reject", () => {
    expect(readIgnorePatterns("!\n")).toEqual(["!"]);
  });
});

describe("goPathMatch (filepath.Match)", () => {
  test("matching", () => {
    expect(goPathMatch("*.txt", "a.txt")).toBe(true);
    expect(goPathMatch("*.txt", "d/a.txt")).toBe(false);
    expect(goPathMatch("a?c", "abc")).toBe(true);
    expect(goPathMatch("[a-c]x", "bx")).toBe(true);
    expect(goPathMatch("[^a-c]x", "bx")).toBe(false);
    expect(goPathMatch("\\*", "*")).toBe(true);
  });
  test("syntax errors", () => {
    for (const bad of ["[", "[a", "a[", "[]a]", "[a-]", "x\\", "[\\", "*[z"]) {
      expect(() => goPathMatch(bad, ".")).toThrow("syntax error in pattern");
    }
  });
});

describe("Pattern compilation", () => {
  test("fast paths", () => {
    expect(new Pattern("dir/**", false).matchType).toBe("prefix");
    expect(new Pattern("**/ignored", false).matchType).toBe("suffix");
    expect(new Pattern("foo", false).matchType).toBe("exact");
    expect(new Pattern("**/*.md", false).matchType).toBe("regexp");
  });
  test("suffix pattern: ends with /x or equals x", () => {
    const p = new Pattern("**/ignored", false);
    expect(p.match("ignored")).toBe(true);
    expect(p.match("a/b/ignored")).toBe(true);
    expect(p.match("notignored")).toBe(false);
  });
  test("**/*.md", () => {
    const p = new Pattern("**/*.md", false);
    expect(p.match("README.md")).toBe(true);
    expect(p.match("a/b/c.md")).toBe(true);
    expect(p.match("a/b/c.mdx")).toBe(false);
  });
  test("a/**/b", () => {
    const p = new Pattern("a/**/b", false);
    expect(p.match("a/b")).toBe(true);
    expect(p.match("a/x/y/b")).toBe(true);
    expect(p.match("ab")).toBe(false);
  });
  test("regex metacharacters are literal", () => {
    const p = new Pattern("f(1)+{x}|$.bin", false);
    expect(p.matchType).toBe("exact");
    expect(p.match("f(1)+{x}|$.bin")).toBe(true);
    const q = new Pattern("v1.?", false);
    expect(q.match("v1.x")).toBe(true);
    expect(q.match("v1xx")).toBe(false);
  });
  test("escapes and classes", () => {
    expect(new Pattern("\\*.txt", false).match("*.txt")).toBe(true);
    expect(new Pattern("\\*.txt", false).match("a.txt")).toBe(false);
    expect(new Pattern("[ab].txt", false).match("b.txt")).toBe(true);
    expect(new Pattern("[^ab].txt", false).match("b.txt")).toBe(false);
    expect(new Pattern("\\a", false).match("a")).toBe(true);
  });
  test("a ] outside a class and a [ inside one are literal characters, as in Go's regexp", () => {
    // filepath.Match accepts these; a JavaScript regexp in unicode mode refused the lone ].
    expect(new Pattern("a]b", false).match("a]b")).toBe(true);
    expect(new Pattern("[!]]b", false).match("!]b")).toBe(true);
    expect(new Pattern("[!]]b", false).match("x]b")).toBe(false);
    expect(new Pattern("[[]x].txt", false).match("[x].txt")).toBe(true);
    expect(createIgnore("a]b\n[[]x].txt\n").matches("a]b")).toBe(true);
    expect(createIgnore("a]b\n[[]x].txt\n").matches("[x].txt")).toBe(true);
  });
});

describe("createIgnore (kit .kitignore)", () => {
  const m = (text: string | undefined, path: string) => createIgnore(text).matches(path);

  test("kit's ignore test vectors", () => {
    expect(m("dir1", "dir1/a/b/file.txt")).toBe(true);
    expect(m("dir1/*.txt", "dir1/file.txt")).toBe(true);
    expect(m("dir1/*.txt", "dir1/sub/file.txt")).toBe(false);
    expect(m("**/testfile.txt", "main/subdir/testfile.txt")).toBe(true);
    expect(m("**/testfile.txt", "testfile.txt")).toBe(true);
    expect(m("dir1\n!dir1/testfile.txt", "dir1/testfile.txt")).toBe(false);
    expect(m("dir1\n!dir1/testfile.txt", "dir1/other.txt")).toBe(true);
  });
  test("patterns are root-relative", () => {
    expect(m("foo", "foo")).toBe(true);
    expect(m("foo", "foo/bar")).toBe(true);
    expect(m("foo", "a/foo")).toBe(false);
    expect(m("**/foo", "a/foo/bar")).toBe(true);
  });
  test("dir/** matches below dir but not dir itself", () => {
    expect(m("dir/**", "dir/a")).toBe(true);
    expect(m("dir/**", "dir/a/b")).toBe(true);
    expect(m("dir/**", "dir")).toBe(false);
    expect(m("dir/**", "dirx/a")).toBe(false);
  });
  test("**/*.md", () => {
    expect(m("**/*.md", "docs/x/README.md")).toBe(true);
    expect(m("**/*.md", "README.md")).toBe(true);
    expect(m("**/*.md", "notes.txt")).toBe(false);
  });
  test("re-includes are evaluated in order", () => {
    const text = "*.txt\n!keep*.txt\nkeep-not.txt";
    expect(m(text, "a.txt")).toBe(true);
    expect(m(text, "keep1.txt")).toBe(false);
    expect(m(text, "keep-not.txt")).toBe(true);
    expect(createIgnore(text).hasExclusions).toBe(true);
    expect(createIgnore("*.txt").hasExclusions).toBe(false);
  });
  test("an exclusion does not re-include files under an ignored parent matched later", () => {
    // Parent match: `data` ignores data/keep.txt; `!data/keep.txt` re-includes it.
    expect(m("data\n!data/keep.txt", "data/keep.txt")).toBe(false);
    // But a re-include of the dir does not undo a later ignore.
    expect(m("!data\ndata", "data/x")).toBe(true);
  });
  test("comments, BOM, leading slash", () => {
    expect(m("\uFEFF# a comment\n/model.bin", "model.bin")).toBe(true);
    expect(m("# model.bin", "model.bin")).toBe(false);
    expect(m("\uFEFFmodel.bin", "model.bin")).toBe(true);
  });
  test("defaults: root Kitfile names and .kitignore, not nested ones, cannot be re-included", () => {
    for (const name of ["Kitfile", "kitfile", ".kitfile", ".kitignore"]) expect(m(undefined, name)).toBe(true);
    expect(m(undefined, "sub/Kitfile")).toBe(false);
    expect(m(undefined, "model.bin")).toBe(false);
    expect(m("!Kitfile", "Kitfile")).toBe(true);
    expect(createIgnore(undefined).patterns).toEqual(["Kitfile", "kitfile", ".kitfile", ".kitignore"]);
  });
  test("paths are cleaned and trimmed", () => {
    expect(m("a/b", "./a/b/")).toBe(true);
    expect(m("a/b", " a/b ")).toBe(true);
  });
  test("invalid patterns", () => {
    expect(() => createIgnore("[abc")).toThrow(new KitError("invalid .kitignore file: syntax error in pattern"));
    expect(() => createIgnore("ok\n!")).toThrow(new KitError('invalid .kitignore file: illegal exclusion pattern: "!"'));
    expect(() => createIgnore("x\\")).toThrow("invalid .kitignore file: syntax error in pattern");
  });
  test("PatternMatcher trims and cleans its inputs", () => {
    const pm = new PatternMatcher(["  ./a/  ", ""]);
    expect(pm.patterns.map((p) => p.cleaned)).toEqual(["a"]);
  });
});
