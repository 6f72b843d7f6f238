/**
 * Reading a Kitfile with kit's semantics (docs/format.md#kitfile): yaml.v3 with
 * `KnownFields(true)`. Only the first YAML document counts; unknown keys outside `parameters` and
 * values of the wrong shape are errors naming the file, line and field; string fields accept any
 * scalar and keep its literal text (`version: 1.10` → `"1.10"`, `~` → `""`); `parameters` are
 * decoded as yaml.v3 decodes into `interface{}` (see {@link resolveScalar}).
 *
 * The `yaml` package only tokenises and composes here (failsafe schema, every scalar a string);
 * typing follows yaml.v3's rules, implemented in `values.ts`.
 * @module
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { decodeBase64, encodeBase64 } from "../util/base64.ts";
import { errnoCode } from "../util/fs.ts";
import { KitError, NotFoundError } from "../util/errors.ts";
import { readAll } from "../util/streams.ts";
import { KitfileError, type KitfileProblem } from "./errors.ts";
import {
  type Code,
  type Dataset,
  type Docs,
  type Kitfile,
  KitfileSchema,
  type McpServer,
  type Model,
  type ModelPart,
  type Package,
  type ParameterValue,
  type Prompt,
} from "./schema.ts";
import { resolveScalar } from "./values.ts";

/** A parsed Kitfile and the warnings found while reading it. */
export interface ParsedKitfile {
  kitfile: Kitfile;
  warnings: string[];
}

/** The names `findKitfile` tries in a context directory, in kit's order. */
export const DEFAULT_KITFILE_NAMES = ["Kitfile", "kitfile", ".kitfile"] as const;

/** Kitfiles are small; anything bigger than this is refused rather than buffered. */
export const MAX_KITFILE_BYTES = 16 * 1024 * 1024;

const TOP_KEYS = ["manifestVersion", "package", "model", "code", "datasets", "docs", "prompts", "mcpServers"];
const PACKAGE_KEYS = ["name", "version", "description", "license", "authors"];
const MODEL_KEYS = ["name", "path", "license", "framework", "format", "version", "description", "parts", "parameters"];
const PART_KEYS = ["name", "path", "license", "type"];
const CODE_KEYS = ["path", "description", "license"];
const DATASET_KEYS = ["name", "path", "remotePath", "remoteHash", "description", "license", "parameters"];
const DOCS_KEYS = ["path", "description"];
const PROMPT_KEYS = ["name", "path", "description"];
const MCP_KEYS = ["name", "path", "description"];

const KEY_KINDS: Record<string, string> = {
  "!!int": "an integer",
  "!!float": "a float",
  "!!bool": "a boolean",
  "!!null": "null",
  "!!timestamp": "a timestamp",
  "!!merge": "a merge key",
};

/** yaml.v3 gives up on documents where aliases expand to more than this many nodes. */
const MAX_ALIAS_EXPANSION = 100_000;

type YNode = Scalar | YAMLMap | YAMLSeq | Alias | null | undefined;
interface Entry {
  key: YNode;
  /** The key's text when it is a scalar, else undefined. */
  name: string | undefined;
  value: YNode;
}

/**
 * Parses Kitfile text. `source` names the file in messages (`Kitfile line 7: ...`).
 * Throws {@link KitfileError} listing every problem found.
 */
