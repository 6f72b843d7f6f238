/**
 * Layers import only downward: cli → dev → modelkit → init → s3 → registry → sign → store → kitfile →
 * oci → runtime → util. Every pair is ordered: no two layers may import each other, not even the
 * low-level pairs (util and runtime, modelkit and init).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const src = path.resolve(import.meta.dir, "../src");
const RANK: Record<string, number> = { "..": 0, util: 0, runtime: 1, oci: 2, kitfile: 3, store: 4, sign: 4.5, registry: 5, s3: 5.5, init: 6, modelkit: 7, dev: 8, cli: 9, "main.ts": 10 };
const BUN_ONLY = /\bBun\.(file|write|serve|CryptoHasher|embeddedFiles|isStandaloneExecutable|password|spawn|build)\b|with \{ type: "file" \}/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const layerOf = (file: string) => path.relative(src, file).split(path.sep)[0]!;

test("every import goes to the same layer or a lower one", () => {
  const wrong: string[] = [];
  for (const f of files(src)) {
    const from = layerOf(f);
    for (const m of readFileSync(f, "utf8").matchAll(/(?:import|export)[^"']*?from\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      const to = layerOf(path.resolve(path.dirname(f), spec));
      if (RANK[to] === undefined || RANK[from] === undefined) wrong.push(`${path.relative(src, f)}: unknown layer for ${spec}`);
      else if (RANK[to]! > RANK[from]!) wrong.push(`${path.relative(src, f)} (${from}) imports ${spec} (${to})`);
    }
  }
  expect(wrong).toEqual([]);
});

test("Bun-only APIs are used only in src/runtime", () => {
  const offenders = files(src).filter((f) => layerOf(f) !== "runtime" && BUN_ONLY.test(readFileSync(f, "utf8").replace(/^\s*(\/\/|\*).*$/gm, "")));
  expect(offenders.map((f) => path.relative(src, f))).toEqual([]);
});

/** Every module `entry` imports statically (type-only imports excluded), and the bare specifiers it names. */
function staticImports(entry: string): { modules: string[]; packages: string[] } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s)?[^;]*?\bfrom\s+["']([^"']+)["']|^import\s+["']([^"']+)["']/gms)) {
      if (m[1]) continue;
      const spec = (m[2] ?? m[3])!;
      if (spec.startsWith(".")) visit(path.resolve(path.dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { modules: [...seen].map((f) => path.relative(src, f)).sort(), packages: [...packages].sort() };
}

test("kit version and kit --help start without the commands: main.ts reaches no other command, no registry, store, dev server or template code", () => {
  const { modules, packages } = staticImports(path.join(src, "main.ts"));
  const heavy = modules.filter((m) => !/^(main\.ts|\.\.\/package\.json|util\/.*|cli\/(run|root|command|flags|globals)\.ts|cli\/commands\/help\.ts)$/.test(m));
  expect(heavy).toEqual([]);
  expect(modules).not.toContain("util/go-template.ts");
  // Bun's node:stream, node:tty, node:net, node:readline, node:crypto and node:zlib cost milliseconds to load.
  expect(packages.filter((p) => !["node:fs", "node:path", "node:os"].includes(p) && !p.endsWith("package.json"))).toEqual([]);
});
