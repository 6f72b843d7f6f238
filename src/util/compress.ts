/**
 * Compression stages as Web Streams over node:zlib (gzip levels and zstd, which the web
 * CompressionStream does not offer).
 * @module
 */
import { Duplex } from "node:stream";
import zlib from "node:zlib";

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
  return toWeb(zlib.createGunzip({ chunkSize: CHUNK }));
}

export function zstdCompressStream(): Pair {
  return toWeb(zlib.createZstdCompress({ chunkSize: CHUNK }));
}

export function zstdDecompressStream(): Pair {
  return toWeb(zlib.createZstdDecompress({ chunkSize: CHUNK }));
}
