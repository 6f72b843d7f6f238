/**
 * `.kitignore` matching: moby/patternmatcher v0.6.0 semantics plus kit's ignore-file reader and the
 * always-appended defaults (docs/format.md#kitignore). Paths use `/` separators and are relative to the
 * context directory.
 * @module
 */
import { cleanPath } from "../kitfile/paths.ts";
import { KitError } from "../util/errors.ts";

/** Patterns kit appends after the user's: only the root-level Kitfile names and `.kitignore`. */
export const DEFAULT_IGNORE_PATTERNS: readonly string[] = ["Kitfile", "kitfile", ".kitfile", ".kitignore"];

/** Go `path.Join`: joins the non-empty elements and cleans the result (`""` when all are empty). */
export function joinPath(...elems: string[]): string {
  const parts = elems.filter((e) => e !== "");
  return parts.length === 0 ? "" : cleanPath(parts.join("/"));
}

/** Go `path.Dir`. */
export function dirPath(p: string): string {
  const i = p.lastIndexOf("/");
  return cleanPath(p.slice(0, i + 1));
}

/** Go `unicode.IsSpace` characters (JS `\s` also has U+FEFF, which Go does not trim). */
const GO_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const TRIM_RE = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, "gu");

/** Go `strings.TrimSpace`. */
function trimSpace(s: string): string {
  return s.replace(TRIM_RE, "");
}

/**
 * moby/patternmatcher's `ignorefile.ReadAll`: one pattern per line, BOM stripped from line 1, lines
 * starting with `#` skipped, trimmed, `!` exclusions (space after `!` trimmed), `filepath.Clean`, one
 * leading `/` removed.
 */
export function readIgnorePatterns(text: string): string[] {
  const lines = text.split("\n");
  // bufio.ScanLines: a final empty token after a trailing newline is not produced.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const patterns: string[] = [];
  lines.forEach((raw, n) => {
    let line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (n === 0 && line.startsWith("\uFEFF")) line = line.slice(1);
    if (line.startsWith("#")) return;
    let pattern = trimSpace(line);
    if (pattern === "") return;
    const invert = pattern.startsWith("!");
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    }
    patterns.push(invert ? "!" + pattern : pattern);
  });
  return patterns;
}

// ---- Go filepath.Match syntax check (used by patternmatcher.New to reject bad patterns) ----

/** `filepath.ErrBadPattern`. */
const BAD_PATTERN = "syntax error in pattern";

function scanChunk(pattern: string): { star: boolean; chunk: string; rest: string } {
  let star = false;
  while (pattern.startsWith("*")) {
    pattern = pattern.slice(1);
    star = true;
  }
  let inRange = false;
  let i = 0;
  scan: for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case "\\":
        if (i + 1 < pattern.length) i++;
        break;
      case "[":
        inRange = true;
        break;
      case "]":
        inRange = false;
        break;
      case "*":
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunk: pattern.slice(0, i), rest: pattern.slice(i) };
}

function getEsc(chunk: string): { r: number; rest: string } {
  if (chunk.length === 0 || chunk[0] === "-" || chunk[0] === "]") throw new Error(BAD_PATTERN);
  if (chunk[0] === "\\") {
    chunk = chunk.slice(1);
    if (chunk.length === 0) throw new Error(BAD_PATTERN);
  }
  const r = chunk.codePointAt(0)!;
  const rest = chunk.slice(r > 0xffff ? 2 : 1);
  if (rest.length === 0) throw new Error(BAD_PATTERN);
  return { r, rest };
}

