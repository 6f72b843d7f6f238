/**
 * Migration of the storage layout used before kit v0.3.0 (docs/format.md#legacy-storage): each
 * repository was its own OCI layout at `storage/<registry>/<repository>/` with tags as ref-name
 * annotations in its `index.json`. Every manifest is copied into the shared layout, checked, and
 * the old directories are removed.
 * @module
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { Descriptor } from "../oci/descriptor.ts";
import { digestHex, isDigest } from "../oci/digest.ts";
import { KitError, NotFoundError } from "../util/errors.ts";
import { errnoCode, fileReadableStream, pathExists } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { throwIfAborted } from "../util/pool.ts";
import { copy } from "./copy.ts";
import { ANNOTATION_REF_NAME, type IndexFile, parseIndex, withoutRefName } from "./index-file.ts";
import { type LayoutOptions, LayoutStore } from "./layout.ts";
import { LocalRepository } from "./local.ts";
import { checkDescriptor, missingReference, notFound, type ReadOnlyTarget, type StoreOptions } from "./target.ts";

/**
 * Directories under `storageDir` (relative, `/`-separated, in walk order) that hold an
 * `index.json`: legacy per-repository layouts. The shared layout's own `index.json` is not one.
 */
export async function findLegacyStores(storageDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fsp.readdir(path.join(storageDir, rel), { withFileTypes: true });
    } catch (e) {
      if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return;
      throw new KitError(`failed to read local storage: ${(e as Error).message}`, { cause: e });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (rel !== "" && entries.some((e) => e.name === "index.json" && !e.isDirectory())) out.push(rel);
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      // The shared layout's blob and ingest directories hold only content-named files.
      if (rel === "" && (e.name === "blobs" || e.name === "ingest")) continue;
      await walk(rel === "" ? e.name : `${rel}/${e.name}`);
    }
  };
  await walk("");
  return out;
}

/** True when `storageDir` still has legacy per-repository layouts (kit's `NeedsMigrate`). */
export async function needsMigration(storageDir: string): Promise<boolean> {
  return (await findLegacyStores(storageDir)).length > 0;
}

/** A legacy per-repository OCI layout, read-only. Resolves ref-name annotations and digests. */
export class LegacyLayoutSource implements ReadOnlyTarget {
  constructor(readonly dir: string) {}

  async readIndex(): Promise<IndexFile> {
    const file = path.join(this.dir, "index.json");
    return parseIndex(await fsp.readFile(file, "utf8"), file);
  }

  #blob(desc: Descriptor): string {
    checkDescriptor(desc);
    return path.join(this.dir, "blobs", "sha256", digestHex(desc.digest));
  }

  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    try {
      return await fileReadableStream(this.#blob(desc), { signal: opts.signal });
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw notFound(desc);
      throw e;
    }
  }

  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    throwIfAborted(opts.signal);
    return pathExists(this.#blob(desc));
  }

  async resolve(ref: string, opts: StoreOptions = {}): Promise<Descriptor> {
    throwIfAborted(opts.signal);
    if (ref === "") throw missingReference();
    const manifests = (await this.readIndex()).manifests ?? [];
    const hit = isDigest(ref)
      ? manifests.find((d) => d.digest === ref)
      : manifests.find((d) => d.annotations?.[ANNOTATION_REF_NAME] === ref);
    if (!hit) throw new NotFoundError(`${ref}: not found`);
    return withoutRefName(hit);
  }
}

export interface MigrateOptions extends LayoutOptions {
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Moves every legacy layout into the shared one (kit's `MigrateStorage`): each manifest is copied
 * under its tag (ref-name annotation) or digest into repository `<sub-path>`, checked, then the
 * legacy directory and finally `storage/<first path segment>` are removed. Untagged manifests are
 * not given a digest-named tag (kit v1.7 writes one [quirk, fixed]). Returns the migrated repositories.
 */
export async function migrateLegacyStorage(storageDir: string, opts: MigrateOptions = {}): Promise<string[]> {
  const stores = await findLegacyStores(storageDir);
  if (stores.length === 0) return [];
  const layout = await LayoutStore.open(storageDir, opts);
  for (const rel of stores) {
    throwIfAborted(opts.signal);
    const src = new LegacyLayoutSource(path.join(layout.root, ...rel.split("/")));
    const repo = new LocalRepository(layout, rel);
    let manifests: Descriptor[];
    try {
      manifests = (await src.readIndex()).manifests ?? [];
    } catch (e) {
      throw new KitError(`failed to migrate local storage: ${(e as Error).message}`, { cause: e });
    }
    for (const desc of manifests) {
      const ref = desc.annotations?.[ANNOTATION_REF_NAME] || desc.digest;
      opts.logger?.debug(`Migrating model ${rel} with reference ${ref} to new storage`);
      try {
        await copy(src, ref, repo, ref, { signal: opts.signal });
      } catch (e) {
        throw new KitError(`failed to migrate modelkit ${rel}:${ref}: ${(e as Error).message}`, { cause: e });
      }
      if (!(await repo.exists(desc))) throw new KitError(`migrating modelkit ${rel}:${ref} failed`);
    }
    await removeDir(src.dir);
  }
  for (const rel of stores) {
    const first = rel.split("/")[0]!;
    if (first === "blobs" || first === "ingest") continue;
    opts.logger?.debug(`Removing storage directory ${path.join(layout.root, first)}`);
    await removeDir(path.join(layout.root, first));
  }
  opts.logger?.debug("Migration done!");
  return stores;
}

async function removeDir(dir: string): Promise<void> {
  try {
    await fsp.rm(dir, { recursive: true, force: true });
  } catch (e) {
    throw new KitError(`failed to clean up directory ${dir} after migration: ${(e as Error).message}`, { cause: e });
  }
}
