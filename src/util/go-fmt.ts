/**
 * Go values as a Go template sees them, and Go's `fmt` printing of them (`Sprint`, `Sprintln`,
 * `Sprintf` with its verbs, flags, widths, precisions and `%!verb(type=value)` complaints), so
 * `{{ printf "%-10s %5d" .Repo 3 }}` prints what kit's Go build prints.
 *
 * Value model: `null` is Go's untyped nil (an invalid `reflect.Value`); strings and booleans are
 * themselves; integers are {@link GoInt} (bigint, with their Go type name); float64 is
 * {@link GoFloat}; slices, maps and structs are {@link GoSlice}, {@link GoMapValue},
 * {@link GoStruct}. Floats cover what templates write (`%e %f %g` and `%v`); hexadecimal and
 * binary float verbs are treated as bad verbs.
 * @module
 */
import { compareGoStrings, GoFloat } from "./go-json.ts";

export { GoFloat };

export type IntType = "int" | "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32" | "uint64" | "uintptr";

/** A Go integer of a given type. */
export class GoInt {
  constructor(readonly value: bigint, readonly type: IntType = "int") {}
  get unsigned(): boolean {
    return this.type.startsWith("u");
  }
}

/** A Go slice; `items` null is a nil slice (prints `[]`, JSON `null`). */
export class GoSlice {
  constructor(readonly elemType: string, readonly items: GoValue[] | null) {}
}

/** A Go map with string or integer keys; iterated and printed in Go's sorted key order. */
export class GoMapValue {
  constructor(readonly keyType: "string" | IntType, readonly elemType: string, readonly entries: Map<string | bigint, GoValue>) {}
  /** Keys in Go's order (`fmtsort`): numbers numerically, strings bytewise. */
  sortedKeys(): Array<string | bigint> {
    return [...this.entries.keys()].sort((a, b) =>
      typeof a === "bigint" && typeof b === "bigint" ? (a < b ? -1 : a > b ? 1 : 0) : compareGoStrings(String(a), String(b))
    );
  }
}

export interface GoField {
  name: string;
  /** The field's Go type, e.g. `string`, `[]string`. */
  type: string;
  /** Its `json:"..."` name. */
  json?: string;
  value: GoValue;
}

/** A Go struct value: a type name such as `list.modelInfo` and its exported fields in order. */
export class GoStruct {
  constructor(readonly typeName: string, readonly fields: readonly GoField[]) {}
  field(name: string): GoField | undefined {
    return this.fields.find((f) => f.name === name);
  }
}

export type GoValue = null | string | boolean | GoInt | GoFloat | GoSlice | GoMapValue | GoStruct;

/** Go's `%T`: the type name of a value (`<nil>` for untyped nil). */
export function goTypeName(v: GoValue): string {
  if (v === null) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (v instanceof GoInt) return v.type;
  if (v instanceof GoFloat) return "float64";
  if (v instanceof GoSlice) return `[]${v.elemType}`;
  if (v instanceof GoMapValue) return `map[${v.keyType}]${v.elemType}`;
  return v.typeName;
}

/** The zero value of a Go type name (the types this model has). */
export function goZero(type: string): GoValue {
  if (type === "string") return "";
  if (type === "bool") return false;
  if (type === "float64") return new GoFloat(0);
  if (/^u?int(8|16|32|64|ptr)?$/.test(type)) return new GoInt(0n, type as IntType);
  if (type.startsWith("[]")) return new GoSlice(type.slice(2), null);
  return null;
}

export const int = (n: number | bigint): GoInt => new GoInt(BigInt(n));

// ---------------------------------------------------------------------------------------------
// Text helpers

const utf8 = new TextEncoder();
const runeCount = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isGoPrint(cp: number): boolean {
  if (cp === 0x20) return true;
  return /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(String.fromCodePoint(cp));
}

