/** Tar builders for tests: entries for the project's writer, and raw archives from (name, content) rows. */
import { encodeHeader, type TarEntry, tarStream } from "../../src/store/tar.ts";
import { chunked, concat, readStream } from "./streams.ts";

const enc = new TextEncoder();

/** A regular-file entry for the tar writer. */
export function fileEntry(name: string, content: string | Uint8Array, mode = 0o644): TarEntry {
  const data = typeof content === "string" ? enc.encode(content) : content;
  return { type: "file", name, mode, size: data.length, open: () => chunked(data, 1 << 20) };
}

/** The archive the project's tar writer makes of `entries`. */
export function tarBytes(entries: TarEntry[]): Promise<Uint8Array> {
  return readStream(tarStream(entries));
}

/**
 * A raw tar from `[name, content | "dir", mode?]` rows (headers from the writer's `encodeHeader`),
 * ended by two zero blocks: for layers the writer would never make (hostile names, old layouts).
 */
export function tarOf(entries: Array<[string, string | "dir", number?]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, content, mode] of entries) {
    if (content === "dir") {
      parts.push(encodeHeader(name, mode ?? 0o755, 0, "5"));
      continue;
    }
    const data = enc.encode(content);
    parts.push(encodeHeader(name, mode ?? 0o644, data.length, "0"), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

/** Writes `s` into the header field at `off` (at most `len` bytes). */
export function putStr(b: Uint8Array, off: number, len: number, s: string) {
  b.set(enc.encode(s).subarray(0, len), off);
}
function putOct(b: Uint8Array, off: number, len: number, n: number) {
  putStr(b, off, len, n.toString(8).padStart(len - 1, "0") + "\0");
}

/** A raw header block for archives our writer would never produce. */
export function rawHeader(
  name: string,
  flag: string,
  o: { size?: number; linkname?: string; mode?: number; gnu?: boolean; prefix?: string } = {},
): Uint8Array {
  const b = new Uint8Array(512);
  putStr(b, 0, 100, name);
  putOct(b, 100, 8, o.mode ?? 0o644);
  putOct(b, 108, 8, 0);
  putOct(b, 116, 8, 0);
  putOct(b, 124, 12, o.size ?? 0);
  putOct(b, 136, 12, 0);
  b[156] = flag.charCodeAt(0);
  putStr(b, 157, 100, o.linkname ?? "");
  putStr(b, 257, 8, o.gnu ? "ustar  \0" : "ustar\u000000");
  if (o.prefix) putStr(b, 345, 155, o.prefix);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  putStr(b, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}
/** `data` zero-padded to whole 512-byte blocks. */
export function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}
