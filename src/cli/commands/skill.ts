import path from "node:path";
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { AGENT_NAMES, installKitSkill, resolveAgents } from "../../modelkit/agent-skills.ts";

export const skillCommand = defineCommand({
  name: "skill",
  use: "skill [flags]",
  short: "Install the kit agent skill so AI agents can use the kit CLI",
  ...HELP.skill,
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
