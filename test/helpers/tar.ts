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
