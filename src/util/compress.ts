/**
 * Compression stages as Web Streams over node:zlib (gzip levels and zstd, which the web
 * CompressionStream does not offer). A decompressor fed data that is not in its format errors
 * with {@link CorruptDataError} and zlib's reason (`invalid gzip data: incorrect header check`);
 * an error of the input stream (a digest mismatch, a cancellation) passes through unchanged.
 * @module
 */
import { Duplex } from "node:stream";
import zlib from "node:zlib";
import { CorruptDataError } from "./errors.ts";
import { watchStream } from "./streams.ts";

type Pair = { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };

const CHUNK = 1 << 20;

function toWeb(t: Duplex): Pair {
  return Duplex.toWeb(t) as unknown as Pair;
}

/** gzip at Go's default level (6) or BestSpeed (1, kit's `gzip-fastest`). */
export function gzipStream(level: 1 | 6): Pair {
  return toWeb(zlib.createGzip({ level, chunkSize: CHUNK }));
}

export function gunzipStream(): Pair {
  return decompressor(zlib.createGunzip({ chunkSize: CHUNK }), "gzip");
}

export function zstdCompressStream(): Pair {
  return toWeb(zlib.createZstdCompress({ chunkSize: CHUNK }));
}

export function zstdDecompressStream(): Pair {
  return decompressor(zlib.createZstdDecompress({ chunkSize: CHUNK }), "zstd");
}

/**
 * zlib's reason for an error in `e`'s cause chain (the errors with a `Z_…`/`ZSTD_…` code; the
 * runtime's stream adapter may wrap one with an empty message), or undefined for other errors.
 */
function zlibReason(e: unknown): string | undefined {
  let reason: string | undefined;
  for (let c: unknown = e, i = 0; c && i < 10; c = (c as { cause?: unknown }).cause, i++) {
    const code = (c as { code?: unknown }).code;
    if (c instanceof Error && typeof code === "string" && /^(Z|ZSTD)_/.test(code)) reason = c.message || reason || code;
  }
  return reason;
}

function decompressor(t: Duplex, format: string): Pair {
  const { readable, writable } = toWeb(t);
  const mapped = watchStream(readable, {
    mapError: (e) => {
      const reason = zlibReason(e);
      return reason !== undefined ? new CorruptDataError(`invalid ${format} data: ${reason}`, { cause: e }) : e;
    },
  });
  return { readable: mapped, writable };
}
