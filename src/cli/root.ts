/**
 * The `kit` command tree. Each command lives in its own file under `commands/`.
 * @module
 */
import { defineCommand, type Command } from "./command.ts";
import { cacheCommand } from "./commands/cache.ts";
import { completionCommand } from "./commands/completion.ts";
import { versionCommand } from "./commands/version.ts";
import { devCommand } from "./commands/dev.ts";
import { initCommand } from "./commands/init.ts";
import { packCommand } from "./commands/pack.ts";
import { unpackCommand } from "./commands/unpack.ts";
import { pushCommand } from "./commands/push.ts";
import { pullCommand } from "./commands/pull.ts";
import { loginCommand } from "./commands/login.ts";
import { logoutCommand } from "./commands/logout.ts";
import { tagCommand } from "./commands/tag.ts";
import { listCommand } from "./commands/list.ts";
import { inspectCommand } from "./commands/inspect.ts";
import { infoCommand } from "./commands/info.ts";
import { removeCommand } from "./commands/remove.ts";
import { diffCommand } from "./commands/diff.ts";
import { importCommand } from "./commands/import.ts";
import { fsckCommand } from "./commands/fsck.ts";
import { keyCommand } from "./commands/key.ts";
import { signCommand } from "./commands/sign.ts";
import { verifyCommand } from "./commands/verify.ts";
import { attestCommand } from "./commands/attest.ts";
import { verifyAttestationCommand } from "./commands/verify-attestation.ts";
import { helpCommand } from "./commands/help.ts";
import { skillCommand } from "./commands/skill.ts";

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
    packCommand,
    unpackCommand,
    pushCommand,
    pullCommand,
    tagCommand,
    listCommand,
    inspectCommand,
    infoCommand,
    removeCommand,
    loginCommand,
    logoutCommand,
    diffCommand,
    fsckCommand,
    signCommand,
    verifyCommand,
    attestCommand,
    verifyAttestationCommand,
    keyCommand,
    initCommand,
    skillCommand,
    importCommand,
    versionCommand,
    devCommand,
    cacheCommand,
    helpCommand,
    completionCommand(() => rootCommand),
  ],
});
