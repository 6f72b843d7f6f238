/**
 * yaml.v3's scalar rules, shared by the Kitfile reader and writer: how a plain scalar resolves to
 * null/bool/int/float/timestamp/string (`resolve.go`), which strings must be quoted so they read
 * back as strings, Go's `%g` float text, the natural key order of `sorter.go`, and timestamps.
 * @module
 */
import { goRFC3339Nano, goTimeRFC3339 } from "../util/go-json.ts";

/** A resolved scalar: `value` is null, boolean, bigint (ints), number (floats), string or a timestamp. */
export interface Resolved {
  tag: string;
  value: null | boolean | bigint | number | string | YamlTimestamp;
}

/**
 * An unquoted YAML timestamp (yaml.v3 decodes `2024-01-02` into a Go `time.Time`). It is a `Date`
 * for the instant, and keeps what a Date cannot: nanoseconds and the written UTC offset, which
 * Go prints back (`2024-01-02T10:00:00.5+02:00`).
 */
export class YamlTimestamp extends Date {
  /** Nanoseconds within the second, 0–999999999. */
  readonly nanosecond: number;
  /** The offset east of UTC, in seconds, that the value was written with (0 for `Z` and zone-less forms). */
  readonly offsetSeconds: number;

  constructor(epochSeconds: number, nanosecond: number, offsetSeconds: number) {
    super(epochSeconds * 1000 + Math.floor(nanosecond / 1e6));
    this.nanosecond = nanosecond;
    this.offsetSeconds = offsetSeconds;
  }

  /** Go's `time.RFC3339Nano` form, used by both its JSON and YAML encoders. */
  toRFC3339Nano(): string {
    return goRFC3339Nano(Math.floor(this.getTime() / 1000), this.nanosecond, this.offsetSeconds);
  }
}

/** RFC 3339 text of any Date: a {@link YamlTimestamp} keeps its offset and nanoseconds, others are UTC. */
export function formatTime(d: Date): string {
  return d instanceof YamlTimestamp ? d.toRFC3339Nano() : goTimeRFC3339(d);
}

