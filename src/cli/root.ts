/**
 * The `kit` command tree. Each command lives in its own file under `commands/`, imported when it
 * is used: the table knows each command's name and one-line description only (see
 * {@link lazyCommand}), so `kit version` and `kit --help` load no other command.
 * @module
 */
import { defineCommand, lazyCommand, type Command } from "./command.ts";
import { helpCommand } from "./commands/help.ts";

export const rootCommand: Command = defineCommand({
  name: "kit",
  use: "kit",
  short: "Streamline the management of AI/ML models",
  long: `Kit packages a model with its datasets, code, docs and prompts into a ModelKit: an OCI
artifact that any container registry stores. Describe the project in a Kitfile, then pack,
push, pull and unpack it like an image.

Find more information at: https://kitops.org`,
  flags: {
    version: { type: "bool", help: "version for kit" },
  },
  subcommands: [
    lazyCommand("pack", "Pack a ModelKit", async () => (await import("./commands/pack.ts")).packCommand),
    lazyCommand("unpack", "Produce the components from a ModelKit on the local filesystem", async () => (await import("./commands/unpack.ts")).unpackCommand),
    lazyCommand("push", "Upload a modelkit to a specified registry", async () => (await import("./commands/push.ts")).pushCommand),
    lazyCommand("pull", "Retrieve modelkits from a remote registry to your local environment", async () => (await import("./commands/pull.ts")).pullCommand),
    lazyCommand("tag", "Create a tag that refers to a modelkit", async () => (await import("./commands/tag.ts")).tagCommand),
    lazyCommand("list", "List modelkits in a repository", async () => (await import("./commands/list.ts")).listCommand),
    lazyCommand("inspect", "Inspect a modelkit's manifest", async () => (await import("./commands/inspect.ts")).inspectCommand),
    lazyCommand("info", "Show the configuration for a modelkit", async () => (await import("./commands/info.ts")).infoCommand),
    lazyCommand("remove", "Remove a modelkit from local storage or remote registry", async () => (await import("./commands/remove.ts")).removeCommand),
    lazyCommand("login", "Log in to an OCI registry", async () => (await import("./commands/login.ts")).loginCommand),
    lazyCommand("logout", "Log out from an OCI registry", async () => (await import("./commands/logout.ts")).logoutCommand),
    lazyCommand("diff", "Compare two ModelKits", async () => (await import("./commands/diff.ts")).diffCommand),
    lazyCommand("fsck", "Check local storage for damaged and unused content", async () => (await import("./commands/fsck.ts")).fsckCommand),
    lazyCommand("sign", "Sign a ModelKit with a private key", async () => (await import("./commands/sign.ts")).signCommand),
    lazyCommand("verify", "Verify a ModelKit's signatures with a public key", async () => (await import("./commands/verify.ts")).verifyCommand),
    lazyCommand("attest", "Attach a signed attestation to a ModelKit", async () => (await import("./commands/attest.ts")).attestCommand),
    lazyCommand("verify-attestation", "Verify a ModelKit's attestations with a public key", async () => (await import("./commands/verify-attestation.ts")).verifyAttestationCommand),
    lazyCommand("key", "Manage keys for signing ModelKits", async () => (await import("./commands/key.ts")).keyCommand),
    lazyCommand("init", "Generate a Kitfile for the contents of a directory", async () => (await import("./commands/init.ts")).initCommand),
    lazyCommand("skill", "Install the kit agent skill so AI agents can use the kit CLI", async () => (await import("./commands/skill.ts")).skillCommand),
    lazyCommand("import", "Import a model from Hugging Face or a git repository", async () => (await import("./commands/import.ts")).importCommand),
    lazyCommand("version", "Display the version information for the CLI", async () => (await import("./commands/version.ts")).versionCommand),
    lazyCommand("dev", "Run models locally (experimental)", async () => (await import("./commands/dev.ts")).devCommand),
    lazyCommand("cache", "Manage kit's temporary files", async () => (await import("./commands/cache.ts")).cacheCommand),
    helpCommand,
    lazyCommand("completion", "Generate the autocompletion script for the specified shell", async () => (await import("./commands/completion.ts")).completionCommand(() => rootCommand)),
  ],
});
