import { stat } from "node:fs/promises";
import path from "node:path";
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { invalidArguments, openStorage, parseTagArg, remoteOpener, s3Opener, withProgress } from "../session.ts";
import { findKitfile } from "../../kitfile/parse.ts";
import { parseCompression, parseLayerFormat } from "../../oci/layer-type.ts";
import { LOCAL_REGISTRY, UNNAMED_REPOSITORY } from "../../oci/reference.ts";
import { LayerCache } from "../../modelkit/layer-cache.ts";
import { localThenRemote } from "../../modelkit/locate.ts";
import { packProject } from "../../modelkit/pack-project.ts";
import { DEFAULT_NETWORK_OPTIONS } from "../../registry/network-options.ts";
import { KitError } from "../../util/errors.ts";
import { homePaths } from "../../util/paths.ts";

export const packCommand = defineCommand({
  name: "pack",
  use: "pack [flags] DIRECTORY",
  short: "Pack a ModelKit",
  ...HELP.pack,
  args: { min: 1, max: 1 },
  argCompletion: "dirs",
  flags: {
    file: { type: "string", short: "f", help: "Path to the Kitfile ('-' reads it from standard input)" },
    tag: { type: "string", short: "t", help: "Assign tag to the packed modelkit (e.g. registry/repo:tag1,tag2)" },
    compression: { type: "string", default: "none", values: ["none", "gzip", "gzip-fastest", "zstd"], help: "Compression format to use for layers. Valid options: 'none', 'gzip', 'gzip-fastest', 'zstd'" },
    "layer-format": { type: "string", default: "tar", values: ["tar", "raw"], help: "Format of layers: 'tar' (files and directories) or 'raw' (each layer is a single file)" },
    "use-model-pack": { type: "bool", help: "Use the CNCF ModelPack format for the packed modelkit" },
    compat: { type: "string", values: ["v1.7"], help: "Write the manifest exactly as an older kit does (supported: v1.7)" },
  },
  async run(ctx, args, flags) {
    const context = path.resolve(ctx.cwd, args[0]!);
    if (!(await stat(context).catch(() => undefined))?.isDirectory()) throw new KitError(`Failed to use context path ${args[0]}: not a directory`);
    // kit's argument checks (`Invalid arguments: …`), in kit's order.
    const { file, repo, tags, compression, layerFormat } = await invalidArguments(async () => ({
      file: flags.file || await findKitfile(context),
      ...(flags.tag ? parseTagArg(flags.tag, "failed to parse reference", `tag ${flags.tag}`) : { repo: `${LOCAL_REGISTRY}/${UNNAMED_REPOSITORY}`, tags: [] }),
      compression: parseCompression(flags.compression),
      layerFormat: parseLayerFormat(flags["layer-format"]),
    }));
    if (flags.compat && flags.compat !== "v1.7" && flags.compat !== "1.7") {
      throw new KitError(`Unsupported --compat value '${flags.compat}': the only supported value is 'v1.7'`);
    }
    ctx.log.debug(`Using storage path: ${homePaths(ctx.home).storage}`);
    ctx.log.debug(`Context dir: ${context}`);
    ctx.log.debug(`Model file: ${file}`);
    ctx.log.debug(`Packing ${repo}${tags[0] ? `:${tags[0]}` : ""}`);
    if (tags.length > 1) ctx.log.debug(`Additional tags: ${tags.slice(1).join(", ")}`);
    const result = await withProgress(ctx, "Packed", "Failed to pack model kit", async (ui) => {
      const storage = await openStorage(ctx);
      return packProject({
        context, cwd: ctx.cwd, file, stdin: ctx.stdin, storage, repo, tags, self: flags.tag, compression, layerFormat,
        v17: Boolean(flags.compat), modelPack: flags["use-model-pack"], cliVersion: ctx.version, env: ctx.env,
        parents: localThenRemote(storage, remoteOpener(ctx, DEFAULT_NETWORK_OPTIONS)),
        layerCache: new LayerCache(path.join(homePaths(ctx.home).cache, "layers")),
        s3: s3Opener(ctx, ui.log), logger: ui.log, progress: ui.progress, signal: ctx.signal,
      });
    });
    ctx.log.info(`Model saved: ${result.manifest.digest}`);
  },
});
