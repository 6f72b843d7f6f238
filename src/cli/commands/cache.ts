import { defineCommand } from "../command.ts";
import { cacheReport, clearCache } from "../../modelkit/cache.ts";
import { homePaths } from "../../util/paths.ts";

const info = defineCommand({
  name: "info",
  use: "info",
  short: "Show the size and contents of the cache",
  long: "Show the total size of kit's cache directory and the size of each entry in it.",
  args: { min: 0, max: 0 },
  flags: {},
  async run(ctx) {
    for (const line of await cacheReport(homePaths(ctx.home).cache)) ctx.log.info(line);
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
