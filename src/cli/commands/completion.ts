import { defineCommand, type Command } from "../command.ts";
import { bashCompletion, fishCompletion, zshCompletion } from "../completion.ts";
import { globalFlags } from "../globals.ts";

/** `kit completion <shell>`; built per root so it sees every registered command. */
export function completionCommand(root: () => Command): Command {
  const shell = (name: string, gen: typeof bashCompletion, how: string) =>
    defineCommand({
      name,
      use: name,
      short: `Generate the autocompletion script for ${name}`,
      long: `Generate the autocompletion script for the ${name} shell.\n\n${how}`,
      args: { min: 0, max: 0 },
      flags: {},
      async run(ctx) {
        ctx.log.print(gen(root(), globalFlags));
      },
    });
  return defineCommand({
    name: "completion",
    use: "completion",
    short: "Generate the autocompletion script for the specified shell",
    long: "Generate the autocompletion script for kit for the specified shell.\nSee each sub-command's help for details on how to use the generated script.",
    flags: {},
    subcommands: [
      shell("bash", bashCompletion, "To load completions in your current shell session:\n\n\tsource <(kit completion bash)"),
      shell("fish", fishCompletion, "To load completions in your current shell session:\n\n\tkit completion fish | source"),
      shell("zsh", zshCompletion, "To load completions in your current shell session:\n\n\tsource <(kit completion zsh)"),
    ],
  });
}
