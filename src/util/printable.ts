/**
 * Terminal safety for text that came from outside: nothing from a registry or a ModelKit reaches
 * a terminal with its control characters or escape sequences intact.
 * @module
 */

/**
 * Text from outside (a registry's error body or header, a Kitfile field) made safe to quote in a
 * message or a table: control characters (C0, DEL, C1: so every escape sequence), line and
 * paragraph separators and bidirectional overrides become visible `\xNN` / `\u{NNNN}` escapes;
 * tab is kept.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (c) => {
    const n = c.codePointAt(0)!;
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u{${n.toString(16)}}`;
  });
}
