/**
 * Where cosign keeps signatures and attestations: an image manifest tagged `sha256-<hex>.sig`
 * (`.att` for attestations) in the signed manifest's own repository, one layer per signature, the
 * layer's annotations carrying the signature. Written exactly as cosign (go-containerregistry)
 * writes it, through the Target interfaces only, so it works for local storage, registries and
 * OCI layouts alike. Where a registry offers the OCI 1.1 referrers API, the same layers are also
 * pushed as a referrer manifest of the signed manifest, and read back from there
 * (docs/format.md#signatures).
 * @module
 */
import { type Descriptor, descriptorFromBytes } from "../oci/descriptor.ts";
import { type Digest, digestHex, isDigest } from "../oci/digest.ts";
import { parseManifest } from "../oci/manifest.ts";
import { DOCKER_MANIFEST, OCI_MANIFEST } from "../oci/media-types.ts";
import { copy } from "../store/copy.ts";
import { bytesStream, DEFAULT_MAX_METADATA_BYTES, fetchBytes, isReferrerLister, type ReadOnlyTarget, type StoreOptions, type Target } from "../store/target.ts";
import { AlreadyExistsError, KitError, NotFoundError } from "../util/errors.ts";
import { goJson, GoMap } from "../util/go-json.ts";

export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
export const DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json";
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
export const PREDICATE_TYPE_ANNOTATION = "predicateType";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
/** The OCI empty descriptor's media type: the config of a referrer manifest, content `{}`. */
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
/** cosign's artifact type for signatures written as referrers (`ociexperimental.ArtifactType("sig")`). */
export const SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json";
/** cosign's artifact type for attestations written as referrers (the in-toto payload type). */
export const ATTESTATION_ARTIFACT_TYPE = "application/vnd.in-toto+json";
/** Referrer manifests of one kind read at most for one subject. */
export const MAX_REFERRER_MANIFESTS = 16;

/** Largest signature or attestation layer read (cosign's default limit is larger; 16 MiB is plenty). */
export const MAX_ATTACHMENT_BYTES = 16 * 1024 * 1024;

/** The kinds of attachment kit writes and carries (cosign's deprecated `.sbom` tags are left alone). */
export type AttachmentKind = "sig" | "att";
export const ATTACHMENT_KINDS: readonly AttachmentKind[] = ["sig", "att"];

/** `sha256-<hex>.<kind>`: the tag cosign uses for `digest`'s attachments. */
export function attachmentTag(digest: string, kind: AttachmentKind): string {
  if (!isDigest(digest)) throw new KitError(`cannot name the ${kind} tag of ${JSON.stringify(digest)}: not a sha256 digest`);
  return `sha256-${digestHex(digest as Digest)}.${kind}`;
}

/** The artifact type of `kind`'s referrer manifests. */
export function referrerArtifactType(kind: AttachmentKind): string {
  return kind === "sig" ? SIGNATURE_ARTIFACT_TYPE : ATTESTATION_ARTIFACT_TYPE;
}

/** `sha256-<hex>.sig`: where cosign (and kit) store the signatures of `digest`. */
export function signatureTagFor(digest: string): string {
  return attachmentTag(digest, "sig");
}

/** `sha256-<hex>.att`: where the attestations of `digest` are stored. */
export function attestationTagFor(digest: string): string {
  return attachmentTag(digest, "att");
}

/** A layer to add: its bytes, media type and annotations. */
export interface NewLayer {
  mediaType: string;
  data: Uint8Array;
  annotations: Record<string, string>;
}

/** go-containerregistry's descriptor field order: mediaType, size, digest, annotations. */
function ggcrDescriptor(d: Descriptor): unknown {
  return {
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    annotations: d.annotations && Object.keys(d.annotations).length ? new GoMap(d.annotations) : undefined,
  };
}

/**
 * The config and manifest cosign writes for these layers (go-containerregistry's `mutate.Append`
 * on `empty.Image`, OCI media types): a config with zero times and one history entry and diff ID
 * per layer, then the manifest.
 */
export function encodeAttachmentImage(layers: Descriptor[]): { config: Uint8Array; manifest: Uint8Array } {
  const zero = "0001-01-01T00:00:00Z";
  const config = new TextEncoder().encode(goJson({
    architecture: "",
    created: zero,
    history: layers.map(() => ({ created: zero })),
    os: "",
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
    config: {},
  }));
  const manifest = new TextEncoder().encode(goJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: ggcrDescriptor(descriptorFromBytes(OCI_CONFIG, config)),
    layers: layers.map(ggcrDescriptor),
  }));
  return { config, manifest };
}

