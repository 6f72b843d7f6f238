/**
 * `kit verify`: checks every signature stored for a ModelKit's digest against public keys.
 * @module
 */
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { findModelKit, parseAnnotations, readPublicKeys, signingNetworkFlags, signingNetworkOptions } from "../signing.ts";
import { verifyModelKit } from "../../sign/verify.ts";
import { KitError } from "../../util/errors.ts";

export const verifyCommand = defineCommand({
  name: "verify",
  use: "verify [flags] MODELKIT",
  short: "Verify a ModelKit's signatures with a public key",
  ...HELP.verify,
  args: { min: 1, max: 1 },
  flags: {
    key: { type: "stringArray", help: "Path to a public key (cosign.pub); repeatable, any one may verify" },
    annotations: { type: "stringArray", short: "a", help: "key=value pairs the signed payload must carry; repeatable" },
    ...signingNetworkFlags,
  },
  async run(ctx, args, flags) {
    if (flags.key.length === 0) throw new KitError("a public key is required: --key cosign.pub");
    const net = signingNetworkOptions(flags, ctx.cwd);
    const annotations = parseAnnotations(flags.annotations);
    const keys = await readPublicKeys(ctx, flags.key);
    const kit = await findModelKit(ctx, args[0]!, net, ctx.log, false);
    const verified = await verifyModelKit(kit.target, kit.desc, keys, kit.identity, { annotations, signal: ctx.signal });
    ctx.log.info(`Verified ${kit.name} (${kit.desc.digest}) in ${kit.where}:`);
    for (const v of verified) {
      const extra = Object.entries(v.annotations).map(([k, x]) => `${k}=${typeof x === "string" ? x : JSON.stringify(x)}`);
      ctx.log.info(`  signed for ${v.identity} by ${v.key.name} (${v.key.fingerprint})${extra.length ? `, annotations ${extra.join(" ")}` : ""}`);
    }
  },
});
