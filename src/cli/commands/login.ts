import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { parseOrasReference } from "../../oci/reference.ts";
import type { Credential } from "../../registry/auth.ts";
import { credentialStore, pingRegistry, verifyCredential } from "../../registry/remote.ts";
import { CancelledError, KitError, errorMessage, hintIn } from "../../util/errors.ts";

/** Checks that `registry` is a bare `host[:port]` (oras `ValidateRegistry`). */
export function validateRegistry(registry: string): void {
  const invalid = () => new KitError(`invalid reference: invalid registry ${JSON.stringify(registry)}`);
  if (registry === "" || registry.includes("/")) throw invalid();
  try {
    parseOrasReference(`${registry}/x`);
  } catch {
    throw invalid();
  }
}

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
    const registry = args[0]!;
    const net = networkOptions(flags, ctx.cwd);
    validateRegistry(registry);
    let username = flags.username;
    let password = flags.password;
    // kit's argument checks, reported as `Invalid arguments: …`
    const invalid = (msg: string) => new KitError(`Invalid arguments: ${msg}`);
    if (password && username) ctx.log.info("Warning: Using --password via CLI is insecure. Consider using --password-stdin instead");
    if (flags["password-stdin"]) {
      if (password) throw invalid("cannot use both --password and --password-stdin");
      password = new TextDecoder().decode(await ctx.stdin.readAll()).trim();
      if (!password) throw invalid("failed to read password from stdin: got empty string");
    }
    const failed = (e: unknown) =>
      e instanceof CancelledError ? e : new KitError(`failed to validate the credentials for ${registry}: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
    if (!password) {
      if (!ctx.stdin.isTTY) throw invalid("attempting to read input from non-terminal");
      // A registry that cannot be reached (or needs --plain-http) is reported before any prompt.
      await pingRegistry(registry, net, remoteContext(ctx)).catch((e) => {
        throw failed(e);
      });
      if (!username) username = (await ctx.stdin.prompt("Username: ")).trim();
      password = await ctx.stdin.prompt("Password: ", true);
      if (!password) throw invalid("password is required");
    }
    if (username.includes(":")) throw new KitError("invalid username: it cannot contain ':'");
    const cred: Credential = username ? { username, password } : { refreshToken: password };
    try {
      await verifyCredential(registry, cred, net, remoteContext(ctx));
    } catch (e) {
      throw failed(e);
    }
    await credentialStore(ctx).put(registry, cred);
    ctx.log.info("Log in successful");
  },
});
