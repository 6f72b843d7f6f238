/**
 * The layer cache (beyond kit, which re-reads everything): a packed layer's digests are
 * remembered under a key made of everything that determines its bytes — the layer settings and,
 * for every file, its name, mode, size, device, inode, mtime and ctime. Re-packing an unchanged
 * project then reads no file; a change to any file changes the key of that layer only.
 *
 * Entries are never trusted blindly: each carries a checksum of its own content (a torn or edited
 * entry is ignored), the blob must still be in storage with the recorded size, and entries are
 * not written while a file is "racy" (modified within the last two seconds, where a later change
 * could keep the same timestamp).
 * @module
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { digestHex, digestOf, isDigest, type Digest } from "../oci/digest.ts";
import type { WalkEntry } from "./walk.ts";

/** Bumped whenever the tar writer or the key's meaning changes, so old entries stop matching. */
const CACHE_VERSION = "kit-layer-cache-1";
const RACY_MS = 2000;

export interface CachedLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
}

export interface LayerKeyInput {
  mediaType: string;
  compression: string;
  /** The layer path as cleaned (annotation value). */
  path: string;
  entries: WalkEntry[];
  /** Extra bytes that influence the blob (e.g. raw-layer metadata). */
  extra?: string;
}

/** SHA-256 of `text`, as lower-case hex. */
function hex(text: string): string {
  return digestHex(digestOf(text));
}

export class LayerCache {
  constructor(readonly dir: string, private readonly now: () => number = Date.now) {}

  key(i: LayerKeyInput): string {
    const lines = [CACHE_VERSION, i.mediaType, i.compression, i.path, i.extra ?? ""];
    for (const e of i.entries) {
      lines.push([e.type, e.name, e.mode, e.size, e.dev, e.ino, e.mtimeMs, e.ctimeMs].join("\u0000"));
    }
    return hex(lines.join("\n"));
  }

  /** True when some file changed so recently that its timestamps can't be relied on yet. */
  racy(entries: WalkEntry[]): boolean {
    const limit = this.now() - RACY_MS;
    return entries.some((e) => e.mtimeMs > limit || e.ctimeMs > limit);
  }

  #file(key: string) {
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  async get(key: string): Promise<CachedLayer | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file(key), "utf8");
    } catch {
      return undefined;
    }
    try {
      const o = JSON.parse(text) as { value: CachedLayer; check: string };
      const v = o.value;
      if (!v || !isDigest(v.digest) || !isDigest(v.diffId) || !Number.isSafeInteger(v.size) || v.size < 0) return undefined;
      if (o.check !== hex(key + JSON.stringify(v))) return undefined;
      return { digest: v.digest, diffId: v.diffId, size: v.size };
    } catch {
      return undefined;
    }
  }

  async put(key: string, value: CachedLayer): Promise<void> {
    const file = this.#file(key);
    const v = { digest: value.digest, diffId: value.diffId, size: value.size };
    const body = JSON.stringify({ value: v, check: hex(key + JSON.stringify(v)) });
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, file);
    } catch {
      // The cache is an optimisation: failing to write it never fails a pack.
      await rm(`${file}.${process.pid}.tmp`, { force: true }).catch(() => {});
    }
  }
}
