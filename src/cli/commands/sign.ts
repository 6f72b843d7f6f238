/**
 * `kit sign`: signs a ModelKit's manifest digest with a cosign key and stores the signature as
 * cosign does (`sha256-<hex>.sig` next to the manifest), in local storage or in the registry.
 * @module
 */
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { findModelKit, parseAnnotations, readSigningKey, signingNetworkFlags, signingNetworkOptions, writeFound } from "../signing.ts";
import { signModelKit } from "../../sign/sign.ts";
import { KitError } from "../../util/errors.ts";

export const signCommand = defineCommand({
  name: "sign",
  use: "sign [flags] MODELKIT",
  short: "Sign a ModelKit with a private key",
  ...HELP.sign,
  args: { min: 1, max: 1 },
  flags: {
    key: { type: "string", help: "Path to the private key (cosign.key)" },
    annotations: { type: "stringArray", short: "a", help: "Extra key=value pairs in the signed payload; repeatable" },
    ...signingNetworkFlags,
  },
  async run(ctx, args, flags) {
    if (!flags.key) throw new KitError("a private key is required: --key cosign.key", { hint: "Create one with: kit key generate" });
    const net = signingNetworkOptions(flags, ctx.cwd);
    const annotations = parseAnnotations(flags.annotations);
    const key = await readSigningKey(ctx, flags.key);
    const kit = await findModelKit(ctx, args[0]!, net, ctx.log, true);
    const r = await writeFound(kit, (target) => signModelKit(target, kit.desc, kit.identity, key, { annotations, signal: ctx.signal }));
    const what = `${kit.name} (${kit.desc.digest})`;
    if (r.added) ctx.log.info(`Signed ${what} in ${kit.where}: signature stored under ${r.tag}`);
    else ctx.log.info(`${what} is already signed with this key in ${kit.where} (${r.tag})`);
  },
});
