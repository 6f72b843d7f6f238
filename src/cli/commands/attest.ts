/**
 * `kit attest`: attaches a signed in-toto statement (e.g. SLSA provenance) to a ModelKit, stored
 * as cosign stores attestations (`sha256-<hex>.att`).
 * @module
 */
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { findModelKit, readSigningKey, readSmallFile, signingNetworkFlags, signingNetworkOptions, writeFound } from "../signing.ts";
import { MAX_ATTACHMENT_BYTES } from "../../sign/attachments.ts";
import { PREDICATE_TYPES, predicateTypeFor } from "../../sign/dsse.ts";
import { attestModelKit } from "../../sign/sign.ts";
import { KitError } from "../../util/errors.ts";

export const attestCommand = defineCommand({
  name: "attest",
  use: "attest [flags] MODELKIT",
  short: "Attach a signed attestation to a ModelKit",
  ...HELP.attest(Object.keys(PREDICATE_TYPES).join(", ")),
  args: { min: 1, max: 1 },
  flags: {
    key: { type: "string", help: "Path to the private key (cosign.key)" },
    predicate: { type: "string", help: "Path to the predicate file" },
    type: { type: "string", default: "custom", help: "Predicate type: a name (slsaprovenance1, slsaprovenance, spdxjson, cyclonedx, link, vuln, custom) or a URI" },
    ...signingNetworkFlags,
  },
  async run(ctx, args, flags) {
    if (!flags.key) throw new KitError("a private key is required: --key cosign.key", { hint: "Create one with: kit key generate" });
    if (!flags.predicate) throw new KitError("a predicate is required: --predicate FILE");
    predicateTypeFor(flags.type);
    const net = signingNetworkOptions(flags, ctx.cwd);
    const predicate = await readSmallFile(ctx, flags.predicate, MAX_ATTACHMENT_BYTES / 2, "predicate");
    const key = await readSigningKey(ctx, flags.key);
    const kit = await findModelKit(ctx, args[0]!, net, ctx.log, true);
    const r = await writeFound(kit, (target) => attestModelKit(target, kit.desc, kit.identity, key, predicate, flags.type, { signal: ctx.signal }));
    ctx.log.info(`Attached ${r.predicateType} attestation to ${kit.name} (${kit.desc.digest}) in ${kit.where}, under ${r.tag}`);
  },
});
