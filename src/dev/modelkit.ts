/**
 * `kit dev start <ModelKit>` (docs/format.md#cache): only the model (and the Kitfile) is unpacked, from
 * local storage or the registry, into `<home>/cache/dev/<algorithm>-<hex>/` named after the
 * manifest digest, so a second start of the same kit reuses it. Referenced parent kits
 * contribute their model files to the same directory, as `kit unpack` does.
 *
 * The directory is filled under a temporary name and renamed into place when complete, so a
 * half-unpacked kit is never served and two starts at once do not disturb each other.
 * @module
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Filter } from "../modelkit/layer-filter.ts";
import { readModelKit } from "../modelkit/contents.ts";
import { unpackModelKit } from "../modelkit/unpack.ts";
import { tagOrDigest, type ModelRef } from "../oci/reference.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import type { ReadOnlyTarget } from "../store/target.ts";
import { errnoCode, randomHex } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import type { Progress } from "../util/progress.ts";

/** Finds where a ModelKit can be read (local storage first, then its registry). */
export type KitSource = (ref: ModelRef) => Promise<ReadOnlyTarget>;

export interface ExtractedKit {
  /** The unpacked directory (the context for the model path). */
  dir: string;
  /** `<dir>/Kitfile`. */
  kitfilePath: string;
  /** The manifest digest the directory is named after. */
  digest: string;
  /** False when an earlier start had already unpacked it. */
  unpacked: boolean;
}

const MODEL_AND_KITFILE: Filter[] = [{ types: ["model", "kitfile"], names: [] }];

/** The cache directory for a manifest digest (`sha256:ab…` → `sha256-ab…`: no `:` in file names). */
export function devCacheDir(cacheRoot: string, digest: string): string {
  return path.join(cacheRoot, "dev", digest.replace(":", "-"));
}

export async function extractModelKit(o: {
  ref: ModelRef;
  source: KitSource;
  /** `<home>/cache`. */
  cacheRoot: string;
  logger: Logger;
  progress?: Progress;
  signal?: AbortSignal;
  /** Refuses the kit from its Kitfile before anything of it is copied. */
  check?: (kitfile: Kitfile) => void;
  /** The --verify-key check of every kit in the chain, before anything of it is written. */
  verify?: (source: ReadOnlyTarget, ref: ModelRef, desc: Descriptor) => Promise<unknown>;
}): Promise<ExtractedKit> {
  const src = await o.source(o.ref);
  const kit = await readModelKit(src, tagOrDigest(o.ref), { signal: o.signal, logger: o.logger });
  o.check?.(kit.kitfile); // before anything is copied
  const digest = kit.manifestDesc.digest;
  const dir = devCacheDir(o.cacheRoot, digest);
  const kitfilePath = path.join(dir, "Kitfile");
  if (await stat(kitfilePath).catch(() => undefined)) {
    o.logger.debug(`ModelKit ${digest} is already unpacked in ${dir}`);
    return { dir, kitfilePath, digest, unpacked: false };
  }

  await mkdir(path.dirname(dir), { recursive: true });
  const tmp = path.join(path.dirname(dir), `.tmp-${path.basename(dir)}-${randomHex(6)}`);
  try {
    // unpack's per-layer lines would name the temporary directory: keep them for -v
    const quiet: Logger = { ...o.logger, info: (m) => o.logger.debug(m) };
    await unpackModelKit(o.ref, o.source, {
      dir: tmp,
      filters: MODEL_AND_KITFILE,
      overwrite: false,
      ignoreExisting: true,
      logger: quiet,
      progress: o.progress,
      signal: o.signal,
      verify: o.verify,
    }, o.logger);
    try {
      await rename(tmp, dir);
    } catch (e) {
      // another start finished the same kit first: use that one
      if (!["EEXIST", "ENOTEMPTY", "EPERM"].includes(errnoCode(e) ?? "") || !(await stat(kitfilePath).catch(() => undefined))) throw e;
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir, kitfilePath, digest, unpacked: true };
}