function escapeRune(cp: number, quote: number, asciiOnly: boolean): string {
  if (cp === quote || cp === 0x5c) return "\\" + String.fromCodePoint(cp);
  if (asciiOnly ? cp < 0x80 && isGoPrint(cp) : isGoPrint(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 0x07: return "\\a";
    case 0x08: return "\\b";
    case 0x0c: return "\\f";
    case 0x0a: return "\\n";
    case 0x0d: return "\\r";
    case 0x09: return "\\t";
    case 0x0b: return "\\v";
  }
  if (cp < 0x20 || cp === 0x7f) return "\\x" + cp.toString(16).padStart(2, "0");
  if (cp >= 0xd800 && cp <= 0xdfff) return "\\ufffd"; // lone surrogate: invalid UTF-8 in Go
  if (cp < 0x10000) return "\\u" + cp.toString(16).padStart(4, "0");
  return "\\U" + cp.toString(16).padStart(8, "0");
}

/** Go's `strconv.Quote` (or `QuoteToASCII` with `asciiOnly`). */
export function goStrconvQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, 0x22, asciiOnly);
  return out + '"';
}

/** Go's `strconv.QuoteRune`. */
function quoteRune(cp: number, asciiOnly: boolean): string {
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0) cp = 0xfffd;
  return "'" + escapeRune(cp, 0x27, asciiOnly) + "'";
}

