/** Stream and byte helpers for tests. */

/** `data` as a stream of `size`-byte chunks (odd sizes exercise block boundaries). */
export function chunked(data: Uint8Array, size = 7): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (off >= data.byteLength) return ctl.close();
      ctl.enqueue(data.slice(off, off + size));
      off += size;
    },
  });
}

/** A stream that sends `first` and then fails with `error` (a dropped connection, by default). */
export function failingStream(first: Uint8Array, error: unknown = new Error("connection reset")): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (!sent) {
        sent = true;
        ctl.enqueue(first);
      } else {
        ctl.error(error);
      }
    },
  });
}

/** The whole stream as bytes. */
export async function readStream(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** The chunks joined into one array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** `n` bytes of a fixed pattern (`seed` shifts it), for content that only has to round-trip. */
export function patternBytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}
