/**
 * Downloads for `kit import` from the Hugging Face Hub: parallel, resumable, verified, each byte
 * written to disk once.
 *
 * Where the bytes go (all under the import's work directory, `<home>/cache/import/hf-…`):
 *
 * * A file that is a layer by itself (a model, a model part, a dataset file, …) is written
 *   straight into that layer: `layers/<id>.partial` starts with the tar header(s) pack would
 *   write, the file's bytes are appended as they arrive (hashed for the check against the listing
 *   and for the layer digest at the same time), then the tar padding; the finished tar is renamed
 *   to `layers/<id>.tar` and later moved into `storage/blobs/` by pack. No copy is ever made.
 * * A file of a directory layer (or of a catch-all `.` layer) is written to `partial/<id>` and,
 *   once verified, renamed to `tree/<path>`, where pack reads it into the layer.
 *
 * Each partial file survives a broken connection, Ctrl-C or a crash: the next run re-hashes what
 * is there and asks for the rest with `Range`; a broken connection within a run is resumed the
 * same way at once. A `done/<id>.json` record marks a finished file, so a second run downloads
 * nothing that is complete. Every file is checked against the listing: its size always, the
 * sha256 of LFS files, the git blob id of the others. A mismatch deletes the partial file and is
 * an error naming the file.
 * @module
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Digest } from "../oci/digest.ts";
import { resumingBody } from "../registry/blob-download.ts";
import type { Transport } from "../registry/transport.ts";
import { hashThread, type HashThread } from "../runtime/hash-thread.ts";
import { sha256, type Sha256 } from "../runtime/runtime.ts";
import { fileTarFrame } from "../store/tar.ts";
import type { PrebuiltLayer } from "./pack.ts";
import { CancelledError, IntegrityError, KitError } from "../util/errors.ts";
import { atomicWriteFile, errnoCode, writeAllSync } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { abortReason, Pool, throwIfAborted } from "../util/pool.ts";
import { eachChunk, skipBytes } from "../util/streams.ts";
import { noProgress, type Progress, type ProgressTask } from "../util/progress.ts";
import type { HubClient, HubFile, HubSnapshot } from "../init/hub.ts";
import type { ImportedFile } from "../init/provenance.ts";

/** Modes of everything an import writes, so layers do not depend on the umask. */
export const IMPORT_FILE_MODE = 0o644;
export const IMPORT_DIR_MODE = 0o755;

/** What to download: files for `tree/`, and files that are a layer by themselves. */
export interface DownloadPlan {
  tree: HubFile[];
  layers: HubFile[];
}

export interface DownloadOptions {
  concurrency: number;
  transport: Transport;
  logger: Logger;
  progress?: Progress;
  signal?: AbortSignal;
  /** Files from this size on are hashed on a worker thread (default {@link THREAD_HASH_BYTES}). */
  threadHashBytes?: number;
}

export interface DownloadResult {
  /** Every planned file, in plan order (layers first). */
  files: ImportedFile[];
  /** The single-file layers, by layer path, for pack. */
  layers: Map<string, PrebuiltLayer>;
}

interface DoneRecord extends ImportedFile {
  layer?: { digest: Digest; size: number };
}

/** The directories of an import's work area. */
export class WorkDir {
  constructor(readonly root: string) {}
  get tree(): string {
    return path.join(this.root, "tree");
  }
  get kitfile(): string {
    return path.join(this.root, "Kitfile");
  }
  idOf(p: string): string {
    return createHash("sha256").update(p).digest("hex").slice(0, 32);
  }
  partial(p: string): string {
    return path.join(this.root, "partial", this.idOf(p));
  }
  layerPartial(p: string): string {
    return path.join(this.root, "layers", `${this.idOf(p)}.partial`);
  }
  layerFile(p: string): string {
    return path.join(this.root, "layers", `${this.idOf(p)}.tar`);
  }
  record(p: string): string {
    return path.join(this.root, "done", `${this.idOf(p)}.json`);
  }
  /** Creates the work directories (`tree/` with mode 0755 whatever the umask). */
  async create(): Promise<void> {
    for (const d of ["partial", "layers", "done"]) await fsp.mkdir(path.join(this.root, d), { recursive: true });
    await mkdirs(this.tree, this.root);
  }
}

