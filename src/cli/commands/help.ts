import { defineCommand } from "../command.ts";

/** Cobra's `help [command]`; `execute` prints the help of the named command. */
export const helpCommand = defineCommand({
  name: "help",
  use: "help [command]",
  short: "Help about any command",
  long: "Help provides help for any command in the application.\nSimply type kit help [path to command] for full details.",
  args: { min: 0, max: Infinity },
  flags: {},
  helpTopic: true,
  async run() {},
});
