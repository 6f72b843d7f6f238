import { describe, expect, test } from "bun:test";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { digestOf, tapStream, verified } from "../../src/oci/digest.ts";
import { IntegrityError } from "../../src/util/errors.ts";
import { chunked, readStream } from "../helpers/streams.ts";

const data = new TextEncoder().encode("hello verified world");
const desc = descriptorFromBytes("application/octet-stream", data);

describe("verified streams: content is hashed once per transfer", () => {
  test("a verified stream is not wrapped again for the same digest, but is for another", () => {
    const v = verified(chunked(data), desc);
    expect(verified(v, desc)).toBe(v);
    const other = { digest: digestOf("other"), size: 5 };
    expect(verified(v, other)).not.toBe(v);
  });

  test("tapStream keeps the mark and reports every chunk", async () => {
    let n = 0;
    const t = tapStream(verified(chunked(data, 3), desc), { onChunk: (c) => (n += c.byteLength) });
    expect(verified(t, desc)).toBe(t);
    expect(new TextDecoder().decode(await readStream(t))).toBe("hello verified world");
    expect(n).toBe(data.byteLength);
    // an unmarked stream stays unmarked
    const plain = tapStream(chunked(data), {});
    expect(verified(plain, desc)).not.toBe(plain);
  });

  test("a mismatch errors the stream before its end and reaches onError", async () => {
    const bad = data.slice();
    bad[0] = bad[0]! ^ 1;
    let seen: unknown;
    const t = tapStream(verified(chunked(bad, 4), desc), { onError: (e) => (seen = e) });
    const e = await readStream(t).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(seen).toBe(e);
  });
});
