import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
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
  ...HELP.list,
  args: { min: 0, max: 1 },
  flags: {
    format: { type: "string", default: "table", values: ["table", "json"], help: "Output format: table, json, or Go template string" },
    filter: { type: "stringArray", short: "f", values: FILTER_TYPES, help: "Only list modelkits with a layer matching the filter (<type1>,<type2>[:<name1>,<name2>]); can be repeated" },
    ...networkFlags,
  },
  async run(ctx, args, flags) {
    // A layout argument that does not parse says `Invalid arguments: ...` itself.
    let loc: KitLocation | undefined = args.length > 0 ? parseLayoutArg(ctx, args[0]!) : undefined;
    let filters: Filter[];
    try {
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
