/**
 * `kit unpack`: restores a ModelKit's files from any {@link ReadOnlyTarget} (local storage or a
 * registry), every byte digest-verified, hostile archives refused (docs/format.md#unpack).
 * @module
 */
import { lstat, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { parseConfigJson } from "../kitfile/config.ts";
import { cleanPath, modelReference } from "../kitfile/paths.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import { kitfileToYaml } from "../kitfile/yaml.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { tapStream } from "../oci/digest.ts";
import { displayRef, refToString, tagOrDigest, type ModelRef } from "../oci/reference.ts";
import { parseLayerType, type LayerType } from "../oci/layer-type.ts";
import { artifactKind, parseManifest, type Manifest } from "../oci/manifest.ts";
import { ANNOTATION_FILE_METADATA, ANNOTATION_FILEPATH, ANNOTATION_KITFILE, ANNOTATION_LAYER_SUBTYPE } from "../oci/media-types.ts";
import { DamagedBlobError, damagedBlobRemoved } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import { fetchBytes, type ReadOnlyTarget } from "../store/target.ts";
import { gunzipStream, zstdDecompressStream } from "../util/compress.ts";
import { ChunkPool } from "../util/chunk-pool.ts";
import { CorruptDataError, IntegrityError, KitError, NotFoundError } from "../util/errors.ts";
import { atomicWriteFile, ownedTempName, removeAbandonedTemps, writeStreamToHandle } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { limit, throwIfAborted } from "../util/pool.ts";
import { eachChunk } from "../util/streams.ts";
import { noProgress, type Progress } from "../util/progress.ts";
import { readModelKit, type ModelKitContents } from "./contents.ts";
import { matchesFilters, parentFilters, selectsKitfile, type Filter, type LayerKind } from "./layer-filter.ts";
import { KIND_WORD, layerTitle } from "./layer-title.ts";
import { MAX_MODEL_REF_CHAIN } from "./modelref.ts";
import { downloadS3Dataset, type S3Opener } from "./remote-datasets.ts";
import { EXTRACT_MODE_MASK, extractTar, onExisting, verifySubpath } from "./untar.ts";

/** One Kitfile entry paired with its manifest layer. */
interface Pair {
  kind: LayerKind;
  entry: { name?: string; path?: string; digest?: string };
  layer: Descriptor;
  type: LayerType;
}

function hasLayerInfo(k: Kitfile): boolean {
  const all = [k.model, ...(k.model?.parts ?? []), ...(k.code ?? []), ...(k.datasets ?? []), ...(k.docs ?? []), ...(k.prompts ?? []), ...(k.mcpServers ?? [])];
  return all.some((e) => e && (e as { digest?: string }).digest);
}

/** Pairs Kitfile entries and layers: by digest when the Kitfile has layer info, else by counting per type. */
export function pairLayers(k: Kitfile, m: Manifest, logger?: Logger): Pair[] {
  const layers = m.layers ?? [];
  const pairs: Pair[] = [];
  if (hasLayerInfo(k)) {
    const byDigest = new Map<string, Descriptor>();
    for (const l of layers) if (!byDigest.has(l.digest)) byDigest.set(l.digest, l);
    const add = (kind: LayerKind, e: { name?: string; path?: string; digest?: string; remotePath?: string } | undefined) => {
      if (!e || !e.digest) return;
      const l = byDigest.get(e.digest);
      if (!l) throw new KitError(`digest ${e.digest} not found in manifest`);
      const type = parseLayerType(l.mediaType);
      if (!type) {
        logger?.warn(`Unknown media type ${l.mediaType}: skipping unpack`);
        return;
      }
      pairs.push({ kind, entry: e, layer: l, type });
    };
    add("model", k.model);
    for (const p of k.model?.parts ?? []) add("modelpart", p);
    for (const d of k.datasets ?? []) add("dataset", d);
    for (const c of k.code ?? []) add("code", c);
    for (const d of k.docs ?? []) add("docs", d);
    for (const p of k.prompts ?? []) add("prompt", p);
    for (const s of k.mcpServers ?? []) add("mcpserver", s);
    return pairs;
  }
  // Kits from before v0.5.0: pair in manifest order, one counter per type.
  const counters = { model: 0, modelpart: 0, code: 0, dataset: 0, docs: 0, prompt: 0, mcpserver: 0 };
  for (const l of layers) {
    const type = parseLayerType(l.mediaType);
    if (!type) {
      logger?.warn(`Unknown media type ${l.mediaType}: skipping unpack`);
      continue;
    }
    let kind: LayerKind;
    let entry: Pair["entry"] | undefined;
    switch (type.base) {
      case "model": kind = "model"; entry = k.model; break;
      case "modelpart": kind = "modelpart"; entry = k.model?.parts?.[counters.modelpart++]; break;
      case "dataset": kind = "dataset"; entry = k.datasets?.[counters.dataset++]; break;
      case "docs": kind = "docs"; entry = k.docs?.[counters.docs++]; break;
      case "mcpb": kind = "mcpserver"; entry = k.mcpServers?.[counters.mcpserver++]; break;
      default:
        if (l.annotations?.[ANNOTATION_LAYER_SUBTYPE] === "prompt") { kind = "prompt"; entry = k.prompts?.[counters.prompt++]; }
        else { kind = "code"; entry = k.code?.[counters.code++]; }
    }
    if (!entry) throw new KitError(`Layer ${l.digest} (${l.mediaType}) has no matching entry in the Kitfile`);
    pairs.push({ kind, entry, layer: l, type });
  }
  return pairs;
}

/** Uncompressed layers from local storage are read in chunks of this size into this many reused buffers. */
const READ_CHUNK_BYTES = 1024 * 1024;
const POOL_CHUNKS = 8;

export interface UnpackOptions {
  /** Absolute target directory (created 0755). */
  dir: string;
  filters: Filter[];
  overwrite: boolean;
  ignoreExisting: boolean;
  logger: Logger;
  progress?: Progress;
  signal?: AbortSignal;
  /** False for a parent of a model reference: its Kitfile is never written. */
  writeKitfile?: boolean;
  /** Layers read, verified and written at once (default 2); they are put in place in order. */
  concurrency?: number;
  /**
   * The kit's remote datasets (docs/format.md#remote-datasets): downloaded with `include`
   * (`--include-remote`), else skipped with kit's warning. Undefined: left alone (parents of
   * model references, the kits remote datasets refer to).
   */
  remote?: RemoteDatasetOptions;
}

export interface RemoteDatasetOptions {
  include: boolean;
  s3: S3Opener;
  /** Where a ModelKit a dataset refers to is read. */
  locate: (ref: ModelRef) => Promise<ReadOnlyTarget>;
  /** The --verify-key check of a referenced ModelKit, before anything of it is written. */
  verify?: (source: ReadOnlyTarget, ref: ModelRef, desc: Descriptor) => Promise<unknown>;
}

/** Writes the Kitfile YAML with kit's existing-file rules (docs/format.md#extraction). */
async function unpackKitfile(dir: string, k: Kitfile, overwrite: boolean, logger: Logger): Promise<void> {
  const file = path.join(dir, "Kitfile");
  const yaml = new TextEncoder().encode(kitfileToYaml(k));
  const st = await lstat(file).catch(() => undefined);
  if (st) {
    if (!st.isFile()) throw new KitError(`failed to unpack config: path ${file} exists and is not a regular file`);
    if (!overwrite) {
      if (st.size !== yaml.byteLength) throw new KitError(`failed to unpack config: path ${file} already exists`);
      const existing = await readFile(file);
      if (!Buffer.from(existing).equals(Buffer.from(yaml))) throw new KitError("failed to unpack: Kitfile exists and does not match model's Kitfile");
      logger.info(`Found existing Kitfile at ${file}`);
      return;
    }
  }
  logger.info(`Unpacking config to ${file}`);
  await atomicWriteFile(file, yaml, 0o644);
}

function decompress(stream: ReadableStream<Uint8Array>, t: LayerType): ReadableStream<Uint8Array> {
  if (t.compression === "gzip") return stream.pipeThrough(gunzipStream());
  if (t.compression === "zstd") return stream.pipeThrough(zstdDecompressStream());
  return stream;
}

/**
 * Writes a raw layer to its file path (docs/format.md#raw-layers): inside `dir`, mode from the
 * metadata annotation; put in place once `before` settles (see {@link ExtractOptions.before}).
 */
async function writeRawLayer(
  dir: string,
  rel: string,
  stream: ReadableStream<Uint8Array>,
  layer: Descriptor,
  o: UnpackOptions,
  before?: Promise<void>,
  release?: (chunk: Uint8Array) => void,
) {
  const target = await verifySubpath(dir, rel);
  let mode = 0o644;
  let size: number | undefined;
  const meta = layer.annotations?.[ANNOTATION_FILE_METADATA];
  if (meta) {
    try {
      const m = JSON.parse(meta) as { mode?: number; size?: number };
      if (typeof m.mode === "number") mode = m.mode & EXTRACT_MODE_MASK;
      if (typeof m.size === "number") size = m.size;
    } catch {
      throw new KitError(`Layer ${layer.digest} has an invalid ${ANNOTATION_FILE_METADATA} annotation`);
    }
  }
  const st = await lstat(target).catch(() => undefined);
  if (st) {
    let rule: "skip" | "replace";
    try {
      rule = onExisting(st, o, rel);
    } catch (e) {
      await stream.cancel();
      throw e;
    }
    if (rule === "skip") return void (await stream.cancel());
  }
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  const tmp = path.join(path.dirname(target), ownedTempName(path.basename(target)));
  try {
    const fh = await open(tmp, "wx", mode);
    let n: number;
    try {
      n = await writeStreamToHandle(stream, fh, o.signal, undefined, release);
    } finally {
      await fh.close();
    }
    if (size !== undefined && n !== size) throw new KitError(`Raw layer ${rel} has ${n} bytes but its metadata says ${size}`);
    if (before) {
      await before;
      // Another layer may have put a file there meanwhile: the rules for an existing file.
      const now = st ? undefined : await lstat(target).catch(() => undefined);
      if (now && onExisting(now, o, rel) === "skip") return await rm(tmp, { force: true });
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * The error to report for a layer whose bytes did not decompress or untar. From local storage,
 * the blob is read again first: when its bytes no longer match its digest, that IntegrityError is
 * the real cause (and the store has removed the damaged blob). Otherwise the layer is named with
 * the reason. Other errors are returned as they are.
 */
async function layerFailure(source: ReadOnlyTarget, layer: Descriptor, what: string, e: unknown, signal?: AbortSignal): Promise<unknown> {
  // Damage found while decompressing, or by the read's own check: which one a reader sees first
  // depends on timing, so both are confirmed the same way.
  if (!(e instanceof CorruptDataError || e instanceof IntegrityError)) return e;
  if (source instanceof LocalRepository) {
    try {
      await eachChunk(await source.fetch(layer, { signal }), signal, () => {}); // verified as it streams
    } catch (v) {
      if (v instanceof IntegrityError) return v;
      // The first read's own check may have found the damage (and removed the blob) already.
      if (v instanceof NotFoundError) {
        if (e instanceof DamagedBlobError) return e;
        return damagedBlobRemoved(e instanceof IntegrityError ? e.message : `Content of ${layer.digest} does not match its digest`, e);
      }
    }
  }
  if (e instanceof IntegrityError) return e;
  return new CorruptDataError(`${what} is corrupt: ${e.message}`, { cause: e, hint: "The ModelKit was written wrongly; ask its publisher to pack and push it again" });
}

/**
 * `kit unpack REF`: the ModelKit `ref` (found by `locate`) into `o.dir`, after the model files
 * of the ModelKits its model refers to (parents first, at most 10, no cycles). Only the kit
 * itself writes its Kitfile. `chainLog` says which referenced kit is being unpacked (default
 * `o.logger`).
 */
export async function unpackModelKit(
  ref: ModelRef,
  locate: (ref: ModelRef) => Promise<ReadOnlyTarget>,
  o: UnpackOptions & { verify?: (source: ReadOnlyTarget, ref: ModelRef, desc: Descriptor) => Promise<unknown> },
  chainLog: Logger = o.logger,
): Promise<void> {
  const visit = async (r: ModelRef, filters: Filter[], visited: string[]): Promise<void> => {
    const source = await locate(r);
    const kit = await readModelKit(source, tagOrDigest(r), { signal: o.signal, logger: o.logger });
    await o.verify?.(source, r, kit.manifestDesc); // before anything of this kit (or its parents) is written
    const parentPath = kit.kitfile.model?.path;
    const parent = modelReference(parentPath);
    if (parent) {
      const key = refToString(parent);
      const chain = () => [...visited, key].map((x) => displayRef(x)).join("=>");
      if (visited.includes(key)) throw new KitError(`found cycle in modelkit references: [${chain()}]`);
      // `visited` holds the kit itself and its ancestors so far: up to 10 ancestors, as pack allows.
      if (visited.length > MAX_MODEL_REF_CHAIN) throw new KitError(`reached maximum number of model references: [${chain()}]`);
      const pf = parentFilters(filters);
      if (pf) {
        chainLog.info(`Unpacking referenced ModelKit ${parentPath}`);
        await visit(parent, pf, [...visited, key]);
      }
    }
    const top = visited.length === 1;
    await unpackContents(source, kit, { ...o, filters, writeKitfile: top && o.writeKitfile !== false, remote: top ? o.remote : undefined });
  };
  await visit(ref, o.filters, [refToString(ref)]);
}

/** Unpacks an already-read ModelKit from `source` into `o.dir`. Parents of model references are {@link unpackModelKit}'s job. */
export async function unpackContents(source: ReadOnlyTarget, kit: ModelKitContents, o: UnpackOptions): Promise<void> {
  const { dir, logger } = o;
  const progress = o.progress ?? noProgress;
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    // mkdir -p answers EEXIST when the path (or ENOTDIR when a parent) is a file.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EEXIST" && code !== "ENOTDIR") throw e;
    throw new KitError(`failed to create directory ${dir}: not a directory`, { cause: e, hint: "Give --dir a directory, or a path that does not exist yet" });
  }
  // Temporary files an earlier unpack into this directory left when it was killed.
  const leftovers = await removeAbandonedTemps(dir, { recursive: true });
  if (leftovers > 0) logger.debug(`Removed ${leftovers} temporary file(s) left by an interrupted unpack`);
  if (o.writeKitfile !== false && selectsKitfile(o.filters)) await unpackKitfile(dir, kit.kitfile, o.overwrite, logger);
  const legacy = !hasLayerInfo(kit.kitfile);
  const pairs = pairLayers(kit.kitfile, kit.manifest, logger);
  const counts: Record<string, number> = {};
  // One digest named by several entries is extracted once per place it lands, not once per mention.
  const extracted = new Set<string>();
  const jobs: Array<{ p: Pair; rel?: string; subdir?: string }> = [];
  for (const p of pairs) {
    if (!matchesFilters(o.filters, p.kind, p.entry)) continue;
    const entryPath = p.entry.path ?? "";
    const raw = p.type.format === "raw";
    const rel = raw ? cleanPath(p.layer.annotations?.[ANNOTATION_FILEPATH] ?? entryPath) : undefined;
    const subdir = !raw && legacy ? path.posix.dirname(cleanPath(entryPath || ".")) : undefined;
    const key = `${p.layer.digest}\0${raw ? `raw:${rel}` : `tar:${subdir ?? "."}`}`;
    if (extracted.has(key)) {
      logger.debug(`Layer ${p.layer.digest} for ${entryPath || "."} was already unpacked`);
      continue;
    }
    extracted.add(key);
    jobs.push({ p, rel, subdir });
  }

  // Layers are read, verified and written a few at a time (each verified on its own worker
  // thread), but put in place in order: a layer's files go in only after those of the layers
  // before it, which makes the result that of one layer after the other. The first failure stops
  // the others; layers before it that were complete stay in place, as they would have.
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const pool = limit(o.concurrency ?? 2);
  // None for the first layer: nothing can be put in place before it, so it re-checks nothing.
  let previous: Promise<void> | undefined;
  let failure: unknown;
  const runs = jobs.map(({ p, rel, subdir }) => {
    const before = previous;
    const mine = pool.run(async () => {
      throwIfAborted(signal);
      const entryPath = p.entry.path ?? "";
      const word = KIND_WORD[p.kind];
      // Announced when its turn comes (the layers before it are in place), so the lines read as
      // kit's one layer after another, and no layer after a failed one is announced.
      (before ?? Promise.resolve()).then(() => logger.info(p.entry.name ? `Unpacking ${word} ${p.entry.name} to ${entryPath}` : `Unpacking ${word} to ${entryPath}`), () => {});
      const task = progress.task(layerTitle(p.kind, p.entry), p.layer.size);
      // An uncompressed layer from local storage is read into a few reused buffers, each given
      // back once written and hashed (a compressor keeps its input for a while: fresh buffers).
      const pool = p.type.compression === "none" ? new ChunkPool(READ_CHUNK_BYTES, POOL_CHUNKS) : undefined;
      const release = pool && ((c: Uint8Array) => pool.release(c));
      try {
        const counted = tapStream(await source.fetch(p.layer, { signal, pool }), { onChunk: (c) => task.add(c.byteLength) });
        const data = decompress(counted, p.type);
        if (rel !== undefined) {
          await writeRawLayer(dir, rel, data, p.layer, { ...o, signal }, before, release);
        } else {
          if (legacy && subdir && subdir !== ".") await verifySubpath(dir, subdir);
          await extractTar(data, dir, {
            overwrite: o.overwrite,
            ignoreExisting: o.ignoreExisting,
            subdir: subdir && subdir !== "." ? subdir : undefined,
            signal,
            logger,
            before,
            release,
          });
        }
      } catch (e) {
        throw await layerFailure(source, p.layer, `${word} layer ${p.layer.digest} (${entryPath || "."})`, e, o.signal);
      }
      task.done();
      counts[p.kind] = (counts[p.kind] ?? 0) + 1;
    }, signal).catch((e) => {
      if (failure === undefined) {
        failure = e;
        stop.abort();
      }
      throw e;
    });
    // The next layer waits for this one to be in place (or failed), never for it to start.
    previous = Promise.all([before, mine]).then(() => {}); // (an undefined before counts as settled)
    previous.catch(() => {}); // the failure itself is reported once, below
    return mine;
  });
  await Promise.allSettled(runs);
  if (failure !== undefined) throw failure;
  for (const [k, n] of Object.entries(counts)) logger.debug(`Unpacked ${n} ${KIND_WORD[k as LayerKind]} layer(s)`);
  if (o.remote) await unpackRemoteDatasets(kit, o, o.remote);
}

const ALL_DATASETS: Filter[] = [{ types: ["datasets"], names: [] }];

/**
 * The kit's remote datasets that pass the filters: S3 objects are downloaded, the datasets of a
 * referenced ModelKit are unpacked under the dataset's path (`Unpacking referenced dataset
 * ModelKit <ref> to <path>`); without `include` kit's warning instead.
 */
async function unpackRemoteDatasets(kit: ModelKitContents, o: UnpackOptions, remote: RemoteDatasetOptions): Promise<void> {
  const datasets = (kit.kitfile.datasets ?? []).filter((d) => d.remotePath && matchesFilters(o.filters, "dataset", d));
  if (datasets.length === 0) return;
  if (!remote.include) {
    o.logger.warn("ModelKit contains remote datasets. To unpack, specify the --include-remote flag");
    return;
  }
  for (const d of datasets) {
    throwIfAborted(o.signal);
    const ref = modelReference(d.remotePath);
    if (!ref) {
      await downloadS3Dataset(await remote.s3(), d, o.dir, o);
      continue;
    }
    const rel = cleanPath(d.path || ".");
    const sub = await verifySubpath(o.dir, rel);
    o.logger.info(`Unpacking referenced dataset ModelKit ${d.remotePath} to ${rel}`);
    const source = await remote.locate(ref);
    const referenced = await readModelKit(source, tagOrDigest(ref), { signal: o.signal, logger: o.logger });
    await remote.verify?.(source, ref, referenced.manifestDesc);
    await unpackContents(source, referenced, { ...o, dir: sub, filters: ALL_DATASETS, writeKitfile: false, remote: undefined });
  }
}
