import { defineCommand } from "../command.ts";
import { openStorage } from "../session.ts";
import { parseReference, refToString, repoKey, type ModelRef } from "../../oci/reference.ts";
import { copy } from "../../store/copy.ts";
import { LocalRepository } from "../../store/local.ts";
import { KitError, NotFoundError } from "../../util/errors.ts";

function parseArg(arg: string, which: "source" | "target"): ModelRef {
  let ref: ModelRef;
  try {
    ref = parseReference(arg);
  } catch (e) {
    throw new KitError(`Invalid arguments: failed to parse reference: ${(e as Error).message}`, { cause: e });
  }
  if (ref.reference === "") throw new KitError(`Invalid arguments: ${which} ModelKit reference requires a tag or digest (${arg}:<tag>)`);
  return ref;
}

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
    const source = parseArg(args[0]!, "source");
    const target = parseArg(args[1]!, "target");
    const storage = await openStorage(ctx);
    const fail = (msg: string, cause?: unknown) => new KitError(`Failed to tag modelkit: ${msg}`, { cause });
    const sourceRepo = new LocalRepository(storage, repoKey(source));
    let desc;
    try {
      desc = await sourceRepo.resolve(source.reference, { signal: ctx.signal });
    } catch (e) {
      if (e instanceof NotFoundError) throw fail(`model ${refToString(source)} not found`, e);
      throw fail(`error resolving model: ${(e as Error).message}`, e);
    }
    if (repoKey(source) === repoKey(target)) {
      try {
        await sourceRepo.tag(desc, target.reference, { signal: ctx.signal });
      } catch (e) {
        throw fail(`failed to tag reference ${refToString(target)}: ${(e as Error).message}`, e);
      }
    } else {
      // Blobs are shared by every repository: only the target repository's index gains the manifest.
      try {
        await copy(sourceRepo, source.reference, new LocalRepository(storage, repoKey(target)), target.reference, { signal: ctx.signal });
      } catch (e) {
        throw fail(`failed to tag model: ${(e as Error).message}`, e);
      }
    }
    ctx.log.info(`Modelkit ${refToString(source)} tagged as ${refToString(target)}`);
  },
});
