/**
 * JSON exactly as Go's `encoding/json` writes it, so config and manifest bytes (and so their
 * digests) match kit's. Objects are written in insertion order (callers build them in Go's
 * struct field order); use {@link sortedKeys} for Go maps, whose keys Go sorts bytewise.
 * @module
 */

/** A float64 value that must be encoded as a float, even when it is integral (Go `float64`). */
export class GoFloat {
  constructor(readonly value: number) {}
}

/** Go `json.Marshal` string escaping: `<`, `>`, `&`, U+2028, U+2029 escaped; short forms for \n\r\t\b\f. */
export function goQuote(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      switch (c) {
        case 0x22: rep = '\\"'; break;
        case 0x5c: rep = "\\\\"; break;
        case 0x0a: rep = "\\n"; break;
        case 0x0d: rep = "\\r"; break;
        case 0x09: rep = "\\t"; break;
        case 0x08: rep = "\\b"; break;
        case 0x0c: rep = "\\f"; break;
        default: rep = "\\u" + c.toString(16).padStart(4, "0");
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // Lone surrogates are invalid UTF-8 once encoded: Go writes U+FFFD.
      const hi = c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (hi) { i++; continue; }
      rep = "\ufffd";
    }
    if (rep !== undefined) {
      out += s.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** Go's float64 JSON form: shortest round-trip, exponent form below 1e-6 or from 1e21. */
export function goJsonFloat(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`json: unsupported value: ${v}`);
  if (Object.is(v, -0)) return "-0";
  // JavaScript's Number#toString uses exactly these thresholds and the shortest digits;
  // only the exponent sign/padding differs: JS "1e-7" / "1e+21", Go "1e-07" → cleaned to "1e-7".
  return String(v);
}

/** Go map key order: bytewise (UTF-8) comparison. */
export function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  const ea = utf8.encode(a);
  const eb = utf8.encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i]! - eb[i]!;
  return ea.length - eb.length;
}
const utf8 = new TextEncoder();

/** Returns the keys of a Go map in the order Go encodes them. */
export function sortedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).sort(compareGoStrings);
}

/** A map whose keys are written sorted, as Go does for `map[string]T`. */
export class GoMap {
  constructor(readonly entries: Record<string, unknown>) {}
}

/**
 * Encodes a value as compact Go JSON. Plain objects keep insertion order (struct fields);
 * {@link GoMap} sorts keys; `undefined` object fields are omitted (`omitempty` is the caller's job);
 * integers (number or bigint) print as integers, {@link GoFloat} as floats.
 */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "string": return goQuote(v);
    case "boolean": return v ? "true" : "false";
    case "bigint": return v.toString();
    case "number": return goJsonFloat(v);
  }
  if (v instanceof GoFloat) return goJsonFloat(v.value);
  if (v instanceof Date) return goQuote(goTimeRFC3339(v));
  if (Array.isArray(v)) return "[" + v.map(goJson).join(",") + "]";
  if (v instanceof GoMap) {
    const keys = sortedKeys(v.entries).filter((k) => v.entries[k] !== undefined);
    return "{" + keys.map((k) => goQuote(k) + ":" + goJson(v.entries[k])).join(",") + "}";
  }
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = x;
    return goJson(new GoMap(o));
  }
  const o = v as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(o)) {
    if (o[k] === undefined) continue;
    parts.push(goQuote(k) + ":" + goJson(o[k]));
  }
  return "{" + parts.join(",") + "}";
}

/** Go's `MarshalIndent(v, prefix, indent)` of a value produced by {@link goJson}. */
export function goJsonIndent(v: unknown, indent: string): string {
  return indentCompactJson(goJson(v), indent);
}

/** Re-indents compact JSON the way Go's `json.Indent` does (empty `{}` / `[]` stay compact). */
export function indentCompactJson(src: string, indent: string): string {
  let out = "";
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (inStr) {
      out += c;
      if (c === "\\") { out += src[++i]; continue; }
      if (c === '"') inStr = false;
      continue;
    }
    switch (c) {
      case '"': inStr = true; out += c; break;
      case "{": case "[": {
        const close = c === "{" ? "}" : "]";
        if (src[i + 1] === close) { out += c + close; i++; break; }
        depth++;
        out += c + "\n" + indent.repeat(depth);
        break;
      }
      case "}": case "]": depth--; out += "\n" + indent.repeat(depth) + c; break;
      case ",": out += ",\n" + indent.repeat(depth); break;
      case ":": out += ": "; break;
      default: out += c;
    }
  }
  return out;
}

/**
 * Go's `time.RFC3339Nano` text (what its JSON and YAML encoders write for a `time.Time`) of the
 * instant `epochSeconds` + `nanosecond`, shown at `offsetSeconds` east of UTC: the fraction without
 * trailing zeros, `Z` for UTC, else `±hh:mm`.
 */
export function goRFC3339Nano(epochSeconds: number, nanosecond = 0, offsetSeconds = 0): string {
  const wall = new Date((epochSeconds + offsetSeconds) * 1000);
  const p2 = (n: number) => String(n).padStart(2, "0");
  let s = String(wall.getUTCFullYear()).padStart(4, "0") + "-" + p2(wall.getUTCMonth() + 1) + "-" +
    p2(wall.getUTCDate()) + "T" + p2(wall.getUTCHours()) + ":" + p2(wall.getUTCMinutes()) + ":" +
    p2(wall.getUTCSeconds());
  if (nanosecond !== 0) s += "." + String(nanosecond).padStart(9, "0").replace(/0+$/, "");
  if (offsetSeconds === 0) return s + "Z";
  const off = Math.abs(offsetSeconds);
  return s + (offsetSeconds < 0 ? "-" : "+") + p2(Math.floor(off / 3600)) + ":" + p2(Math.floor(off / 60) % 60);
}

/** Go's `time.Time` JSON form of a Date, in UTC: RFC 3339 with the milliseconds, trailing zeros trimmed. */
export function goTimeRFC3339(d: Date): string {
  const ms = d.getTime();
  return goRFC3339Nano(Math.floor(ms / 1000), (((ms % 1000) + 1000) % 1000) * 1e6);
}

/** Go `encoding/json`'s `maxNestingDepth`: deeper documents are refused before anything walks them. */
export const MAX_JSON_DEPTH = 10000;

/**
 * True when JSON text nests arrays/objects deeper than `max` (Go's decoder refuses those with
 * `exceeded max depth`). A linear scan that skips strings; it does not validate the JSON.
 */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
