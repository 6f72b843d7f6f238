import { mkdir, rm, writeFile } from "node:fs/promises";
import { defineCommand } from "../command.ts";
import { buildInfo } from "../../util/build-info.ts";
import { runtimeName, runtimeVersion } from "../../runtime/runtime.ts";
import { homePaths } from "../../util/paths.ts";

export const versionCommand = defineCommand({
  name: "version",
  use: "version",
  short: "Display the version information for the CLI",
  long: "The version command prints detailed version information.\n\nThis information includes the current version of the tool, the Git commit that the version was built from, the build time, and the runtime it runs on.",
  args: { min: 0, max: 0 },
  flags: {
    "show-update-notifications": {
      type: "bool",
      help: "Enable or disable update notifications for the Kit CLI (kit never checks for updates by itself; the setting is kept for compatibility with KitOps kit)",
    },
  },
  async run(ctx, _args, flags) {
    if (flags.changed.has("show-update-notifications")) {
      const file = homePaths(ctx.home).disableUpdateNotifications;
      if (flags["show-update-notifications"]) {
        await rm(file, { force: true });
      } else {
        await mkdir(ctx.home, { recursive: true });
        await writeFile(file, "");
      }
      return;
    }
    ctx.log.info(`Version: ${buildInfo.version}`);
    ctx.log.info(`Commit: ${buildInfo.commit}`);
    ctx.log.info(`Built: ${buildInfo.built}`);
    ctx.log.info(`Runtime: ${runtimeName} ${runtimeVersion()}`);
  },
});
