/**
 * `kit verify-attestation`: checks the attestations stored for a ModelKit's digest.
 * @module
 */
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { findModelKit, readPublicKeys, signingNetworkFlags, signingNetworkOptions } from "../signing.ts";
import { predicateTypeFor } from "../../sign/dsse.ts";
import { verifyAttestations } from "../../sign/verify.ts";
import { KitError } from "../../util/errors.ts";

export const verifyAttestationCommand = defineCommand({
  name: "verify-attestation",
  use: "verify-attestation [flags] MODELKIT",
  short: "Verify a ModelKit's attestations with a public key",
  ...HELP.verifyAttestation,
  args: { min: 1, max: 1 },
  flags: {
    key: { type: "stringArray", help: "Path to a public key (cosign.pub); repeatable, any one may verify" },
    type: { type: "string", help: "Only attestations of this predicate type (a name such as slsaprovenance1, or a URI)" },
    "output-predicates": { type: "bool", help: "Print the verified in-toto statements as JSON lines instead of a summary" },
    ...signingNetworkFlags,
  },
  async run(ctx, args, flags) {
    if (flags.key.length === 0) throw new KitError("a public key is required: --key cosign.pub");
    if (flags.type) predicateTypeFor(flags.type);
    const net = signingNetworkOptions(flags, ctx.cwd);
    const keys = await readPublicKeys(ctx, flags.key);
    const kit = await findModelKit(ctx, args[0]!, net, ctx.log, false);
    const verified = await verifyAttestations(kit.target, kit.desc, keys, kit.identity, { type: flags.type || undefined, signal: ctx.signal });
    if (flags["output-predicates"]) {
      for (const v of verified) ctx.log.print(new TextDecoder().decode(v.payload) + "\n");
      return;
    }
    ctx.log.info(`Verified attestations of ${kit.name} (${kit.desc.digest}) in ${kit.where}:`);
    for (const v of verified) ctx.log.info(`  ${v.predicateType}, signed by ${v.key.name} (${v.key.fingerprint})`);
  },
});
