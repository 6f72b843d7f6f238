/**
 * Remote datasets (`datasets[].remotePath`, docs/format.md#remote-datasets): S3 objects are not
 * packed; pack checks each one exists with the ETag the Kitfile records, and
 * `unpack --include-remote` downloads it — resumably, only while its ETag is unchanged, and
 * checked against the ETag's MD5 when it is one. (Datasets naming a ModelKit are unpacked by
 * unpack.ts.)
 * @module
 */
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { cleanPath, pathKind } from "../kitfile/paths.ts";
import type { Dataset, Kitfile } from "../kitfile/schema.ts";
import { normaliseEtag, parseS3Url, type S3Client } from "../s3/client.ts";
import { IntegrityError, KitError } from "../util/errors.ts";
import { readFileChunks, writeStreamToHandle } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { noProgress, type Progress } from "../util/progress.ts";
import { verifySubpath } from "./untar.ts";

/** Opens the S3 client on first use (most Kitfiles have no remote dataset). */
export type S3Opener = () => Promise<S3Client>;

/** The datasets whose remotePath is an S3 URL. */
export function s3Datasets(k: Kitfile): Dataset[] {
  return (k.datasets ?? []).filter((d) => d.remotePath && pathKind(d.remotePath).kind === "s3");
}

/**
 * pack: every S3 dataset exists and has the ETag its `remoteHash` records (`Verified remote S3
 * dataset for path <remotePath>`).
 */
export async function verifyRemoteDatasets(k: Kitfile, s3: S3Opener, o: { logger: Logger; signal?: AbortSignal }): Promise<void> {
  const datasets = s3Datasets(k);
  if (datasets.length === 0) return;
  const client = await s3();
  for (const d of datasets) {
    const loc = parseS3Url(d.remotePath!);
    const { etag } = await client.head(loc, { signal: o.signal });
    const expected = normaliseEtag(d.remoteHash ?? "");
    if (etag !== expected) {
      throw new KitError(`remote dataset ${loc.url} does not match the Kitfile: its ETag is ${etag}, remoteHash is ${expected}`, {
        hint: "Set the dataset's remoteHash to the object's current ETag if that object is the one to use",
      });
    }
    o.logger.info(`Verified remote S3 dataset for path ${loc.url}`);
  }
}

/** A single-part upload's ETag is the MD5 of the object: then the content itself can be checked. */
const MD5_ETAG = /^[0-9a-f]{32}$/;

/** Where a download of `target` with `etag` keeps its bytes until it is complete (so a later run can continue it). */
export function partialDownloadPath(target: string, etag: string): string {
  const tag = createHash("sha256").update(etag).digest("hex").slice(0, 12);
  return path.join(path.dirname(target), `.${path.basename(target)}.kit-partial-${tag}`);
}

export interface DownloadOptions {
  overwrite: boolean;
  ignoreExisting: boolean;
  logger: Logger;
  progress?: Progress;
  signal?: AbortSignal;
}

/**
 * Downloads an S3 dataset into `dir` at its `path` (the object's base name when it has none),
 * with unpack's rules for existing files. An interrupted download continues where it stopped
 * on the next run (HTTP `Range`, `If-Match` the recorded ETag).
 */
export async function downloadS3Dataset(s3: S3Client, d: Dataset, dir: string, o: DownloadOptions): Promise<void> {
  const loc = parseS3Url(d.remotePath!);
  const etag = normaliseEtag(d.remoteHash ?? "");
  const rel = cleanPath(d.path || path.posix.basename(loc.key));
  const target = await verifySubpath(dir, rel);
  const existing = await lstat(target).catch(() => undefined);
  if (existing) {
    if (o.ignoreExisting) {
      o.logger.info(`Skipping remote dataset ${loc.url}: ${rel} already exists`);
      return;
    }
    if (!o.overwrite) throw new KitError(`path '${rel}' already exists`);
    if (!existing.isFile()) throw new KitError(`path '${rel}' already exists and is not a regular file`);
  }
  o.logger.info(d.name ? `Downloading remote dataset ${d.name} from ${loc.url} to ${rel}` : `Downloading remote dataset ${loc.url} to ${rel}`);
  const partial = partialDownloadPath(target, etag);
  let offset = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (offset > 0) o.logger.debug(`Resuming the download of ${loc.url} at byte ${offset}`);
  const res = await s3.get(loc, { etag, offset, signal: o.signal });
  // A server that ignores Range sends the whole object: start over.
  if (res.offset !== offset) offset = 0;
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  const task = (o.progress ?? noProgress).task(`Downloading ${rel}`, res.size ?? 0);
  task.add(offset);
  const fh = await open(partial, offset > 0 ? "a" : "w", 0o600);
  let written: number;
  try {
    written = await writeStreamToHandle(res.body, fh, o.signal, (n) => task.add(n));
  } catch (e) {
    throw new KitError(`download of remote dataset ${loc.url} stopped: ${(e as Error).message}`, {
      cause: e,
      hint: "Run the command again to continue the download where it stopped",
    });
  } finally {
    await fh.close();
  }
  task.done();
  const total = offset + written;
  if (res.size !== undefined && total !== res.size) {
    throw new KitError(`download of remote dataset ${loc.url} ended after ${total} of ${res.size} bytes`, {
      hint: "Run the command again to continue the download where it stopped",
    });
  }
  if (MD5_ETAG.test(etag)) {
    // What is on disk: the bytes of an earlier run and the bytes just written.
    const md5 = createHash("md5");
    for await (const c of readFileChunks(partial, { signal: o.signal })) md5.update(c);
    const got = md5.digest("hex");
    if (got !== etag) {
      await rm(partial, { force: true });
      throw new IntegrityError(`remote dataset ${loc.url} does not match its ETag: the downloaded content's MD5 is ${got}, expected ${etag}`, {
        hint: "The partial download was removed; run the command again to download it afresh",
      });
    }
  }
  await chmod(partial, 0o644);
  await rename(partial, target);
}
