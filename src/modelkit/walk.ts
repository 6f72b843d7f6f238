/**
 * Collects the entries of one layer in the exact order kit writes them (docs/format.md#layer-contents,
 * docs/format.md#tar): the ancestor directories of the layer path, the path itself, then its tree in
 * depth-first, byte-wise sorted order. Fixes over kit (see docs/compatibility.md): names that
 * contain `..` are packed; symlinks inside the context are packed as what they point to;
 * symlinks leading outside the context and layer paths outside it are errors; a failing walk
 * reports its real error.
 * @module
 */
import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { KitError } from "../util/errors.ts";
import { isWithinDir } from "../util/fs.ts";
import { compareGoStrings } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";
import { throwIfAborted } from "../util/pool.ts";

export interface WalkEntry {
  /** Path inside the tar: relative to the context, `/`-separated, no `./`, no trailing `/`. */
  name: string;
  type: "dir" | "file";
  /** Permission bits plus setuid/setgid/sticky. */
  mode: number;
  size: number;
  /** Absolute path of the bytes to read (a symlink's target for linked files). */
  source: string;
  /** Identity used by the layer cache: a change to any of these means the content may have changed. */
  dev: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface WalkOptions {
  /** Absolute context directory. */
  context: string;
  /** The layer path after cleaning (`.` for the whole context). */
  layerPath: string;
  /** True when an entry (relative, `/`-separated) must not go into this layer. */
  excluded: (relPath: string) => boolean;
  /** When the ignore rules re-include paths, ignored directories are still descended into. */
  descendIgnoredDirs: boolean;
  logger: Logger;
  signal?: AbortSignal;
}

const modeBits = (st: Stats) => st.mode & 0o7777;

export async function walkLayer(opts: WalkOptions): Promise<WalkEntry[]> {
  const { context, layerPath, logger } = opts;
  const ctxReal = realpathSync(context);
  const out: WalkEntry[] = [];
  const visiting = new Set<string>();

  /** Follows a symlink inside the context; refuses one that leads outside. */
  const follow = async (rel: string, abs: string): Promise<{ st: Stats; real: string } | undefined> => {
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      logger.warn(`Skipping broken symlink ${rel}`);
      return undefined;
    }
    if (!isWithinDir(real, ctxReal)) {
      throw new KitError(`Symlink ${rel} points outside the context directory (to ${real})`, {
        hint: "Copy the files into the context (for example with cp -L) or pack from a directory that contains the link targets",
      });
    }
    return { st: statSync(real), real };
  };

  const entryFor = (name: string, st: Stats, source: string): WalkEntry => ({
    name,
    type: st.isDirectory() ? "dir" : "file",
    mode: modeBits(st),
    size: st.isDirectory() ? 0 : st.size,
    source,
    dev: st.dev,
    ino: st.ino,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
  });

  const descend = async (rel: string, absDir: string): Promise<void> => {
    throwIfAborted(opts.signal);
    const realDir = realpathSync(absDir);
    if (visiting.has(realDir)) throw new KitError(`Symlink loop at ${rel}: the directory contains itself`);
    visiting.add(realDir);
    const names = readdirSync(absDir).sort(compareGoStrings);
    for (const n of names) {
      const childRel = rel === "." ? n : `${rel}/${n}`;
      const childAbs = path.join(absDir, n);
      let st = lstatSync(childAbs);
      let source = childAbs;
      if (st.isSymbolicLink()) {
        const t = await follow(childRel, childAbs);
        if (!t) continue;
        st = t.st;
        source = t.real;
      }
      if (!st.isFile() && !st.isDirectory()) {
        logger.debug(`Skipping ${childRel}: not a regular file or directory`);
        continue;
      }
      const ignored = opts.excluded(childRel);
      if (ignored) {
        if (st.isDirectory() && opts.descendIgnoredDirs) await descend(childRel, source);
        continue;
      }
      out.push(entryFor(childRel, st, source));
      if (st.isDirectory()) await descend(childRel, source);
    }
    visiting.delete(realDir);
  };

  if (layerPath === ".") {
    await descend(".", context);
    return out;
  }

  // The layer path and each of its ancestors, from the top down.
  const segs = layerPath.split("/");
  for (let i = 1; i <= segs.length; i++) {
    const rel = segs.slice(0, i).join("/");
    const abs = path.join(context, ...segs.slice(0, i));
    let st: Stats;
    try {
      st = lstatSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new KitError(`path ${layerPath} does not exist`);
      throw e;
    }
    let source = abs;
    if (st.isSymbolicLink()) {
      const t = await follow(rel, abs);
      if (!t) throw new KitError(`path ${layerPath} does not exist`);
      st = t.st;
      source = t.real;
    }
    const last = i === segs.length;
    if (!last && !st.isDirectory()) throw new KitError(`path ${layerPath} does not exist`);
    if (last && !st.isFile() && !st.isDirectory()) throw new KitError(`path ${layerPath} is neither a file nor a directory`);
    if (opts.excluded(rel)) {
      if (st.isDirectory() && opts.descendIgnoredDirs) {
        if (last) await descend(rel, source);
        continue;
      }
      return out;
    }
    out.push(entryFor(rel, st, source));
    if (last && st.isDirectory()) await descend(rel, source);
  }
  return out;
}
