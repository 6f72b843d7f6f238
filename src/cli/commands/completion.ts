import { defineCommand, type Command } from "../command.ts";
import { bashCompletion, fishCompletion, powershellCompletion, zshCompletion } from "../completion.ts";

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
    subcommands: [
      shell("bash", bashCompletion, (kit) => `Generate the autocompletion script for the bash shell.

To load completions in your current shell session:

\tsource <(${kit} completion bash)

To load completions for every new session, execute once:

#### Linux:

\t${kit} completion bash > /etc/bash_completion.d/${kit}

#### macOS:

\t${kit} completion bash > $(brew --prefix)/etc/bash_completion.d/${kit}

You will need to start a new shell for this setup to take effect.`),
      shell("fish", fishCompletion, (kit) => `Generate the autocompletion script for the fish shell.

To load completions in your current shell session:

\t${kit} completion fish | source

To load completions for every new session, execute once:

\t${kit} completion fish > ~/.config/fish/completions/${kit}.fish

You will need to start a new shell for this setup to take effect.`),
      shell("powershell", powershellCompletion, (kit) => `Generate the autocompletion script for powershell.

To load completions in your current shell session:

\t${kit} completion powershell | Out-String | Invoke-Expression

To load completions for every new session, add the output of the above command
to your powershell profile.`),
      shell("zsh", zshCompletion, (kit) => `Generate the autocompletion script for the zsh shell.

If shell completion is not already enabled in your environment you will need
to enable it.  You can execute the following once:

\techo "autoload -U compinit; compinit" >> ~/.zshrc

To load completions in your current shell session:

\tsource <(${kit} completion zsh)

To load completions for every new session, execute once:

#### Linux:

\t${kit} completion zsh > "\${fpath[1]}/_${kit}"

#### macOS:

\t${kit} completion zsh > $(brew --prefix)/share/zsh/site-functions/_${kit}

You will need to start a new shell for this setup to take effect.`),
    ],
  });
}
