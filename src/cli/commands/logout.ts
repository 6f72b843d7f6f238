import { defineCommand } from "../command.ts";
import { credentialStore } from "../../registry/remote.ts";

export const logoutCommand = defineCommand({
  name: "logout",
  use: "logout [flags] REGISTRY",
  short: "Log out from an OCI registry",
  long: `Remove the credential stored for a registry.

Only kit's own credentials file (or the credential helper it names) is changed; Docker's
configuration is never written. Logging out of a registry with no stored credential is not an error.`,
  example: `  # Log out from ghcr.io
  kit logout ghcr.io`,
  args: { min: 1, max: 1 },
  flags: {},
  async run(ctx, args) {
    const registry = args[0]!;
    await credentialStore(ctx).delete(registry);
    ctx.log.info(`Successfully logged out from ${registry}`);
  },
});
