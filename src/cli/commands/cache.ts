import { lstat, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { defineCommand } from "../command.ts";
import { homePaths } from "../../util/paths.ts";
import { formatBytes } from "../../util/log.ts";

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

const info = defineCommand({
  name: "info",
  use: "info",
  short: "Show the size and contents of the cache",
  long: "Show the total size of kit's cache directory and the size of each entry in it.",
  args: { min: 0, max: 0 },
  flags: {},
  async run(ctx) {
    const dir = homePaths(ctx.home).cache;
    const rows: Array<[string, number]> = [];
    for (const name of await entries(dir)) rows.push([name, await sizeOf(path.join(dir, name))]);
    const total = rows.reduce((a, [, n]) => a + n, 0);
    if (total === 0) {
      ctx.log.info("Cache is currently empty");
      return;
    }
    ctx.log.info(`Total size of cache directory: ${formatBytes(total)}`);
    ctx.log.info("Cache contents:");
    const cells = rows.map(([name]) => `  ./${name}`);
    const width = Math.max(...cells.map((c) => c.length)) + 4;
    ctx.log.info(rows.map(([, n], i) => cells[i]!.padEnd(width) + formatBytes(n)).join("\n"));
  },
});

const clear = defineCommand({
  name: "clear",
  use: "clear",
  short: "Remove everything in the cache",
  long: "Remove every file and directory in kit's cache directory. Stored ModelKits are not affected.",
  args: { min: 0, max: 0 },
  flags: {},
  async run(ctx) {
    const dir = homePaths(ctx.home).cache;
    for (const name of await entries(dir)) {
      await rm(path.join(dir, name), { recursive: true, force: true }).catch((e) => {
        ctx.log.debug(`Could not remove ${name} from the cache: ${(e as Error).message}`);
      });
    }
  },
});

export const cacheCommand = defineCommand({
  name: "cache",
  use: "cache",
  short: "Manage kit's temporary files",
  long: "Inspect and clear the cache directory kit uses for temporary files (under the kit home).",
  flags: {},
  subcommands: [info, clear],
});
