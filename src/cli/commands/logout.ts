import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { credentialStore } from "../../registry/remote.ts";

export const logoutCommand = defineCommand({
  name: "logout",
  use: "logout [flags] REGISTRY",
  short: "Log out from an OCI registry",
  ...HELP.logout,
  args: { min: 1, max: 1 },
  flags: {},
  async run(ctx, args) {
    const registry = args[0]!;
    await credentialStore(ctx).delete(registry);
    ctx.log.info(`Successfully logged out from ${registry}`);
  },
});