/** Creates `dir` and the missing directories between it and `base`, each with IMPORT_DIR_MODE. */
export async function mkdirs(dir: string, base: string): Promise<void> {
  const rel = path.relative(base, dir);
  let cur = base;
  for (const seg of rel === "" ? [] : rel.split(path.sep)) {
    cur = path.join(cur, seg);
    try {
      await fsp.mkdir(cur);
      await fsp.chmod(cur, IMPORT_DIR_MODE);
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
    }
  }
}

/** The tar framing of a single-file layer, with its ancestors as directories (what pack's walk yields). */
function layerFrame(file: HubFile) {
  const segs = file.path.split("/");
  const dirs = segs.slice(0, -1).map((_, i) => ({ name: segs.slice(0, i + 1).join("/"), mode: IMPORT_DIR_MODE }));
  return fileTarFrame(dirs, { name: file.path, mode: IMPORT_FILE_MODE, size: file.size });
}

/** git's object id of a blob: sha1 (or sha256 for sha256 repositories) of `blob <size>\0<content>`. */
class GitBlobHash {
  readonly #h;
  constructor(size: number, algorithm: "sha1" | "sha256") {
    this.#h = createHash(algorithm);
    this.#h.update(`blob ${size}\0`);
  }
  update(b: Uint8Array): void {
    this.#h.update(b);
  }
  hex(): string {
    return this.#h.digest("hex");
  }
}

