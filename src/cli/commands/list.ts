import { defineCommand, type Context } from "../command.ts";
import { openStorage } from "../session.ts";
import { parseReference, refToString, type ModelRef } from "../../oci/reference.ts";
import { parseFilter, type Filter } from "../../pack/filter.ts";
import { writeList } from "../../pack/list-format.ts";
import { listLocalModelKits, type ModelKitInfo } from "../../pack/listing.ts";
import { KitError } from "../../util/errors.ts";

/**
 * Lists the ModelKits of a remote repository. Remote listing needs the registry client, which
 * this build does not include yet; it is the one place to plug it in.
 */
export async function listRemote(_ctx: Context, ref: ModelRef, _filters: Filter[]): Promise<ModelKitInfo[]> {
  throw new KitError(`Cannot list remote repository ${ref.registry}/${ref.repository}: listing a registry needs the registry client, which this build of kit does not include yet`, {
    hint: "Run kit list without a REPOSITORY argument to list ModelKits in local storage",
  });
}

export const listCommand = defineCommand({
  name: "list",
  use: "list [flags] [REPOSITORY]",
  short: "List modelkits in a repository",
  long: `Displays a list of modelkits available in a repository.

Without REPOSITORY, lists the ModelKits in local storage; with it, the ModelKits of that remote
repository. Each ModelKit is shown once per tag with its repository, maintainer, name, the total
size of its layers and its digest.

Use --filter TYPES[:NAMES] (repeatable) to show only ModelKits with at least one matching layer,
e.g. --filter datasets or --filter model:my-model.

Use the --format flag to change how results are printed. Valid values are "table", "json", or a
Go template executed once per listed modelkit.

Template placeholders:

  {{ .Repo }} - repository name
  {{ .Tags }} - slice of tags for the modelkit
  {{ index .Tags 0 }} - the first tag (an error for untagged modelkits)
  {{ .Digest }} - digest of the modelkit
  {{ .ModelName }} - name defined in the Kitfile
  {{ .Size }} - total size of the modelkit
  {{ .Author }} - author from the Kitfile`,
  example: `  # List local modelkits
  kit list

  # List local modelkits that contain a dataset, as JSON
  kit list --filter datasets --format json

  # Print one line per modelkit with a template
  kit list --format '{{ .Repo }} {{ .Digest }}'

  # List modelkits from a remote repository
  kit list registry.example.com/my-namespace/my-model`,
  args: { min: 0, max: 1 },
  flags: {
    format: { type: "string", default: "table", help: "Output format: table, json, or Go template string" },
    filter: { type: "stringArray", short: "f", help: "Only list modelkits with a layer matching the filter (<type1>,<type2>[:<name1>,<name2>]); can be repeated" },
  },
  async run(ctx, args, flags) {
    let ref: ModelRef | undefined;
    let filters: Filter[];
    try {
      if (args.length > 0) {
        try {
          ref = parseReference(args[0]!);
        } catch (e) {
          throw new KitError(`invalid reference: ${(e as Error).message}`);
        }
        if (ref.extraTags.length > 0) throw new KitError("repository cannot reference multiple tags");
        ctx.log.debug(`Listing remote model kits in ${refToString(ref)}`);
      }
      filters = flags.filter.map(parseFilter);
    } catch (e) {
      throw new KitError(`Invalid arguments: ${(e as Error).message}`, { cause: e });
    }
    let infos: ModelKitInfo[];
    if (ref) {
      infos = await listRemote(ctx, ref, filters);
    } else {
      const storage = await openStorage(ctx);
      infos = await listLocalModelKits(storage, { filters, logger: ctx.log, signal: ctx.signal });
    }
    writeList(infos, flags.format, (s) => ctx.log.print(s));
  },
});
