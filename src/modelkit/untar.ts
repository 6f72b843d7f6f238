/**
 * kit's extraction rules for tar layers, with their safety checks (docs/format.md#extraction), over
 * the project's tar reader (store/tar-reader.ts). Files are written to a temporary name in
 * their directory and renamed into place once complete, so an interrupted unpack never leaves a
 * half-written file under its final name.
 * @module
 */
import { closeSync, fchmodSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, rmdirSync, type Stats, statSync, unlinkSync } from "node:fs";
import * as nodePath from "node:path";
import { cleanPath } from "../kitfile/paths.ts";
import { asKitError, CancelledError, CorruptDataError, IntegrityError, KitError } from "../util/errors.ts";
import { isWithinDir, ownedTempName, writeAllAt, writeAllSync } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { throwIfAborted } from "../util/pool.ts";
import { readTar } from "../store/tar-reader.ts";
import { joinPath } from "./ignore.ts";

/**
 * The mode bits extraction ever sets: permissions only. Setuid, setgid and sticky bits from an
 * archive (or a raw layer's metadata) are dropped, whoever runs the unpack.
 */
export const EXTRACT_MODE_MASK = 0o777;

export interface ExtractOptions {
  /** `-o`: replace existing regular files. */
  overwrite: boolean;
  /** `-i`: leave existing files alone (takes precedence over overwrite, as in kit). */
  ignoreExisting: boolean;
  /** A directory (relative to the target) the entry names are joined to (pre-v0.5.0 layers). */
  subdir?: string;
  /** Called with the path (relative to the target) of each file once it is in place. */
  onFile?: (path: string) => void;
  signal?: AbortSignal;
  logger?: Logger;
  /** See TarReadOptions.release (store/tar-reader.ts): extraction keeps at most one write in flight. */
  release?: (chunk: Uint8Array) => void;
  /**
   * Settles when the files of this archive may be put in place: once the layers before it, being
   * extracted at the same time, have put theirs (a rejection means one of them failed: nothing of
   * this archive is put in place). Files that appeared meanwhile are then what they would have
   * been for a layer extracted after the others: existing files.
   */
  before?: Promise<void>;
}

export interface ExtractResult {
  files: number;
  dirs: number;
  /** Existing files left alone because of `ignoreExisting`. */
  skipped: number;
  bytes: number;
}

// File-system calls are synchronous except large data writes: through the thread pool each call
// costs ~50 µs, and unpacking makes several per file (20,000 small files: 7 s → 3 s).

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * kit's `VerifySubpath` for an entry: returns the real on-disk location (symlinks in the existing part
 * resolved), or throws `illegal file path: <p>: <why>`. `dirs` holds real directories under the
 * root already seen as such (not symlinks) during this extraction, which are not looked at again:
 * an archive holds no symlinks, so only what was there before could be one, and that is checked
 * when first met.
 */
function resolveEntryPath(rel: string, display: string, rootReal: string, dirs?: Set<string>, seen?: { missing: boolean }): string {
  const fail = (why: string) => new KitError(`illegal file path: ${display}: ${why}`);
  if (rel.startsWith("/")) throw fail(`absolute paths are not supported (${display})`);
  if (rel.includes("\0")) throw fail("a path cannot contain a NUL byte");
  const cleaned = cleanPath(rel);
  if (rel === "" || cleaned === ".." || cleaned.startsWith("../")) {
    throw fail("layer paths must stay within context directory");
  }
  if (cleaned === ".") return rootReal;
  let current = rootReal;
  const parts = cleaned.split("/");
  for (let i = 0; i < parts.length; i++) {
    const next = nodePath.join(current, parts[i]!);
    if (dirs?.has(next)) {
      current = next;
      continue;
    }
    const st = lstatOrUndefined(next);
    if (!st) {
      if (seen) seen.missing = true;
      return nodePath.join(next, ...parts.slice(i + 1));
    }
    if (st.isDirectory() && i < parts.length - 1) dirs?.add(next);
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = realpathSync(next);
      } catch {
        throw fail("paths must be within context directory"); // dangling or looping link
      }
      if (!isWithinDir(target, rootReal)) throw fail("paths must be within context directory");
      current = target;
    } else {
      current = next;
    }
  }
  return current;
}

