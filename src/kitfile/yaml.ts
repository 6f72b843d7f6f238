/**
 * Kitfile YAML exactly as kit prints it (`kit info`, unpacked Kitfiles, `kit init`): yaml.v3's
 * encoder with `SetIndent(2)` (docs/format.md#yaml-output).
 *
 * Values become a small node tree (scalars carry the style yaml.v3's `stringv` asks for) and a
 * port of the relevant part of libyaml's emitter writes it: block mappings and sequences indented
 * by 2 (sequences indented under their key), flow sequences for `authors` and empty collections,
 * plain/single/double-quoted/literal scalars chosen by `yaml_emitter_analyze_scalar` and
 * `yaml_emitter_select_scalar_style`, no line wrapping, keys of maps in natural order.
 * @module
 */
import type { Code, Dataset, Docs, Kitfile, McpServer, Model, ModelPart, Package, Prompt } from "./schema.ts";
import { formatTime, formatYamlFloat, isBase60Float, isOldBool, naturalCompare, resolveScalar } from "./values.ts";
import { GoFloat } from "../util/go-json.ts";

type Style = "plain" | "single" | "double" | "literal";

/** A YAML node ready for emitting. */
export type YNode =
  | { kind: "scalar"; value: string; style: Style }
  | { kind: "seq"; items: YNode[]; flow: boolean }
  | { kind: "map"; entries: [YNode, YNode][] };

// ---------------------------------------------------------------------------------------------
// Values → nodes (yaml.v3 encode.go)

/** A plain scalar (numbers, booleans, null, timestamps). */
function plain(value: string): YNode {
  return { kind: "scalar", value, style: "plain" };
}

/** yaml.v3 `stringv`: plain unless the text would read back as another type; `\n` → literal. */
export function stringNode(s: string): YNode {
  let canUsePlain = true;
  try {
    canUsePlain = resolveScalar("", s).tag === "!!str" && !(isBase60Float(s) || isOldBool(s));
  } catch {
    canUsePlain = false;
  }
  const style: Style = s.includes("\n") ? "literal" : canUsePlain ? "plain" : "double";
  return { kind: "scalar", value: s, style };
}

/** Any decoded value (parameters, or a value picked by `kit info --filter`) as a node. */
export function valueNode(x: unknown): YNode {
  if (x === null || x === undefined) return plain("null");
  switch (typeof x) {
    case "string":
      return stringNode(x);
    case "boolean":
      return plain(x ? "true" : "false");
    case "bigint":
      return plain(x.toString());
    case "number":
      return plain(formatYamlFloat(x));
  }
  if (x instanceof GoFloat) return plain(formatYamlFloat(x.value));
  if (x instanceof Date) return plain(formatTime(x));
  if (Array.isArray(x)) return { kind: "seq", items: x.map(valueNode), flow: false };
  if (x instanceof Map) {
    const keys = [...x.keys()].map(String).sort(naturalCompare);
    return { kind: "map", entries: keys.map((k) => [stringNode(k), valueNode(x.get(k))]) };
  }
  if (typeof x === "object") {
    const o = x as Record<string, unknown>;
    const keys = Object.keys(o).sort(naturalCompare);
    return { kind: "map", entries: keys.map((k) => [stringNode(k), valueNode(o[k])]) };
  }
  return stringNode(String(x));
}

/** Builds a struct mapping: `[key, value]` pairs, `undefined` values omitted. */
function struct(fields: [string, YNode | undefined][]): YNode {
  return { kind: "map", entries: fields.filter((f): f is [string, YNode] => f[1] !== undefined).map(([k, n]) => [stringNode(k), n]) };
}

/** `omitempty` string field. */
function str(s: string | undefined): YNode | undefined {
  return s ? stringNode(s) : undefined;
}

/** `omitempty` slice field. */
function seq<T>(xs: T[] | undefined, f: (x: T) => YNode, flow = false): YNode | undefined {
  return xs && xs.length > 0 ? { kind: "seq", items: xs.map(f), flow } : undefined;
}

/** `omitempty` interface field: only nil is omitted. */
function params(p: unknown): YNode | undefined {
  return p === undefined || p === null ? undefined : valueNode(p);
}

export function packageNode(p: Package): YNode {
  return struct([
    ["name", str(p.name)],
    ["version", str(p.version)],
    ["description", str(p.description)],
    ["license", str(p.license)],
    ["authors", seq(p.authors, stringNode, true)],
  ]);
}

