/** Decompression stages: data that is not in the format is a CorruptDataError with zlib's reason. */
import { expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { gunzipStream, zstdDecompressStream } from "../../src/util/compress.ts";
import { CorruptDataError, IntegrityError } from "../../src/util/errors.ts";
import { chunked, readStream } from "../helpers/streams.ts";

test("gzip and zstd: garbage, and a cut stream, error with the format and the reason", async () => {
  const garbage = new TextEncoder().encode("plain text, not compressed");
  for (const [make, message] of [[gunzipStream, "invalid gzip data: incorrect header check"], [zstdDecompressStream, "invalid zstd data: Unknown frame descriptor"]] as const) {
    const e = await readStream(chunked(garbage, 7).pipeThrough(make())).catch((x) => x);
    expect(e).toBeInstanceOf(CorruptDataError);
    expect(e.message).toBe(message);
  }
  const cut = gzipSync(new Uint8Array(100_000).fill(7)).subarray(0, 60);
  const e = await readStream(chunked(cut, 16).pipeThrough(gunzipStream())).catch((x) => x);
  expect(e).toBeInstanceOf(CorruptDataError);
  expect(e.message).toBe("invalid gzip data: unexpected end of file");
});

test("an error of the input passes through unchanged", async () => {
  const data = gzipSync(new Uint8Array(100_000).fill(1));
  let sent = false;
  const input = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent) c.error(new IntegrityError("digest mismatch"));
      else c.enqueue(data.subarray(0, 50));
      sent = true;
    },
  });
  const e = await readStream(input.pipeThrough(gunzipStream())).catch((x) => x);
  expect(e).toBeInstanceOf(IntegrityError);
  expect(e.message).toBe("digest mismatch");
});