export function parseKitfile(text: string, source: string): ParsedKitfile {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, {
    schema: "failsafe",
    lineCounter: lc,
    uniqueKeys: false,
    prettyErrors: false,
  });
  const list = Array.isArray(docs) ? docs : [];
  const warnings: string[] = [];
  const doc = list[0];
  if (!doc || isEmptyRoot(doc.contents)) throw emptyError(source);
  if (doc.errors.length > 0) {
    // One syntax error usually cascades into many: report the first (one line), and count the rest.
    const e = doc.errors.find((x) => x.code === "RESOURCE_EXHAUSTION") ?? doc.errors[0]!;
    const reason = e.code === "RESOURCE_EXHAUSTION"
      ? "the document is nested too deeply to read"
      : e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more YAML error${doc.errors.length > 2 ? "s" : ""})` : "";
    throw problemsError(source, [{ line: lc.linePos(e.pos[0]).line, field: "", message: `invalid YAML: ${reason}${more}` }]);
  }
  if (list.length > 1) {
    warnings.push(`${source} contains ${list.length} YAML documents; only the first one is used`);
  }
  const d = new Decoder(doc, lc);
  const kitfile = d.kitfile(doc.contents as YNode);
  if (d.problems.length > 0) throw problemsError(source, d.problems);
  // The decoder only builds schema-shaped values; this guards that promise.
  if (!v.is(KitfileSchema, kitfile)) throw new KitfileError(`${source}: internal error: decoded Kitfile does not match the schema`);
  return { kitfile, warnings };
}

function isEmptyRoot(n: unknown): boolean {
  if (n === null || n === undefined) return true;
  // `---` alone, `~` or `null`: a null document decodes to nothing.
  return isScalar(n) && n.type === "PLAIN" && !n.tag && ["", "~", "null", "Null", "NULL"].includes(scalarText(n));
}

function emptyError(source: string): KitfileError {
  return new KitfileError(
    `${source} is empty: a Kitfile must be a YAML mapping with at least one of ${TOP_KEYS.join(", ")}`,
    { problems: [{ field: "", message: "empty" }] },
  );
}

function problemsError(source: string, problems: KitfileProblem[]): KitfileError {
  const lines = problems.map((p) => `${source}${p.line !== undefined ? ` line ${p.line}` : ""}: ${p.message}`);
  return new KitfileError(lines.join("\n"), { problems });
}

function scalarText(n: Scalar): string {
  if (typeof n.value === "string") return n.value;
  const src = (n as Scalar & { source?: unknown }).source;
  return typeof src === "string" ? src : String(n.value ?? "");
}

/** Long tags (`tag:yaml.org,2002:int`) in yaml.v3's short form (`!!int`). */
function shortTag(tag: string | undefined): string {
  if (!tag) return "";
  return tag.startsWith("tag:yaml.org,2002:") ? "!!" + tag.slice("tag:yaml.org,2002:".length) : tag;
}

/** A `!!binary` value: Go `base64.StdEncoding.DecodeString` (which skips CR and LF), decoded as UTF-8. */
function decodeBinary(s: string): string | undefined {
  const bytes = decodeBase64(s, { ignoreNewlines: true });
  return bytes && new TextDecoder().decode(bytes);
}

function describe(n: YNode): string {
  if (isMap(n)) return "a mapping";
  if (isSeq(n)) return "a list";
  if (isScalar(n)) {
    const t = scalarText(n);
    return `the value ${JSON.stringify(t.length > 40 ? t.slice(0, 37) + "..." : t)}`;
  }
  return "nothing";
}

class Decoder {
  readonly problems: KitfileProblem[] = [];
  /** Alias targets being decoded (cycle detection) and the number of nodes reached through aliases. */
  private readonly active = new Set<unknown>();
  private aliasNodes = 0;
  private aliasDepth = 0;

  constructor(private readonly doc: Document, private readonly lc: LineCounter) {}

  private line(n: YNode): number | undefined {
    const r = n?.range;
    return r ? this.lc.linePos(r[0]).line : undefined;
  }

  private fail(n: YNode, field: string, message: string): void {
    this.problems.push({ line: this.line(n), field, message });
  }

  /** Follows an alias; undefined (after reporting) when it is unknown or refers to itself. */
  private deref(n: YNode, field: string): { node: YNode; ok: boolean; release?: () => void } {
    if (!isAlias(n)) {
      if (this.aliasDepth > 0 && ++this.aliasNodes > MAX_ALIAS_EXPANSION) {
        this.fail(n, field, "document contains excessive aliasing");
        return { node: null, ok: false };
      }
      return { node: n, ok: true };
    }
    const target = n.resolve(this.doc) as YNode;
    if (target === undefined) {
      this.fail(n, field, `unknown anchor '${n.source}' referenced`);
      return { node: null, ok: false };
    }
    if (this.active.has(target)) {
      this.fail(n, field, `anchor '${n.source}' value contains itself`);
      return { node: null, ok: false };
    }
    this.active.add(target);
    this.aliasDepth++;
    const inner = this.deref(target, field);
    return {
      ...inner,
      release: () => {
        inner.release?.();
        this.aliasDepth--;
        this.active.delete(target);
      },
    };
  }

  /** Runs `fn` on the node behind any alias. */
  private with<T>(n: YNode, field: string, fn: (node: YNode) => T, onFail: T): T {
    const r = this.deref(n, field);
    try {
      return r.ok ? fn(r.node) : onFail;
    } finally {
      r.release?.();
    }
  }

  /** True for an absent value or a null scalar (`~`, `null`, empty). */
  private isNull(n: YNode): boolean {
    if (n === null || n === undefined) return true;
    if (!isScalar(n)) return false;
    const tag = shortTag(n.tag);
    if (n.type !== "PLAIN" && (tag === "" || tag === "!")) return false;
    try {
      return resolveScalar(tag, scalarText(n)).tag === "!!null";
    } catch {
      return false;
    }
  }

  /**
   * The key/value pairs of a mapping, with `<<` merges applied (explicit keys win, then merged
   * maps in order) and duplicate keys reported as yaml.v3 does.
   */
  private entries(map: YAMLMap, field: string, where: string): Entry[] | undefined {
    const out: Entry[] = [];
    const seen = new Map<string, YNode>();
    const merges: YNode[] = [];
    let dup = false;
    for (const pair of map.items) {
      const key = pair.key as YNode;
      const value = pair.value as YNode;
      const name = isScalar(key) ? scalarText(key) : undefined;
      const id = isScalar(key) ? `s:${name}` : isAlias(key) ? `a:${key.source}` : undefined;
      if (id !== undefined) {
        const first = seen.get(id);
        if (first !== undefined) {
          this.fail(key, field, `duplicate key ${JSON.stringify(isAlias(key) ? key.source : name)} in ${where} (first defined on line ${this.line(first)})`);
          dup = true;
          continue;
        }
        seen.set(id, key);
      }
      if (isScalar(key) && key.type === "PLAIN" && name === "<<" && (!key.tag || shortTag(key.tag) === "!!merge")) {
        merges.push(value);
        continue;
      }
      out.push({ key, name, value });
    }
    if (dup) return undefined;
    if (merges.length === 0) return out;
    const have = new Set(out.map((e) => e.name));
    for (const m of merges) {
      this.with(m, field, (node) => {
        const sources: YNode[] = isSeq(node) ? (node.items as YNode[]) : [node];
        for (const src of sources) {
          this.with(src, field, (mapNode) => {
            if (!isMap(mapNode)) {
              this.fail(src, field, "map merge requires map or sequence of maps as the value");
              return;
            }
            for (const e of this.entries(mapNode, field, where) ?? []) {
              if (e.name !== undefined && have.has(e.name)) continue;
              have.add(e.name);
              out.push(e);
            }
          }, undefined);
        }
      }, undefined);
    }
    return out;
  }

  /**
   * A struct section: calls `set` for each known key, reports unknown keys (KnownFields) and
   * wrong shapes. Returns false when the node is null or not a mapping.
   */
  private struct(n: YNode, field: string, where: string, allowed: string[], set: (key: string, value: YNode, field: string) => void): boolean {
    return this.with(n, field, (node) => {
      if (this.isNull(node)) return false;
      if (!isMap(node)) {
        this.fail(node, field, `${field || "the top level"} must be a mapping (with ${allowed.join(", ")}), not ${describe(node)}`);
        return false;
      }
      for (const e of this.entries(node, field, where) ?? []) {
        if (e.name === undefined) {
          this.fail(e.key, field, `keys in ${where} must be field names, not ${describe(e.key)}`);
          continue;
        }
        if (!allowed.includes(e.name)) {
          this.fail(e.key, field ? `${field}.${e.name}` : e.name, `unknown field ${JSON.stringify(e.name)} in ${where} (allowed: ${allowed.join(", ")})`);
          continue;
        }
        set(e.name, e.value, field ? `${field}.${e.name}` : e.name);
      }
      return true;
    }, false);
  }

  /** A string field: any scalar's literal text; null → `""`. */
  private string(n: YNode, field: string): string {
    return this.with(n, field, (node) => {
      if (node === null || node === undefined) return "";
      if (!isScalar(node)) {
        this.fail(node, field, `${field} must be a string, not ${describe(node)}`);
        return "";
      }
      const r = this.scalar(node, field);
      if (r === undefined || r === null) return "";
      return shortTag(node.tag) === "!!binary" ? String(r) : scalarText(node);
    }, "");
  }

  /** A list field; `item` decodes each element. Null → undefined. */
  private list<T>(n: YNode, field: string, expected: string, item: (el: YNode, field: string) => T | undefined): T[] | undefined {
    return this.with(n, field, (node) => {
      if (this.isNull(node)) return undefined;
      if (!isSeq(node)) {
        this.fail(node, field, `${field} must be ${expected}, not ${describe(node)}`);
        return undefined;
      }
      const out: T[] = [];
      node.items.forEach((el, i) => {
        const x = item(el as YNode, `${field}[${i}]`);
        if (x !== undefined) out.push(x);
      });
      return out;
    }, undefined);
  }

  /**
   * One mapping element of a list section; a null element is an empty entry, as in Go.
   * `set` stores one decoded field; the result has its keys in schema order.
   */
  private element<T extends object>(el: YNode, field: string, keys: string[], set: (obj: T, key: string, value: YNode, field: string) => void): T {
    const obj = {} as T;
    this.struct(el, field, field, keys, (key, value, f) => set(obj, key, value, f));
    return ordered(obj, keys);
  }

  /** Resolves a scalar as yaml.v3 would into `interface{}`; undefined after reporting an error. */
  private scalar(n: Scalar, field: string): ParameterValue | undefined {
    const tag = shortTag(n.tag);
    const text = scalarText(n);
    if (n.type !== "PLAIN" && (tag === "" || tag === "!")) return text;
    if (tag === "!!binary") {
      const decoded = decodeBinary(text);
      if (decoded === undefined) this.fail(n, field, `${field}: !!binary value contains invalid base64 data`);
      return decoded;
    }
    try {
      const r = resolveScalar(tag, text);
      return r.tag === "!!merge" ? text : r.value;
    } catch (e) {
      this.fail(n, field, `${field}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** A `parameters` value: any YAML, string-keyed maps only. Null → null. */
  value(n: YNode, field: string): ParameterValue {
    return this.with(n, field, (node): ParameterValue => {
      if (node === null || node === undefined) return null;
      if (isScalar(node)) return this.scalar(node, field) ?? null;
      if (isSeq(node)) return node.items.map((el, i) => this.value(el as YNode, `${field}[${i}]`));
      if (isMap(node)) {
        const out: { [k: string]: ParameterValue } = {};
        const entries = this.entries(node, field, field) ?? [];
        for (const e of entries) {
          const key = this.with(e.key, field, (k) => {
            if (!isScalar(k)) {
              this.fail(k, field, `${field}: map keys must be strings, not ${describe(k)}`);
              return undefined;
            }
            const tag = shortTag(k.tag);
            const text = scalarText(k);
            const r = k.type !== "PLAIN" && (tag === "" || tag === "!") ? "!!str" : this.keyTag(tag, text);
            if (r !== "!!str" && r !== "!!binary") {
              this.fail(k, field, `${field}: key ${text === "" ? "(empty)" : text} is ${KEY_KINDS[r] ?? r}, ` +
                `but parameter keys must be strings (quote it: "${text}")`);
              return undefined;
            }
            return r === "!!binary" ? decodeBinary(text) ?? text : text;
          }, undefined);
          if (key === undefined) continue;
          Object.defineProperty(out, key, {
            value: this.value(e.value, field === "" ? key : `${field}.${key}`),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      return null;
    }, null);
  }

  private keyTag(tag: string, text: string): string {
    try {
      return resolveScalar(tag, text).tag;
    } catch {
      return tag;
    }
  }

  kitfile(root: YNode): Kitfile {
    const k: Kitfile = { manifestVersion: "", package: {} };
    this.struct(root, "", "the top level", TOP_KEYS, (key, val, f) => {
      switch (key) {
        case "manifestVersion":
          k.manifestVersion = this.string(val, f);
          break;
        case "package":
          k.package = this.package(val, f);
          break;
        case "model":
          k.model = this.model(val, f);
          break;
        case "code":
          k.code = this.list(val, f, "a list of mappings (each with path, description, license)", (el, ef) => this.code(el, ef));
          break;
        case "datasets":
          k.datasets = this.list(val, f, `a list of mappings (each with ${DATASET_KEYS.join(", ")})`, (el, ef) => this.dataset(el, ef));
          break;
        case "docs":
          k.docs = this.list(val, f, "a list of mappings (each with path, description)", (el, ef) => this.docs(el, ef));
          break;
        case "prompts":
          k.prompts = this.list(val, f, "a list of mappings (each with name, path, description)", (el, ef) => this.prompt(el, ef));
          break;
        case "mcpServers":
          k.mcpServers = this.list(val, f, "a list of mappings (each with name, path, description)", (el, ef) => this.mcpServer(el, ef));
          break;
      }
    });
    return ordered(k, TOP_KEYS);
  }

  private package(n: YNode, field: string): Package {
    const p: Package = {};
    this.struct(n, field, "package", PACKAGE_KEYS, (key, val, f) => {
      if (key === "authors") {
        const a = this.list(val, f, "a list of strings (authors: [Jane Doe, John Doe])", (el, ef) => this.string(el, ef));
        if (a !== undefined) p.authors = a;
      } else {
        p[key as "name"] = this.string(val, f);
      }
    });
    return ordered(p, PACKAGE_KEYS);
  }

  private model(n: YNode, field: string): Model | undefined {
    const m: Model = {};
    const present = this.struct(n, field, "model", MODEL_KEYS, (key, val, f) => {
      if (key === "parts") {
        const parts = this.list(val, f, "a list of mappings (each with name, path, license, type)", (el, ef) => this.part(el, ef));
        if (parts !== undefined) m.parts = parts;
      } else if (key === "parameters") {
        const p = this.value(val, f);
        if (p !== null) m.parameters = p;
      } else {
        m[key as "name"] = this.string(val, f);
      }
    });
    return present ? ordered(m, MODEL_KEYS) : undefined;
  }

  private part(el: YNode, field: string): ModelPart {
    return this.element<ModelPart>(el, field, PART_KEYS, (p, key, val, f) => (p[key as "name"] = this.string(val, f)));
  }

  private code(el: YNode, field: string): Code {
    return this.element<Code>(el, field, CODE_KEYS, (c, key, val, f) => (c[key as "path"] = this.string(val, f)));
  }

  private dataset(el: YNode, field: string): Dataset {
    return this.element<Dataset>(el, field, DATASET_KEYS, (d, key, val, f) => {
      if (key === "parameters") {
        const p = this.value(val, f);
        if (p !== null) d.parameters = p;
      } else {
        d[key as "name"] = this.string(val, f);
      }
    });
  }

  private docs(el: YNode, field: string): Docs {
    return this.element<Docs>(el, field, DOCS_KEYS, (d, key, val, f) => (d[key as "path"] = this.string(val, f)));
  }

  private prompt(el: YNode, field: string): Prompt {
    return this.element<Prompt>(el, field, PROMPT_KEYS, (p, key, val, f) => (p[key as "path"] = this.string(val, f)));
  }

  private mcpServer(el: YNode, field: string): McpServer {
    return this.element<McpServer>(el, field, MCP_KEYS, (s, key, val, f) => (s[key as "path"] = this.string(val, f)));
  }
}

/** Rebuilds `o` with its keys in schema order (the YAML may list them in any order). */
function ordered<T extends object>(o: T, keys: string[]): T {
  const out: Record<string, unknown> = {};
  const src = o as Record<string, unknown>;
  for (const key of keys) if (src[key] !== undefined) out[key] = src[key];
  return out as T;
}

/** Options for {@link readKitfile}. */
export interface ReadKitfileOptions {
  /** What `-` reads (the caller's standard input); required when the path is `-`. */
  stdin?: ReadableStream<Uint8Array>;
  /** Name used in messages instead of the path (`-` is shown as `<stdin>` otherwise). */
  source?: string;
  signal?: AbortSignal;
}

/**
 * Reads and parses a Kitfile from `path`, or from standard input when `path` is `-`.
 * Throws {@link NotFoundError} when the file does not exist, {@link KitfileError} for a directory,
 * an oversized file or any parse problem.
 */
export async function readKitfile(path: string, opts: ReadKitfileOptions = {}): Promise<ParsedKitfile> {
  const source = opts.source ?? (path === "-" ? "<stdin>" : path);
  let bytes: Uint8Array;
  if (path === "-") {
    if (!opts.stdin) throw new KitError("Cannot read the Kitfile from standard input: no input stream was given");
    bytes = await readAll(opts.stdin, MAX_KITFILE_BYTES, opts.signal, () => tooLarge(source));
  } else {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") {
        throw new NotFoundError(`Kitfile ${path} does not exist`, { cause: e, hint: "Check the -f flag or the context directory" });
      }
      throw new KitfileError(`Cannot read Kitfile ${path}: ${(e as Error).message}`, { cause: e });
    }
    if (st.isDirectory()) {
      throw new KitfileError(`Kitfile ${path} is a directory, not a file`, {
        hint: "Pass the Kitfile itself with -f, or the directory as the context argument",
      });
    }
    if (st.size > MAX_KITFILE_BYTES) throw tooLarge(source);
    try {
      bytes = await readFile(path, { signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new KitfileError(`Cannot read Kitfile ${path}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (bytes.byteLength > MAX_KITFILE_BYTES) throw tooLarge(source);
  return parseKitfile(new TextDecoder().decode(bytes), source);
}

function tooLarge(source: string): KitfileError {
  return new KitfileError(`${source} is larger than ${MAX_KITFILE_BYTES / (1024 * 1024)} MiB; a Kitfile describes files, it does not contain them`);
}

/**
 * Finds the Kitfile of a context directory: `Kitfile`, `kitfile`, `.kitfile`, the first that exists
 * (as kit does, a directory of that name counts; {@link readKitfile} then reports it).
 */
export async function findKitfile(contextDir: string): Promise<string> {
  for (const name of DEFAULT_KITFILE_NAMES) {
    const p = join(contextDir, name);
    try {
      await stat(p);
      return p;
    } catch {
      // try the next name
    }
  }
  throw new NotFoundError(`No Kitfile found in ${contextDir}. Consider using the -f flag to specify its path`, {
    hint: `Generate one with: kit init ${contextDir}`,
  });
}
