/**
 * `kit push` and `kit pull`: each is one generic copy (store/copy.ts) between local storage, a
 * registry and OCI image layouts (`oci:`, `oci-archive:`, docs/format.md#oci-layouts), so
 * resumption, mounts, retries and verification live in the copy and the stores, not here. A
 * pull checks the kit's manifest and config before anything is stored and then pulls the
 * ModelKits its model refers to, each into its own repository. Signatures and attestations
 * travel with the kit both ways.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { kitLocationToString, layoutRefToString, type KitLocation, type LayoutRef } from "../oci/location.ts";
import { ANNOTATION_KIT_REFERENCE, ANNOTATION_REF_NAME, OCI_MANIFEST } from "../oci/media-types.ts";
import { DEFAULT_TAG, refToString, repoKey, tagOrDigest, withTag, type ModelRef } from "../oci/reference.ts";
import { registryErrorIn, statusText } from "../registry/http.ts";
import { remoteFailure, type RegistrySession } from "../registry/remote.ts";
import { copyAttachments } from "../sign/attachments.ts";
import { copy, CopyError } from "../store/copy.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import { OciArchiveWriter } from "../store/oci-archive.ts";
import { OciLayoutDir } from "../store/oci-layout.ts";
import { type ReadOnlyTarget, successorsOf, type Target } from "../store/target.ts";
import { CancelledError, KitError, NotFoundError, errorMessage, hintIn } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { pathExists } from "../util/fs.ts";
import type { Progress } from "../util/progress.ts";
import { modelKitFromManifest, readModelKit, type ModelKitContents } from "./contents.ts";
import { layerTitle } from "./layer-title.ts";
import { pairLayers } from "./unpack.ts";
import { modelReference } from "../kitfile/paths.ts";
import { checkComplete, layoutParentSource, openKit, sourceTag, type OpenedKit } from "./locate.ts";
import { MAX_MODEL_REF_CHAIN } from "./modelref.ts";

/** The `--verify-key` check of a kit before anything of it is stored or written. */
export type VerifyKit = (source: ReadOnlyTarget, ref: ModelRef, desc: Descriptor) => Promise<unknown>;

