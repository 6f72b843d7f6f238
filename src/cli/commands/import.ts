import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { terminalReview } from "../editor.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage, parseTagArg, withProgress } from "../session.ts";
import { importRepository, kitfileChoice, planImport, writeAttestation } from "../../modelkit/import.ts";
import { createdTime } from "../../modelkit/pack-project.ts";
import { createTransport } from "../../registry/network-options.ts";

export const importCommand = defineCommand({
  name: "import",
  use: "import [flags] REPOSITORY",
  short: "Import a model from Hugging Face or a git repository",
  ...HELP.import,
  args: { min: 1, max: 1 },
  flags: {
    ref: { type: "string", default: "main", help: "Branch, tag or commit of the repository to import" },
    token: { type: "string", help: "Token to use for authenticating with the repository (default: $HF_TOKEN)" },
    tag: { type: "string", short: "t", help: "Tag for the ModelKit (default is '[repository]:latest')" },
    file: { type: "string", short: "f", help: "Path to Kitfile to use for packing (use '-' to read from standard input)" },
    tool: { type: "string", values: ["git", "hf"], help: "Tool to use for downloading files: options are 'git' and 'hf' (default: detect based on repository)" },
    depth: { type: "int", default: 0, help: "Levels of sub-directories to classify file by file when generating the Kitfile (negative for all)" },
    "attestation-output": { type: "string", help: "Write an in-toto provenance statement (SLSA v1) to this file ('-' for standard output)" },
    ...networkFlags,
  },
  async run(ctx, args, flags) {
    const started = new Date();
    const net = networkOptions(flags, ctx.cwd);
    const plan = planImport(args[0]!, { tool: flags.tool, ref: flags.ref, tag: flags.tag, token: flags.token, env: ctx.env, logger: ctx.log });
    if (plan.tagDefaulted) ctx.log.info(`Using tag ${plan.tagText}. Use flag --tag to override`);
    const { repo, tags } = parseTagArg(plan.tagText, `invalid argument: tag '${plan.tagText}' is invalid`, `invalid argument: tag '${plan.tagText}'`);
    const kitfile = kitfileChoice(flags.file, ctx.cwd, ctx.stdin);
    const storage = await openStorage(ctx);
    const output = flags["attestation-output"];
    const result = await withProgress(ctx, undefined, undefined, async (ui) => {
      const transport = await createTransport(net, { version: ctx.version, env: ctx.env, logger: remoteContext(ctx, ui.log).httpLogger });
      return importRepository({
        ...plan, kitfile, depth: flags.depth, concurrency: net.concurrency, home: ctx.home, storage, repo, tags, transport,
        env: ctx.env, cwd: ctx.cwd, cliVersion: ctx.version, created: createdTime(ctx.env), hashFiles: Boolean(output),
        review: ctx.stdin.isTTY ? terminalReview(ctx, ui.log, (r) => plan.resumeCommand(r)) : undefined,
        logger: ui.log, progress: ui.progress, signal: ctx.signal,
      });
    });
    if (output) await writeAttestation(result, { output, tagText: plan.tagText, cliVersion: ctx.version, started, cwd: ctx.cwd, print: (s) => ctx.log.print(s), logger: ctx.log });
  },
});
