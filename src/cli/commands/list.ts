import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, parseLayoutArg, parseRefArg, remoteOpener } from "../session.ts";
import { refToString } from "../../oci/reference.ts";
import { FILTER_TYPES, parseFilters, type Filter } from "../../modelkit/layer-filter.ts";
import { writeList } from "../../modelkit/list-format.ts";
import { listModelKits } from "../../modelkit/kit-listing.ts";
import type { KitLocation } from "../../oci/location.ts";
import { KitError } from "../../util/errors.ts";

export const listCommand = defineCommand({
  name: "list",
  use: "list [flags] [REPOSITORY]",
  short: "List modelkits in a repository",
  long: `Displays a list of modelkits available in a repository.

Without REPOSITORY, lists the ModelKits in local storage; with it, the ModelKits of that remote
repository: every tag, or only the tag or digest the argument names. An OCI image layout,
oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST], lists the ModelKits inside it, each under
the reference it was written from. Artifacts in the repository
that are not ModelKits are skipped. Each ModelKit is shown once per tag with its repository,
maintainer, name, the total size of its layers and its digest.

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
  {{ .Author }} - author from the Kitfile

Go's template actions and functions work (range, if, with, printf, len, index, …),
plus json: {{ json . }} prints the modelkit as JSON.`,
  example: `  # List local modelkits
  kit list

  # List local modelkits that contain a dataset, as JSON
  kit list --filter datasets --format json

  # Print one line per modelkit with a template
  kit list --format '{{ .Repo }} {{ .Digest }}'

  # List every modelkit (all tags) of a remote repository
  kit list registry.example.com/my-namespace/my-model

  # List one tag of a remote repository
  kit list registry.example.com/my-namespace/my-model:v1

  # List the modelkits in a tar file written by kit push
  kit list oci-archive:models.tar`,
  args: { min: 0, max: 1 },
  flags: {
    format: { type: "string", default: "table", values: ["table", "json"], help: "Output format: table, json, or Go template string" },
    filter: { type: "stringArray", short: "f", values: FILTER_TYPES, help: "Only list modelkits with a layer matching the filter (<type1>,<type2>[:<name1>,<name2>]); can be repeated" },
    ...networkFlags,
  },
  async run(ctx, args, flags) {
    let loc: KitLocation | undefined;
    let filters: Filter[];
    try {
      if (args.length > 0) loc = parseLayoutArg(ctx, args[0]!);
      if (args.length > 0 && !loc) {
        const { ref, extraTags, explicit } = parseRefArg(args[0]!, "invalid reference");
        if (extraTags.length > 0) throw new KitError("repository cannot reference multiple tags");
        loc = { kind: "reference", ref, explicit };
        ctx.log.debug(`Listing remote model kits in ${explicit ? refToString(ref) : `${ref.registry}/${ref.repository}`}`);
      }
      filters = parseFilters(flags.filter);
    } catch (e) {
      throw new KitError(`Invalid arguments: ${(e as Error).message}`, { cause: e });
    }
    const net = networkOptions(flags, ctx.cwd);
    const opts = { filters, concurrency: net.concurrency, logger: ctx.log, signal: ctx.signal };
    writeList(await listModelKits(loc, { storage: () => openStorage(ctx), remote: remoteOpener(ctx, net) }, opts), flags.format, (s) => ctx.log.print(s));
  },
});
