/**
 * Directory listing for `kit init` (docs/format.md#init): recursive, entries of each directory in bytewise
 * name order (Go's os.ReadDir), regular files and directories only. Paths are relative to the
 * listed root and always use `/` (kit keeps OS separators for directories on Windows; we don't).
 *
 * Project policy over kit: hidden entries (any name starting with `.`, which covers `.git/`,
 * `.DS_Store`, `.kitignore`, `.kitfile`) and OS junk files (`Thumbs.db`, `desktop.ini`, …) are
 * skipped. Symlinks are ignored as kit does (reported at debug level).
 * @module
 */

import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { KitError, errorMessage } from "../util/errors.ts";
import { compareGoStrings } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";

export interface FileListing {
  /** Base name. */
  name: string;
  /** Path relative to the listed root, `/`-separated. */
  path: string;
  size: number;
}

export interface DirectoryListing {
  /** Base name (`.` for the root). */
  name: string;
  /** Path relative to the listed root, `/`-separated (`.` for the root). */
  path: string;
  files: FileListing[];
  subdirs: DirectoryListing[];
}

/** OS-generated files that never belong in a ModelKit; compared case-insensitively. */
const OS_JUNK = new Set(["thumbs.db", "ehthumbs.db", "desktop.ini", "$recycle.bin"]);

/** True for names `kit init` skips entirely: dot-files, dot-directories and OS junk. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith(".") || OS_JUNK.has(name.toLowerCase());
}

/** Lists `root` recursively. Throws a KitError naming the directory when one cannot be read. */
export async function listDirectory(root: string, logger: Logger, signal?: AbortSignal): Promise<DirectoryListing> {
  return listAt(root, ".", ".", logger, signal);
}

async function listAt(
  root: string,
  rel: string,
  name: string,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<DirectoryListing> {
  signal?.throwIfAborted();
  const full = rel === "." ? root : join(root, rel);
  let entries;
  try {
    entries = await readdir(full, { withFileTypes: true });
  } catch (e) {
    throw new KitError(`failed to read directory ${full}: ${errorMessage(e)}`, { cause: e });
  }
  entries.sort((a, b) => compareGoStrings(a.name, b.name));
  const result: DirectoryListing = { name, path: rel, files: [], subdirs: [] };
  for (const entry of entries) {
    const childRel = rel === "." ? entry.name : `${rel}/${entry.name}`;
    if (isIgnoredName(entry.name)) {
      logger.trace(`Skipping hidden or OS-generated entry ${childRel}`);
      continue;
    }
    if (entry.isSymbolicLink()) {
      logger.debug(`Skipping symlink ${childRel}`);
    } else if (entry.isDirectory()) {
      result.subdirs.push(await listAt(root, childRel, entry.name, logger, signal));
    } else if (entry.isFile()) {
      let size: number;
      try {
        size = (await lstat(join(root, childRel))).size;
      } catch (e) {
        throw new KitError(`failed to stat file ${join(root, childRel)}: ${errorMessage(e)}`, { cause: e });
      }
      result.files.push({ name: entry.name, path: childRel, size });
    } else {
      logger.debug(`Skipping ${childRel}: not a regular file or directory`);
    }
  }
  return result;
}
