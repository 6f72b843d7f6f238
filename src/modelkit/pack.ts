/**
 * `kit pack`: a Kitfile and its context directory become a ModelKit in local storage, with the
 * same layer, config and manifest bytes as kit (docs/format.md#layers,
 * docs/format.md#config, docs/format.md#manifest). Each file is read once;
 * each layer's tar is hashed while it is written straight into the store's ingest area and then
 * renamed into place; layers are packed in parallel within a bound; memory stays bounded.
 * @module
 */
import { open, readFile, stat } from "node:fs/promises";
import path from "node:path";
// The reader part of zip.js only: pack lists a bundle's entries and reads no entry data.
import { ZipReader } from "@zip.js/zip.js/lib/zip-core-reader.js";
import type { Kitfile } from "../kitfile/schema.ts";
import { kitfileToConfigJson } from "../kitfile/config.ts";
import { modelPackConfigJson } from "../kitfile/modelpack.ts";
import { cleanPath } from "../kitfile/paths.ts";
import { descriptorFromBytes, type Descriptor } from "../oci/descriptor.ts";
import { DigestStream, type Digest } from "../oci/digest.ts";
import { layerMediaType, modelPackMediaType, type Compression, type LayerBase, type LayerFormat } from "../oci/layer-type.ts";
import { buildManifest, encodeManifest, type ManifestShape } from "../oci/manifest.ts";
import {
  ANNOTATION_CLI_VERSION,
  ANNOTATION_CREATED,
  ANNOTATION_FILE_METADATA,
  ANNOTATION_FILEPATH,
  ANNOTATION_KITFILE,
  ANNOTATION_LAYER_SUBTYPE,
  KIT_CONFIG,
  MODELPACK_ARTIFACT_TYPE,
  MODELPACK_CONFIG,
  OCI_MANIFEST,
} from "../oci/media-types.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import { bytesStream } from "../store/target.ts";
import { OFFLOAD_MIN_BYTES } from "../runtime/hash-worker.ts";
import { gzipStream, zstdCompressStream } from "../util/compress.ts";
import { AlreadyExistsError, KitError } from "../util/errors.ts";
import { ChunkPool } from "../util/chunk-pool.ts";
import { readFileChunks } from "../util/fs.ts";
import { goJson, goRFC3339Nano } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";
import { limit, throwIfAborted } from "../util/pool.ts";
import { noProgress, type Progress } from "../util/progress.ts";
import { iterableStream } from "../util/streams.ts";
import { createIgnore, type KitIgnore } from "./ignore.ts";
import type { LayerCache } from "./layer-cache.ts";
import { layerTitle } from "./layer-title.ts";
import { belongsToOtherLayer } from "./layers.ts";
import { tarChunks, type TarEntry } from "../store/tar.ts";
import { walkLayer, type WalkEntry } from "./walk.ts";

/** One Kitfile entry that becomes one layer. */
export interface LayerPlan {
  /** The word kit prints: `Saved <kind> layer`. Prompts print `code`. */
  kind: LayerBase;
  /** What the entry is in the Kitfile (for messages and annotations). */
  section: "model" | "modelpart" | "code" | "dataset" | "docs" | "prompt" | "mcpserver";
  /** Path as written in the Kitfile. */
  rawPath: string;
  /** Path after `filepath.Clean`. */
  path: string;
  /** The Kitfile entry object; pack writes `digest`/`diffId` into it. */
  entry: { digest?: string; diffId?: string };
  format: LayerFormat;
}

