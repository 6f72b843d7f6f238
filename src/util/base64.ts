/**
 * Base64 as Go's `encoding/base64` has it: the standard alphabet or the URL one, always padded.
 * Decoding is strict (padding required, nothing outside the alphabet), as Go's `DecodeString`.
 * @module
 */

/** Go `StdEncoding.EncodeToString` (or `URLEncoding` with `url`) of bytes, or of a string's UTF-8. */
export function encodeBase64(data: Uint8Array | string, alphabet: "std" | "url" = "std"): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const std = btoa(bin);
  return alphabet === "url" ? std.replaceAll("+", "-").replaceAll("/", "_") : std;
}

/**
 * Go `StdEncoding.DecodeString`: undefined for anything that is not padded standard base64.
 * `ignoreNewlines` skips CR and LF first, as Go's decoder does.
 */
export function decodeBase64(s: string, opts: { ignoreNewlines?: boolean } = {}): Uint8Array | undefined {
  const t = opts.ignoreNewlines ? s.replace(/[\r\n]/g, "") : s;
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return undefined;
  return Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
}