/** yaml.v3 `isZero` on the Package struct (omitempty on a struct value). */
function packageIsZero(p: Package | undefined): boolean {
  return !p || (!p.name && !p.version && !p.description && !p.license && !(p.authors && p.authors.length > 0));
}

export function modelPartNode(x: ModelPart): YNode {
  return struct([["name", str(x.name)], ["path", str(x.path)], ["license", str(x.license)], ["type", str(x.type)]]);
}

export function modelNode(m: Model): YNode {
  return struct([
    ["name", str(m.name)],
    ["path", str(m.path)],
    ["license", str(m.license)],
    ["framework", str(m.framework)],
    ["format", str(m.format)],
    ["version", str(m.version)],
    ["description", str(m.description)],
    ["parts", seq(m.parts, modelPartNode)],
    ["parameters", params(m.parameters)],
  ]);
}

export function codeNode(x: Code): YNode {
  return struct([["path", str(x.path)], ["description", str(x.description)], ["license", str(x.license)]]);
}

export function datasetNode(x: Dataset): YNode {
  return struct([
    ["name", str(x.name)],
    ["path", str(x.path)],
    ["remotePath", str(x.remotePath)],
    ["remoteHash", str(x.remoteHash)],
    ["description", str(x.description)],
    ["license", str(x.license)],
    ["parameters", params(x.parameters)],
  ]);
}

export function docsNode(x: Docs): YNode {
  return struct([["path", stringNode(x.path ?? "")], ["description", str(x.description)]]);
}

export function promptNode(x: Prompt): YNode {
  return struct([["name", str(x.name)], ["path", str(x.path)], ["description", str(x.description)]]);
}

export function mcpServerNode(x: McpServer): YNode {
  return struct([["name", str(x.name)], ["path", str(x.path)], ["description", str(x.description)]]);
}

export function kitfileNode(k: Kitfile): YNode {
  return struct([
    ["manifestVersion", stringNode(k.manifestVersion ?? "")],
    ["package", packageIsZero(k.package) ? undefined : packageNode(k.package!)],
    ["model", k.model ? modelNode(k.model) : undefined],
    ["code", seq(k.code, codeNode)],
    ["datasets", seq(k.datasets, datasetNode)],
    ["docs", seq(k.docs, docsNode)],
    ["prompts", seq(k.prompts, promptNode)],
    ["mcpServers", seq(k.mcpServers, mcpServerNode)],
  ]);
}

/** The Kitfile as kit writes it (`MarshalToYAML`); layer info (`digest`, `diffId`) is never shown. */
export function kitfileToYaml(k: Kitfile): string {
  return emitYaml(kitfileNode(k));
}

/** One value as a YAML document (`kit info --filter` output): `"my-name"` → `my-name\n`, null → `null\n`. */
export function valueToYaml(v: unknown): string {
  return emitYaml(valueNode(v));
}

// ---------------------------------------------------------------------------------------------
// The emitter (libyaml's emitterc.go, reduced to what these documents need)

const BEST_INDENT = 2;

function isBreak(c: number): boolean {
  return c === 0x0d || c === 0x0a || c === 0x85 || c === 0x2028 || c === 0x2029;
}

/** libyaml `is_printable` on the UTF-8 encoding of code point `c`. */
function isPrintable(c: number): boolean {
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);
}