const RESOLVE_MAP: Record<string, Resolved> = {};
for (const [tag, value, words] of [
  ["!!bool", true, ["true", "True", "TRUE"]],
  ["!!bool", false, ["false", "False", "FALSE"]],
  ["!!null", null, ["", "~", "null", "Null", "NULL"]],
  ["!!float", NaN, [".nan", ".NaN", ".NAN"]],
  ["!!float", Infinity, [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"]],
  ["!!float", -Infinity, ["-.inf", "-.Inf", "-.INF"]],
  ["!!merge", "<<", ["<<"]],
] as const) {
  for (const w of words) RESOLVE_MAP[w] = { tag, value };
}

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** The resolve table's hint for a first character (`D`igit, `S`ign, `M`ap word, `.`), or 0. */
function hint(s: string): string {
  if (s === "") return "N";
  const c = s[0]!;
  if (c >= "0" && c <= "9") return "D";
  if (c === "+" || c === "-") return "S";
  if ("yYnNtTfFoO~".includes(c)) return "M";
  if (c === ".") return ".";
  return "";
}

/**
 * Go `strconv.ParseInt(s, 0, 64)` (signed) or `ParseUint(s, 0, 64)`: optional sign (signed only),
 * `0x`/`0o`/`0b` prefixes and C-style leading-zero octal. Undefined on a syntax or range error.
 */
export function goParseInt(s: string, signed: boolean): bigint | undefined {
  let t = s;
  let neg = false;
  if (signed && (t[0] === "+" || t[0] === "-")) {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  if (t === "") return undefined;
  let base = 10;
  if (t[0] === "0") {
    const p = t.length >= 3 ? t[1]!.toLowerCase() : "";
    if (p === "b") [base, t] = [2, t.slice(2)];
    else if (p === "o") [base, t] = [8, t.slice(2)];
    else if (p === "x") [base, t] = [16, t.slice(2)];
    else [base, t] = [8, t.slice(1)];
  }
  const digits = base === 16 ? /^[0-9a-fA-F]*$/ : base === 10 ? /^[0-9]*$/ : base === 8 ? /^[0-7]*$/ : /^[01]*$/;
  if (!digits.test(t)) return undefined;
  let n = t === "" ? 0n : BigInt((base === 16 ? "0x" : base === 8 ? "0o" : base === 2 ? "0b" : "") + t);
  if (neg) n = -n;
  if (signed ? n < INT64_MIN || n > INT64_MAX : n > UINT64_MAX) return undefined;
  return n;
}

/** Go `strconv.ParseFloat` for the decimal forms yaml.v3 lets through; undefined on error or overflow. */
function parseFloatText(s: string): number | undefined {
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/**
 * yaml.v3 `resolve(tag, in)`: what a scalar means. `tag` is the explicit short tag or `""`.
 * Throws a `TypeError` with yaml.v3's text (`cannot decode !!str \`yes\` as a !!bool`) when an
 * explicit tag does not fit the value.
 */
export function resolveScalar(tag: string, text: string): Resolved {
  if (!["", "!!str", "!!bool", "!!int", "!!float", "!!null", "!!timestamp"].includes(tag)) {
    return { tag, value: text };
  }
  const r = resolveUntagged(tag, text);
  if (tag === "" || tag === r.tag || tag === "!!str") return r;
  if (tag === "!!float" && r.tag === "!!int") return { tag: "!!float", value: Number(r.value as bigint) };
  throw new TypeError(`cannot decode ${r.tag} \`${text}\` as a ${tag}`);
}

function resolveUntagged(tag: string, text: string): Resolved {
  const h = hint(text);
  if (h === "" || tag === "!!str") return { tag: "!!str", value: text };
  const known = RESOLVE_MAP[text];
  if (known) return known;
  if (h === ".") {
    if (DOT_FLOAT.test(text)) {
      const f = parseFloatText(text);
      if (f !== undefined) return { tag: "!!float", value: f };
    }
  } else if (h === "D" || h === "S") {
    if (tag === "" || tag === "!!timestamp") {
      const t = parseTimestamp(text);
      if (t) return { tag: "!!timestamp", value: t };
    }
    const plain = text.replaceAll("_", "");
    const i = goParseInt(plain, true) ?? goParseInt(plain, false);
    if (i !== undefined) return { tag: "!!int", value: i };
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = parseFloatText(plain);
      if (f !== undefined) return { tag: "!!float", value: f };
    }
    // yaml.v3 retries 0b/0o/-0b/-0o prefixes here; ParseInt's base 0 has already accepted them all.
  }
  return { tag: "!!str", value: text };
}

/** `2006-1-2T15:4:5.999999999Z07:00` (T or t), `2006-1-2 15:4:5.999999999`, `2006-1-2` (yaml.v3). */
export function parseTimestamp(s: string): YamlTimestamp | undefined {
  // Quick check, as yaml.v3: four digits then '-'.
  if (!/^[0-9]{4}-/.test(s)) return undefined;
  const m = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:([Tt])| +)([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,]([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?)?$/.exec(s);
  if (!m) return undefined;
  const [, ys, mos, ds, tee, hs, mis, ss, frac, zone] = m;
  const year = Number(ys), month = Number(mos), day = Number(ds);
  if (month < 1 || month > 12) return undefined;
  // Days in the month: day 0 of the next month in a leap year (2000), minus one for February otherwise.
  const dim = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (day < 1 || day > dim) return undefined;
  let hour = 0, min = 0, sec = 0, nanos = 0, offset = 0;
  if (hs !== undefined) {
    // With a `T`, the layout demands a zone; after spaces it forbids one.
    if (tee !== undefined ? zone === undefined : zone !== undefined) return undefined;
    hour = Number(hs);
    min = Number(mis);
    sec = Number(ss);
    if (hour > 23 || min > 59 || sec > 59) return undefined;
    if (frac) nanos = Number(frac.slice(0, 9).padEnd(9, "0"));
    if (zone && zone !== "Z") {
      const zh = Number(zone.slice(1, 3)), zm = Number(zone.slice(4, 6));
      if (zh > 24 || zm > 60) return undefined;
      offset = (zone[0] === "-" ? -1 : 1) * (zh * 3600 + zm * 60);
    }
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, min, sec, 0);
  return new YamlTimestamp(d.getTime() / 1000 - offset, nanos, offset);
}

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

/** YAML 1.1 booleans yaml.v3 still quotes on output. */
export function isOldBool(s: string): boolean {
  return ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"].includes(s);
}

const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
/** YAML 1.1 sexagesimal floats (`1:20`), also quoted on output. */
export function isBase60Float(s: string): boolean {
  return s !== "" && /^[-+0-9]/.test(s) && s.includes(":") && BASE60_FLOAT.test(s);
}

/** Go `strconv.FormatFloat(f, 'g', -1, 64)` as yaml.v3 writes floats, with `.inf`, `-.inf`, `.nan`. */
export function formatYamlFloat(f: number): string {
  if (Number.isNaN(f)) return ".nan";
  if (f === Infinity) return ".inf";
  if (f === -Infinity) return "-.inf";
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  const [mant, expText] = f.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  // With the shortest digits Go's %g switches to exponent form below 1e-4 and from 1e+06 on;
  // JavaScript's digits are the same shortest round-trip digits.
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  return String(f);
}

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;

/**
 * yaml.v3's natural order for string map keys (`sorter.go` `keyList.Less`): rune by rune; letters
 * by code point; a letter after a digit run sorts first, otherwise the non-letter does; digit runs
 * compare by value, then length.
 */
export function naturalLess(a: string, b: string): boolean {
  const ar = Array.from(a, (c) => c.codePointAt(0)!);
  const br = Array.from(b, (c) => c.codePointAt(0)!);
  const isLetter = (r: number) => LETTER.test(String.fromCodePoint(r));
  const isDigit = (r: number) => DIGIT.test(String.fromCodePoint(r));
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const x = ar[i]!, y = br[i]!;
    if (x === y) continue;
    const al = isLetter(x), bl = isLetter(y);
    if (al && bl) return x < y;
    if (al || bl) return bl;
    let an = 0n, bn = 0n;
    if (x === 0x30 || y === 0x30) {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]!); j--) {
        if (ar[j] !== 0x30) {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i, bi = i;
    for (; ai < ar.length && isDigit(ar[ai]!); ai++) an = BigInt.asIntN(64, an * 10n + BigInt(ar[ai]! - 0x30));
    for (; bi < br.length && isDigit(br[bi]!); bi++) bn = BigInt.asIntN(64, bn * 10n + BigInt(br[bi]! - 0x30));
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return x < y;
  }
  return ar.length < br.length;
}

/** Comparator for `Array.prototype.sort` from {@link naturalLess}. */
export function naturalCompare(a: string, b: string): number {
  return naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0;
}