async function readRecord(file: string): Promise<DoneRecord | undefined> {
  try {
    const v = JSON.parse(await fsp.readFile(file, "utf8")) as DoneRecord;
    return typeof v?.sha256 === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await fsp.stat(file)).size;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Reads `[from, to)` of an open file through `update`, in 1 MiB pieces. */
async function rehash(fh: fsp.FileHandle, from: number, to: number, update: (b: Uint8Array) => Promise<void> | undefined, signal?: AbortSignal): Promise<void> {
  const buf = new Uint8Array(Math.min(1 << 20, Math.max(1, to - from)));
  for (let pos = from; pos < to;) {
    throwIfAborted(signal);
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, to - pos), pos);
    if (bytesRead === 0) throw new KitError(`A partial download ended early at byte ${pos}`);
    await update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/**
 * Downloads the plan's files (at most `concurrency` at once) into `work`. The first failure stops
 * the others (each keeps what it received for the next run) and is thrown once all have stopped.
 */
export async function downloadSnapshot(client: HubClient, snap: HubSnapshot, plan: DownloadPlan, work: WorkDir, opts: DownloadOptions): Promise<DownloadResult> {
  await work.create();
  const progress = opts.progress ?? noProgress;
  const all = [...plan.layers.map((f) => ({ f, layer: true })), ...plan.tree.map((f) => ({ f, layer: false }))];
  const totalBytes = all.reduce((a, x) => a + x.f.size, 0);
  const total = all.length > 1 ? progress.task(`Total (${all.length} files)`, totalBytes) : undefined;
  const pool = new Pool(opts.concurrency);
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(opts.signal!.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  let first: unknown;
  const layers = new Map<string, PrebuiltLayer>();
  try {
    // Every download settles before this returns, so none is still writing when a caller retries.
    const settled = await Promise.allSettled(all.map(({ f, layer }) =>
      pool.run(async () => {
        const one = new FileDownload(client, snap, f, work, layer, { ...opts, signal: ctl.signal }, total);
        const rec = await one.run();
        if (layer) layers.set(f.path, { file: work.layerFile(f.path), digest: rec.layer!.digest, size: rec.layer!.size });
        const out: ImportedFile = { path: rec.path, size: rec.size, sha256: rec.sha256 };
        if (rec.gitBlob) out.gitBlob = rec.gitBlob;
        return out;
      }, ctl.signal).catch((e) => {
        if (first === undefined) {
          first = e;
          ctl.abort(new CancelledError());
        }
        throw e;
      })
    ));
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    if (first !== undefined) throw first;
    return { files: settled.map((r) => (r as PromiseFulfilledResult<ImportedFile>).value), layers };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    total?.done();
  }
}

const CONTENT = 1;
const LAYER = 2;
/** Files from this size on are hashed on a worker thread, beside the receiving and writing. */
export const THREAD_HASH_BYTES = 32 * 1024 * 1024;

/**
 * The digests of one download: sha256 of the content, the git blob id when the listing has no
 * sha256, and the layer's sha256 (head, content, tail) for a single-file layer.
 */
class Hashes {
  readonly #layered: boolean;
  readonly #git?: GitBlobHash;
  readonly #thread?: HashThread;
  #content?: Sha256;
  #layer?: Sha256;

  constructor(file: HubFile, layered: boolean, threadFrom: number) {
    this.#layered = layered;
    if (!file.sha256) this.#git = new GitBlobHash(file.size, file.oid.length === 64 ? "sha256" : "sha1");
    if (file.size >= threadFrom) this.#thread = hashThread(layered ? 2 : 1);
    if (!this.#thread) {
      this.#content = sha256();
      if (layered) this.#layer = sha256();
    }
  }

  get threaded(): boolean {
    return this.#thread !== undefined;
  }

  /** Adds bytes of the content (`CONTENT`), of the layer's framing (`LAYER`) or both. */
  add(b: Uint8Array, mask: number): Promise<void> | undefined {
    if (mask & CONTENT) this.#git?.update(b);
    const m = mask & (this.#layered ? CONTENT | LAYER : CONTENT);
    if (this.#thread) return m ? this.#thread.update(b, m) : undefined;
    if (m & CONTENT) this.#content!.update(b);
    if (m & LAYER) this.#layer!.update(b);
    return undefined;
  }

  async finish(): Promise<{ content: string; layer?: string; git?: string }> {
    const git = this.#git?.hex();
    if (this.#thread) {
      const [content, layer] = await this.#thread.digests();
      return { content: content!, layer, git };
    }
    return { content: this.#content!.hex(), layer: this.#layer?.hex(), git };
  }

  close(): void {
    this.#thread?.close();
  }
}

/** One file's download into `tree/` or into its own layer. */
class FileDownload {
  readonly #head: Uint8Array;
  readonly #tail: Uint8Array;
  readonly #partial: string;
  #hashes!: Hashes;

  constructor(
    private readonly client: HubClient,
    private readonly snap: HubSnapshot,
    private readonly file: HubFile,
    private readonly work: WorkDir,
    private readonly asLayer: boolean,
    private readonly opts: DownloadOptions,
    private readonly total: ProgressTask | undefined,
  ) {
    const frame = asLayer ? layerFrame(file) : { head: new Uint8Array(0), tail: new Uint8Array(0) };
    this.#head = frame.head;
    this.#tail = frame.tail;
    this.#partial = asLayer ? work.layerPartial(file.path) : work.partial(file.path);
  }

  /** True when an earlier run finished this file (its record and its result are there). */
  async #finished(): Promise<DoneRecord | undefined> {
    const rec = await readRecord(this.work.record(this.file.path));
    if (!rec || rec.path !== this.file.path || rec.size !== this.file.size) return undefined;
    if (this.asLayer) {
      if (!rec.layer) return undefined;
      if ((await sizeOf(this.work.layerFile(this.file.path))) === rec.layer.size) return rec;
      // Pack may already have moved it into storage in an earlier run that failed later.
      return undefined;
    }
    return (await sizeOf(path.join(this.work.tree, this.file.path))) === this.file.size ? rec : undefined;
  }

  async run(): Promise<DoneRecord> {
    const { file, opts } = this;
    const done = await this.#finished();
    if (done) {
      opts.logger.debug(`${file.path} was downloaded by an earlier run`);
      this.total?.already(file.size);
      return done;
    }
    opts.logger.info(`Downloading file ${file.path}`);
    const task = file.size >= 64 * 1024 ? opts.progress?.task(file.path, file.size) : undefined;
    const fh = await fsp.open(this.#partial, "a+", IMPORT_FILE_MODE);
    this.#hashes = new Hashes(file, this.asLayer, opts.threadHashBytes ?? THREAD_HASH_BYTES);
    if (this.#hashes.threaded) opts.logger.debug(`Hashing ${file.path} on a worker thread`);
    let closed = false;
    try {
      const head = this.#head.length;
      let have = (await fh.stat()).size;
      if (have > 0 && (have < head || have > head + file.size)) {
        await fh.truncate(0);
        have = 0;
      }
      if (have > 0) {
        await rehash(fh, 0, head, (b) => this.#hashes.add(b, LAYER), opts.signal);
        await rehash(fh, head, have, (b) => this.#hashes.add(b, CONTENT | LAYER), opts.signal);
        opts.logger.debug(`Resuming download of ${file.path} at byte ${have - head} of ${file.size}`);
      } else if (head > 0) {
        writeAllSync(fh.fd, this.#head);
        await this.#hashes.add(this.#head, LAYER);
      }
      const offset = have > 0 ? have - head : 0;
      task?.already(offset);
      this.total?.already(offset);
      if (offset < file.size) await this.#fetchRest(fh, offset, task);
      const size = (await fh.stat()).size - head;
      if (this.#tail.length > 0) {
        writeAllSync(fh.fd, this.#tail);
        await this.#hashes.add(this.#tail, LAYER);
      }
      const digests = await this.#hashes.finish();
      closed = true;
      await fh.close();
      await this.#verify(size, digests);
      return await this.#commit(digests);
    } finally {
      this.#hashes.close();
      if (!closed) await fh.close().catch(() => {});
      task?.done();
    }
  }

  async #fetchRest(fh: fsp.FileHandle, offset: number, task: ProgressTask | undefined): Promise<void> {
    const { client, snap, file, opts } = this;
    const t = opts.transport;
    const reopen = (at: number, signal?: AbortSignal) => client.openFile(snap, file, at, signal);
    const first = await reopen(offset, opts.signal);
    const body = resumingBody({ digest: file.path, size: file.size }, first.body, first.offset, reopen, {
      signal: opts.signal,
      logger: opts.logger,
      backoff: (n) => t.backoff(n - 1),
      sleep: (ms, signal) => t.wait(ms, signal),
    });
    // A server that ignored the range starts again at 0: drop what is already on disk.
    const skip = offset - first.offset;
    await eachChunk(skip > 0 ? skipBytes(body, skip) : body, opts.signal, async (chunk) => {
      const pending = this.#hashes.add(chunk, CONTENT | LAYER);
      // Synchronous: the copy into the page cache is short, and a thread-pool write per chunk
      // costs more than it overlaps (a 1 GiB download: about twice the time of curl).
      writeAllSync(fh.fd, chunk);
      if (pending) await pending;
      task?.add(chunk.byteLength);
      this.total?.add(chunk.byteLength);
    });
  }

  async #verify(size: number, d: { content: string; git?: string }): Promise<void> {
    const { file } = this;
    let problem: string | undefined;
    if (size !== file.size) problem = `${size} bytes instead of ${file.size}`;
    else if (file.sha256 && d.content !== file.sha256) problem = `sha256 ${d.content} instead of ${file.sha256}`;
    else if (d.git !== undefined && d.git !== file.oid) problem = `git blob id ${d.git} instead of ${file.oid}`;
    if (problem) {
      await fsp.rm(this.#partial, { force: true });
      throw new IntegrityError(`Downloaded file ${file.path} does not match the repository listing: ${problem}`, {
        hint: "The download was discarded; run the import again. If it fails the same way, the repository or a proxy in between serves wrong data",
      });
    }
  }

  async #commit(d: { content: string; layer?: string }): Promise<DoneRecord> {
    const { file, work } = this;
    const rec: DoneRecord = { path: file.path, size: file.size, sha256: d.content };
    // For an LFS file the listing's blob id is the pointer's, not the content's.
    if (!file.sha256) rec.gitBlob = file.oid;
    if (this.asLayer) {
      const target = work.layerFile(file.path);
      await fsp.rename(this.#partial, target);
      rec.layer = { digest: `sha256:${d.layer!}`, size: this.#head.length + file.size + this.#tail.length };
    } else {
      const target = path.join(work.tree, file.path);
      await mkdirs(path.dirname(target), work.tree);
      await fsp.chmod(this.#partial, IMPORT_FILE_MODE);
      await fsp.rename(this.#partial, target);
    }
    await atomicWriteFile(work.record(file.path), JSON.stringify(rec), 0o644);
    return rec;
  }
}
