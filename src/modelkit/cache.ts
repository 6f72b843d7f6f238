/**
 * kit's cache directory (`<home>/cache`, docs/format.md#cache): what `kit cache info` lists and
 * `kit cache clear` removes. Stored ModelKits are never here.
 * @module
 */
import { lstat, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { formatBytes, type Logger } from "../util/log.ts";

/** Recursive size as kit counts it: files plus directory entry sizes (docs/format.md#cache). */
async function sizeOf(p: string): Promise<number> {
  const st = await lstat(p);
  if (!st.isDirectory()) return st.size;
  let total = st.size;
  for (const e of await readdir(p)) total += await sizeOf(path.join(p, e));
  return total;
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** Each entry of the cache directory with its size, by name. */
export async function cacheContents(dir: string): Promise<Array<[string, number]>> {
  const rows: Array<[string, number]> = [];
  for (const name of await entries(dir)) rows.push([name, await sizeOf(path.join(dir, name))]);
  return rows;
}

/** `kit cache info`'s lines: the total, then each entry with its size (docs/format.md#cache). */
export async function cacheReport(dir: string): Promise<string[]> {
  const rows = await cacheContents(dir);
  const total = rows.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return ["Cache is currently empty"];
  const cells = rows.map(([name]) => `  ./${name}`);
  const width = Math.max(...cells.map((c) => c.length)) + 4;
  return [`Total size of cache directory: ${formatBytes(total)}`, "Cache contents:", rows.map(([, n], i) => cells[i]!.padEnd(width) + formatBytes(n)).join("\n")];
}

/** Removes every entry of the cache directory; an entry that cannot be removed is logged at debug level. */
export async function clearCache(dir: string, logger: Logger): Promise<void> {
  for (const name of await entries(dir)) {
    await rm(path.join(dir, name), { recursive: true, force: true }).catch((e) => {
      logger.debug(`Could not remove ${name} from the cache: ${(e as Error).message}`);
    });
  }
}