/** Chunks at least this large are written on the thread pool while the next one is read and hashed. */
const ASYNC_WRITE_BYTES = 64 * 1024;

/** Writes every chunk to `fd`, one large write in flight while the next chunk is read; returns the byte count. */
async function writeChunks(fd: number, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let written = 0;
  let pending: Promise<void> | undefined;
  try {
    for await (const chunk of chunks) {
      if (pending) await pending;
      pending = undefined;
      if (chunk.length < ASYNC_WRITE_BYTES) {
        writeAllSync(fd, chunk);
      } else {
        pending = writeAllAt(fd, chunk, null);
        pending.catch(() => {}); // awaited above or below
      }
      written += chunk.length;
    }
    if (pending) await pending;
    pending = undefined;
  } finally {
    // Never let the caller close the file while a write is still running.
    if (pending) await pending.catch(() => {});
  }
  return written;
}

/**
 * kit's rules for a file to unpack whose path exists: leave it (`ignoreExisting`), replace a
 * regular file (`overwrite`), or fail.
 */
export function onExisting(st: Stats, o: { overwrite: boolean; ignoreExisting: boolean }, display: string): "skip" | "replace" {
  if (o.ignoreExisting) return "skip";
  if (!o.overwrite) {
    throw new KitError(`path '${display}' already exists`, {
      hint: "Use --overwrite to replace existing files, or --ignore-existing to keep them",
    });
  }
  if (!st.isFile()) throw new KitError(`path '${display}' already exists and is not a regular file`);
  return "replace";
}

/**
 * Extracts a tar stream into `targetDir` with kit's rules (docs/format.md#extraction): names must
 * stay inside the target (also through existing symlinks), only directories and regular files are
 * accepted, directories and new files get the header's permission bits (umask applies; existing
 * files keep theirs; never setuid, setgid or sticky), `ignoreExisting` skips existing files,
 * otherwise they are an error unless `overwrite` is set.
 */