interface Analysis {
  multiline: boolean;
  flowPlainAllowed: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

/** `yaml_emitter_analyze_scalar`. */
function analyze(value: string): Analysis {
  const cps = Array.from(value, (c) => c.codePointAt(0)!);
  if (cps.length === 0) {
    return { multiline: false, flowPlainAllowed: false, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  }
  let blockIndicators = false, flowIndicators = false, lineBreaks = false, specialCharacters = false, tabCharacters = false;
  let leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false, breakSpace = false, spaceBreak = false;
  let previousSpace = false, previousBreak = false;
  if (value.startsWith("---") || value.startsWith("...")) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    const next = cps[i + 1];
    const followedByWhitespace = next === undefined || next === 0x20 || next === 0x09;
    const ch = String.fromCodePoint(c);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(ch)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (ch === "?" || ch === ":") {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (ch === "-" && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else {
      if (",?[]{}".includes(ch)) flowIndicators = true;
      else if (ch === ":") {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (ch === "#" && precededByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    }
    if (c === 0x09) tabCharacters = true;
    else if (!isPrintable(c)) specialCharacters = true;
    if (c === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i === cps.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cps.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = c === 0x20 || c === 0x09 || isBreak(c) || c === 0;
  }
  const a: Analysis = { multiline: lineBreaks, flowPlainAllowed: true, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.flowPlainAllowed = a.blockPlainAllowed = false;
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) a.flowPlainAllowed = a.blockPlainAllowed = a.singleQuotedAllowed = false;
  if (spaceBreak || tabCharacters || specialCharacters) a.flowPlainAllowed = a.blockPlainAllowed = a.singleQuotedAllowed = false;
  if (spaceBreak || specialCharacters) a.blockAllowed = false;
  if (lineBreaks) a.flowPlainAllowed = a.blockPlainAllowed = false;
  if (flowIndicators) a.flowPlainAllowed = false;
  if (blockIndicators) a.blockPlainAllowed = false;
  return a;
}

/** UTF-8 length, as libyaml measures keys for the 128-byte simple-key limit. */
function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

class Emitter {
  out = "";
  column = 0;
  whitespace = true;
  indention = true;
  indent = -1;
  private readonly indents: number[] = [];
  private flowLevel = 0;

  private put(s: string): void {
    this.out += s;
    for (const _ of s) this.column++;
  }

  private putBreak(): void {
    this.out += "\n";
    this.column = 0;
    this.indention = true;
  }

  /** `write_break`: a `\n` is a line break; LS/PS/NEL/CR are copied and only reset the column. */
  private writeBreak(ch: string): void {
    if (ch === "\n") {
      this.putBreak();
    } else {
      this.out += ch;
      this.column = 0;
      this.indention = true;
    }
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    while (this.column < indent) this.put(" ");
    this.whitespace = true;
  }

  private writeIndicator(indicator: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(" ");
    this.put(indicator);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  private increaseIndent(flow: boolean): void {
    this.indents.push(this.indent);
    this.indent = this.indent < 0 ? (flow ? BEST_INDENT : 0) : this.indent + BEST_INDENT;
  }

  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }

  document(node: YNode): string {
    this.node(node, false);
    this.writeIndent();
    return this.out;
  }

  node(n: YNode, simpleKey: boolean): void {
    if (n.kind === "scalar") return this.scalar(n.value, n.style, simpleKey);
    if (n.kind === "seq") {
      if (this.flowLevel > 0 || n.flow || n.items.length === 0) return this.flowSequence(n.items);
      return this.blockSequence(n.items);
    }
    if (this.flowLevel > 0 || n.entries.length === 0) return this.flowMapping(n.entries);
    return this.blockMapping(n.entries);
  }

  private blockSequence(items: YNode[]): void {
    this.increaseIndent(false);
    for (const item of items) {
      this.writeIndent();
      this.writeIndicator("-", true, false, true);
      this.node(item, false);
    }
    this.popIndent();
  }

  private isSimpleKey(k: YNode): boolean {
    if (k.kind === "scalar") return !analyze(k.value).multiline && utf8Length(k.value) <= 128;
    if (k.kind === "seq") return k.items.length === 0;
    return k.entries.length === 0;
  }

  private blockMapping(entries: [YNode, YNode][]): void {
    this.increaseIndent(false);
    for (const [k, v] of entries) {
      this.writeIndent();
      if (this.isSimpleKey(k)) {
        this.node(k, true);
        this.writeIndicator(":", false, false, false);
      } else {
        this.writeIndicator("?", true, false, true);
        this.node(k, false);
        this.writeIndent();
        this.writeIndicator(":", true, false, true);
      }
      this.node(v, false);
    }
    this.popIndent();
  }

  private flowSequence(items: YNode[]): void {
    this.writeIndicator("[", true, true, false);
    this.increaseIndent(true);
    this.flowLevel++;
    items.forEach((item, i) => {
      if (i > 0) this.writeIndicator(",", false, false, false);
      if (this.column === 0) this.writeIndent();
      this.node(item, false);
    });
    this.flowLevel--;
    this.popIndent();
    if (this.column === 0) this.writeIndent();
    this.writeIndicator("]", false, false, false);
  }

  private flowMapping(entries: [YNode, YNode][]): void {
    this.writeIndicator("{", true, true, false);
    this.increaseIndent(true);
    this.flowLevel++;
    entries.forEach(([k, v], i) => {
      if (i > 0) this.writeIndicator(",", false, false, false);
      if (this.column === 0) this.writeIndent();
      if (this.isSimpleKey(k)) {
        this.node(k, true);
        this.writeIndicator(":", false, false, false);
      } else {
        this.writeIndicator("?", true, false, false);
        this.node(k, false);
        this.writeIndicator(":", true, false, false);
      }
      this.node(v, false);
    });
    this.flowLevel--;
    this.popIndent();
    this.writeIndicator("}", false, false, false);
  }

  /** `yaml_emitter_select_scalar_style`. */
  private selectStyle(requested: Style, a: Analysis, value: string, simpleKey: boolean): Style {
    let style = requested;
    if (simpleKey && a.multiline) style = "double";
    if (style === "plain") {
      if ((this.flowLevel > 0 && !a.flowPlainAllowed) || (this.flowLevel === 0 && !a.blockPlainAllowed)) style = "single";
      if (value.length === 0 && (this.flowLevel > 0 || simpleKey)) style = "single";
    }
    if (style === "single" && !a.singleQuotedAllowed) style = "double";
    if (style === "literal" && (!a.blockAllowed || this.flowLevel > 0 || simpleKey)) style = "double";
    return style;
  }

  private scalar(value: string, requested: Style, simpleKey: boolean): void {
    const style = this.selectStyle(requested, analyze(value), value, simpleKey);
    this.increaseIndent(true);
    switch (style) {
      case "plain":
        this.writePlain(value);
        break;
      case "single":
        this.writeSingle(value);
        break;
      case "double":
        this.writeDouble(value);
        break;
      case "literal":
        this.writeLiteral(value);
        break;
    }
    this.popIndent();
  }

  private writePlain(value: string): void {
    if (value.length > 0 && !this.whitespace) this.put(" ");
    // Plain scalars never hold line breaks (analysis forbids it), and nothing wraps.
    this.put(value);
    if (value.length > 0) this.whitespace = false;
    this.indention = false;
  }

  private writeSingle(value: string): void {
    this.writeIndicator("'", true, false, false);
    let breaks = false;
    for (const ch of value) {
      const c = ch.codePointAt(0)!;
      if (c === 0x20) {
        this.put(ch);
      } else if (isBreak(c)) {
        if (!breaks && ch === "\n") this.putBreak();
        this.writeBreak(ch);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (ch === "'") this.put("'");
        this.put(ch);
        this.indention = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDouble(value: string): void {
    this.writeIndicator('"', true, false, false);
    for (const ch of value) {
      const c = ch.codePointAt(0)!;
      if (!isPrintable(c) || c === 0xfeff || isBreak(c) || c === 0x22 || c === 0x5c) {
        this.put("\\" + doubleEscape(c));
      } else {
        this.put(ch);
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeLiteral(value: string): void {
    this.writeIndicator("|", true, false, false);
    const cps = Array.from(value, (c) => c.codePointAt(0)!);
    if (cps[0] === 0x20 || (cps.length > 0 && isBreak(cps[0]!))) this.writeIndicator(String(BEST_INDENT), false, false, false);
    let chomp = "";
    const last = cps.length - 1;
    if (cps.length === 0 || !isBreak(cps[last]!)) chomp = "-";
    else if (last === 0 || isBreak(cps[last - 1]!)) chomp = "+";
    if (chomp) this.writeIndicator(chomp, false, false, false);
    // go-yaml ends the header line before the content (the fix for leading newlines, issue #755).
    this.putBreak();
    this.whitespace = true;
    let breaks = true;
    for (const ch of value) {
      if (isBreak(ch.codePointAt(0)!)) {
        this.writeBreak(ch);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(ch);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

function doubleEscape(c: number): string {
  switch (c) {
    case 0x00: return "0";
    case 0x07: return "a";
    case 0x08: return "b";
    case 0x09: return "t";
    case 0x0a: return "n";
    case 0x0b: return "v";
    case 0x0c: return "f";
    case 0x0d: return "r";
    case 0x1b: return "e";
    case 0x22: return '"';
    case 0x5c: return "\\";
    case 0x85: return "N";
    case 0xa0: return "_";
    case 0x2028: return "L";
    case 0x2029: return "P";
  }
  const hex = c.toString(16).toUpperCase();
  if (c <= 0xff) return "x" + hex.padStart(2, "0");
  if (c <= 0xffff) return "u" + hex.padStart(4, "0");
  return "U" + hex.padStart(8, "0");
}

/** Writes one YAML document for `node`, ending with a newline. */
export function emitYaml(node: YNode): string {
  return new Emitter().document(node);
}
