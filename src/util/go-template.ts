/**
 * Go's `text/template` (the Go 1.23 language): a lexer, a parser that keeps every node's
 * position, and an evaluator over the {@link GoValue} model. Actions, pipelines, variables
 * (`$x := …`, `$x = …`), `if`/`else if`/`else`, `range` (with `else`, `$i, $v :=`, `break`,
 * `continue`), `with`/`else with`, `define`/`template`/`block`, comments, `{{-`/`-}}` trimming,
 * and the builtin functions (`and or not len index slice print printf println html js urlquery
 * eq ne lt le gt ge call`). Callers may add functions.
 *
 * Errors are worded and positioned as Go's: parse errors `template: NAME:LINE: msg`, execution
 * errors `template: NAME:LINE:COL: executing "NAME" at <node>: msg` (COL is the byte offset in
 * the line). Complex number literals are refused at parse time.
 * @module
 */
import { KitError } from "./errors.ts";
import { GoMap, goJson } from "./go-json.ts";
import {
  GoFloat, GoInt, GoMapValue, GoSlice, GoStruct, goPrintValue, goSprint, goSprintf, goSprintln, goTypeName, goZero, int,
  isGoPrint, type GoValue, type IntType,
} from "./go-fmt.ts";

// ---------------------------------------------------------------------------------------------
// Errors

/** A template that does not parse (Go's parse error text). */
export class TemplateParseError extends KitError {
  override name = "TemplateParseError";
}

/** A template execution error (Go `ExecError`); `partial` is what was written before it. */
export class TemplateExecError extends KitError {
  override name = "TemplateExecError";
  constructor(message: string, readonly partial: string) {
    super(message);
  }
}

/** Thrown by a template function: reported as `error calling NAME: <message>`. */
export class TemplateFuncError extends Error {}

// ---------------------------------------------------------------------------------------------
// Lexer

type ItemType =
  | "error" | "bool" | "char" | "charConstant" | "complex" | "assign" | "declare" | "EOF" | "field" | "identifier"
  | "leftDelim" | "leftParen" | "number" | "pipe" | "rawString" | "rightDelim" | "rightParen" | "space" | "string"
  | "text" | "variable"
  // keywords
  | "block" | "break" | "continue" | "dot" | "define" | "else" | "end" | "if" | "nil" | "range" | "template" | "with";

const KEYWORDS: Record<string, ItemType> = {
  ".": "dot", block: "block", break: "break", continue: "continue", define: "define", else: "else", end: "end",
  if: "if", range: "range", nil: "nil", template: "template", with: "with",
};
const KEYWORD_TYPES = new Set<ItemType>(Object.values(KEYWORDS));

interface Item {
  typ: ItemType;
  /** Offset (UTF-16) of the item in the template text. */
  pos: number;
  val: string;
  line: number;
}

/** Go's `item.String()` as used in "unexpected …" messages. */
function itemString(i: Item): string {
  if (i.typ === "EOF") return "EOF";
  if (i.typ === "error") return i.val;
  if (KEYWORD_TYPES.has(i.typ)) return `<${i.val}>`;
  const runes = [...i.val];
  if (runes.length > 10) return goQuoteShort(runes.slice(0, 10).join("")) + "...";
  return goQuoteShort(i.val);
}
const goQuoteShort = (s: string) => goSprintf("%q", [s]);

const LEFT = "{{";
const RIGHT = "}}";
const LEFT_COMMENT = "/*";
const RIGHT_COMMENT = "*/";
const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isAlphaNumeric = (c: string | undefined) => c !== undefined && c !== "" && /^[\p{L}\p{Nd}_]$/u.test(c);
const hasLeftTrimMarker = (s: string, i: number) => s[i] === "-" && isSpace(s[i + 1]);
const hasRightTrimMarker = (s: string, i: number) => isSpace(s[i]) && s[i + 1] === "-";
const SPACE_CHARS = /^[ \t\r\n]*/;

/** `%#U` of a code point, as Go's lexer names bad characters. */
function hashU(cp: number): string {
  const u = "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
  return isGoPrint(cp) ? `${u} '${String.fromCodePoint(cp)}'` : u;
}

class Lexer {
  private pos = 0;
  private start = 0;
  private insideAction = false;
  private parenDepth = 0;
  private failed = false;
  private readonly newlines: number[] = [];

  constructor(private input: string) {
    for (let i = 0; i < input.length; i++) if (input[i] === "\n") this.newlines.push(i);
  }

