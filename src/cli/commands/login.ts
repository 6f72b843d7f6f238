import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { login } from "../../registry/login.ts";

export const loginCommand = defineCommand({
  name: "login",
  use: "login [flags] [REGISTRY]",
  short: "Log in to an OCI registry",
  ...HELP.login,
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
