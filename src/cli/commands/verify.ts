/**
 * `kit verify`: checks every signature stored for a ModelKit's digest against public keys.
 * @module
 */
import { defineCommand } from "../command.ts";
import { findModelKit, parseAnnotations, readPublicKeys, signingNetworkFlags, signingNetworkOptions } from "../signing.ts";
import { verifyModelKit } from "../../sign/verify.ts";
import { KitError } from "../../util/errors.ts";

export const verifyCommand = defineCommand({
  name: "verify",
  use: "verify [flags] MODELKIT",
  short: "Verify a ModelKit's signatures with a public key",
  long: `Verify the signatures of a ModelKit (cosign's format) with one or more public keys.

Every signature stored for the ModelKit's digest is checked: it must verify with one of the
keys, sign exactly this manifest digest, and name this repository. The command prints the
signatures that verified, and fails with the reason when none does (unsigned, another key, a
payload for another digest or repository, a changed payload or signature). The ModelKit is read
from local storage when it is there, otherwise from its registry, or from the OCI layout
(oci:DIR[:TAG], oci-archive:FILE[:TAG]) the argument names, where the repository is the one the
layout recorded for it. No transparency log is consulted, so verification works offline.`,
  example: `  kit verify registry.example.com/org/model:v1 --key cosign.pub

  # Require an annotation in the signed payload
  kit verify registry.example.com/org/model:v1 --key cosign.pub -a stage=prod`,
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
