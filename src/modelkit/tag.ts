/**
 * `kit tag`: a tag in the source's repository, or the ModelKit added to another repository of
 * local storage (its blobs are shared, so only that repository's index gains the manifest).
 * @module
 */
import { refToString, repoKey, tagOrDigest, type ModelRef } from "../oci/reference.ts";
import { copy } from "../store/copy.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import { KitError, NotFoundError } from "../util/errors.ts";

export async function tagModelKit(storage: LayoutStore, source: ModelRef, target: ModelRef, signal?: AbortSignal): Promise<void> {
  const fail = (msg: string, cause?: unknown) => new KitError(`Failed to tag modelkit: ${msg}`, { cause });
  const sourceRepo = new LocalRepository(storage, repoKey(source));
  let desc;
  try {
    desc = await sourceRepo.resolve(tagOrDigest(source), { signal });
  } catch (e) {
    if (e instanceof NotFoundError) throw fail(`model ${refToString(source)} not found`, e);
    throw fail(`error resolving model: ${(e as Error).message}`, e);
  }
  if (repoKey(source) === repoKey(target)) {
    try {
      await sourceRepo.tag(desc, tagOrDigest(target), { signal });
    } catch (e) {
      throw fail(`failed to tag reference ${refToString(target)}: ${(e as Error).message}`, e);
    }
    return;
  }
  try {
    await copy(sourceRepo, desc.digest, new LocalRepository(storage, repoKey(target)), tagOrDigest(target), { signal });
  } catch (e) {
    throw fail(`failed to tag model: ${(e as Error).message}`, e);
  }
}