export interface PackOptions {
  /** Absolute context directory. */
  context: string;
  kitfile: Kitfile;
  storage: LayoutStore;
  /** `<registry>/<repository>` the manifest is recorded in (`localhost/_` when untagged). */
  repo: string;
  tags: string[];
  compression: Compression;
  layerFormat: LayerFormat;
  shape: ManifestShape;
  cliVersion: string;
  /** `org.opencontainers.image.created` (newest shape only), RFC 3339 seconds. */
  created: string;
  /**
   * `--use-model-pack`: write the CNCF ModelPack format (docs/format.md#modelpack) with this
   * `descriptor.createdAt` (Go `time.Time` JSON) instead of kit's.
   */
  modelPack?: { createdAt: string };
  /** Layer paths of model-reference ancestors: their files are left to the parent kits. */
  ancestorPaths?: string[];
  /** True when `model.path` names another ModelKit (no model layer). */
  modelIsReference?: boolean;
  logger: Logger;
  progress?: Progress;
  signal?: AbortSignal;
  /** Layers packed at once (default 2). */
  concurrency?: number;
  /** Remembers layer digests so unchanged layers are not read again. */
  layerCache?: LayerCache;
  /**
   * Uncompressed layers from this size on are hashed on a worker thread while read and written
   * (default 8 MiB; 0: always, Infinity: never). The bytes and digests are the same either way.
   */
  offloadHashBytes?: number;
  /**
   * Layers already built as files by the caller, by cleaned layer path: each is the uncompressed
   * tar pack would write for that path, with its digest (`kit import` builds single-file layers
   * while downloading). Used for tar layers without compression; the file is moved into storage.
   */
  prebuiltLayers?: ReadonlyMap<string, PrebuiltLayer>;
}

/** A layer tar built outside pack; see {@link PackOptions.prebuiltLayers}. */
export interface PrebuiltLayer {
  file: string;
  digest: Digest;
  size: number;
}

