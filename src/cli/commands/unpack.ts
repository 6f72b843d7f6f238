import path from "node:path";
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { invalidArguments, openStorage, parseKitArg, remoteOpener, s3Opener, withProgress } from "../session.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { signatureCheck, verifyKeyFlags } from "../signing.ts";
import { FILTER_TYPES, parseFilters } from "../../modelkit/layer-filter.ts";
import { kitLocationToString } from "../../oci/location.ts";
import { openKit } from "../../modelkit/locate.ts";
import { unpackModelKit } from "../../modelkit/unpack.ts";
import { AGENT_NAMES, resolveAgents, unpackRefAsSkills } from "../../modelkit/agent-skills.ts";

export const unpackCommand = defineCommand({
  name: "unpack",
  use: "unpack [flags] MODELKIT",
  short: "Produce the components from a ModelKit on the local filesystem",
  ...HELP.unpack,
  args: { min: 1, max: 1 },
  argCompletion: "modelkit",
  flags: {
    dir: { type: "string", short: "d", help: "The target directory to unpack components into. This directory will be created if it does not exist" },
    overwrite: { type: "bool", short: "o", help: "Overwrites existing files and directories in the target unpack directory without prompting" },
    "ignore-existing": { type: "bool", short: "i", help: "Ignore existing files and directories in the target unpack directory without prompting" },
    filter: { type: "stringArray", short: "f", values: FILTER_TYPES, help: "Filter what is unpacked from the modelkit based on type and name. Can be specified multiple times" },
    kitfile: { type: "bool", help: "Unpack only Kitfile", deprecated: "use --filter=kitfile instead" },
    model: { type: "bool", help: "Unpack only model", deprecated: "use --filter=model instead" },
    code: { type: "bool", help: "Unpack only code", deprecated: "use --filter=code instead" },
    datasets: { type: "bool", help: "Unpack only datasets", deprecated: "use --filter=datasets instead" },
    docs: { type: "bool", help: "Unpack only docs", deprecated: "use --filter=docs instead" },
    "as-skill": { type: "string", optionalValue: "", values: AGENT_NAMES, help: "Install the ModelKit's SKILL.md prompt layers as skills for coding agents (optionally, comma-separated agents; by default the agents found on this machine). With -d, into that project directory; otherwise for your user" },
    "include-remote": { type: "bool", help: "Include remote datasets (S3 objects, or the datasets of a referenced ModelKit) when unpacking" },
    ...networkFlags,
    ...verifyKeyFlags,
  },
  async run(ctx, args, flags) {
    const loc = parseKitArg(ctx, args[0]!, "failed to parse reference", "can not unpack multiple tags");
    const filters = await invalidArguments(() => parseFilters(flags.filter, flags));
    const net = networkOptions(flags, ctx.cwd);
    ctx.log.debug(`Overwrite: ${flags.overwrite}`);
    ctx.log.debug(`Unpacking ${kitLocationToString(loc)}`);
    const dir = path.resolve(ctx.cwd, flags.dir || ".");
    const asSkill = flags.changed.has("as-skill");
    const agents = asSkill ? await resolveAgents(flags["as-skill"], ctx.env, ctx.log) : [];
    if (!asSkill) ctx.log.info(`Unpacking to ${dir}`);
    await withProgress(ctx, "Unpacked", "Failed to unpack", async (ui) => {
      const verify = signatureCheck(ctx, flags["verify-key"], ui.log);
      const { ref, locate } = await openKit(loc, { storage: () => openStorage(ctx), remote: remoteOpener(ctx, net, ui.log), signal: ctx.signal });
      const common = { filters, overwrite: flags.overwrite, ignoreExisting: flags["ignore-existing"], logger: ui.log, signal: ctx.signal, verify };
      if (asSkill) {
        // Only the SKILL.md prompt layers, into the agents' skill directories (a project's with -d).
        await unpackRefAsSkills(ref, locate, { ...common, agents, projectDir: flags.changed.has("dir") ? dir : undefined, env: ctx.env });
      } else {
        const remote = { include: flags["include-remote"], s3: s3Opener(ctx, ui.log), locate, verify };
        await unpackModelKit(ref, locate, { ...common, dir, progress: ui.progress, remote });
      }
    });
  },
});