/** An attachment manifest found under a tag. */
export interface Attachments {
  tag: string;
  manifest: Descriptor;
  layers: Descriptor[];
}

/**
 * The attachment manifest tagged `tag` in `target`, or undefined when there is none. Its layers'
 * annotations are checked to be strings; the layers themselves are not fetched.
 */
export async function readAttachments(target: ReadOnlyTarget, tag: string, opts: StoreOptions = {}): Promise<Attachments | undefined> {
  let desc: Descriptor;
  try {
    desc = await target.resolve(tag, opts);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
  if (desc.mediaType !== OCI_MANIFEST && desc.mediaType !== DOCKER_MANIFEST) {
    throw new KitError(`${tag} is a ${desc.mediaType}, not an image manifest of signatures`);
  }
  const m = parseManifest(await fetchBytes(target, desc, DEFAULT_MAX_METADATA_BYTES, opts));
  const layers = m.layers ?? [];
  checkLayerAnnotations(tag, layers);
  return { tag, manifest: desc, layers };
}

function checkLayerAnnotations(where: string, layers: Descriptor[]): void {
  for (const l of layers) {
    for (const v of Object.values(l.annotations ?? {})) {
      if (typeof v !== "string") throw new KitError(`${where}: layer ${l.digest} has an annotation that is not a string`);
    }
  }
}

/**
 * Every signature (or attestation) layer stored for `subject` in `target`: those of the
 * `sha256-<hex>.<kind>` tag, then, where the target lists referrers, those of up to
 * {@link MAX_REFERRER_MANIFESTS} referrer manifests of the kind's artifact type whose `subject`
 * really is `subject`; a layer with the same digest and annotations counts once.
 */
export async function collectAttachments(target: ReadOnlyTarget, subject: Descriptor, kind: AttachmentKind, opts: StoreOptions = {}): Promise<{ tag: string; layers: Descriptor[] }> {
  const tag = attachmentTag(subject.digest, kind);
  const layers = [...((await readAttachments(target, tag, opts))?.layers ?? [])];
  const add = (l: Descriptor) => {
    if (!layers.some((x) => sameLayer(x, l))) layers.push(l);
  };
  if (!isReferrerLister(target)) return { tag, layers };
  const referrers = (await target.referrers(subject, referrerArtifactType(kind), opts)) ?? [];
  for (const r of referrers.filter((d) => d.mediaType === OCI_MANIFEST).slice(0, MAX_REFERRER_MANIFESTS)) {
    const m = parseManifest(await fetchBytes(target, r, DEFAULT_MAX_METADATA_BYTES, opts));
    if (m.subject?.digest !== subject.digest) continue; // a registry's listing is not trusted for this
    checkLayerAnnotations(`referrer ${r.digest}`, m.layers ?? []);
    for (const l of m.layers ?? []) add(l);
  }
  return { tag, layers };
}

/**
 * Pushes `layers` (already in `target`) as a referrer manifest of `subject`, by digest, when
 * `target` offers the referrers API for it (its referrers endpoint answers); returns the manifest,
 * or undefined when the registry has no such API. The shape is cosign's `WriteReferrer`
 * (pkg/oci/remote/write.go): an OCI image manifest with the kind's `artifactType`, the OCI empty
 * descriptor as config, the layers as in the tag manifest and `subject` the signed manifest —
 * without the creation-time annotation cosign adds, so that signing twice writes the same bytes.
 */
export async function writeReferrer(target: Target, subject: Descriptor, kind: AttachmentKind, layers: Descriptor[], opts: StoreOptions = {}): Promise<Descriptor | undefined> {
  const artifactType = referrerArtifactType(kind);
  if (!isReferrerLister(target) || (await target.referrers(subject, artifactType, opts)) === undefined) return undefined;
  const empty = new TextEncoder().encode("{}");
  const config = descriptorFromBytes(OCI_EMPTY, empty);
  await pushIfMissing(target, config, empty, opts);
  const manifest = new TextEncoder().encode(goJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: ggcrDescriptor(config),
    layers: layers.map(ggcrDescriptor),
    subject: { mediaType: subject.mediaType, size: subject.size, digest: subject.digest },
    artifactType,
  }));
  const desc = descriptorFromBytes(OCI_MANIFEST, manifest);
  await pushIfMissing(target, desc, manifest, opts);
  return desc;
}

