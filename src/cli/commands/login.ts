import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { login } from "../../registry/login.ts";

export const loginCommand = defineCommand({
  name: "login",
  use: "login [flags] [REGISTRY]",
  short: "Log in to an OCI registry",
  long: `Log in to an OCI registry and store the credential in kit's credentials file.

The credential is checked against the registry before it is stored; a refused credential is not
stored. Without --password or --password-stdin, kit asks for the username and password on the
terminal. A password given without a username is stored as an identity (refresh) token.`,
  example: `  # Log in interactively
  kit login ghcr.io

  # Log in with a password from standard input (scripts, CI)
  echo "$TOKEN" | kit login ghcr.io -u myuser --password-stdin`,
  args: { min: 1, max: 1 },
  flags: {
    username: { type: "string", short: "u", help: "registry username" },
    password: { type: "string", short: "p", help: "registry password or token" },
    "password-stdin": { type: "bool", help: "read password from stdin" },
    ...networkFlags,
  },
  async run(ctx, args, flags) {
    await login({
      registry: args[0]!,
      username: flags.username,
      password: flags.password,
      passwordStdin: flags["password-stdin"],
      stdin: ctx.stdin,
      net: networkOptions(flags, ctx.cwd),
      remote: remoteContext(ctx),
      logger: ctx.log,
    });
  },
});
