import { defineCommand } from "../command.ts";
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
  long: `Download a repository from Hugging Face (or any git repository) and package it as a
ModelKit.

The repository is given as org/name, as a URL (https://huggingface.co/org/name, also
datasets/org/name), or as a git URL or path. A Kitfile is generated from the repository's
files with the same rules as 'kit init' (or given with --file). On a terminal, kit offers to
edit it before packing, using the editor in the EDITOR environment variable. Only the files
the Kitfile packs are downloaded.

Hugging Face downloads run in parallel (--concurrency), continue where they stopped after a
broken connection or an interrupted run, and are checked against the sizes and sha256
digests of the repository listing; a mismatch stops the import before anything is tagged.
The token (--token, or the HF_TOKEN environment variable) is sent only to the Hub itself,
never to the servers its downloads redirect to. HF_ENDPOINT sets another Hub address
(a mirror or proxy), as for Hugging Face's own tools.

The download tool is chosen with --tool:

  --tool=hf  : the Hugging Face API. REPOSITORY must be a Hugging Face repository. The
               default for Hugging Face repositories.
  --tool=git : a shallow clone with git (and git-lfs when the repository uses it). Works
               for any git repository; needs git installed.

--attestation-output writes an in-toto statement with SLSA provenance (source, ref,
commit, every imported file's sha256; the ModelKit's digest as the subject).`,
  example: `  # Import myorg/myrepo, tagged myorg/myrepo:latest
  kit import myorg/myrepo

  # Import another branch, tag or commit and choose the tag
  kit import myorg/myrepo --ref v1.0.0 --tag myrepository:v1

  # A private repository, with provenance written next to it
  HF_TOKEN=hf_... kit import myorg/private --attestation-output provenance.json

  # Pack with an existing Kitfile, or import any git repository
  kit import myorg/myrepo --file ./path/to/Kitfile
  kit import https://git.example.com/team/model.git --tag team/model:latest`,
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
