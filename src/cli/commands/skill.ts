import path from "node:path";
import { defineCommand } from "../command.ts";
import { AGENT_NAMES, installKitSkill, resolveAgents } from "../../modelkit/agent-skills.ts";

export const skillCommand = defineCommand({
  name: "skill",
  use: "skill [flags]",
  short: "Install the kit agent skill so AI agents can use the kit CLI",
  long: `Install a SKILL.md that teaches an AI coding agent how to use the kit CLI.

The skill covers writing a Kitfile and the pack, tag, login, push, pull and unpack workflow. It
is embedded in the kit binary, so it matches this kit and needs no network access.

The skill is written into each agent's skills directory (for example '.claude/skills' or the
shared '.agents/skills'), as the directory 'kitops'. Without --agents, the agents whose
configuration directory exists in your home directory are used; --agents takes a
comma-separated list (e.g. --agents=claude-code,cursor). The skill is installed for your user
unless -d names a project directory to install it into.`,
  example: `  # Install the kit skill for the agents found on this machine (user-wide)
  kit skill

  # Install for specific agents
  kit skill --agents=claude-code,cursor

  # Install into a project directory
  kit skill -d /path/to/project

  # Replace an existing installation
  kit skill -o`,
  args: { min: 0, max: 0 },
  flags: {
    dir: { type: "string", short: "d", help: "Install the skill into this project directory instead of for your user" },
    agents: { type: "string", values: AGENT_NAMES, help: "Agents to install the skill for, comma-separated (e.g. claude-code,cursor); by default the agents found on this machine" },
    overwrite: { type: "bool", short: "o", help: "Overwrite the skill if it already exists" },
    "ignore-existing": { type: "bool", short: "i", help: "Skip installation if the skill already exists" },
  },
  async run(ctx, _args, flags) {
    await installKitSkill({
      agents: await resolveAgents(flags.agents, ctx.env, ctx.log),
      projectDir: flags.changed.has("dir") ? path.resolve(ctx.cwd, flags.dir) : undefined,
      overwrite: flags.overwrite,
      ignoreExisting: flags["ignore-existing"],
      env: ctx.env,
      logger: ctx.log,
    });
  },
});
