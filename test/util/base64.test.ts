import { expect, test } from "bun:test";
import { decodeBase64, encodeBase64 } from "../../src/util/base64.ts";

test("encodes bytes and UTF-8 strings as Go's StdEncoding and URLEncoding", () => {
  expect(encodeBase64("alice:pä:w")).toBe("YWxpY2U6cMOkOnc=");
  expect(encodeBase64(new Uint8Array([0xfb, 0xff]))).toBe("+/8=");
  expect(encodeBase64(new Uint8Array([0xfb, 0xff]), "url")).toBe("-_8=");
  const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
  expect(decodeBase64(encodeBase64(big))).toEqual(big);
});

test("decodes strictly, as Go's DecodeString: padding required, nothing outside the alphabet", () => {
  expect(new TextDecoder().decode(decodeBase64("YWxpY2U6cMOkOnc=")!)).toBe("alice:pä:w");
  expect(decodeBase64("YWxpY2U6cMOkOnc")).toBeUndefined();
  expect(decodeBase64("YW xp")).toBeUndefined();
  expect(decodeBase64("-_8=")).toBeUndefined();
  expect(decodeBase64("YWxp\r\nY2U=")).toBeUndefined();
  expect(new TextDecoder().decode(decodeBase64("YWxp\r\nY2U=", { ignoreNewlines: true })!)).toBe("alice");
});
