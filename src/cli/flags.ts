/**
 * A typed flag table and a parser with pflag's (cobra's) syntax: `--name value`, `--name=value`,
 * `-n value`, `-nvalue`, grouped short booleans (`-vvv`), `--bool=false`, `--` ends flags, flags
 * and arguments interleave. The same table renders the help text.
 * @module
 */
import { UsageError } from "../util/errors.ts";

interface FlagBase {
  short?: string;
  help: string;
  hidden?: boolean;
  /** Deprecation notice; the flag still works and prints a warning (cobra prints it too). */
  deprecated?: string;
  /** Values offered by shell completion (cobra's flag completion function). */
  values?: readonly string[];
}
export interface BoolFlag extends FlagBase { type: "bool"; default?: boolean }
export interface StringFlag extends FlagBase { type: "string"; default?: string; /** Value required after `=` only (like pflag NoOptDefVal). */ optionalValue?: string }
/** Repeatable; each occurrence is one value (pflag StringArray). */
export interface StringArrayFlag extends FlagBase { type: "stringArray"; default?: string[] }
/** Repeatable; each occurrence is split on commas (pflag StringSlice). */
export interface StringSliceFlag extends FlagBase { type: "stringSlice"; default?: string[] }
export interface IntFlag extends FlagBase { type: "int"; default?: number }
export interface CountFlag extends FlagBase { type: "count" }
export type FlagSpec = BoolFlag | StringFlag | StringArrayFlag | StringSliceFlag | IntFlag | CountFlag;
export type FlagTable = Record<string, FlagSpec>;

type ValueOf<F extends FlagSpec> = F extends BoolFlag ? boolean
  : F extends StringFlag ? string
  : F extends StringArrayFlag | StringSliceFlag ? string[]
  : number;
/** The parsed values of a flag table; `changed` tells which flags the user gave. */
export type FlagValues<T extends FlagTable> = { [K in keyof T]: ValueOf<T[K]> } & { readonly changed: ReadonlySet<string> };

export interface ParseResult {
  values: Record<string, unknown>;
  changed: Set<string>;
  args: string[];
  /** Deprecation warnings for flags that were used. */
  warnings: string[];
}

function defaultOf(f: FlagSpec): unknown {
  switch (f.type) {
    case "bool": return f.default ?? false;
    case "string": return f.default ?? "";
    case "stringArray": case "stringSlice": return [...(f.default ?? [])];
    case "int": return f.default ?? 0;
    case "count": return 0;
  }
}

function parseBool(name: string, v: string): boolean {
  const t = ["1", "t", "T", "TRUE", "true", "True"];
  const f = ["0", "f", "F", "FALSE", "false", "False"];
  if (t.includes(v)) return true;
  if (f.includes(v)) return false;
  throw new UsageError(`invalid argument "${v}" for "--${name}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

/** Parses argv against a flag table. Unknown flags are usage errors worded as cobra's. */
export function parseFlags(table: FlagTable, argv: readonly string[]): ParseResult {
  const values: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(table)) values[k] = defaultOf(f);
  const changed = new Set<string>();
  const args: string[] = [];
  const warnings: string[] = [];
  const byShort = new Map<string, string>();
  for (const [k, f] of Object.entries(table)) if (f.short) byShort.set(f.short, k);

  const set = (name: string, raw: string | undefined, next: () => string | undefined, display: string) => {
    const f = table[name]!;
    const first = !changed.has(name);
    if (f.deprecated && first) warnings.push(`Flag --${name} has been deprecated, ${f.deprecated}`);
    changed.add(name);
    switch (f.type) {
      case "bool":
        values[name] = raw === undefined ? true : parseBool(name, raw);
        return;
      case "count":
        values[name] = raw === undefined ? (values[name] as number) + 1 : Number.parseInt(raw, 10);
        return;
    }
    let v = raw;
    if (v === undefined) {
      if (f.type === "string" && f.optionalValue !== undefined) v = f.optionalValue;
      else v = next();
    }
    if (v === undefined) throw new UsageError(`flag needs an argument: ${display}`);
    switch (f.type) {
      case "string": values[name] = v; break;
      case "int": {
        if (!/^[+-]?\d+$/.test(v)) {
          throw new UsageError(`invalid argument "${v}" for "${display}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
        }
        values[name] = Number.parseInt(v, 10);
        break;
      }
      case "stringArray":
      case "stringSlice": {
        // the first occurrence replaces the default
        const arr = values[name] as string[];
        if (first) arr.length = 0;
        if (f.type === "stringArray") arr.push(v);
        else if (v !== "") arr.push(...v.split(",").map((s) => s.trim()));
        break;
      }
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => (i + 1 < argv.length ? argv[++i] : undefined);
    if (a === "--") { args.push(...argv.slice(i + 1)); break; }
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const raw = eq < 0 ? undefined : a.slice(eq + 1);
      if (!(name in table)) throw new UsageError(`unknown flag: --${name}`);
      set(name, raw, next, `--${name}`);
    } else if (a.startsWith("-") && a.length > 1) {
      // grouped shorthands: -vvv, -fKitfile, -f=Kitfile
      let j = 1;
      while (j < a.length) {
        const c = a[j]!;
        const name = byShort.get(c);
        if (!name) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
        const f = table[name]!;
        if (f.type === "bool" || f.type === "count") {
          if (a[j + 1] === "=") { set(name, a.slice(j + 2), next, `-${c}`); break; }
          set(name, undefined, next, `-${c}`);
          j++;
          continue;
        }
        const rest = a.slice(j + 1);
        set(name, rest === "" ? undefined : rest.startsWith("=") ? rest.slice(1) : rest, next, `-${c}, --${name}`);
        break;
      }
    } else {
      args.push(a);
    }
  }
  return { values, changed, args, warnings };
}

/** pflag's FlagUsages: aligned `  -s, --name type   help (default x)` lines. */
export function renderFlagUsages(table: FlagTable): string {
  const rows: Array<[string, string]> = [];
  const names = Object.keys(table).sort();
  for (const name of names) {
    const f = table[name]!;
    if (f.hidden || f.deprecated) continue;
    let left = f.short ? `  -${f.short}, --${name}` : `      --${name}`;
    const typeName = f.type === "bool" ? "" : f.type === "string" ? "string" : f.type;
    if (typeName) left += " " + typeName;
    let help = f.help;
    const def = defaultText(f);
    if (def !== undefined) help += ` (default ${def})`;
    rows.push([left, help]);
  }
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `${l.padEnd(width)}   ${h}\n`).join("");
}

function defaultText(f: FlagSpec): string | undefined {
  switch (f.type) {
    case "bool": return f.default ? "true" : undefined;
    case "string": return f.default ? JSON.stringify(f.default) : undefined;
    case "int": return f.default ? String(f.default) : undefined;
    case "stringArray": case "stringSlice": return f.default?.length ? `[${f.default.join(",")}]` : undefined;
    case "count": return undefined;
  }
}