/** Go `matchChunk`: returns the rest of `s` on a match, undefined otherwise; throws on bad syntax. */
function matchChunk(chunk: string, s: string): string | undefined {
  let failed = false;
  while (chunk.length > 0) {
    if (!failed && s.length === 0) failed = true;
    const c = chunk[0]!;
    if (c === "[") {
      let r = -1;
      if (!failed) {
        r = s.codePointAt(0)!;
        s = s.slice(r > 0xffff ? 2 : 1);
      }
      chunk = chunk.slice(1);
      let negated = false;
      if (chunk.startsWith("^")) {
        negated = true;
        chunk = chunk.slice(1);
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (chunk.startsWith("]") && nrange > 0) {
          chunk = chunk.slice(1);
          break;
        }
        const lo = getEsc(chunk);
        chunk = lo.rest;
        let hi = lo.r;
        if (chunk[0] === "-") {
          const h = getEsc(chunk.slice(1));
          hi = h.r;
          chunk = h.rest;
        }
        if (lo.r <= r && r <= hi) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === "?") {
      if (!failed) {
        if (s[0] === "/") failed = true;
        const r = s.codePointAt(0)!;
        s = s.slice(r > 0xffff ? 2 : 1);
      }
      chunk = chunk.slice(1);
    } else {
      if (c === "\\") {
        chunk = chunk.slice(1);
        if (chunk.length === 0) throw new Error(BAD_PATTERN);
      }
      if (!failed) {
        if (chunk[0] !== s[0]) failed = true;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
    }
  }
  return failed ? undefined : s;
}

/** Go `filepath.Match`; throws `syntax error in pattern` for a malformed pattern. */
export function goPathMatch(pattern: string, name: string): boolean {
  outer: while (pattern.length > 0) {
    const { star, chunk, rest } = scanChunk(pattern);
    pattern = rest;
    if (star && chunk === "") return !name.includes("/");
    const t = matchChunk(chunk, name);
    if (t !== undefined && (t.length === 0 || pattern.length > 0)) {
      name = t;
      continue;
    }
    if (star) {
      for (let i = 0; i < name.length && name[i] !== "/"; i++) {
        const t2 = matchChunk(chunk, name.slice(i + 1));
        if (t2 !== undefined) {
          if (pattern.length === 0 && t2.length > 0) continue;
          name = t2;
          continue outer;
        }
      }
    }
    while (pattern.length > 0) {
      const next = scanChunk(pattern);
      pattern = next.rest;
      matchChunk(next.chunk, "");
    }
    return false;
  }
  return name.length === 0;
}

// ---- patternmatcher ----

type MatchType = "exact" | "prefix" | "suffix" | "regexp";

const REGEX_SYNTAX = new Set([..."^$\\.*+?()[]{}|/"]);
const MOBY_ESCAPED = new Set([...".+()|{}$"]);

/** One compiled pattern (patternmatcher `Pattern`). */
export class Pattern {
  readonly cleaned: string;
  readonly exclusion: boolean;
  readonly matchType: MatchType;
  readonly #re?: RegExp;

  constructor(cleaned: string, exclusion: boolean) {
    this.cleaned = cleaned;
    this.exclusion = exclusion;
    let re = "^";
    let type: MatchType = "exact";
    let inClass = false;
    const chars = [...cleaned];
    for (let i = 0, k = 0; k < chars.length; i++) {
      const ch = chars[k++]!;
      if (ch === "*") {
        if (chars[k] === "*") {
          k++;
          if (chars[k] === "/") k++; // treat "**/" as "**"
          if (k >= chars.length) {
            if (type === "exact") type = "prefix";
            else {
              re += ".*";
              type = "regexp";
            }
          } else {
            re += "(.*/)?";
            type = "regexp";
          }
          if (i === 0) type = "suffix";
        } else {
          re += "[^/]*";
          type = "regexp";
        }
      } else if (ch === "?") {
        re += "[^/]";
        type = "regexp";
      } else if (MOBY_ESCAPED.has(ch)) {
        re += "\\" + ch;
      } else if (ch === "\\") {
        if (k < chars.length) {
          const next = chars[k++]!;
          // Go's regexp treats `\x` as the literal x for punctuation; for letters we keep
          // filepath.Match's meaning (the literal letter), which JS needs spelled out.
          re += REGEX_SYNTAX.has(next) || (inClass && next === "-") ? "\\" + next : next;
          type = "regexp";
        } else {
          re += "\\\\";
        }
      } else if (ch === "[" || ch === "]") {
        // Go's regexp (RE2) reads a `]` outside a class and a `[` inside one as literals; a
        // JavaScript regexp refuses the first, so both are escaped. (A `]` first in a class is
        // a syntax error for filepath.Match, refused before this.)
        if (ch === "[" && !inClass) {
          inClass = true;
          re += "[";
        } else if (ch === "]" && inClass) {
          inClass = false;
          re += "]";
        } else {
          re += "\\" + ch;
        }
        type = "regexp";
      } else {
        re += ch; // like patternmatcher, `^` and `/` go through unescaped
      }
    }
    this.matchType = type;
    if (type === "regexp") {
      try {
        this.#re = new RegExp(re + "$", "u");
      } catch {
        throw new Error(BAD_PATTERN);
      }
    }
  }

  /** patternmatcher `Pattern.match`. */
  match(path: string): boolean {
    switch (this.matchType) {
      case "exact":
        return path === this.cleaned;
      case "prefix":
        return path.startsWith(this.cleaned.slice(0, -2));
      case "suffix": {
        const suffix = this.cleaned.slice(2);
        if (path.endsWith(suffix)) return true;
        return suffix.startsWith("/") && path === suffix.slice(1);
      }
      case "regexp":
        return this.#re!.test(path);
    }
  }
}

/** patternmatcher `PatternMatcher`. */
export class PatternMatcher {
  readonly patterns: Pattern[] = [];
  /** True when any pattern starts with `!`. */
  readonly hasExclusions: boolean = false;

  /** patternmatcher `New`; throws plain Errors with patternmatcher's messages. */
  constructor(patterns: readonly string[]) {
    for (let p of patterns) {
      p = trimSpace(p);
      if (p === "") continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith("!")) {
        if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
        this.hasExclusions = true;
      }
      goPathMatch(p, "."); // syntax check, as patternmatcher does
      this.patterns.push(new Pattern(p, exclusion));
    }
  }

  /** patternmatcher `MatchesOrParentMatches`: the path or any of its ancestors matches. */
  matchesOrParentMatches(file: string): boolean {
    let matched = false;
    const parent = dirPath(file);
    const parentDirs = parent.split("/");
    for (const pattern of this.patterns) {
      if (pattern.exclusion !== matched) continue;
      let match = pattern.match(file);
      if (!match && parent !== ".") {
        for (let i = 0; i < parentDirs.length; i++) {
          if (pattern.match(parentDirs.slice(0, i + 1).join("/"))) {
            match = true;
            break;
          }
        }
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }
}

/** The `.kitignore` part of kit's ignore test (docs/format.md#kitignore). */
export interface KitIgnore {
  /** True when `path` (relative to the context, `/`-separated) is excluded. */
  matches(path: string): boolean;
  /** True when the ignore file has `!` re-include patterns (then ignored dirs are still walked). */
  readonly hasExclusions: boolean;
  /** The patterns in effect, defaults included. */
  readonly patterns: readonly string[];
}

/**
 * Builds kit's ignore matcher from the text of `<context>/.kitignore` (undefined when there is none);
 * kit's defaults are always appended. Throws `invalid .kitignore file: <err>` for a bad pattern.
 */
export function createIgnore(text: string | undefined): KitIgnore {
  const patterns = [...(text === undefined ? [] : readIgnorePatterns(text)), ...DEFAULT_IGNORE_PATTERNS];
  let pm: PatternMatcher;
  try {
    pm = new PatternMatcher(patterns);
  } catch (e) {
    throw new KitError(`invalid .kitignore file: ${(e as Error).message}`, {
      hint: "Fix the pattern in .kitignore (patterns use Go filepath.Match syntax plus **)",
    });
  }
  return {
    matches: (path: string) => pm.matchesOrParentMatches(trimSpace(cleanPath(path))),
    hasExclusions: pm.hasExclusions,
    patterns,
  };
}
