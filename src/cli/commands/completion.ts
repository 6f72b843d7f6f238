import { defineCommand, type Command } from "../command.ts";
import { SHELLS } from "../completion.ts";

type Generator = (name: string, descriptions: boolean) => string;

/** `kit completion <shell>`, cobra's texts; built per root so scripts name the program. */
export function completionCommand(root: () => Command): Command {
  const shell = (name: string, gen: Generator, long: (kit: string) => string) =>
    defineCommand({
      name,
      use: name,
      short: `Generate the autocompletion script for ${name}`,
      long: long("kit"),
      args: { min: 0, max: 0 },
      flags: { "no-descriptions": { type: "bool", help: "disable completion descriptions" } },
      async run(ctx, _args, flags) {
        ctx.log.print(gen(root().name, !flags["no-descriptions"]));
      },
    });
  return defineCommand({
    name: "completion",
    use: "completion",
    short: "Generate the autocompletion script for the specified shell",
    long: "Generate the autocompletion script for kit for the specified shell.\nSee each sub-command's help for details on how to use the generated script.",
    flags: {},
    subcommands: Object.entries(SHELLS).map(([name, { script, help }]) => shell(name, script, help)),
  });
}
