import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { remoteContext } from "../network-flags.ts";
import { initKitfile } from "../../init/init.ts";

export const initCommand = defineCommand({
  name: "init",
  use: "init [flags] PATH",
  short: "Generate a Kitfile for the contents of a directory",
  ...HELP.init,
  args: { min: 0, max: 1 },
  argCompletion: "dirs",
  validateArgs: (args, flags) => (flags.remote || args.length === 1 ? undefined : `accepts 1 arg(s), received ${args.length}`),
  flags: {
    name: { type: "string", help: "Name for the ModelKit" },
    desc: { type: "string", help: "Description for the ModelKit" },
    author: { type: "string", help: "Author for the ModelKit" },
    force: { type: "bool", short: "f", help: "Overwrite existing Kitfile if present" },
    output: { type: "string", short: "o", help: "Where to write the Kitfile ('-' for standard output; default PATH/Kitfile, standard output with --remote)" },
    depth: { type: "int", default: 0, help: "Levels of sub-directories to classify file by file (negative for all)" },
    remote: { type: "string", help: "Hugging Face repository (org/name or URL) to generate the Kitfile for, without downloading it" },
    ref: { type: "string", default: "main", help: "Branch, tag or commit of the --remote repository" },
    token: { type: "string", help: "Token for the --remote repository (default: $HF_TOKEN)" },
  },
  async run(ctx, args, flags) {
    const given = (k: "name" | "desc" | "author") => (flags.changed.has(k) ? flags[k] : undefined);
    const { yaml, target } = await initKitfile({
      cwd: ctx.cwd, dir: args[0], output: flags.output, force: flags.force, depth: flags.depth,
      name: given("name"), description: given("desc"), author: given("author"),
      ask: ctx.stdin.isTTY ? (q) => ctx.stdin.prompt(q) : undefined,
      remote: flags.remote, ref: flags.ref, token: flags.token,
      env: ctx.env, version: ctx.version, httpLogger: remoteContext(ctx).httpLogger, logger: ctx.log, signal: ctx.signal,
    });
    if (!target) return ctx.log.print(yaml);
    ctx.log.info(`Generated Kitfile:\n\n${yaml}`);
    ctx.log.info(`Saved to path '${target}'`);
  },
});