/** Fetches a layer of an attachment manifest (verified, bounded). */
export function fetchAttachmentLayer(target: ReadOnlyTarget, layer: Descriptor, opts: StoreOptions = {}): Promise<Uint8Array> {
  return fetchBytes(target, layer, MAX_ATTACHMENT_BYTES, opts);
}

/** Pushes `data` as `desc` unless the target has it. */
async function pushIfMissing(target: Target, desc: Descriptor, data: Uint8Array, opts: StoreOptions): Promise<void> {
  if (await target.exists(desc, opts)) return;
  try {
    await target.push(desc, bytesStream(data), opts);
  } catch (e) {
    if (!(e instanceof AlreadyExistsError)) throw e;
  }
}

/** The same signature layer: same bytes, same annotations (the signature lives in those). */
function sameLayer(a: Descriptor, b: Descriptor): boolean {
  return a.digest === b.digest && sameAnnotations(a.annotations, b.annotations);
}

function sameAnnotations(a: Record<string, string> = {}, b: Record<string, string> = {}): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * Writes the attachment manifest for `layers` (the first `blobs` of which may be new: their bytes
 * are pushed unless present) and points `tag` at it.
 */
async function writeAttachments(target: Target, tag: string, layers: Descriptor[], blobs: Map<string, Uint8Array>, opts: StoreOptions): Promise<Descriptor> {
  for (const l of layers) {
    const data = blobs.get(l.digest);
    if (data) await pushIfMissing(target, { mediaType: l.mediaType, digest: l.digest, size: l.size }, data, opts);
  }
  const { config, manifest } = encodeAttachmentImage(layers);
  await pushIfMissing(target, descriptorFromBytes(OCI_CONFIG, config), config, opts);
  const desc = descriptorFromBytes(OCI_MANIFEST, manifest);
  await pushIfMissing(target, desc, manifest, opts);
  await target.tag(desc, tag, opts);
  return desc;
}

/**
 * Adds a layer to the attachment manifest `tag` (creating it), as cosign appends a signature to
 * `sha256-<hex>.sig`. A layer with the same bytes and annotations is not added twice; `isDuplicate`
 * may name other layers that make the new one redundant. Returns whether it was added.
 */
export async function appendAttachment(
  target: Target,
  tag: string,
  layer: NewLayer,
  opts: StoreOptions & { isDuplicate?: (existing: Descriptor) => Promise<boolean> } = {},
): Promise<{ added: boolean; manifest: Descriptor; layers: Descriptor[] }> {
  const existing = await readAttachments(target, tag, opts);
  const desc: Descriptor = { ...descriptorFromBytes(layer.mediaType, layer.data), annotations: { ...layer.annotations } };
  for (const l of existing?.layers ?? []) {
    if (sameLayer(l, desc) || (await opts.isDuplicate?.(l))) {
      return { added: false, manifest: existing!.manifest, layers: existing!.layers };
    }
  }
  const layers = [...(existing?.layers ?? []), desc];
  const manifest = await writeAttachments(target, tag, layers, new Map([[desc.digest, layer.data]]), opts);
  return { added: true, manifest, layers };
}

/**
 * Copies the signatures and attestations of `digest` from `src` to `dst` (the `sha256-<hex>.sig`
 * and `.att` tags), for push and pull to carry them with the ModelKit.
 * A tag the destination lacks is copied as it is (same manifest digest); one it has with other
 * layers is merged, keeping the destination's layers first and adding the source's missing ones.
 * Returns the tags that were copied or merged.
 */
export async function copyAttachments(src: ReadOnlyTarget, dst: Target, digest: string, opts: StoreOptions = {}): Promise<string[]> {
  const done: string[] = [];
  for (const kind of ATTACHMENT_KINDS) {
    const tag = attachmentTag(digest, kind);
    const from = await readAttachments(src, tag, opts);
    if (!from) continue;
    const to = await readAttachments(dst, tag, opts);
    if (!to) {
      await copy(src, tag, dst, tag, { signal: opts.signal });
      done.push(tag);
      continue;
    }
    if (to.manifest.digest === from.manifest.digest) continue;
    const missing = from.layers.filter((l) => !to.layers.some((t) => sameLayer(t, l)));
    if (missing.length === 0) continue;
    const blobs = new Map<string, Uint8Array>();
    for (const l of missing) blobs.set(l.digest, await fetchAttachmentLayer(src, l, opts));
    await writeAttachments(dst, tag, [...to.layers, ...missing], blobs, opts);
    done.push(tag);
  }
  return done;
}
