import { defineCommand } from "../command.ts";
import { cacheContents, clearCache } from "../../modelkit/cache.ts";
import { homePaths } from "../../util/paths.ts";
import { formatBytes } from "../../util/log.ts";

const info = defineCommand({
  name: "info",
  use: "info",
  short: "Show the size and contents of the cache",
  long: "Show the total size of kit's cache directory and the size of each entry in it.",
  args: { min: 0, max: 0 },
  flags: {},
  async run(ctx) {
    const rows = await cacheContents(homePaths(ctx.home).cache);
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
    await clearCache(homePaths(ctx.home).cache, ctx.log);
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
