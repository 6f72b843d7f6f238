/**
 * `kit push` and `kit pull`: both are one generic copy between local storage and a registry
 * (store/copy.ts), so resumption, mounts, retries and verification live in the copy and the
 * stores, not here. A pull checks the kit's manifest and config before anything is stored and
 * then pulls the ModelKits its model refers to, each into its own repository.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { OCI_MANIFEST } from "../oci/media-types.ts";
import { refToString, repoKey, tagOrDigest, type ModelRef } from "../oci/reference.ts";
import { registryErrorIn, statusText } from "../registry/http.ts";
import { remoteFailure, type RegistrySession } from "../registry/remote.ts";
import { copyAttachments } from "../sign/attachments.ts";
import { copy, CopyError } from "../store/copy.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import type { ReadOnlyTarget } from "../store/target.ts";
import { CancelledError, KitError, NotFoundError, errorMessage, hintIn } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { Progress } from "../util/progress.ts";
import { modelKitFromManifest, readModelKit, type ModelKitContents } from "./contents.ts";
import { layerTitle } from "./layer-title.ts";
import { pairLayers } from "./unpack.ts";
import { modelReference } from "../kitfile/paths.ts";
import { MAX_MODEL_REF_CHAIN } from "./modelref.ts";

/** The `--verify-key` check of a kit before anything of it is stored or written. */
export type VerifyKit = (source: ReadOnlyTarget, ref: ModelRef, desc: Descriptor) => Promise<unknown>;

export interface TransferOptions {
  storage: LayoutStore;
  session: RegistrySession;
  /** Blobs moved at once. */
  concurrency: number;
  logger: Logger;
  progress: Progress;
  signal: AbortSignal;
}

/**
 * Progress bar titles for a copy's blobs (`dataset training (data/train.csv)` rather than a
 * digest), learnt from each kit's manifest and Kitfile as the copy reads them.
 */
function layerTitles() {
  const titles = new Map<string, string>();
  return {
    learn(kit: ModelKitContents) {
      let pairs;
      try {
        pairs = pairLayers(kit.kitfile, kit.manifest);
      } catch {
        return; // a Kitfile that does not match its layers: the bars show digests
      }
      for (const p of pairs) if (!titles.has(p.layer.digest)) titles.set(p.layer.digest, layerTitle(p.kind, p.entry));
    },
    describe: (d: Descriptor) => titles.get(d.digest),
  };
}

/**
 * Pushes the local ModelKit `src` to the registry reference `dst` (blobs the registry has are
 * skipped, blobs in `src`'s repository on the same registry are mounted). kit's messages.
 */
export async function pushModelKit(o: TransferOptions & { src: ModelRef; dst: ModelRef }): Promise<Descriptor> {
  const local = new LocalRepository(o.storage, repoKey(o.src));
  try {
    await local.resolve(tagOrDigest(o.src), { signal: o.signal });
  } catch (e) {
    if (e instanceof NotFoundError) throw new KitError(`Failed to push: model ${refToString(o.src)} not found.`);
    throw e;
  }
  const remote = o.session.repository(o.dst.registry, o.dst.repository, { actions: ["pull", "push"] });
  const titles = layerTitles();
  // Only for the titles (what is pushed is not checked): read here, not in the copy, which would then upload the config rather than mount it.
  const kit = await readModelKit(local, tagOrDigest(o.src), { signal: o.signal }).catch(() => undefined);
  if (kit) titles.learn(kit);
  try {
    const desc = await copy(local, tagOrDigest(o.src), remote, tagOrDigest(o.dst), {
      concurrency: o.concurrency,
      signal: o.signal,
      progress: o.progress,
      describe: titles.describe,
      mountFrom: o.src.registry === o.dst.registry && o.src.repository !== o.dst.repository ? [o.src.repository] : [],
    });
    // Signatures and attestations (sha256-<hex>.sig/.att) travel with the kit.
    for (const tag of await copyAttachments(local, remote, desc.digest, { signal: o.signal })) o.logger.debug(`Pushed ${tag}`);
    return desc;
  } catch (e) {
    if (e instanceof CancelledError || o.signal.aborted) throw e;
    const re = registryErrorIn(e);
    if (re) {
      let msg = `Failed to push: got response ${re.status} (${statusText(re.status)}) from remote`;
      if (re.status === 401) msg += ". Ensure the repository exists and you have push access to it.";
      const said = `The registry said: ${re.message}`;
      // re.hint, on a 401/403: which registry to log in to, and how
      throw new KitError(msg, { cause: e, hint: re.status === 401 ? re.hint : re.hint ? `${said}\n${re.hint}` : said });
    }
    const cause = remoteFailure(e);
    throw new KitError(`Failed to push: ${errorMessage(cause)}.`, { cause: e, hint: hintIn(cause) });
  }
}

