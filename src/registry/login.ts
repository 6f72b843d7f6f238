/**
 * `kit login`: kit's argument checks, the password from stdin or the terminal (the registry is
 * asked first, so a wrong scheme is reported before any prompt), the credential checked against
 * the registry and stored only when it is accepted.
 * @module
 */
import { parseOrasReference } from "../oci/reference.ts";
import { CancelledError, KitError, errorMessage, hintIn } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { Credential } from "./auth.ts";
import type { NetworkOptions } from "./network-options.ts";
import { credentialStore, pingRegistry, type RemoteContext, verifyCredential } from "./remote.ts";

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

export interface LoginOptions {
  registry: string;
  username: string;
  password: string;
  passwordStdin: boolean;
  stdin: { isTTY: boolean; readAll(): Promise<Uint8Array>; prompt(question: string, secret?: boolean): Promise<string> };
  net: NetworkOptions;
  remote: RemoteContext;
  logger: Logger;
}

export async function login(o: LoginOptions): Promise<void> {
  const { registry, net } = o;
  validateRegistry(registry);
  let username = o.username;
  let password = o.password;
  // kit's argument checks, reported as `Invalid arguments: …`
  const invalid = (msg: string) => new KitError(`Invalid arguments: ${msg}`);
  if (password && username) o.logger.info("Warning: Using --password via CLI is insecure. Consider using --password-stdin instead");
  if (o.passwordStdin) {
    if (password) throw invalid("cannot use both --password and --password-stdin");
    password = new TextDecoder().decode(await o.stdin.readAll()).trim();
    if (!password) throw invalid("failed to read password from stdin: got empty string");
  }
  const failed = (e: unknown) =>
    e instanceof CancelledError ? e : new KitError(`failed to validate the credentials for ${registry}: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
  if (!password) {
    if (!o.stdin.isTTY) throw invalid("attempting to read input from non-terminal");
    // A registry that cannot be reached (or needs --plain-http) is reported before any prompt.
    await pingRegistry(registry, net, o.remote).catch((e) => {
      throw failed(e);
    });
    if (!username) username = (await o.stdin.prompt("Username: ")).trim();
    password = await o.stdin.prompt("Password: ", true);
    if (!password) throw invalid("password is required");
  }
  if (username.includes(":")) throw new KitError("invalid username: it cannot contain ':'");
  const cred: Credential = username ? { username, password } : { refreshToken: password };
  try {
    await verifyCredential(registry, cred, net, o.remote);
  } catch (e) {
    throw failed(e);
  }
  await credentialStore(o.remote).put(registry, cred);
  o.logger.info("Log in successful");
}
