/**
 * The project's docs stand alone: code, tests, scripts and docs cite sections of docs/format.md,
 * docs/compatibility.md and docs/architecture.md that exist, and never a document outside the
 * repository.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dir, "..");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return n === "fixtures" || n === "node_modules" ? [] : files(p);
    return /\.(ts|md|html|sh)$/.test(n) ? [p] : [];
  });
}

const scanned = [
  ...["src", "test", "scripts", "docs", "build", "examples"].flatMap((d) => files(path.join(root, d))),
  path.join(root, "README.md"),
  path.join(root, "Dockerfile"),
].filter((f) => f !== import.meta.path);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchorsOf(doc: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(path.join(root, "docs", doc), "utf8").split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

test("no citation of documents outside the repository", () => {
  // Written so that this file does not match a grep for the same strings.
  const outside = new RegExp(
    [
      "compat \u00a7", "addendum \u00a7", "\u00a7\\s?\\d", "\\.\\./share[d]/", "/work/share[d]",
      "kitops-compa[t]\\.md", "kitops-since-1\\.[7]\\.md", "feasibilit[y] (\u00a7|\\.md)",
    ].join("|"),
  );
  const hits = scanned.flatMap((f) =>
    readFileSync(f, "utf8").split("\n").flatMap((l, i) => (outside.test(l) ? [`${path.relative(root, f)}:${i + 1}: ${l.trim()}`] : []))
  );
  expect(hits).toEqual([]);
});

test("every cited docs section exists", () => {
  const anchors = new Map(readdirSync(path.join(root, "docs")).filter((d) => d.endsWith(".md")).map((d) => [d, anchorsOf(d)]));
  const broken: string[] = [];
  for (const f of scanned) {
    const text = readFileSync(f, "utf8");
    const inDocs = path.dirname(f) === path.join(root, "docs");
    // `docs/format.md#x` anywhere; in docs/, also markdown links `(format.md#x)` and `(#x)`.
    const cites = [...text.matchAll(/docs\/(format|compatibility|architecture)\.md#([\w-]+)/g)].map((m) => [`${m[1]}.md`, m[2]!]);
    if (inDocs) {
      for (const m of text.matchAll(/\]\((?:(format|compatibility|architecture)\.md)?#([\w-]+)\)/g)) {
        cites.push([m[1] ? `${m[1]}.md` : path.basename(f), m[2]!]);
      }
    }
    for (const [doc, anchor] of cites) {
      if (!anchors.get(doc!)?.has(anchor!)) broken.push(`${path.relative(root, f)}: ${doc}#${anchor}`);
    }
  }
  expect(broken).toEqual([]);
});

test("the slugs follow GitHub's rule", () => {
  expect(slug("Compat v1.7")).toBe("compat-v17");
  expect(slug(".kitignore")).toBe("kitignore");
  expect(slug("Core interfaces (store/target.ts)")).toBe("core-interfaces-storetargetts");
});