export interface TransferOptions {
  /** Local storage, opened on first use (a push from a layout opens none). */
  storage: () => Promise<LayoutStore>;
  /** The registry session, opened on first use (a transfer between layouts and local storage opens none). */
  session: () => Promise<RegistrySession>;
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

/** Where a push writes: a registry repository or a layout, and the tag it gets there (none: by digest). */
interface Destination {
  target: Target;
  tag: string | undefined;
  /** For a layout: the reference recorded on the kit's entry. */
  record: boolean;
  /** Blobs of these repositories of the same registry can be mounted. */
  mountFrom: string[];
  commit(): Promise<void>;
  discard(): Promise<void>;
}

const nothing = async () => {};

/** A registry reference without a tag takes the tag of a kit coming from a layout (kit's `latest` otherwise). */
const takesSourceTag = (dst: KitLocation, src: KitLocation) => dst.kind === "reference" && !dst.explicit && src.kind === "layout";

async function openDestination(o: TransferOptions, dst: KitLocation, src: KitLocation, fromTag: string | undefined): Promise<Destination> {
  if (dst.kind === "reference") {
    const session = await o.session();
    const ref = dst.ref;
    const tag = takesSourceTag(dst, src) ? fromTag ?? DEFAULT_TAG : tagOrDigest(ref);
    const sameRegistry = src.kind === "reference" && src.ref.registry === ref.registry && src.ref.repository !== ref.repository;
    return {
      target: session.repository(ref.registry, ref.repository, { actions: ["pull", "push"] }),
      tag,
      record: false,
      mountFrom: sameRegistry ? [src.ref.repository] : [],
      commit: nothing,
      discard: nothing,
    };
  }
  const tag = dst.tag ?? fromTag;
  if (dst.format === "oci") {
    // A directory this push creates is removed again if the push fails (an archive is written
    // aside and renamed, so it never appears half-written).
    const fresh = !(await pathExists(dst.path));
    const dir = await OciLayoutDir.create(dst.path, { signal: o.signal });
    return { target: dir, tag, record: true, mountFrom: [], commit: nothing, discard: fresh ? () => dir.removeIfEmpty() : nothing };
  }
  const w = await OciArchiveWriter.create(dst.path, { signal: o.signal });
  return { target: w, tag, record: true, mountFrom: [], commit: () => w.commit({ signal: o.signal }), discard: () => w.discard() };
}

/** `desc` carrying the reference it was pushed from (`io.kitops.modelkit.reference`), for a layout's index. */
function recorded(desc: Descriptor, name: ModelRef): Descriptor {
  const annotations: Record<string, string> = { ...desc.annotations, [ANNOTATION_KIT_REFERENCE]: refToString(name) };
  delete annotations[ANNOTATION_REF_NAME];
  return { ...desc, annotations };
}

/**
 * `kit push SOURCE DEST`: the ModelKit `src` (local storage, or a layout) to `dst` (a registry, or
 * a layout). Blobs the destination has are skipped; blobs of `src`'s repository on the same
 * registry are mounted. Without a tag in `dst`, a layout gets the source's tag (none for a kit
 * named by digest) and a registry `latest`, or the source's tag when the source is a layout.
 * Writing into a layout records the kit's full reference on its entry. kit's messages.
 */
export async function pushModelKit(o: TransferOptions & { src: KitLocation; dst: KitLocation; announce?: (dst: string) => void }): Promise<Descriptor> {
  // `announce` gets the destination as written: when it takes the source's tag, once that is known.
  const announceLater = takesSourceTag(o.dst, o.src);
  if (!announceLater) o.announce?.(kitLocationToString(o.dst));
  let source: OpenedKit;
  let read: ReadOnlyTarget;
  let srcRef: string;
  try {
    source = await openKit(o.src, { storage: o.storage, signal: o.signal });
    if (o.src.kind === "reference") {
      read = new LocalRepository(await o.storage(), repoKey(o.src.ref));
      srcRef = tagOrDigest(o.src.ref);
      await read.resolve(srcRef, { signal: o.signal });
    } else {
      read = await source.locate(source.ref);
      srcRef = source.layoutKit!.desc.digest;
    }
  } catch (e) {
    if (e instanceof NotFoundError && o.src.kind === "reference") throw new KitError(`Failed to push: model ${refToString(o.src.ref)} not found.`);
    if (e instanceof CancelledError || o.signal.aborted) throw e;
    throw new KitError(`Failed to push: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
  }
  let dest: Destination | undefined;
  try {
    dest = await openDestination(o, o.dst, o.src, sourceTag(source));
    if (announceLater && o.dst.kind === "reference") o.announce?.(refToString(withTag(o.dst.ref, dest.tag!)));
    const titles = layerTitles();
    // Only for the titles (what is pushed is not checked): read here, not in the copy, which would then upload the config rather than mount it.
    const kit = await readModelKit(read, srcRef, { signal: o.signal }).catch(() => undefined);
    if (kit) titles.learn(kit);
    const opts = { concurrency: o.concurrency, signal: o.signal, progress: o.progress, describe: titles.describe, mountFrom: dest.mountFrom };
    // Into a layout the root is tagged once, with the recorded reference on its entry.
    const desc = await copy(read, srcRef, dest.target, dest.record ? "" : dest.tag ?? "", opts);
    // Signatures and attestations (sha256-<hex>.sig/.att) travel with the kit.
    for (const tag of await copyAttachments(read, dest.target, desc.digest, { signal: o.signal })) o.logger.debug(`Pushed ${tag}`);
    if (dest.record) await dest.target.tag(recorded(desc, source.layoutKit?.name ?? source.ref), dest.tag ?? desc.digest, { signal: o.signal });
    await dest.commit();
    return desc;
  } catch (e) {
    await dest?.discard().catch(() => {});
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
    throw new KitError(`Failed to push: ${errorMessage(cause).replace(/\.$/, "")}.`, { cause: e, hint: hintIn(cause) });
  }
}

/** Where a pulled kit comes from: a store, what to resolve there, and the name its signatures bind to. */
interface PullSource {
  source: ReadOnlyTarget;
  ref: string;
  /** The kit's reference: its registry reference, or the name a layout's kit goes by. */
  name: ModelRef;
  /** For a layout: every blob the manifest names must be in it before anything is stored. */
  layout?: LayoutRef;
}

/**
 * `kit pull SOURCE [DEST]`: the ModelKit at `src` (a registry reference, or a layout) into local
 * storage under `dest`, or under its own reference (for a layout, the one recorded when it was
 * written, or the name derived as docs/format.md#oci-layouts says); then the ModelKits its model
 * refers to, each into its own repository, from the same layout when it holds them, else from
 * their registry (kit tags parents inside the child's repository [quirk]; that is not copied, so
 * a pulled chain unpacks offline). kit's messages.
 */
export async function pullModelKit(o: TransferOptions & { src: KitLocation; dest?: ModelRef; verify?: VerifyKit }): Promise<{ desc: Descriptor; ref: ModelRef }> {
  try {
    const storage = await o.storage();
    let first: PullSource;
    let parents: (ref: ModelRef) => Promise<PullSource>;
    const fromRegistry = async (ref: ModelRef): Promise<PullSource> => ({
      source: (await o.session()).repository(ref.registry, ref.repository),
      ref: tagOrDigest(ref),
      name: ref,
    });
    if (o.src.kind === "reference") {
      first = await fromRegistry(o.src.ref);
      parents = fromRegistry;
    } else {
      const kit = await openKit(o.src, { storage: o.storage, signal: o.signal });
      const k = kit.layoutKit!;
      first = { source: await kit.locate(kit.ref), ref: k.desc.digest, name: k.name, layout: o.src };
      const inLayout = layoutParentSource(k.layout);
      parents = async (ref) => {
        const found = await inLayout(ref);
        return found ? { source: found.source, ref: found.ref, name: ref, layout: o.src as LayoutRef } : fromRegistry(ref);
      };
    }
    const dest = o.dest ?? first.name;
    const desc = await pullOne({ ...o, storage }, first, dest, parents, [refToString(first.name)]);
    await storage.pruneIngest().catch(() => 0);
    return { desc, ref: dest };
  } catch (e) {
    if (e instanceof CancelledError || o.signal.aborted) throw e;
    throw new KitError(`failed to pull: ${errorMessage(remoteFailure(e))}`, { cause: e, hint: hintIn(e) });
  }
}

async function pullOne(
  o: Omit<TransferOptions, "storage"> & { storage: LayoutStore; verify?: VerifyKit },
  from: PullSource,
  dest: ModelRef,
  parents: (ref: ModelRef) => Promise<PullSource>,
  visited: string[],
): Promise<Descriptor> {
  const r = from.layout ? layoutRefToString(from.layout) : refToString(from.name);
  const local = new LocalRepository(o.storage, repoKey(dest));
  const titles = layerTitles();
  let desc: Descriptor;
  try {
    desc = await copy(from.source, from.ref, local, tagOrDigest(dest), {
      concurrency: o.concurrency,
      signal: o.signal,
      progress: o.progress,
      logger: o.logger,
      describe: titles.describe,
      // Nothing is stored of a kit whose manifest, config or layers kit cannot read.
      async checkManifest(d, bytes, fetch) {
        if (d.mediaType !== OCI_MANIFEST) throw new KitError(`reference ${r} is not an image manifest`);
        const kit = await modelKitFromManifest(d, bytes, fetch, o.logger);
        if (!kit) throw new KitError(`reference ${r} does not refer to a model`);
        titles.learn(kit);
        if (from.layout) await checkComplete(from.source, `${from.layout.format}:${from.layout.path}`, successorsOf(d, bytes), { signal: o.signal });
        await o.verify?.(from.source, from.name, d);
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
  await copyAttachments(from.source, local, desc.digest, { signal: o.signal });
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
      await pullOne(o, await parents(parent), parent, parents, [...visited, key]);
    } catch (e) {
      // Wrapped once, where the chain starts.
      if (e instanceof CancelledError || visited.length > 1) throw e;
      throw new KitError(`failed to pull referenced modelkits: ${errorMessage(e)}`, { cause: e });
    }
  }
  return desc;
}
