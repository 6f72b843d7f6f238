/**
 * `kit pack DIRECTORY`: the Kitfile found (or given), read, validated and merged with the
 * ModelKits its model refers to, then packed into local storage (modelkit/pack.ts).
 * @module
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { findKitfile, readKitfile } from "../kitfile/parse.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import { assertValidKitfile } from "../kitfile/validate.ts";
import type { Compression, LayerFormat } from "../oci/layer-type.ts";
import type { LayoutStore } from "../store/layout.ts";
import { KitError } from "../util/errors.ts";
import { goRFC3339Nano } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";
import type { Progress } from "../util/progress.ts";
import type { LayerCache } from "./layer-cache.ts";
import type { ParentSource } from "./locate.ts";
import { resolveModelReferences } from "./modelref.ts";
import { pack, type PackResult } from "./pack.ts";
import { s3Datasets, verifyRemoteDatasets, type S3Opener } from "./remote-datasets.ts";

export interface PackProjectOptions {
  /** The context directory. */
  context: string;
  /** The working directory (a relative `file` is looked up there first). */
  cwd: string;
  /** `-f`: a Kitfile path, `-` for `stdin`, or empty to look in the context. */
  file: string;
  stdin?: { isTTY: boolean; stream(): ReadableStream<Uint8Array> };
  storage: LayoutStore;
  /** `<registry>/<repository>` and the tags to give the kit there. */
  repo: string;
  tags: string[];
  /** The `-t` argument as typed (the first element of a model-reference chain). */
  self: string;
  compression: Compression;
  layerFormat: LayerFormat;
  /** `--compat v1.7`. */
  v17: boolean;
  /** `--use-model-pack`: the CNCF ModelPack format. */
  modelPack?: boolean;
  cliVersion: string;
  env: Record<string, string | undefined>;
  /** Where the ModelKits a model refers to are read. */
  parents: ParentSource;
  layerCache?: LayerCache;
  /** The S3 client for remote datasets (opened only when the Kitfile has one). */
  s3?: S3Opener;
  logger: Logger;
  progress?: Progress;
  signal?: AbortSignal;
}

export async function packProject(o: PackProjectOptions): Promise<PackResult> {
  const kitfilePath = await locateKitfile(o.cwd, o.context, o.file, o.stdin?.isTTY ?? false);
  const { kitfile, warnings } = await readKitfile(kitfilePath, { stdin: kitfilePath === "-" ? o.stdin?.stream() : undefined, signal: o.signal });
  for (const w of warnings) o.logger.warn(w);
  assertValidKitfile(kitfile, o.logger);
  if (o.v17) checkV17(kitfile, o.layerFormat, o.compression, o.modelPack ?? false);
  const now = new Date();
  const created = createdTime(o.env, now);
  if (s3Datasets(kitfile).length > 0) {
    if (!o.s3) throw new KitError("cannot check remote S3 datasets: no S3 client");
    await verifyRemoteDatasets(kitfile, o.s3, { logger: o.logger, signal: o.signal });
  }
  const refs = await resolveModelReferences(kitfile, { source: o.parents, self: o.self, logger: o.logger, signal: o.signal });
  if (refs) assertValidKitfile(refs.merged, o.logger);
  return pack({
    context: o.context,
    kitfile,
    storage: o.storage,
    repo: o.repo,
    tags: o.tags,
    compression: o.compression,
    layerFormat: o.layerFormat,
    shape: o.v17 ? "v1.7" : "newest",
    cliVersion: o.cliVersion,
    created,
    modelPack: o.modelPack ? { createdAt: modelPackCreatedAt(o.env, now) } : undefined,
    ancestorPaths: refs?.ancestorPaths,
    modelIsReference: refs !== undefined,
    logger: o.logger,
    progress: o.progress,
    signal: o.signal,
    layerCache: o.layerCache,
  });
}

/** `created` from SOURCE_DATE_EPOCH (docs/format.md#annotations) or the clock, RFC 3339 at second precision. */
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

/**
 * ModelPack's `descriptor.createdAt`: Go's `time.Time` JSON of the clock with the local offset, as
 * kit writes it, or the SOURCE_DATE_EPOCH instant in UTC (kit ignores it there; honoured here so
 * a ModelPack can be reproduced, docs/compatibility.md).
 */
export function modelPackCreatedAt(env: Record<string, string | undefined>, now = new Date()): string {
  if (env.SOURCE_DATE_EPOCH) return createdTime(env, now);
  const ms = now.getTime();
  const secs = Math.floor(ms / 1000);
  return goRFC3339Nano(secs, (ms - secs * 1000) * 1e6, -now.getTimezoneOffset() * 60);
}

/** The Kitfile to read: `-` (stdin), the -f path, or Kitfile/kitfile/.kitfile in the context. */
async function locateKitfile(cwd: string, context: string, file: string, stdinIsTTY: boolean): Promise<string> {
  if (file === "-") {
    if (stdinIsTTY) throw new KitError("Cannot read the Kitfile from standard input: it is a terminal", { hint: "Pipe the Kitfile in, e.g. cat Kitfile | kit pack . -f -" });
    return "-";
  }
  if (!file) return findKitfile(context);
  // kit reads a relative -f from inside the context [quirk]; the working directory is tried first.
  const fromCwd = path.resolve(cwd, file);
  return (await stat(fromCwd).catch(() => undefined)) ? fromCwd : path.resolve(context, file);
}

/** `--compat v1.7` refuses what kit v1.7 cannot express. */
function checkV17(kitfile: Kitfile, layerFormat: string, compression: string, modelPack: boolean): void {
  const unsupported: string[] = [];
  if (modelPack) unsupported.push("the ModelPack format (--use-model-pack)");
  if (kitfile.prompts?.length) unsupported.push("prompts");
  if (kitfile.mcpServers?.length) unsupported.push("mcpServers");
  if (kitfile.datasets?.some((d) => d.remotePath)) unsupported.push("remote datasets");
  if (layerFormat === "raw") unsupported.push("--layer-format raw");
  if (compression === "zstd") unsupported.push("zstd compression");
  if (unsupported.length) throw new KitError(`cannot pack with --compat v1.7: kit v1.7 cannot express ${unsupported.join(", ")}`);
}