function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x60 || cp === 0xfeff) return false;
    if (cp < 0x20 && cp !== 0x09) return false;
    if (cp === 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Float formatting (strconv.FormatFloat for 'e', 'f', 'g')

/** Decimal digits (no trailing zeros) and the decimal point position of |v|, `prec` significant digits or shortest. */
function decimalDigits(v: number, prec: number): { d: string; dp: number } {
  if (v === 0) return { d: "", dp: 0 };
  const s = prec < 0 ? Math.abs(v).toExponential() : Math.abs(v).toExponential(Math.max(0, prec - 1));
  const [mant, exp] = s.split("e") as [string, string];
  const d = mant.replace(".", "").replace(/0+$/, "");
  return { d, dp: Number(exp) + 1 };
}

function fmtE(neg: boolean, d: string, dp: number, prec: number, e: string): string {
  let s = (neg ? "-" : "") + (d[0] ?? "0");
  if (prec > 0) s += "." + d.slice(1, prec + 1).padEnd(prec, "0");
  const exp = d === "" ? 0 : dp - 1;
  const ax = Math.abs(exp);
  return s + e + (exp < 0 ? "-" : "+") + (ax < 10 ? "0" : "") + ax;
}

function fmtF(neg: boolean, d: string, dp: number, prec: number): string {
  let s = neg ? "-" : "";
  s += dp > 0 ? (d.slice(0, dp).padEnd(dp, "0")) : "0";
  if (prec > 0) {
    s += ".";
    for (let i = 0; i < prec; i++) {
      const j = dp + i;
      s += j >= 0 && j < d.length ? d[j] : "0";
    }
  }
  return s;
}

/** `strconv.FormatFloat(v, verb, prec, 64)` for verbs e E f F g G; `prec` -1 is shortest. */
export function goFormatFloat(v: number, verb: string, prec: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const neg = v < 0 || Object.is(v, -0);
  switch (verb) {
    case "e": case "E": {
      const { d, dp } = decimalDigits(v, prec < 0 ? -1 : prec + 1);
      return fmtE(neg, d, dp, prec < 0 ? Math.max(d.length - 1, 0) : prec, verb);
    }
    case "f": case "F": {
      if (prec < 0) {
        const { d, dp } = decimalDigits(v, -1);
        return fmtF(neg, d, dp, Math.max(d.length - dp, 0));
      }
      const a = Math.abs(v);
      const body = a < 1e21 ? a.toFixed(prec) : BigInt(a).toString() + (prec > 0 ? "." + "0".repeat(prec) : "");
      return (neg ? "-" : "") + body;
    }
    default: { // g G
      const shortest = prec < 0;
      if (prec === 0) prec = 1;
      const { d, dp } = decimalDigits(v, shortest ? -1 : prec);
      let eprec = shortest ? 6 : prec;
      if (!shortest && eprec > d.length && d.length >= dp) eprec = d.length;
      const p = shortest ? d.length : prec;
      const exp = dp - 1;
      if (d !== "" && (exp < -4 || exp >= eprec)) return fmtE(neg, d, dp, Math.min(p, d.length) - 1, verb === "G" ? "E" : "e");
      return fmtF(neg, d, dp, Math.max((p > dp ? d.length : p) - dp, 0));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The printer

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  wid?: number;
  prec?: number;
}

const noFlags = (): Flags => ({ plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false });

function pad(f: Flags, s: string, zeroOk = false): string {
  if (f.wid === undefined) return s;
  const n = f.wid - runeCount(s);
  if (n <= 0) return s;
  if (f.minus) return s + " ".repeat(n);
  return (zeroOk && f.zero ? "0" : " ").repeat(n) + s;
}

function badVerb(verb: string, v: GoValue): string {
  if (v === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${formatValue(v, "v", noFlags())})`;
}

function fmtInteger(f: Flags, v: bigint, base: number, verb: string, unsigned: boolean, typeBits: number): string {
  const negative = !unsigned && v < 0n;
  let u = negative ? -v : v;
  if (unsigned && u < 0n) u += 1n << BigInt(typeBits);
  let prec = 0;
  if (f.prec !== undefined) {
    prec = f.prec;
    if (prec === 0 && u === 0n) return pad({ ...f, zero: false }, "");
  } else if (f.zero && !f.minus && f.wid !== undefined) {
    prec = f.wid;
    if (negative || f.plus || f.space) prec--;
  }
  let digits = u.toString(base);
  if (verb === "X") digits = digits.toUpperCase();
  if (digits.length < prec) digits = "0".repeat(prec - digits.length) + digits;
  if (f.sharp) {
    if (base === 8 && digits[0] !== "0") digits = "0" + digits;
    else if (base === 16) digits = (verb === "X" ? "0X" : "0x") + digits;
    else if (base === 2) digits = "0b" + digits;
  }
  if (verb === "O") digits = "0o" + digits;
  if (negative) digits = "-" + digits;
  else if (f.plus) digits = "+" + digits;
  else if (f.space) digits = " " + digits;
  return pad({ ...f, zero: false }, digits);
}

function fmtFloat(f: Flags, v: number, verb: string, prec: number): string {
  if (f.prec !== undefined) prec = f.prec;
  let num = goFormatFloat(v, verb, prec);
  if (num[0] !== "-" && num[0] !== "+") num = "+" + num;
  if (f.space && num[0] === "+" && !f.plus) num = " " + num.slice(1);
  if (num[1] === "I" || num[1] === "N") {
    if (num[1] === "N" && !f.space && !f.plus) num = num.slice(1);
    return pad({ ...f, zero: false }, num);
  }
  if (f.sharp && verb !== "b") {
    // %#g keeps trailing zeros and the decimal point; %#e/%#f keep the point.
    if (!num.includes(".") && !/[eE]/.test(num)) num += ".";
    else if (!num.includes(".")) num = num.replace(/([eE])/, ".$1");
  }
  if (f.plus || num[0] !== "+") {
    if (f.zero && !f.minus && f.wid !== undefined && f.wid > num.length) {
      return num[0] + "0".repeat(f.wid - num.length) + num.slice(1);
    }
    return pad(f, num);
  }
  return pad(f, num.slice(1), true);
}

function fmtString(f: Flags, s: string, verb: string): string {
  if (f.prec !== undefined) s = [...s].slice(0, f.prec).join("");
  switch (verb) {
    case "v":
      if (f.sharpV) return pad(f, goStrconvQuote(s));
      return pad(f, s);
    case "s":
      return pad(f, s);
    case "q":
      if (f.sharp && canBackquote(s)) return pad(f, "`" + s + "`");
      return pad(f, goStrconvQuote(s, f.plus));
    case "x": case "X": {
      const bytes = utf8.encode(s);
      const hex = (b: number) => {
        const h = b.toString(16).padStart(2, "0");
        return verb === "X" ? h.toUpperCase() : h;
      };
      const prefix = f.sharp ? (verb === "X" ? "0X" : "0x") : "";
      let out = "";
      bytes.forEach((b, i) => {
        if (f.space) {
          if (i > 0) out += " ";
          out += prefix;
        } else if (i === 0) {
          out += prefix;
        }
        out += hex(b);
      });
      return pad(f, out);
    }
  }
  throw new Error("unreachable");
}

/** Go's `fmt` rendering of one operand for `verb` with `flags` (composites print their elements with the same verb). */
function formatValue(v: GoValue, verb: string, f: Flags, depth = 0): string {
  if (verb === "T") return pad(f, goTypeName(v));
  if (v === null) {
    if (verb === "v") return pad(f, "<nil>");
    return badVerb(verb, v);
  }
  if (typeof v === "string") {
    if ("vsqxX".includes(verb)) return fmtString(f, v, verb);
    return badVerb(verb, v);
  }
  if (typeof v === "boolean") {
    if (verb === "t" || verb === "v") return pad(f, v ? "true" : "false");
    return badVerb(verb, v);
  }
  if (v instanceof GoInt) {
    const bits = /\d+/.exec(v.type)?.[0];
    const typeBits = bits ? Number(bits) : 64;
    switch (verb) {
      case "v":
        if (f.sharpV && v.unsigned) return fmtInteger({ ...f, sharp: true }, v.value, 16, "x", true, typeBits);
        return fmtInteger(f, v.value, 10, verb, v.unsigned, typeBits);
      case "d": return fmtInteger(f, v.value, 10, verb, v.unsigned, typeBits);
      case "b": return fmtInteger(f, v.value, 2, verb, v.unsigned, typeBits);
      case "o": case "O": return fmtInteger(f, v.value, 8, verb, v.unsigned, typeBits);
      case "x": case "X": return fmtInteger(f, v.value, 16, verb, v.unsigned, typeBits);
      case "c": return pad(f, runeString(v.value));
      case "q": return pad(f, quoteRune(Number(v.value), f.plus));
      case "U": {
        let s = "U+" + v.value.toString(16).toUpperCase().padStart(4, "0");
        const cp = Number(v.value);
        if (f.sharp && cp >= 0 && cp <= 0x10ffff && isGoPrint(cp)) s += ` '${String.fromCodePoint(cp)}'`;
        return pad(f, s);
      }
    }
    return badVerb(verb, v);
  }
  if (v instanceof GoFloat) {
    switch (verb) {
      case "v": return fmtFloat(f, v.value, "g", -1);
      case "e": case "E": case "f": case "F": return fmtFloat(f, v.value, verb, 6);
      case "g": case "G": return fmtFloat(f, v.value, verb, -1);
    }
    return badVerb(verb, v);
  }
  if (v instanceof GoSlice) {
    if (f.sharpV) {
      if (v.items === null) return `${goTypeName(v)}(nil)`;
      return `${goTypeName(v)}{${v.items.map((x) => formatValue(x, verb, f, depth + 1)).join(", ")}}`;
    }
    return "[" + (v.items ?? []).map((x) => formatValue(x, verb, f, depth + 1)).join(" ") + "]";
  }
  if (v instanceof GoMapValue) {
    const keyOf = (k: string | bigint): GoValue => (typeof k === "bigint" ? new GoInt(k, v.keyType as IntType) : k);
    const parts = v.sortedKeys().map((k) => formatValue(keyOf(k), verb, f, depth + 1) + ":" + formatValue(v.entries.get(k) ?? null, verb, f, depth + 1));
    if (f.sharpV) return `${goTypeName(v)}{${parts.join(", ")}}`;
    return "map[" + parts.join(" ") + "]";
  }
  // struct
  const fields = v.fields.map((x) => (f.plusV || f.sharpV ? x.name + ":" : "") + formatValue(x.value, verb, f, depth + 1));
  if (f.sharpV) return `${v.typeName}{${fields.join(", ")}}`;
  return "{" + fields.join(" ") + "}";
}

function runeString(v: bigint): string {
  const cp = Number(v);
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "\ufffd";
  return String.fromCodePoint(cp);
}

/** Go's `fmt.Sprint`: operands in `%v`, a space between two operands when neither is a string. */
export function goSprint(args: GoValue[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += formatValue(a, "v", noFlags());
  });
  return out;
}

/** Go's `fmt.Sprintln`: operands in `%v` separated by spaces, then a newline. */
export function goSprintln(args: GoValue[]): string {
  return args.map((a) => formatValue(a, "v", noFlags())).join(" ") + "\n";
}

const TOO_LARGE = 1e6;

/** Go's `fmt.Sprintf`. */
export function goSprintf(format: string, args: GoValue[]): string {
  let out = "";
  let argNum = 0;
  let reordered = false;
  let goodArgNum = true;
  const end = format.length;
  let i = 0;

  /** `[n]` argument index at `i`, if any. */
  const argNumber = (): void => {
    if (i >= end || format[i] !== "[") return;
    reordered = true;
    const close = format.indexOf("]", i);
    if (close < 0) {
      goodArgNum = false;
      return;
    }
    const text = format.slice(i + 1, close);
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > args.length) {
      goodArgNum = false;
      i = close + 1;
      return;
    }
    argNum = Number(text) - 1;
    i = close + 1;
  };
  const parseNum = (): number | undefined => {
    const m = /^\d+/.exec(format.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    const n = Number(m[0]);
    return n > TOO_LARGE ? NaN : n;
  };
  const intArg = (): number | undefined => {
    if (argNum >= args.length) return undefined;
    const a = args[argNum++];
    if (!(a instanceof GoInt)) return undefined;
    const n = Number(a.value);
    return Math.abs(n) > TOO_LARGE ? undefined : n;
  };

  while (i < end) {
    const pct = format.indexOf("%", i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f = noFlags();
    // flags
    for (; i < end; i++) {
      const c = format[i];
      if (c === "#") f.sharp = true;
      else if (c === "0") f.zero = !f.minus;
      else if (c === "+") f.plus = true;
      else if (c === "-") { f.minus = true; f.zero = false; }
      else if (c === " ") f.space = true;
      else break;
    }
    goodArgNum = true;
    argNumber();
    // width
    if (i < end && format[i] === "*") {
      i++;
      const w = intArg();
      if (w === undefined) out += "%!(BADWIDTH)";
      else if (w < 0) { f.minus = true; f.zero = false; f.wid = -w; }
      else f.wid = w;
    } else {
      const w = parseNum();
      if (w !== undefined && !Number.isNaN(w)) f.wid = w;
      else if (Number.isNaN(w)) out += "%!(BADWIDTH)";
    }
    // precision
    if (i < end && format[i] === ".") {
      i++;
      argNumber();
      if (i < end && format[i] === "*") {
        i++;
        const p = intArg();
        if (p === undefined) out += "%!(BADPREC)";
        else if (p >= 0) f.prec = p;
      } else {
        const p = parseNum();
        f.prec = p === undefined || Number.isNaN(p) ? 0 : p;
      }
    }
    argNumber();
    if (i >= end) {
      out += "%!(NOVERB)";
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (!goodArgNum) {
      out += `%!${verb}(BADINDEX)`;
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const arg = args[argNum++]!;
    if (verb === "v") {
      if (f.sharp) { f.sharp = false; f.sharpV = true; }
      if (f.plus) { f.plus = false; f.plusV = true; }
    }
    if (verb === "w") {
      out += badVerb(verb, arg);
      continue;
    }
    out += formatValue(arg, verb, f);
  }
  if (!reordered && argNum < args.length) {
    out += "%!(EXTRA " + args.slice(argNum).map((a) => (a === null ? "<nil>" : `${goTypeName(a)}=${formatValue(a, "v", noFlags())}`)).join(", ") + ")";
  }
  return out;
}

/** Go's `fmt.Sprint` of one value (`%v`), as a template prints an action's value. */
export function goPrintValue(v: GoValue): string {
  return formatValue(v, "v", noFlags());
}