/**
 * Pulls the registry reference `ref` into its local repository, then the ModelKits its model
 * refers to, each into its own repository (kit tags parents inside the child's repository
 * [quirk]; that is not copied, so a pulled chain unpacks offline). kit's messages.
 */
export async function pullModelKit(o: TransferOptions & { ref: ModelRef; verify?: VerifyKit }): Promise<Descriptor> {
  try {
    const desc = await pullOne(o, o.ref, [refToString(o.ref)]);
    await o.storage.pruneIngest().catch(() => 0);
    return desc;
  } catch (e) {
    if (e instanceof CancelledError || o.signal.aborted) throw e;
    throw new KitError(`failed to pull: ${errorMessage(remoteFailure(e))}`, { cause: e, hint: hintIn(e) });
  }
}

async function pullOne(o: TransferOptions & { verify?: VerifyKit }, ref: ModelRef, visited: string[]): Promise<Descriptor> {
  const r = refToString(ref);
  const remote = o.session.repository(ref.registry, ref.repository);
  const local = new LocalRepository(o.storage, repoKey(ref));
  const titles = layerTitles();
  let desc: Descriptor;
  try {
    desc = await copy(remote, tagOrDigest(ref), local, tagOrDigest(ref), {
      concurrency: o.concurrency,
      signal: o.signal,
      progress: o.progress,
      describe: titles.describe,
      // Nothing is stored of a kit whose manifest, config or layers kit cannot read.
      async checkManifest(d, bytes, fetch) {
        if (d.mediaType !== OCI_MANIFEST) throw new KitError(`reference ${r} is not an image manifest`);
        const kit = await modelKitFromManifest(d, bytes, fetch, o.logger);
        if (!kit) throw new KitError(`reference ${r} does not refer to a model`);
        titles.learn(kit);
        await o.verify?.(remote, ref, d);
      },
    });
  } catch (e) {
    if (e instanceof CopyError && e.op === "Resolve") {
      // The reference itself: said without the copy's internal operation names.
      if (e.cause instanceof NotFoundError) throw new NotFoundError(`${r}: not found`, { cause: e });
      throw e.cause;
    }
    throw e;
  }

  // Signatures and attestations (sha256-<hex>.sig/.att) come along, for --verify-key later.
  await copyAttachments(remote, local, desc.digest, { signal: o.signal });
  const kit = await readModelKit(local, desc.digest, { signal: o.signal, logger: o.logger });
  const parentPath = kit.kitfile.model?.path;
  const parent = modelReference(parentPath);
  if (parent) {
    try {
      const key = refToString(parent);
      if (visited.includes(key)) throw new KitError(`found cycle in modelkit references: [${[...visited, key].join("=>")}]`);
      // `visited` holds the kit and its ancestors so far: up to 10 ancestors, as pack and unpack
      // allow (kit's pull stops at 9 [quirk]).
      if (visited.length > MAX_MODEL_REF_CHAIN) {
        throw new KitError(`reached maximum number of model references: [${[...visited, key].join("=>")}]`);
      }
      o.logger.info(`Pulling referenced image ${parentPath}`);
      await pullOne(o, parent, [...visited, key]);
    } catch (e) {
      // Wrapped once, where the chain starts.
      if (e instanceof CancelledError || visited.length > 1) throw e;
      throw new KitError(`failed to pull referenced modelkits: ${errorMessage(e)}`, { cause: e });
    }
  }
  return desc;
}