export interface PackResult {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

/** The layer plan in kit's manifest order: model, parts, code, datasets (local), docs, prompts, MCP servers. */
export function planLayers(k: Kitfile, layerFormat: LayerFormat, modelIsReference = false): LayerPlan[] {
  const plans: LayerPlan[] = [];
  const add = (kind: LayerBase, section: LayerPlan["section"], entry: { path?: string; digest?: string; diffId?: string }, format = layerFormat) => {
    const rawPath = entry.path ?? "";
    plans.push({ kind, section, rawPath, path: cleanPath(rawPath === "" ? "." : rawPath), entry, format });
  };
  if (k.model && k.model.path && !modelIsReference) add("model", "model", k.model);
  for (const p of k.model?.parts ?? []) add("modelpart", "modelpart", p);
  for (const c of k.code ?? []) add("code", "code", c);
  for (const d of k.datasets ?? []) if (!d.remotePath) add("dataset", "dataset", d);
  for (const d of k.docs ?? []) add("docs", "docs", d);
  for (const p of k.prompts ?? []) add("code", "prompt", p);
  for (const m of k.mcpServers ?? []) add("mcpb", "mcpserver", m, "raw");
  return plans;
}

/**
 * Layer-path annotations of the newest shape (docs/format.md#annotations); key order is Go's sorted
 * map order.
 */
function layerAnnotations(plan: LayerPlan, rawMeta?: string): Record<string, string> {
  const a: Record<string, string> = {};
  if (plan.section === "prompt") a[ANNOTATION_LAYER_SUBTYPE] = "prompt";
  if (rawMeta !== undefined) a[ANNOTATION_FILE_METADATA] = rawMeta;
  a[ANNOTATION_FILEPATH] = plan.path;
  return a;
}

/** Go's `time.RFC3339Nano` of a file's mtime with the local UTC offset. */
function goLocalTime(mtimeNs: bigint): string {
  const NS = 1_000_000_000n;
  const nanos = ((mtimeNs % NS) + NS) % NS;
  const secs = Number((mtimeNs - nanos) / NS);
  return goRFC3339Nano(secs, Number(nanos), -new Date(secs * 1000).getTimezoneOffset() * 60);
}

function compressionStage(c: Compression) {
  switch (c) {
    case "none": return undefined;
    case "gzip": return gzipStream(6);
    case "gzip-fastest": return gzipStream(1);
    case "zstd": return zstdCompressStream();
  }
}

/** Checks an MCP bundle: a ZIP file with `manifest.json` at its root. */
async function checkMcpBundle(file: string, name: string): Promise<void> {
  const fh = await open(file);
  try {
    const size = (await fh.stat()).size;
    const reader = new ZipReader({
      size,
      async readUint8Array(offset: number, length: number) {
        const buf = new Uint8Array(length);
        await fh.read(buf, 0, length, offset);
        return buf;
      },
    } as never);
    let entries;
    try {
      entries = await reader.getEntries();
    } catch (e) {
      throw new KitError(`invalid MCP bundle for mcpServer ${name}: not a ZIP file (${(e as Error).message})`);
    } finally {
      await reader.close();
    }
    if (!entries.some((e) => e.filename === "manifest.json" && !e.directory)) {
      throw new KitError(`invalid MCP bundle for mcpServer ${name}: manifest.json not found at the root of the bundle`);
    }
  } finally {
    await fh.close();
  }
}

/** Files below this size share one read buffer (they are copied into the tar staging buffer). */
const SMALL_FILE_BYTES = 64 * 1024;
/** Larger files are read in chunks of this size into a pool of this many buffers per layer. */
const READ_CHUNK_BYTES = 1024 * 1024;
const POOL_CHUNKS = 8;

interface LayerOutcome {
  plan: LayerPlan;
  desc: Descriptor;
  diffId: Digest;
  existed: boolean;
  empty: boolean;
}

async function packLayer(plan: LayerPlan, opts: PackOptions, ignore: KitIgnore, allPaths: string[]): Promise<LayerOutcome> {
  const { context, storage, signal } = opts;
  const progress = opts.progress ?? noProgress;
  const base = plan.section === "mcpserver" ? "mcpb" : plan.kind;
  const compression = plan.section === "mcpserver" ? "none" : opts.compression;
  const mediaType = opts.modelPack ? modelPackMediaType(base, plan.format, compression) : layerMediaType(base, plan.format, compression);
  const pre = opts.prebuiltLayers?.get(plan.path);
  if (pre && plan.format === "tar" && compression === "none") {
    const desc: Descriptor = { mediaType, digest: pre.digest, size: pre.size };
    const { existed } = await storage.adopt(pre.file, desc, { signal });
    if (opts.shape === "newest") desc.annotations = layerAnnotations(plan);
    return { plan, desc, diffId: pre.digest, existed, empty: false };
  }
  const title = layerTitle(plan.section, { name: (plan.entry as { name?: string }).name, path: plan.path });
  let entries: WalkEntry[];
  let rawMeta: string | undefined;
  let makeSource: (pool: ChunkPool | undefined) => AsyncIterable<Uint8Array>;
  let total = 0;

  if (plan.format === "raw") {
    const abs = path.join(context, plan.path);
    const st = await stat(abs, { bigint: true }).catch(() => undefined);
    if (!st) throw new KitError(`path ${plan.path} does not exist`);
    if (!st.isFile()) throw new KitError(`file ${plan.path} is not a regular file`);
    if (plan.section === "mcpserver") await checkMcpBundle(abs, (plan.entry as { name?: string }).name ?? plan.path);
    total = Number(st.size);
    const mode = Number(st.mode & 0o7777n);
    rawMeta = goJson({ name: path.basename(plan.path), mode, uid: 0, gid: 0, size: total, mtime: goLocalTime(st.mtimeNs), typeflag: 0 });
    entries = [{
      name: plan.path, type: "file", mode, size: total, source: abs,
      dev: Number(st.dev), ino: Number(st.ino), mtimeMs: Number(st.mtimeNs) / 1e6, ctimeMs: Number(st.ctimeNs) / 1e6,
    }];
    makeSource = (pool) => {
      const task = progress.task(title, total);
      return (async function* () {
        let n = 0;
        for await (const c of readFileChunks(abs, { signal, pool })) {
          n += c.byteLength;
          task.add(c.byteLength);
          yield c;
        }
        if (n !== total) throw new KitError(`File ${plan.path} changed size while it was being packed`);
        task.done();
      })();
    };
  } else {
    if (plan.path !== "." && ignore.matches(plan.path)) {
      opts.logger.error(`Warning: ${plan.kind} layer path ${plan.path} ignored by kitignore`);
    }
    const others = allPaths.filter((p) => p !== plan.path);
    const walked = await walkLayer({
      context,
      layerPath: plan.path,
      excluded: (f) => ignore.matches(f) || belongsToOtherLayer(f, plan.path, others),
      descendIgnoredDirs: ignore.hasExclusions,
      logger: opts.logger,
      signal,
    });
    entries = walked;
    total = walked.reduce((a, e) => a + e.size, 0);
    if (total === 0) opts.logger.warn(`No files detected in ${plan.kind} layer with path ${plan.path}`);
    makeSource = (pool) => {
      const task = progress.task(title, total);
      // Files smaller than the tar writer's pass-through size are copied into its staging buffer
      // before the next read, so they can all be read into one scratch buffer. Larger ones, and
      // the staging buffers, are the pool's, which get them back once written and hashed.
      const scratch = Buffer.allocUnsafeSlow(SMALL_FILE_BYTES);
      const tarEntries: TarEntry[] = walked.map((e) =>
        e.type === "dir"
          ? { type: "dir", name: e.name, mode: e.mode }
          : {
              type: "file",
              name: e.name,
              mode: e.mode,
              size: e.size,
              open: () => (async function* () {
                const opts = e.size < SMALL_FILE_BYTES ? { signal, scratch } : { signal, pool };
                for await (const c of readFileChunks(e.source, opts)) {
                  task.add(c.byteLength);
                  yield c;
                }
              })(),
            },
      );
      return (async function* () {
        yield* tarChunks(tarEntries, { signal, passThroughBytes: SMALL_FILE_BYTES + 1, stagingBytes: 256 * 1024, pool });
        task.done();
      })();
    };
  }

  const annotations = opts.shape === "newest" ? layerAnnotations(plan, rawMeta) : undefined;
  const outcome = (digest: Digest, diffId: Digest, size: number, existed: boolean): LayerOutcome => {
    const desc: Descriptor = { mediaType, digest, size };
    if (annotations) desc.annotations = annotations;
    return { plan, desc, diffId, existed, empty: total === 0 && entries.length === 0 };
  };

  // An unchanged layer whose blob is still stored is not read again.
  const cache = opts.layerCache;
  const key = cache?.key({ mediaType, compression, path: plan.path, entries, extra: rawMeta });
  if (cache && key) {
    const hit = await cache.get(key);
    if (hit && (await storage.blobSize(hit.digest)) === hit.size) {
      opts.logger.debug(`Layer ${plan.path} is unchanged since it was last packed: reusing ${hit.digest}`);
      return outcome(hit.digest, hit.diffId, hit.size, true);
    }
  }

  const comp = compressionStage(compression);
  // Uncompressed layers are read into a bounded pool of buffers, each given back once written
  // and hashed; large ones are hashed on another core while this thread reads and the thread
  // pool writes. The compressor keeps what it reads for a while, so it gets fresh buffers.
  const pool = comp ? undefined : new ChunkPool(READ_CHUNK_BYTES, POOL_CHUNKS);
  let diffIdStream: DigestStream | undefined;
  let source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> = makeSource(pool);
  if (comp) {
    diffIdStream = new DigestStream();
    source = iterableStream(source).pipeThrough(diffIdStream).pipeThrough(comp);
  }
  const { digest, size, existed } = await storage.ingest(source, {
    signal,
    mode: 0o600,
    offload: pool !== undefined && total >= (opts.offloadHashBytes ?? OFFLOAD_MIN_BYTES),
    release: pool && ((c) => pool.release(c)),
  });
  const diffId = diffIdStream ? diffIdStream.digest : digest;
  if (cache && key && !cache.racy(entries)) await cache.put(key, { digest, diffId, size });
  return outcome(digest, diffId, size, existed);
}

/** Packs a ModelKit into local storage and records it in `opts.repo` with `opts.tags`. */
export async function pack(opts: PackOptions): Promise<PackResult> {
  const { context, storage, logger, signal } = opts;
  const kitfile = structuredClone(opts.kitfile);
  if (opts.modelPack) {
    if (kitfile.mcpServers?.length) throw new KitError("mcpServers are not supported when packing in modelpack format");
    if (opts.layerFormat === "raw" && opts.compression !== "none") throw new KitError("compression for raw layers is not supported for ModelPack");
  }
  const plans = planLayers(kitfile, opts.layerFormat, opts.modelIsReference);

  let ignoreText: string | undefined;
  try {
    ignoreText = await readFile(path.join(context, ".kitignore"), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const ignore = createIgnore(ignoreText);
  const allPaths = [...plans.map((p) => p.path), ...(opts.ancestorPaths ?? []).map((p) => cleanPath(p))];

  const pool = limit(opts.concurrency ?? 2);
  const outcomes = await Promise.all(
    plans.map((plan) =>
      pool.run(async () => {
        try {
          return await packLayer(plan, opts, ignore, allPaths);
        } catch (e) {
          if (e instanceof KitError && !e.message.startsWith("error processing")) {
            const section = plan.section === "modelpart" ? "model part" : plan.section;
            throw new KitError(`error processing ${section}: ${e.message}`, { cause: e, hint: e.hint });
          }
          throw e;
        }
      }, signal),
    ),
  );
  throwIfAborted(signal);

  for (const o of outcomes) {
    o.plan.entry.digest = o.desc.digest;
    o.plan.entry.diffId = o.diffId;
    logger.info(`${o.existed ? "Already saved" : "Saved"} ${o.plan.kind} layer: ${o.desc.digest}`);
  }

  const kitfileJson = kitfileToConfigJson(kitfile);
  const configBytes = new TextEncoder().encode(
    opts.modelPack ? modelPackConfigJson(kitfile, outcomes.map((o) => o.diffId), opts.modelPack.createdAt) : kitfileJson,
  );
  const config = descriptorFromBytes(opts.modelPack ? MODELPACK_CONFIG : KIT_CONFIG, configBytes);
  if (await storage.exists(config)) {
    logger.info(`Configuration already exists in storage: ${config.digest}`);
  } else {
    await pushIgnoringExisting(storage, config, configBytes, signal);
    logger.info(`Saved configuration: ${config.digest}`);
  }

  const annotations: Record<string, string> = { [ANNOTATION_CLI_VERSION]: opts.cliVersion };
  if (opts.modelPack) annotations[ANNOTATION_KITFILE] = kitfileJson;
  if (opts.shape === "newest") annotations[ANNOTATION_CREATED] = opts.created;
  const manifest = buildManifest({
    config,
    layers: outcomes.map((o) => o.desc),
    annotations,
    shape: opts.shape,
    artifactType: opts.modelPack ? MODELPACK_ARTIFACT_TYPE : undefined,
  });
  const manifestBytes = new TextEncoder().encode(encodeManifest(manifest));
  const manifestDesc = descriptorFromBytes(OCI_MANIFEST, manifestBytes);
  const repo = new LocalRepository(storage, opts.repo);
  if (await storage.exists(manifestDesc)) {
    logger.info(`Manifest already exists in storage: ${manifestDesc.digest}`);
    await repo.addManifest(manifestDesc, { signal });
  } else {
    await repo.push(manifestDesc, bytesStream(manifestBytes), { signal });
    logger.info(`Saved manifest to storage: ${manifestDesc.digest}`);
  }
  for (const t of opts.tags) await repo.tag(manifestDesc, t, { signal });
  return { manifest: manifestDesc, config, layers: outcomes.map((o) => o.desc) };
}

async function pushIgnoringExisting(storage: LayoutStore, desc: Descriptor, bytes: Uint8Array, signal?: AbortSignal) {
  try {
    await storage.push(desc, bytesStream(bytes), { signal });
  } catch (e) {
    if (!(e instanceof AlreadyExistsError)) throw e;
  }
}