export async function extractTar(
  stream: ReadableStream<Uint8Array>,
  targetDir: string,
  opts: ExtractOptions,
): Promise<ExtractResult> {
  const result: ExtractResult = { files: 0, dirs: 0, skipped: 0, bytes: 0 };
  mkdirSync(targetDir, { recursive: true });
  const rootReal = realpathSync(targetDir);
  /** Directories of the target known to be real ones (created or seen during this extraction). */
  const dirs = new Set<string>();
  /** Directories this extraction created, outermost first (removed again if it fails). */
  const created: string[] = [];
  /** `mkdir -p` of `dir`, remembering it and its parents up to the root. */
  const makeDir = (dir: string, mode: number) => {
    if (dirs.has(dir)) return;
    const first = mkdirSync(dir, { recursive: true, mode });
    if (first !== undefined) {
      const chain: string[] = [];
      for (let d = dir; d.length >= first.length; d = nodePath.dirname(d)) chain.push(d);
      created.push(...chain.reverse()); // a parent always before its children
    }
    for (let d = dir; d !== rootReal && d.startsWith(rootReal) && !dirs.has(d); d = nodePath.dirname(d)) dirs.add(d);
  };
  const subdir = opts.subdir ?? "";
  // Files are written under temporary names and only renamed into place once the whole stream has
  // been read, and so digest-verified: a corrupted or truncated layer leaves no file behind.
  const pending: Array<{ tmp: string; dest: string; display: string; existed: boolean; bytes: number }> = [];
  let complete = false;
  try {
  for await (const entry of readTar(stream, { signal: opts.signal, release: opts.release })) {
    const rel = subdir === "" ? entry.name : joinPath(subdir, entry.name);
    const display = subdir === "" ? entry.name : rel;
    /** Set when a part of the path, and so the path itself, did not exist just now. */
    const seen = { missing: false };
    const dest = resolveEntryPath(rel, display, rootReal, dirs, seen);
    if (entry.type === "dir") {
      if (!dirs.has(dest)) {
        const st = seen.missing ? undefined : statOrUndefined(dest);
        if (st && !st.isDirectory()) throw new KitError(`path '${display}' already exists and is not a directory`);
        if (st) dirs.add(dest);
        else {
          opts.logger?.debug(`Creating directory ${display}`);
          makeDir(dest, entry.mode & EXTRACT_MODE_MASK);
        }
      }
      result.dirs++;
      continue;
    }
    if (entry.type !== "file") throw new KitError(`unrecognized type in archive: ${entry.name}`);

    const existing = seen.missing ? undefined : statOrUndefined(dest);
    if (existing && onExisting(existing, opts, display) === "skip") {
      opts.logger?.debug(`Skipping existing file ${display}`);
      result.skipped++;
      continue; // the reader skips the data
    }
    opts.logger?.debug(`Unpacking file ${display}`);
    const dir = nodePath.dirname(dest);
    makeDir(dir, 0o755);
    const tmp = nodePath.join(dir, ownedTempName(nodePath.basename(dest)));
    const fd = openSync(tmp, "wx", entry.mode & EXTRACT_MODE_MASK);
    let closed = false;
    let committed = false;
    try {
      let written: number;
      try {
        written = await writeChunks(fd, entry.chunks());
      } catch (e) {
        // The layer's own failures keep their type (a cut or corrupt stream, damaged bytes, a cancel).
        if (e instanceof CancelledError || e instanceof IntegrityError) throw e;
        if (e instanceof CorruptDataError) throw new CorruptDataError(`could not unpack file ${display}: ${e.message}`, { cause: e, hint: e.hint });
        const k = asKitError(e);
        throw new KitError(`could not unpack file ${display}: ${(k as Error).message}`, { cause: e, hint: k instanceof KitError ? k.hint : undefined });
      }
      if (written !== entry.size) throw new KitError(`could not unpack file ${display}`);
      if (existing) fchmodSync(fd, existing.mode & EXTRACT_MODE_MASK);
      closed = true;
      closeSync(fd);
      pending.push({ tmp, dest, display, existed: existing !== undefined, bytes: written });
      committed = true;
      result.files++;
      result.bytes += written;
    } finally {
      if (!committed) {
        if (!closed) {
          try {
            closeSync(fd);
          } catch {
            // already failing; the file is removed below
          }
        }
        try {
          unlinkSync(tmp);
        } catch {
          // best effort: the temporary file may not exist
        }
      }
    }
  }
  if (opts.before) {
    await opts.before;
    // Files another layer put in place meanwhile: the same rules as for files found at the start,
    // all checked before any file of this archive is put in place.
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!;
      if (p.existed) continue;
      const st = statOrUndefined(p.dest);
      if (st && onExisting(st, opts, p.display) === "skip") {
        opts.logger?.debug(`Skipping existing file ${p.display}`);
        unlinkSync(p.tmp);
        pending.splice(i--, 1);
        result.files--;
        result.bytes -= p.bytes;
        result.skipped++;
      }
    }
  }
  for (const p of pending) {
    renameSync(p.tmp, p.dest);
    opts.onFile?.(p.display);
  }
  complete = true;
  } finally {
    if (!complete) {
      for (const p of pending) {
        try {
          unlinkSync(p.tmp);
        } catch {
          // best effort
        }
      }
      // The directories it made, deepest first, where nothing else (another layer) put anything.
      for (let i = created.length - 1; i >= 0; i--) {
        try {
          rmdirSync(created[i]!);
        } catch {
          // not empty, or gone: left as it is
        }
      }
    }
  }
  return result;
}

/**
 * Exposed for callers that verify a Kitfile-declared path the same way (legacy layers,
 * docs/format.md#pairing).
 */
export async function verifySubpath(targetDir: string, rel: string): Promise<string> {
  return resolveEntryPath(rel, rel, realpathSync(targetDir));
}