  /** 1-based line of an offset. */
  lineAt(pos: number): number {
    let lo = 0;
    let hi = this.newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.newlines[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  private item(typ: ItemType): Item {
    const i = { typ, pos: this.start, val: this.input.slice(this.start, this.pos), line: this.lineAt(this.start) };
    this.start = this.pos;
    return i;
  }

  private error(msg: string): Item {
    const i = { typ: "error" as const, pos: this.start, val: msg, line: this.lineAt(this.start) };
    this.failed = true;
    return i;
  }

  /** The next code point (as a string), or "" at the end. */
  private next(): string {
    if (this.pos >= this.input.length) return "";
    const cp = this.input.codePointAt(this.pos)!;
    const c = String.fromCodePoint(cp);
    this.pos += c.length;
    return c;
  }

  private peek(): string {
    if (this.pos >= this.input.length) return "";
    return String.fromCodePoint(this.input.codePointAt(this.pos)!);
  }

  private accept(valid: string): boolean {
    const c = this.peek();
    if (c !== "" && valid.includes(c)) {
      this.pos += c.length;
      return true;
    }
    return false;
  }

  private acceptRun(valid: string): void {
    while (this.accept(valid));
  }

  private atRightDelim(): { delim: boolean; trim: boolean } {
    if (hasRightTrimMarker(this.input, this.pos) && this.input.startsWith(RIGHT, this.pos + 2)) return { delim: true, trim: true };
    return { delim: this.input.startsWith(RIGHT, this.pos), trim: false };
  }

  private atTerminator(): boolean {
    const c = this.peek();
    if (isSpace(c)) return true;
    if (c === "" || ".,|:)(".includes(c)) return true;
    return this.input.startsWith(RIGHT, this.pos);
  }

  nextItem(): Item {
    if (this.failed) return { typ: "EOF", pos: this.pos, val: "", line: this.lineAt(this.pos) };
    for (;;) {
      const r = this.insideAction ? this.lexInsideAction() : this.lexText();
      if (r) return r;
    }
  }

  /** Text up to the next `{{`, a comment, or the left delimiter; undefined when only state changed. */
  private lexText(): Item | undefined {
    const x = this.input.indexOf(LEFT, this.pos);
    if (x < 0) {
      this.pos = this.input.length;
      if (this.pos > this.start) return this.item("text");
      return this.item("EOF");
    }
    if (x > this.pos) {
      this.pos = x;
      let trimmed = 0;
      if (hasLeftTrimMarker(this.input, x + LEFT.length)) {
        const text = this.input.slice(this.start, this.pos);
        trimmed = text.length - text.replace(/[ \t\r\n]+$/, "").length;
      }
      this.pos -= trimmed;
      const i = this.item("text");
      this.pos += trimmed;
      this.start = this.pos;
      if (i.val.length > 0) return i;
    }
    // the left delimiter, maybe with a trim marker, maybe starting a comment
    this.pos += LEFT.length;
    const trim = hasLeftTrimMarker(this.input, this.pos);
    const after = trim ? 2 : 0;
    if (this.input.startsWith(LEFT_COMMENT, this.pos + after)) {
      this.pos += after;
      this.start = this.pos;
      return this.lexComment();
    }
    this.start = this.pos - LEFT.length;
    const i = this.item("leftDelim");
    this.insideAction = true;
    this.pos += after;
    this.start = this.pos;
    this.parenDepth = 0;
    return i;
  }

  private lexComment(): Item | undefined {
    this.pos += LEFT_COMMENT.length;
    const x = this.input.indexOf(RIGHT_COMMENT, this.pos);
    if (x < 0) return this.error("unclosed comment");
    this.pos = x + RIGHT_COMMENT.length;
    const { delim, trim } = this.atRightDelim();
    if (!delim) return this.error("comment ends before closing delimiter");
    if (trim) this.pos += 2;
    this.pos += RIGHT.length;
    if (trim) this.pos += SPACE_CHARS.exec(this.input.slice(this.pos))![0].length;
    this.start = this.pos;
    return undefined;
  }

  private lexRightDelim(): Item {
    const { trim } = this.atRightDelim();
    if (trim) {
      this.pos += 2;
      this.start = this.pos;
    }
    this.pos += RIGHT.length;
    const i = this.item("rightDelim");
    if (trim) {
      this.pos += SPACE_CHARS.exec(this.input.slice(this.pos))![0].length;
      this.start = this.pos;
    }
    this.insideAction = false;
    return i;
  }

  private lexInsideAction(): Item {
    const { delim } = this.atRightDelim();
    if (delim) {
      if (this.parenDepth === 0) return this.lexRightDelim();
      return this.error("unclosed left paren");
    }
    const r = this.next();
    if (r === "") return this.error("unclosed action");
    if (isSpace(r)) {
      this.pos -= r.length;
      return this.lexSpace();
    }
    switch (r) {
      case "=": return this.item("assign");
      case ":":
        if (this.next() !== "=") return this.error("expected :=");
        return this.item("declare");
      case "|": return this.item("pipe");
      case '"': return this.lexQuote();
      case "`": return this.lexRawQuote();
      case "$": return this.lexVariable();
      case "'": return this.lexChar();
      case "(":
        this.parenDepth++;
        return this.item("leftParen");
      case ")":
        this.parenDepth--;
        if (this.parenDepth < 0) return this.error("unexpected right paren");
        return this.item("rightParen");
    }
    if (r === ".") {
      const c = this.input[this.pos];
      if (c !== undefined && (c < "0" || c > "9")) return this.lexFieldOrVariable("field");
    }
    if (r === "." || r === "+" || r === "-" || (r >= "0" && r <= "9")) {
      this.pos -= r.length;
      return this.lexNumber();
    }
    if (isAlphaNumeric(r)) {
      this.pos -= r.length;
      return this.lexIdentifier();
    }
    const cp = r.codePointAt(0)!;
    if (cp <= 0x7f && cp >= 0x20 && cp !== 0x7f) return this.item("char");
    return this.error(`unrecognized character in action: ${hashU(cp)}`);
  }

  private lexSpace(): Item {
    let n = 0;
    while (isSpace(this.peek())) {
      this.pos++;
      n++;
    }
    if (hasRightTrimMarker(this.input, this.pos - 1) && this.input.startsWith(RIGHT, this.pos + 1)) {
      this.pos--;
      if (n === 1) return this.lexRightDelim();
    }
    return this.item("space");
  }

  private lexIdentifier(): Item {
    while (isAlphaNumeric(this.peek())) this.next();
    const word = this.input.slice(this.start, this.pos);
    if (!this.atTerminator()) return this.error(`bad character ${hashU(this.peek().codePointAt(0) ?? 0)}`);
    const kw = KEYWORDS[word];
    if (kw && kw !== "dot") return this.item(kw);
    if (word === "true" || word === "false") return this.item("bool");
    return this.item("identifier");
  }

  private lexVariable(): Item {
    if (this.atTerminator()) return this.item("variable");
    return this.lexFieldOrVariable("variable");
  }

  private lexFieldOrVariable(typ: "field" | "variable"): Item {
    if (this.atTerminator()) return this.item(typ === "variable" ? "variable" : "dot");
    while (isAlphaNumeric(this.peek())) this.next();
    if (!this.atTerminator()) return this.error(`bad character ${hashU(this.peek().codePointAt(0) ?? 0)}`);
    return this.item(typ);
  }

  private lexChar(): Item {
    return this.lexEscaped("'", "charConstant", "unterminated character constant");
  }

  private lexNumber(): Item {
    if (!this.scanNumber()) return this.error(`bad number syntax: ${goQuoteShort(this.input.slice(this.start, this.pos))}`);
    const sign = this.peek();
    if (sign === "+" || sign === "-") {
      if (!this.scanNumber() || this.input[this.pos - 1] !== "i") {
        return this.error(`bad number syntax: ${goQuoteShort(this.input.slice(this.start, this.pos))}`);
      }
      return this.item("complex");
    }
    return this.item("number");
  }

  private scanNumber(): boolean {
    this.accept("+-");
    let digits = "0123456789_";
    if (this.accept("0")) {
      if (this.accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (this.accept("oO")) digits = "01234567_";
      else if (this.accept("bB")) digits = "01_";
    }
    this.acceptRun(digits);
    if (this.accept(".")) this.acceptRun(digits);
    if (digits.length === 11 && this.accept("eE")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    if (digits.length === 23 && this.accept("pP")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    this.accept("i");
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }

  private lexQuote(): Item {
    return this.lexEscaped('"', "string", "unterminated quoted string");
  }

  /** A quoted token with backslash escapes, ending at `close` on the same line (Go's lexChar and lexQuote). */
  private lexEscaped(close: string, typ: ItemType, unterminated: string): Item {
    for (;;) {
      const c = this.next();
      if (c === "\\") {
        const e = this.next();
        if (e !== "" && e !== "\n") continue;
        return this.error(unterminated);
      }
      if (c === "" || c === "\n") return this.error(unterminated);
      if (c === close) break;
    }
    return this.item(typ);
  }

  private lexRawQuote(): Item {
    for (;;) {
      const c = this.next();
      if (c === "") return this.error("unterminated raw quoted string");
      if (c === "`") break;
    }
    return this.item("rawString");
  }
}

// ---------------------------------------------------------------------------------------------
// Parse tree

interface Base {
  pos: number;
}
export type Node =
  | TextNode | ActionNode | ListNode | BranchNode | TemplateNode | PipeNode | CommandNode
  | FieldNode | VariableNode | IdentifierNode | ChainNode | NumberNode | StringNode
  | (Base & { type: "dot" | "nil" | "break" | "continue" | "end" | "else" })
  | (Base & { type: "bool"; value: boolean });
interface TextNode extends Base { type: "text"; text: string }
interface ActionNode extends Base { type: "action"; pipe: PipeNode }
interface ListNode extends Base { type: "list"; nodes: Node[] }
interface BranchNode extends Base { type: "if" | "range" | "with"; pipe: PipeNode; list: ListNode; elseList?: ListNode }
interface TemplateNode extends Base { type: "template"; name: string; pipe?: PipeNode }
interface PipeNode extends Base { type: "pipe"; isAssign: boolean; decl: VariableNode[]; cmds: CommandNode[] }
interface CommandNode extends Base { type: "command"; args: Node[] }
interface FieldNode extends Base { type: "field"; ident: string[] }
interface VariableNode extends Base { type: "variable"; ident: string[] }
interface IdentifierNode extends Base { type: "identifier"; ident: string }
interface ChainNode extends Base { type: "chain"; node: Node; field: string[] }
interface StringNode extends Base { type: "string"; quoted: string; text: string }
interface NumberNode extends Base {
  type: "number";
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  int: bigint;
  float: number;
}

/** Go's `Node.String()`: the node as template source (used in error contexts). */
export function nodeString(n: Node): string {
  switch (n.type) {
    case "text": return n.text;
    case "action": return `{{${nodeString(n.pipe)}}}`;
    case "list": return n.nodes.map(nodeString).join("");
    case "if": case "range": case "with":
      return n.elseList
        ? `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}{{else}}${nodeString(n.elseList)}{{end}}`
        : `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}{{end}}`;
    case "template":
      return n.pipe ? `{{template ${goQuoteShort(n.name)} ${nodeString(n.pipe)}}}` : `{{template ${goQuoteShort(n.name)}}}`;
    case "pipe": {
      let s = "";
      if (n.decl.length) s = n.decl.map(nodeString).join(", ") + (n.isAssign ? " = " : " := ");
      return s + n.cmds.map(nodeString).join(" | ");
    }
    case "command": return n.args.map((a) => (a.type === "pipe" ? `(${nodeString(a)})` : nodeString(a))).join(" ");
    case "field": return n.ident.map((i) => "." + i).join("");
    case "variable": return n.ident.join(".");
    case "identifier": return n.ident;
    case "chain": return (n.node.type === "pipe" ? `(${nodeString(n.node)})` : nodeString(n.node)) + n.field.map((f) => "." + f).join("");
    case "number": return n.text;
    case "string": return n.quoted;
    case "bool": return n.value ? "true" : "false";
    case "dot": return ".";
    case "nil": return "nil";
    case "break": return "{{break}}";
    case "continue": return "{{continue}}";
    case "end": return "{{end}}";
    case "else": return "{{else}}";
  }
}

/** Go's `strconv.Unquote` for the string literals the lexer accepts. */
function unquote(s: string): string {
  if (s[0] === "`") {
    if (s.includes("\r")) return s.slice(1, -1).replace(/\r/g, "");
    return s.slice(1, -1);
  }
  const body = s.slice(1, -1);
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      if (c === s[0]) throw new Error("invalid syntax");
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", "'": "'", '"': '"' };
    if (e !== undefined && e in simple) {
      if ((e === "'" && s[0] === '"') || (e === '"' && s[0] === "'")) throw new Error("invalid syntax");
      out += simple[e];
      continue;
    }
    const hex = (n: number) => {
      const h = body.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error("invalid syntax");
      i += n;
      return parseInt(h, 16);
    };
    if (e === "x") {
      const b = hex(2);
      out += b < 0x80 ? String.fromCharCode(b) : "\ufffd";
    } else if (e === "u" || e === "U") {
      const cp = hex(e === "u" ? 4 : 8);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Error("invalid syntax");
      out += String.fromCodePoint(cp);
    } else if (e !== undefined && e >= "0" && e <= "7") {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw new Error("invalid syntax");
      i += 2;
      const b = parseInt(o, 8);
      out += b < 0x80 ? String.fromCharCode(b) : "\ufffd";
    } else {
      throw new Error("invalid syntax");
    }
  }
  return out;
}

/** Parses Go integer literal text (base prefixes, underscores); undefined when it is not one. */
function parseGoInt(text: string): bigint | undefined {
  let s = text;
  let neg = false;
  if (s[0] === "+" || s[0] === "-") {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  let base = 10;
  let digits = s;
  const p = s.slice(0, 2).toLowerCase();
  if (p === "0x") { base = 16; digits = s.slice(2); }
  else if (p === "0o") { base = 8; digits = s.slice(2); }
  else if (p === "0b") { base = 2; digits = s.slice(2); }
  else if (s.length > 1 && s[0] === "0") { base = 8; digits = s.slice(1); }
  if (digits.includes("_")) {
    // underscores only between digits (or after a base prefix)
    if (!/^_?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/.test(digits) || (base === 10 && digits.startsWith("_"))) return undefined;
    digits = digits.replace(/_/g, "");
  }
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[base as 2 | 8 | 10 | 16];
  if (!valid.test(digits)) return undefined;
  const prefix = base === 16 ? "0x" : base === 8 ? "0o" : base === 2 ? "0b" : "";
  const v = BigInt(prefix + digits);
  return neg ? -v : v;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

function newNumber(pos: number, text: string, typ: ItemType): NumberNode {
  const n: NumberNode = { type: "number", pos, text, isInt: false, isUint: false, isFloat: false, int: 0n, float: 0 };
  if (typ === "charConstant") {
    let rune: number;
    try {
      const body = unquote(text);
      const cps = [...body];
      if (cps.length !== 1) throw new Error("invalid syntax");
      rune = cps[0]!.codePointAt(0)!;
    } catch {
      throw new Error(`malformed character constant: ${text}`);
    }
    return { ...n, isInt: true, isUint: true, isFloat: true, int: BigInt(rune), float: rune };
  }
  if (typ === "complex" || text.endsWith("i")) throw new Error(`illegal number syntax: ${goQuoteShort(text)}`);
  const i = parseGoInt(text);
  if (i !== undefined) {
    if (i >= 0n && i <= UINT64_MAX) n.isUint = true;
    if (i >= INT64_MIN && i <= INT64_MAX) n.isInt = true;
    if (n.isInt || n.isUint) {
      n.int = i;
      n.isFloat = true;
      n.float = Number(i);
    }
  }
  if (!n.isInt && !n.isUint) {
    const f = parseGoFloat(text);
    if (f !== undefined) {
      if (!/[.eEpP]/.test(text)) throw new Error(`integer overflow: ${goQuoteShort(text)}`);
      n.isFloat = true;
      n.float = f;
      if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
        n.isInt = true;
        n.int = BigInt(f);
        if (f >= 0) n.isUint = true;
      }
    }
  }
  if (!n.isInt && !n.isUint && !n.isFloat) throw new Error(`illegal number syntax: ${goQuoteShort(text)}`);
  return n;
}

function parseGoFloat(text: string): number | undefined {
  const s = text.replace(/_/g, "");
  if (/^[+-]?0[xX]/.test(s)) {
    const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(s);
    if (!m || (m[2] === "" && !m[3])) return undefined;
    const mant = parseInt((m[2] || "0") + (m[3] ?? ""), 16) / 16 ** (m[3]?.length ?? 0);
    return (m[1] === "-" ? -1 : 1) * mant * 2 ** Number(m[4]);
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

// ---------------------------------------------------------------------------------------------
// Parser

/** A function callable from templates. */
export interface TemplateFunc {
  /** Parameter types of the fixed parameters: `any` (any value) or `string`. */
  params: Array<"any" | "string">;
  /** Type of the variadic tail, when the function is variadic. */
  variadic?: "any" | "string";
  /** `and`/`or`: arguments are evaluated only until the result is known. */
  shortCircuit?: "and" | "or";
  call(args: GoValue[]): GoValue;
}

type Trees = Map<string, ListNode>;

class Parser {
  private readonly lex: Lexer;
  private readonly token: Item[] = [];
  private peekCount = 0;
  private vars: string[] = ["$"];
  private actionLine = 0;
  private rangeDepth = 0;
  private depth = 0;

  constructor(
    private readonly name: string,
    private readonly text: string,
    private readonly funcs: Record<string, TemplateFunc>,
    private readonly trees: Trees,
  ) {
    this.lex = new Lexer(text);
  }

  private next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.lex.nextItem();
    return this.token[this.peekCount]!;
  }
  private backup(): void {
    this.peekCount++;
  }
  private backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }
  private backup3(t2: Item, t1: Item): void {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }
  private peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1]!;
    this.peekCount = 1;
    this.token[0] = this.lex.nextItem();
    return this.token[0];
  }
  private nextNonSpace(): Item {
    let t: Item;
    do t = this.next(); while (t.typ === "space");
    return t;
  }
  private peekNonSpace(): Item {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private errorf(msg: string): never {
    throw new TemplateParseError(`template: ${this.name}:${this.token[0]?.line ?? 1}: ${msg}`);
  }
  private expect(typ: ItemType, context: string): Item {
    const t = this.nextNonSpace();
    if (t.typ !== typ) this.unexpected(t, context);
    return t;
  }
  private unexpected(t: Item, context: string): never {
    if (t.typ === "error") {
      let extra = "";
      if (this.actionLine !== 0 && this.actionLine !== t.line) {
        extra = ` in action started at ${this.name}:${this.actionLine}`;
        if (t.val.endsWith(" action")) extra = extra.slice(" in action".length);
      }
      this.errorf(`${t.val}${extra}`);
    }
    this.errorf(`unexpected ${itemString(t)} in ${context}`);
  }

  /** Parses the top level, adding named templates to the tree set. */
  parse(): ListNode {
    const root: ListNode = { type: "list", pos: this.peek().pos, nodes: [] };
    while (this.peek().typ !== "EOF") {
      if (this.peek().typ === "leftDelim") {
        const delim = this.next();
        if (this.nextNonSpace().typ === "define") {
          this.parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.type === "end" || n.type === "else") this.errorf(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  add(name: string, root: ListNode): void {
    const existing = this.trees.get(name);
    if (existing === undefined || isEmptyTree(existing)) {
      this.trees.set(name, root);
      return;
    }
    if (!isEmptyTree(root)) this.errorf(`template: multiple definition of template ${goQuoteShort(name)}`);
  }

  private parseDefinition(): void {
    const context = "define clause";
    const t = this.nextNonSpace();
    if (t.typ !== "string" && t.typ !== "rawString") this.unexpected(t, context);
    const name = this.unquoteOrFail(t.val);
    this.expect("rightDelim", context);
    const saved = this.vars;
    this.vars = ["$"];
    const [list, end] = this.itemList();
    this.vars = saved;
    if (end.type !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.add(name, list);
  }

  private unquoteOrFail(q: string): string {
    try {
      return unquote(q);
    } catch (e) {
      this.errorf((e as Error).message);
    }
  }

  private itemList(): [ListNode, Node] {
    const list: ListNode = { type: "list", pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().typ !== "EOF") {
      const n = this.textOrAction();
      if (n.type === "end" || n.type === "else") return [list, n];
      list.nodes.push(n);
    }
    this.errorf("unexpected EOF");
  }

  private textOrAction(): Node {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case "text":
        return { type: "text", pos: t.pos, text: t.val };
      case "leftDelim": {
        this.actionLine = t.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
    }
    this.unexpected(t, "input");
  }

  private action(): Node {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case "block": return this.blockControl();
      case "break": return this.breakControl(t, "break");
      case "continue": return this.breakControl(t, "continue");
      case "else": return this.elseControl();
      case "end": return { type: "end", pos: this.expect("rightDelim", "end").pos };
      case "if": return this.branch("if");
      case "range": return this.branch("range");
      case "template": return this.templateControl();
      case "with": return this.branch("with");
    }
    this.backup();
    const first = this.peek();
    return { type: "action", pos: first.pos, pipe: this.pipeline("command", "rightDelim") };
  }

  private breakControl(t: Item, kw: "break" | "continue"): Node {
    const next = this.nextNonSpace();
    if (next.typ !== "rightDelim") this.unexpected(next, `{{${kw}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kw}}} outside {{range}}`);
    return { type: kw, pos: t.pos };
  }

  private pipeline(context: string, end: ItemType): PipeNode {
    const first = this.peekNonSpace();
    const pipe: PipeNode = { type: "pipe", pos: first.pos, isAssign: false, decl: [], cmds: [] };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== "variable") break;
      this.next();
      const tokenAfterVariable = this.peek();
      const next = this.peekNonSpace();
      if (next.typ === "assign" || next.typ === "declare") {
        pipe.isAssign = next.typ === "assign";
        this.nextNonSpace();
        pipe.decl.push({ type: "variable", pos: v.pos, ident: v.val.split(".") });
        this.vars.push(v.val);
      } else if (next.typ === "char" && next.val === ",") {
        this.nextNonSpace();
        pipe.decl.push({ type: "variable", pos: v.pos, ident: v.val.split(".") });
        this.vars.push(v.val);
        if (context === "range" && pipe.decl.length < 2) {
          const p = this.peekNonSpace().typ;
          if (p === "variable" || p === "rightDelim" || p === "rightParen") continue decls;
          this.errorf("range can only initialize variables");
        }
        this.errorf(`too many declarations in ${context}`);
      } else if (tokenAfterVariable.typ === "space") {
        this.backup3(v, tokenAfterVariable);
      } else {
        this.backup2(v);
      }
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.typ === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (t.typ) {
        case "bool": case "charConstant": case "complex": case "dot": case "field": case "identifier":
        case "number": case "nil": case "rawString": case "string": case "variable": case "leftParen":
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(t, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const t = c.args[0]!.type;
      if (t === "bool" || t === "dot" || t === "nil" || t === "number" || t === "string") {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private branch(context: "if" | "range" | "with"): BranchNode {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(context, "rightDelim");
      if (context === "range") this.rangeDepth++;
      let [list, next] = this.itemList();
      if (context === "range") this.rangeDepth--;
      let elseList: ListNode | undefined;
      if (next.type === "else") {
        // `{{else if …}}` / `{{else with …}}` nest the chained branch inside the else list.
        if ((context === "if" && this.peek().typ === "if") || (context === "with" && this.peek().typ === "with")) {
          this.next();
          elseList = { type: "list", pos: next.pos, nodes: [this.branch(context)] };
        } else {
          [elseList, next] = this.itemList();
          if (next.type !== "end") this.errorf(`expected end; found ${nodeString(next)}`);
        }
      }
      return { type: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = mark;
    }
  }

  private elseControl(): Node {
    const p = this.peekNonSpace();
    if (p.typ === "if" || p.typ === "with") return { type: "else", pos: p.pos };
    return { type: "else", pos: this.expect("rightDelim", "else").pos };
  }

  private blockControl(): Node {
    const context = "block clause";
    const t = this.nextNonSpace();
    const name = this.templateName(t, context);
    const pipe = this.pipeline(context, "rightDelim");
    const saved = this.vars;
    this.vars = ["$"];
    const [list, end] = this.itemList();
    this.vars = saved;
    if (end.type !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.add(name, list);
    return { type: "template", pos: t.pos, name, pipe };
  }

  private templateControl(): Node {
    const context = "template clause";
    const t = this.nextNonSpace();
    const name = this.templateName(t, context);
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().typ !== "rightDelim") {
      this.backup();
      pipe = this.pipeline(context, "rightDelim");
    }
    return { type: "template", pos: t.pos, name, pipe };
  }

  private templateName(t: Item, context: string): string {
    if (t.typ === "string" || t.typ === "rawString") return this.unquoteOrFail(t.val);
    this.unexpected(t, context);
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: "command", pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.typ === "space") continue;
      if (t.typ === "rightDelim" || t.typ === "rightParen") this.backup();
      else if (t.typ !== "pipe") this.unexpected(t, "operand");
      break;
    }
    if (cmd.args.length === 0) this.errorf("empty command");
    return cmd;
  }

  private operand(): Node | undefined {
    const node = this.term();
    if (!node) return undefined;
    if (this.peek().typ !== "field") return node;
    const fields: string[] = [];
    const pos = this.peek().pos;
    while (this.peek().typ === "field") fields.push(this.next().val.slice(1));
    switch (node.type) {
      case "field": return { type: "field", pos, ident: [...node.ident, ...fields] };
      case "variable": return { type: "variable", pos, ident: [...node.ident, ...fields] };
      case "bool": case "string": case "number": case "nil": case "dot":
        this.errorf(`unexpected . after term ${goQuoteShort(nodeString(node))}`);
    }
    return { type: "chain", pos, node, field: fields };
  }

  private term(): Node | undefined {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case "identifier":
        if (!(t.val in this.funcs)) this.errorf(`function ${goQuoteShort(t.val)} not defined`);
        return { type: "identifier", pos: t.pos, ident: t.val };
      case "dot": return { type: "dot", pos: t.pos };
      case "nil": return { type: "nil", pos: t.pos };
      case "variable": {
        const ident = t.val.split(".");
        if (!this.vars.includes(ident[0]!)) this.errorf(`undefined variable ${goQuoteShort(ident[0]!)}`);
        return { type: "variable", pos: t.pos, ident };
      }
      case "field": return { type: "field", pos: t.pos, ident: t.val.slice(1).split(".") };
      case "bool": return { type: "bool", pos: t.pos, value: t.val === "true" };
      case "charConstant": case "complex": case "number": {
        let n: NumberNode | undefined;
        try {
          n = newNumber(t.pos, t.val, t.typ);
        } catch (e) {
          this.errorf((e as Error).message);
        }
        return n;
      }
      case "leftParen": {
        if (this.depth >= 1000) this.errorf("max expression depth exceeded");
        this.depth++;
        try {
          return this.pipeline("parenthesized pipeline", "rightParen");
        } finally {
          this.depth--;
        }
      }
      case "string": case "rawString":
        return { type: "string", pos: t.pos, quoted: t.val, text: this.unquoteOrFail(t.val) };
    }
    this.backup();
    return undefined;
  }
}

function isEmptyTree(n: Node): boolean {
  switch (n.type) {
    case "list": return n.nodes.every(isEmptyTree);
    case "text": return n.text.trim() === "";
    default: return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Builtin functions

/** Go's template truth: non-zero, non-empty. */
export function isTrue(v: GoValue): boolean {
  if (v === null) return false;
  if (typeof v === "string") return v.length > 0;
  if (typeof v === "boolean") return v;
  if (v instanceof GoInt) return v.value !== 0n;
  if (v instanceof GoFloat) return v.value !== 0;
  if (v instanceof GoSlice) return (v.items?.length ?? 0) > 0;
  if (v instanceof GoMapValue) return v.entries.size > 0;
  return true; // structs
}

const utf8 = new TextEncoder();
const fail = (msg: string): never => {
  throw new TemplateFuncError(msg);
};

type BasicKind = "invalid" | "bool" | "int" | "uint" | "float" | "string";
function basicKind(v: GoValue): BasicKind {
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "string";
  if (v instanceof GoInt) return v.unsigned ? "uint" : "int";
  if (v instanceof GoFloat) return "float";
  return "invalid";
}
const isNilish = (v: GoValue) => v === null || (v instanceof GoSlice && v.items === null);

function eq(a: GoValue, rest: GoValue[]): boolean {
  if (rest.length === 0) fail("missing argument for comparison");
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    let truth = false;
    if (k1 !== k2) {
      if ((k1 === "int" && k2 === "uint") || (k1 === "uint" && k2 === "int")) {
        truth = (a as GoInt).value === (b as GoInt).value;
      } else if (a !== null && b !== null) {
        fail("incompatible types for comparison");
      }
    } else if (k1 === "invalid") {
      if (isNilish(a) || isNilish(b)) truth = isNilish(a) === isNilish(b);
      else if (a instanceof GoSlice || a instanceof GoMapValue || b instanceof GoSlice || b instanceof GoMapValue) {
        fail(`non-comparable type ${goPrintValue(b)}: ${goTypeName(b)}`);
      } else {
        truth = goPrintValue(a) === goPrintValue(b) && goTypeName(a) === goTypeName(b);
      }
    } else {
      truth = scalar(a) === scalar(b);
    }
    if (truth) return true;
  }
  return false;
}
const scalar = (v: GoValue): string | boolean | number | bigint =>
  v instanceof GoInt ? v.value : v instanceof GoFloat ? v.value : (v as string | boolean);

function lt(a: GoValue, b: GoValue): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === "invalid" || k2 === "invalid") fail("invalid type for comparison");
  if (k1 !== k2) {
    if ((k1 === "int" && k2 === "uint") || (k1 === "uint" && k2 === "int")) return (a as GoInt).value < (b as GoInt).value;
    fail("incompatible types for comparison");
  }
  if (k1 === "bool") fail("invalid type for comparison");
  if (k1 === "string") return compareBytes(a as string, b as string) < 0;
  return scalar(a) < scalar(b);
}
function compareBytes(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function indexArg(v: GoValue, len: number, what = "index"): number {
  if (v === null) fail(`cannot index slice/array with nil`);
  if (!(v instanceof GoInt)) fail(`cannot index slice/array with type ${goTypeName(v)}`);
  const x = (v as GoInt).value;
  if (x < 0n || x >= BigInt(len)) fail(`${what} out of range: ${x}`);
  return Number(x);
}

function index(item: GoValue, indexes: GoValue[]): GoValue {
  let v = item;
  if (v === null) fail("index of untyped nil");
  for (const ix of indexes) {
    if (v === null) fail("index of untyped nil");
    if (typeof v === "string") {
      const bytes = utf8.encode(v);
      v = new GoInt(BigInt(bytes[indexArg(ix, bytes.length)]!), "uint8");
    } else if (v instanceof GoSlice) {
      const i = indexArg(ix, v.items?.length ?? 0);
      v = v.items![i] ?? null;
    } else if (v instanceof GoMapValue) {
      const m: GoMapValue = v;
      const key = mapKey(m, ix);
      v = m.entries.has(key) ? m.entries.get(key)! : goZero(m.elemType);
    } else {
      fail(`can't index item of type ${goTypeName(v)}`);
    }
  }
  return v;
}

function mapKey(m: GoMapValue, ix: GoValue): string | bigint {
  if (ix === null) return m.keyType === "string" ? "" : 0n;
  if (m.keyType === "string" && typeof ix === "string") return ix;
  if (ix instanceof GoInt && ix.type === m.keyType) return ix.value;
  return fail(`value has type ${goTypeName(ix)}; should be ${m.keyType}`);
}

function slice(item: GoValue, indexes: GoValue[]): GoValue {
  if (item === null) fail("slice of untyped nil");
  if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (typeof item === "string") {
    if (indexes.length === 3) fail("cannot 3-index slice a string");
    len = utf8.encode(item).length;
  } else if (item instanceof GoSlice) {
    len = item.items?.length ?? 0;
  } else {
    return fail(`can't slice item of type ${goTypeName(item)}`);
  }
  const cap = len;
  const idx = [0, len];
  indexes.forEach((ix, i) => {
    if (ix === null) fail("cannot index slice/array with nil");
    if (!(ix instanceof GoInt)) fail(`cannot index slice/array with type ${goTypeName(ix)}`);
    const x = (ix as GoInt).value;
    if (x < 0n || x > BigInt(cap)) fail(`index out of range: ${x}`);
    idx[i] = Number(x);
  });
  if (idx[0]! > idx[1]!) fail(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!) fail(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (typeof item === "string") return new TextDecoder().decode(utf8.encode(item).slice(idx[0], idx[1]));
  return new GoSlice(item.elemType, item.items === null ? null : item.items.slice(idx[0], idx[1]));
}

/** `fmt.Sprint` of the arguments, or the single string argument itself (Go's `evalArgs`). */
function evalArgs(args: GoValue[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return goSprint(args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ "\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
}

function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case "\\": out += "\\\\"; continue;
      case "'": out += "\\'"; continue;
      case '"': out += '\\"'; continue;
      case "<": out += "\\u003C"; continue;
      case ">": out += "\\u003E"; continue;
      case "&": out += "\\u0026"; continue;
      case "=": out += "\\u003D"; continue;
    }
    if (cp < 0x20) out += "\\u" + cp.toString(16).toUpperCase().padStart(4, "0");
    else if (cp >= 0x80 && !isGoPrint(cp)) out += "\\u" + cp.toString(16).toUpperCase().padStart(4, "0");
    else out += ch;
  }
  return out;
}

/** Go's `url.QueryEscape`. */
function queryEscape(s: string): string {
  let out = "";
  for (const b of utf8.encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

const ANY = "any" as const;

/** Go's builtin template functions. */
export const BUILTIN_FUNCS: Record<string, TemplateFunc> = {
  and: { params: [ANY], variadic: ANY, shortCircuit: "and", call: () => null },
  or: { params: [ANY], variadic: ANY, shortCircuit: "or", call: () => null },
  not: { params: [ANY], call: ([a]) => !isTrue(a!) },
  call: {
    params: [ANY],
    variadic: ANY,
    // the executor passes the callee's source text first, as Go does
    call: ([callee, f]) => fail(f === null ? "call of nil" : `non-function ${callee as string} of type ${goTypeName(f!)}`),
  },
  len: {
    params: [ANY],
    call: ([a]) => {
      if (a === null) return fail("len of nil pointer");
      if (typeof a === "string") return int(utf8.encode(a).length);
      if (a instanceof GoSlice) return int(a.items?.length ?? 0);
      if (a instanceof GoMapValue) return int(a.entries.size);
      return fail(`len of type ${goTypeName(a!)}`);
    },
  },
  index: { params: [ANY], variadic: ANY, call: ([item, ...ix]) => index(item!, ix) },
  slice: { params: [ANY], variadic: ANY, call: ([item, ...ix]) => slice(item!, ix) },
  print: { params: [], variadic: ANY, call: (args) => goSprint(args) },
  printf: { params: ["string"], variadic: ANY, call: ([f, ...args]) => goSprintf(f as string, args) },
  println: { params: [], variadic: ANY, call: (args) => goSprintln(args) },
  html: { params: [], variadic: ANY, call: (args) => htmlEscape(evalArgs(args)) },
  js: { params: [], variadic: ANY, call: (args) => jsEscape(evalArgs(args)) },
  urlquery: { params: [], variadic: ANY, call: (args) => queryEscape(evalArgs(args)) },
  eq: { params: [ANY], variadic: ANY, call: ([a, ...rest]) => eq(a!, rest) },
  ne: { params: [ANY, ANY], call: ([a, b]) => !eq(a!, [b!]) },
  lt: { params: [ANY, ANY], call: ([a, b]) => lt(a!, b!) },
  le: { params: [ANY, ANY], call: ([a, b]) => lt(a!, b!) || eq(a!, [b!]) },
  gt: { params: [ANY, ANY], call: ([a, b]) => !(lt(a!, b!) || eq(a!, [b!])) },
  ge: { params: [ANY, ANY], call: ([a, b]) => !lt(a!, b!) },
};

/** A value as `goJson` encodes it: structs by their JSON field names, nil slices as null. */
function jsonable(v: GoValue): unknown {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof GoInt) return v.value;
  if (v instanceof GoFloat) {
    if (!Number.isFinite(v.value)) fail(`json: unsupported value: ${goPrintValue(v)}`);
    return v;
  }
  if (v instanceof GoSlice) return v.items === null ? null : v.items.map(jsonable);
  if (v instanceof GoMapValue) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.entries) o[String(k)] = jsonable(x);
    return new GoMap(o);
  }
  const o: Record<string, unknown> = {};
  for (const f of v.fields) o[f.json ?? f.name] = jsonable(f.value);
  return o;
}

/** `json`: Go's `json.Marshal` of the argument as a string (not a Go builtin; CLIs such as Docker's add it). */
export const JSON_FUNC: TemplateFunc = { params: [ANY], call: ([v]) => goJson(jsonable(v!)) };

// ---------------------------------------------------------------------------------------------
// Execution

const MISSING = Symbol("missing");
type Final = GoValue | typeof MISSING;

class BreakSignal {}
class ContinueSignal {}

const MAX_EXEC_DEPTH = 1000;

class ExecState {
  private vars: Array<{ name: string; value: GoValue }> = [];
  private node: Node | undefined;
  out = "";
  private depth = 0;

  constructor(private readonly t: GoTemplate, private tmplName: string, data: GoValue) {
    this.vars.push({ name: "$", value: data });
  }

  private at(n: Node): void {
    this.node = n;
  }

  errorf(msg: string): never {
    let text: string;
    if (!this.node) text = `template: ${this.tmplName}: ${msg}`;
    else text = `template: ${this.t.location(this.node)}: executing ${goQuoteShort(this.tmplName)} at <${nodeString(this.node)}>: ${msg}`;
    throw new TemplateExecError(text, this.out);
  }

  private varValue(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.errorf(`undefined variable: ${name}`);
  }
  private setVar(name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  walk(dot: GoValue, node: Node): void {
    this.at(node);
    switch (node.type) {
      case "action": {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) {
          this.at(node);
          this.out += v === null ? "<no value>" : goPrintValue(v);
        }
        return;
      }
      case "break": throw new BreakSignal();
      case "continue": throw new ContinueSignal();
      case "if": case "with": return this.walkIfOrWith(dot, node);
      case "list":
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case "range": return this.walkRange(dot, node);
      case "template": return this.walkTemplate(dot, node);
      case "text":
        this.out += node.text;
        return;
    }
    this.errorf(`unknown node: ${nodeString(node)}`);
  }

  private walkIfOrWith(dot: GoValue, node: BranchNode): void {
    const mark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (isTrue(val)) this.walk(node.type === "with" ? val : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = mark;
    }
  }

  private walkRange(dot: GoValue, r: BranchNode): void {
    this.at(r);
    const outer = this.vars.length;
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.vars.length;
      const decl = r.pipe.decl.map((d) => d.ident[0]!);
      const one = (index: GoValue, elem: GoValue): boolean => {
        // One variable takes the element; two take the index and the element.
        if (r.pipe.isAssign) {
          if (decl.length === 1) this.setVar(decl[0]!, elem);
          if (decl.length === 2) {
            this.setVar(decl[0]!, index);
            this.setVar(decl[1]!, elem);
          }
        } else {
          if (decl.length > 0) this.vars[this.vars.length - 1]!.value = elem;
          if (decl.length > 1) this.vars[this.vars.length - 2]!.value = index;
        }
        try {
          this.walk(elem, r.list);
        } catch (e) {
          if (e instanceof BreakSignal) return false;
          if (!(e instanceof ContinueSignal)) throw e;
        } finally {
          this.vars.length = mark;
        }
        return true;
      };
      if (val instanceof GoSlice) {
        const items = val.items ?? [];
        if (items.length > 0) {
          for (let i = 0; i < items.length; i++) if (!one(int(i), items[i]!)) break;
          return;
        }
      } else if (val instanceof GoMapValue) {
        if (val.entries.size > 0) {
          for (const k of val.sortedKeys()) {
            const key: GoValue = typeof k === "bigint" ? new GoInt(k, val.keyType as IntType) : k;
            if (!one(key, val.entries.get(k) ?? null)) break;
          }
          return;
        }
      } else if (val !== null) {
        // Go reports this at the last node evaluated (the pipeline's), not at the range.
        this.errorf(`range can't iterate over ${goPrintValue(val)}`);
      }
      if (r.elseList) this.walk(dot, r.elseList);
    } finally {
      this.vars.length = outer;
    }
  }

  private walkTemplate(dot: GoValue, t: TemplateNode): void {
    this.at(t);
    const tree = this.t.trees.get(t.name);
    if (!tree) this.errorf(`template ${goQuoteShort(t.name)} not defined`);
    if (this.depth >= MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = t.pipe ? this.evalPipeline(dot, t.pipe) : null;
    const saved = { vars: this.vars, name: this.tmplName };
    this.vars = [{ name: "$", value: newDot }];
    this.tmplName = t.name;
    this.depth++;
    try {
      this.walk(newDot, tree);
    } finally {
      this.depth--;
      this.vars = saved.vars;
      this.tmplName = saved.name;
    }
  }

  private evalPipeline(dot: GoValue, pipe: PipeNode): GoValue {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const v = value === MISSING ? null : value;
    for (const d of pipe.decl) {
      if (pipe.isAssign) this.setVar(d.ident[0]!, v);
      else this.vars.push({ name: d.ident[0]!, value: v });
    }
    return v;
  }

  private notAFunction(args: Node[] | undefined, final: Final): void {
    if ((args && args.length > 1) || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args![0]!)}`);
  }

  private evalCommand(dot: GoValue, cmd: CommandNode, final: Final): GoValue {
    const first = cmd.args[0]!;
    switch (first.type) {
      case "field": return this.evalFieldNode(dot, first, cmd.args, final);
      case "chain": return this.evalChainNode(dot, first, cmd.args, final);
      case "identifier": return this.evalFunction(dot, first, cmd, cmd.args, final);
      case "pipe":
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case "variable": return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case "bool": return first.value;
      case "dot": return dot;
      case "nil": return this.errorf("nil is not a command");
      case "number": return this.idealConstant(first);
      case "string": return first.text;
    }
    return this.errorf(`can't evaluate command ${goQuoteShort(nodeString(first))}`);
  }

  private idealConstant(c: NumberNode): GoValue {
    this.at(c);
    const isHexInt = /^[+-]?0[xX]/.test(c.text) && !/[pP]/.test(c.text);
    if (c.isFloat && !isHexInt && !c.text.startsWith("'") && /[.eEpP]/.test(c.text)) return new GoFloat(c.float);
    if (c.isInt) return new GoInt(c.int);
    if (c.isUint) this.errorf(`${c.text} overflows int`);
    return null;
  }

  private evalFieldNode(dot: GoValue, field: FieldNode, args: Node[] | undefined, final: Final): GoValue {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  private evalChainNode(dot: GoValue, chain: ChainNode, args: Node[] | undefined, final: Final): GoValue {
    this.at(chain);
    if (chain.node.type === "nil") this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  private evalVariableNode(dot: GoValue, v: VariableNode, args: Node[] | undefined, final: Final): GoValue {
    this.at(v);
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(dot: GoValue, receiver: GoValue, node: Node, ident: string[], args: Node[] | undefined, final: Final): GoValue {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++) receiver = this.evalField(ident[i]!, undefined, MISSING, receiver);
    return this.evalField(ident[n - 1]!, args, final, receiver);
  }

  private evalField(name: string, args: Node[] | undefined, final: Final, receiver: GoValue): GoValue {
    if (receiver === null) return null;
    const hasArgs = (args !== undefined && args.length > 1) || final !== MISSING;
    if (receiver instanceof GoStruct) {
      const f = receiver.field(name);
      if (f) {
        if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
        return f.value;
      }
    } else if (receiver instanceof GoMapValue && receiver.keyType === "string") {
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      return receiver.entries.has(name) ? receiver.entries.get(name)! : null;
    }
    return this.errorf(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  private evalFunction(dot: GoValue, node: IdentifierNode, cmd: Node, args: Node[] | undefined, final: Final): GoValue {
    this.at(node);
    const fn = this.t.funcs[node.ident];
    if (!fn) this.errorf(`${goQuoteShort(node.ident)} is not a defined function`);
    return this.evalCall(dot, fn, cmd, node.ident, args, final);
  }

  private evalCall(dot: GoValue, fn: TemplateFunc, node: Node, name: string, allArgs: Node[] | undefined, final: Final): GoValue {
    const args = allArgs ? allArgs.slice(1) : [];
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    const numFixed = fn.variadic ? fn.params.length : args.length;
    if (fn.variadic) {
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${numFixed} got ${args.length}`);
    } else if (numIn !== fn.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    const paramType = (i: number) => (i < fn.params.length ? fn.params[i]! : fn.variadic!);
    if (fn.shortCircuit) {
      const isOr = fn.shortCircuit === "or";
      let v: GoValue = null;
      for (const a of args) {
        v = this.evalArg(dot, "any", a);
        if (isTrue(v) === isOr) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: GoValue[] = args.map((a, i) => this.evalArg(dot, paramType(i), a));
    if (final !== MISSING) argv.push(this.validateType(final, paramType(argv.length)));
    if (fn === BUILTIN_FUNCS.call) argv.unshift(nodeString(args[0] ?? (node as CommandNode)));
    try {
      return fn.call(argv);
    } catch (e) {
      if (!(e instanceof TemplateFuncError)) throw e;
      this.at(node);
      return this.errorf(`error calling ${name}: ${e.message}`);
    }
  }

  private validateType(value: GoValue, typ: "any" | "string" | undefined): GoValue {
    if (typ !== "string") return value;
    if (value === null) this.errorf("invalid value; expected string");
    if (typeof value !== "string") this.errorf(`wrong type for value; expected string; got ${goTypeName(value)}`);
    return value;
  }

  private evalArg(dot: GoValue, typ: "any" | "string" | undefined, n: Node): GoValue {
    this.at(n);
    switch (n.type) {
      case "dot": return this.validateType(dot, typ);
      case "nil":
        if (typ === "string") this.errorf("cannot assign nil to string");
        return null;
      case "field": return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), typ);
      case "variable": return this.validateType(this.evalVariableNode(dot, n, undefined, MISSING), typ);
      case "pipe": return this.validateType(this.evalPipeline(dot, n), typ);
      case "identifier": return this.validateType(this.evalFunction(dot, n, n, undefined, MISSING), typ);
      case "chain": return this.validateType(this.evalChainNode(dot, n, undefined, MISSING), typ);
    }
    if (typ === "string") {
      if (n.type === "string") return n.text;
      return this.errorf(`expected string; found ${nodeString(n)}`);
    }
    switch (n.type) {
      case "bool": return n.value;
      case "number": return this.idealConstant(n);
      case "string": return n.text;
    }
    return this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
  }
}

// ---------------------------------------------------------------------------------------------
// Public API

/** A parsed template, ready to execute against data. */
export class GoTemplate {
  readonly trees: Trees = new Map();
  readonly funcs: Record<string, TemplateFunc>;
  private readonly byteCols: (pos: number) => { line: number; col: number };

  private constructor(readonly name: string, readonly text: string, funcs: Record<string, TemplateFunc>) {
    this.funcs = { ...BUILTIN_FUNCS, ...funcs };
    const enc = new TextEncoder();
    this.byteCols = (pos) => {
      const before = text.slice(0, pos);
      const nl = before.lastIndexOf("\n");
      return { line: before.split("\n").length, col: enc.encode(before.slice(nl + 1)).length };
    };
  }

  /**
   * Parses `text` as the template `name` (Go's `template.New(name).Funcs(funcs).Parse(text)`).
   * Throws {@link TemplateParseError}.
   */
  static parse(name: string, text: string, funcs: Record<string, TemplateFunc> = {}): GoTemplate {
    const t = new GoTemplate(name, text, funcs);
    const p = new Parser(name, text, t.funcs, t.trees);
    try {
      p.add(name, p.parse());
    } catch (e) {
      // Go's parser has no nesting limit; the JavaScript stack has one.
      if (e instanceof RangeError) throw new TemplateParseError(`template: ${name}: actions nested too deeply`);
      throw e;
    }
    return t;
  }

  /** `NAME:LINE:COL` of a node (COL: bytes from the start of its line, as Go counts). */
  location(n: Node): string {
    const { line, col } = this.byteCols(n.pos);
    return `${this.name}:${line}:${col}`;
  }

  /** Executes the template with `data` as dot. Throws {@link TemplateExecError} (with the partial output). */
  execute(data: GoValue): string {
    const s = new ExecState(this, this.name, data);
    const root = this.trees.get(this.name);
    if (!root) s.errorf(`${goQuoteShort(this.name)} is an incomplete or empty template`);
    try {
      s.walk(data, root!);
    } catch (e) {
      if (e instanceof RangeError) throw new TemplateExecError(`template: ${this.name}: ${e.message}`, s.out);
      throw e;
    }
    return s.out;
  }
}
