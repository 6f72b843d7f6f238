import { stat } from "node:fs/promises";
import path from "node:path";
import { defineCommand } from "../command.ts";
import { lazyRemote, localThenRemote, openStorage, startProgress } from "../session.ts";
import { findKitfile, readKitfile } from "../../kitfile/parse.ts";
import type { Kitfile } from "../../kitfile/schema.ts";
import { assertValidKitfile } from "../../kitfile/validate.ts";
import { parseCompression } from "../../oci/layer-type.ts";
import { LOCAL_REGISTRY, UNNAMED_REPOSITORY, isDigestRef, parseReference, repoKey } from "../../oci/reference.ts";
import { pack } from "../../modelkit/pack.ts";
import { LayerCache } from "../../modelkit/layer-cache.ts";
import { homePaths } from "../../util/paths.ts";
import { resolveModelReferences } from "../../modelkit/modelref.ts";
import { DEFAULT_NETWORK_OPTIONS } from "../../registry/transport.ts";
import { asKitError, KitError, withContext } from "../../util/errors.ts";

/** `created` from SOURCE_DATE_EPOCH (addendum §1.1) or the clock, RFC 3339 at second precision. */
export function createdTime(env: Record<string, string | undefined>, now = new Date()): string {
  const sde = env.SOURCE_DATE_EPOCH;
  let d = now;
  if (sde !== undefined && sde !== "") {
    if (!/^[+-]?\d+$/.test(sde) || !Number.isSafeInteger(Number(sde))) {
      throw new KitError(`error creating manifest: invalid SOURCE_DATE_EPOCH "${sde}": strconv.ParseInt: parsing "${sde}": invalid syntax`);
    }
    d = new Date(Number(sde) * 1000);
  }
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export const packCommand = defineCommand({
  name: "pack",
  use: "pack [flags] DIRECTORY",
  short: "Pack a ModelKit",
  long: `Pack a ModelKit from a directory and its Kitfile into local storage.

The Kitfile (Kitfile, kitfile or .kitfile in DIRECTORY, or the file given with -f) lists the
model, datasets, code, docs, prompts and MCP servers; each entry becomes one layer. Files matched
by DIRECTORY/.kitignore are left out. The ModelKit is stored under the --tag reference, or
untagged when no tag is given.`,
  example: `  # Pack the current directory and tag it
  kit pack . -t registry.example.com/myorg/mymodel:v1

  # Use a Kitfile from elsewhere, compress layers with gzip
  kit pack ./project -f ./Kitfile.prod -t mymodel:prod --compression gzip

  # Write exactly what kit v1.7 writes (older readers, reproducible digests)
  kit pack . -t mymodel:v1 --compat v1.7`,
  args: { min: 1, max: 1 },
  argCompletion: "dirs",
  flags: {
    file: { type: "string", short: "f", help: "Path to the Kitfile ('-' reads it from standard input)" },
    tag: { type: "string", short: "t", help: "Assign tag to the packed modelkit (e.g. registry/repo:tag1,tag2)" },
    compression: { type: "string", default: "none", values: ["none", "gzip", "gzip-fastest", "zstd"], help: "Compression format to use for layers. Valid options: 'none', 'gzip', 'gzip-fastest', 'zstd'" },
    "layer-format": { type: "string", default: "tar", values: ["tar", "raw"], help: "Format of layers: 'tar' (files and directories) or 'raw' (each layer is a single file)" },
    compat: { type: "string", values: ["v1.7"], help: "Write the manifest exactly as an older kit does (supported: v1.7)" },
  },
  async run(ctx, args, flags) {
    const context = path.resolve(ctx.cwd, args[0]!);
    const cst = await stat(context).catch(() => undefined);
    if (!cst?.isDirectory()) throw new KitError(`Failed to use context path ${args[0]}: not a directory`);
    // kit's argument checks (`Invalid arguments: …`), in kit's order.
    let repo = `${LOCAL_REGISTRY}/${UNNAMED_REPOSITORY}`;
    let tags: string[] = [];
    let compression: ReturnType<typeof parseCompression>;
    const layerFormat = flags["layer-format"];
    let found: string | undefined;
    try {
      if (!flags.file) found = await findKitfile(context);
      if (flags.tag) {
        const ref = parseTagReference(flags.tag);
        if (isDigestRef(ref)) throw new KitError(`tag ${flags.tag} names a digest; use a tag such as ${ref.registry}/${ref.repository}:latest`);
        repo = repoKey(ref);
        tags = [ref.reference, ...ref.extraTags.filter((t) => t !== "")];
      }
      compression = parseCompression(flags.compression);
      if (layerFormat !== "tar" && layerFormat !== "raw") throw new KitError("invalid layer format: must be either 'tar' or 'raw'");
    } catch (e) {
      throw withContext("Invalid arguments", asKitError(e));
    }
    if (flags.compat && flags.compat !== "v1.7" && flags.compat !== "1.7") {
      throw new KitError(`Unsupported --compat value '${flags.compat}': the only supported value is 'v1.7'`);
    }
    ctx.log.debug(`Using storage path: ${homePaths(ctx.home).storage}`);
    ctx.log.debug(`Context dir: ${context}`);
    ctx.log.debug(`Model file: ${found ?? flags.file}`);
    ctx.log.debug(`Packing ${repo}${tags[0] ? `:${tags[0]}` : ""}`);
    if (tags.length > 1) ctx.log.debug(`Additional tags: ${tags.slice(1).join(", ")}`);
    const v17 = Boolean(flags.compat);
    const ui = startProgress(ctx);
    try {
      const kitfilePath = found ?? (await locateKitfile(ctx.cwd, context, flags.file, ctx.stdin.isTTY));
      const { kitfile, warnings } = await readKitfile(kitfilePath, { stdin: kitfilePath === "-" ? ctx.stdin.stream() : undefined, signal: ctx.signal });
      for (const w of warnings) ctx.log.warn(w);
      assertValidKitfile(kitfile, ctx.log);
      if (v17) checkV17(kitfile, layerFormat, compression);
      const created = createdTime(ctx.env);
      const storage = await openStorage(ctx);
      const refs = await resolveModelReferences(kitfile, { source: localThenRemote(storage, lazyRemote(ctx, DEFAULT_NETWORK_OPTIONS)), self: flags.tag, logger: ctx.log, signal: ctx.signal });
      if (refs) assertValidKitfile(refs.merged, ctx.log);
      const result = await pack({
        context,
        kitfile,
        storage,
        repo,
        tags,
        compression,
        layerFormat,
        shape: v17 ? "v1.7" : "newest",
        cliVersion: ctx.version,
        created,
        ancestorPaths: refs?.ancestorPaths,
        modelIsReference: refs !== undefined,
        logger: ui.log,
        progress: ui.progress,
        signal: ctx.signal,
        layerCache: new LayerCache(path.join(homePaths(ctx.home).cache, "layers")),
      });
      ui.close();
      ctx.log.info(`Model saved: ${result.manifest.digest}`);
    } catch (e) {
      ui.close();
      throw withContext("Failed to pack model kit", asKitError(e));
    }
  },
});

/** kit's `failed to parse reference: …` for the --tag value. */
function parseTagReference(tag: string) {
  try {
    return parseReference(tag);
  } catch (e) {
    throw new KitError(`failed to parse reference: ${(e as Error).message}`, { cause: e });
  }
}

/** The Kitfile to read: `-` (stdin) or the -f path. */
async function locateKitfile(cwd: string, context: string, file: string, stdinIsTTY: boolean): Promise<string> {
  if (file === "-") {
    if (stdinIsTTY) throw new KitError("Cannot read the Kitfile from standard input: it is a terminal", { hint: "Pipe the Kitfile in, e.g. cat Kitfile | kit pack . -f -" });
    return "-";
  }
  // kit reads a relative -f from inside the context [quirk]; the working directory is tried first.
  const fromCwd = path.resolve(cwd, file);
  return (await stat(fromCwd).catch(() => undefined)) ? fromCwd : path.resolve(context, file);
}

/** `--compat v1.7` refuses what kit v1.7 cannot express. */
function checkV17(kitfile: Kitfile, layerFormat: string, compression: string): void {
  const unsupported: string[] = [];
  if (kitfile.prompts?.length) unsupported.push("prompts");
  if (kitfile.mcpServers?.length) unsupported.push("mcpServers");
  if (kitfile.datasets?.some((d) => d.remotePath)) unsupported.push("remote datasets");
  if (layerFormat === "raw") unsupported.push("--layer-format raw");
  if (compression === "zstd") unsupported.push("zstd compression");
  if (unsupported.length) throw new KitError(`cannot pack with --compat v1.7: kit v1.7 cannot express ${unsupported.join(", ")}`);
}
