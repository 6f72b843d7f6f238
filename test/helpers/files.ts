/**
 * File-tree helpers for tests: build a project directory from a path → content table, list a
 * tree, hash a tree's files.
 */
import { createHash } from "node:crypto";
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { tempDir } from "./kit.ts";

/** A file's content: text or bytes, a size in bytes (zero-filled), or a symlink target. */
export type FileEntry = string | Uint8Array | number | { symlink: string };

/**
 * Writes `files` under `root` (created if missing); keys are `/`-separated relative paths, a key
 * ending in `/` is an empty directory. Modes are left to the umask. Returns `root`.
 */
export function writeFiles(root: string, files: Record<string, FileEntry>): string {
  mkdirSync(root, { recursive: true });
  for (const [rel, entry] of Object.entries(files)) {
    const abs = path.join(root, rel);
    if (rel.endsWith("/")) {
      mkdirSync(abs, { recursive: true });
      continue;
    }
    mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof entry === "number") writeFileSync(abs, new Uint8Array(entry));
    else if (typeof entry === "string" || entry instanceof Uint8Array) writeFileSync(abs, entry);
    else symlinkSync(entry.symlink, abs);
  }
  return root;
}

export interface ProjectOptions {
  /** Temp dir name prefix (default `kit-project-`). */
  prefix?: string;
  /** Modes by key; otherwise directories (the root too) are 0755 and files 0644, whatever the umask. */
  modes?: Record<string, number>;
}

/**
 * A fresh temp dir (removed when the test file ends) holding `files` (see {@link writeFiles}),
 * with fixed modes so that packed digests never depend on the umask. Symlinks are not touched.
 */
export function project(files: Record<string, FileEntry>, opts: ProjectOptions = {}): string {
  const root = writeFiles(tempDir(opts.prefix ?? "kit-project-"), files);
  chmodSync(root, 0o755);
  for (const [rel, entry] of Object.entries(files)) {
    const parts = rel.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) chmodSync(path.join(root, ...parts.slice(0, i)), 0o755);
    if (typeof entry === "object" && !(entry instanceof Uint8Array)) continue;
    chmodSync(path.join(root, rel), opts.modes?.[rel] ?? (rel.endsWith("/") ? 0o755 : 0o644));
  }
  return root;
}

/** Every entry under `dir`, relative and sorted; directories end in `/` (with `dirs: false`, files only). */
export function listTree(dir: string, opts: { dirs?: boolean } = {}, rel = ""): string[] {
  return readdirSync(path.join(dir, rel)).sort().flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n;
    if (!statSync(path.join(dir, r)).isDirectory()) return [r];
    const below = listTree(dir, opts, r);
    return opts.dirs === false ? below : [`${r}/`, ...below];
  });
}

/** SHA-256 (hex) of a file, read in 4 MiB pieces (fine for large files). */
export function sha256File(file: string): string {
  const h = createHash("sha256");
  const fd = openSync(file, "r");
  const buf = Buffer.alloc(4 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** Every file under `dir` (relative path → SHA-256 hex), in path order, leaving out the paths in `skip`. */
export function hashTree(dir: string, skip: Iterable<string> = []): Record<string, string> {
  const leave = new Set(skip);
  const out: Record<string, string> = {};
  for (const rel of listTree(dir, { dirs: false })) if (!leave.has(rel)) out[rel] = sha256File(path.join(dir, rel));
  return out;
}

/** Writes `mb` MiB of pseudo-random bytes (xorshift; incompressible enough, fast). */
export function writeLargeFile(file: string, mb: number, seed = 1) {
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(1 << 20);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < mb; i++) {
    for (let j = 0; j < chunk.length; j += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      chunk.writeUInt32LE(x, j);
    }
    writeSync(fd, chunk);
  }
  closeSync(fd);
}
