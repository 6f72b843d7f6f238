import { defineCommand } from "../command.ts";
import { openStorage, parseRefArg } from "../session.ts";
import { refToString } from "../../oci/reference.ts";
import { tagModelKit } from "../../modelkit/tag.ts";

const parseArg = (arg: string) => parseRefArg(arg, "Invalid arguments: failed to parse reference").ref;

export const tagCommand = defineCommand({
  name: "tag",
  use: "tag SOURCE_MODELKIT[:TAG] TARGET_MODELKIT[:TAG]",
  short: "Create a tag that refers to a modelkit",
  long: `Create or update a tag {target-modelkit} that refers to {source-modelkit}

This command assigns a new tag to an existing modelkit (source-modelkit) or updates an existing
tag. When the target names another repository, the modelkit is added to that repository too;
its blobs are shared in local storage, so nothing is copied.

A full modelkit reference has the following format:

[HOST[:PORT_NUMBER]/][NAMESPACE/]REPOSITORY[:TAG]

  * HOST: Optional. The registry hostname where the ModelKit is located. Defaults to localhost
    if unspecified.
  * PORT_NUMBER: Optional. The registry's port number if a hostname is provided.
  * NAMESPACE: A user or organization's namespace: slash-separated components of lowercase
    letters, digits, and separators (periods, underscores, hyphens).
  * REPOSITORY: The name of the repository, typically the modelkit's name.
  * TAG: A human-readable identifier for the modelkit version or variant: letters, digits,
    underscores, periods, and hyphens, not starting with a period or hyphen, at most 128
    characters.`,
  example: `  kit tag myregistry.com/myrepo/mykit:latest myregistry.com/myrepo/mykit:v1.0.0`,
  args: { min: 2, max: 2 },
  argCompletion: "modelkit",
  flags: {},
  async run(ctx, args) {
    // Extra comma tags are ignored, as kit does.
    const source = parseArg(args[0]!);
    const target = parseArg(args[1]!);
    await tagModelKit(await openStorage(ctx), source, target, ctx.signal);
    ctx.log.info(`Modelkit ${refToString(source)} tagged as ${refToString(target)}`);
  },
});
