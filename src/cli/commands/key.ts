/**
 * `kit key generate`: a cosign-compatible key pair for `kit sign` (`cosign.key`, encrypted with a
 * password, and `cosign.pub`). cosign's own `generate-key-pair` makes the same files; keys made by
 * either tool work with both.
 * @module
 */
import path from "node:path";
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { readPassword } from "../signing.ts";
import { writeKeyPair } from "../../sign/keys.ts";

const generate = defineCommand({
  name: "generate",
  use: "generate [flags]",
  short: "Generate a key pair for signing ModelKits",
  ...HELP.keyGenerate,
  args: { min: 0, max: 0 },
  flags: {
    "output-key-prefix": { type: "string", default: "cosign", help: "Path prefix of the two files (<prefix>.key and <prefix>.pub)" },
    overwrite: { type: "bool", help: "Replace existing key files" },
  },
  async run(ctx, _args, flags) {
    const files = await writeKeyPair(flags["output-key-prefix"] || "cosign", ctx.cwd, flags.overwrite, () => readPassword(ctx, true));
    ctx.log.info(`Private key written to ${path.relative(ctx.cwd, files.key) || files.key}`);
    ctx.log.info(`Public key written to ${path.relative(ctx.cwd, files.pub) || files.pub}`);
  },
});

export const keyCommand = defineCommand({
  name: "key",
  use: "key",
  short: "Manage keys for signing ModelKits",
  long: `Manage the key pairs kit sign, kit verify and kit attest use (cosign's key format).`,
  flags: {},
  subcommands: [generate],
});
