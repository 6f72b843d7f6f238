/**
 * What `kit inspect` and `kit info` read and print (docs/format.md#inspect-and-info): the manifest and
 * the Kitfile of one ModelKit from any {@link ReadOnlyTarget}, and inspect's JSON document.
 * @module
 */
import { kitfileToConfigJson } from "../kitfile/config.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { encodeManifest, InvalidManifestError, type Manifest } from "../oci/manifest.ts";
import { ANNOTATION_CLI_VERSION, ANNOTATION_KITFILE, OCI_MANIFEST } from "../oci/media-types.ts";
import type { KitLocation } from "../oci/location.ts";
import { displayRef, refToString, repoKey, tagOrDigest, type ModelRef } from "../oci/reference.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import { fetchBytes, type ReadOnlyTarget } from "../store/target.ts";
import { CancelledError, hintIn, KitError, NotFoundError } from "../util/errors.ts";
import { goQuote, indentCompactJson } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";
import { modelKitFromManifest, NotAModelKitError } from "./contents.ts";
import { openKit, type RemoteOpener } from "./locate.ts";

export interface InspectedModelKit {
  descriptor: Descriptor;
  manifest: Manifest;
  kitfile: Kitfile;
  /**
   * True when the ModelKit carries no Kitfile (a ModelPack without the annotation, kit's
   * `ErrNoKitfile`) and `kitfile` was synthesised from the layers.
   */
  synthesised: boolean;
}

/**
 * Resolves `ref` in `source` and reads its manifest and Kitfile, verified. Throws
 * NotFoundError when the reference is unknown and {@link NotAModelKitError} for other artifacts.
 * `logger` receives the warning for a ModelKit without a Kitfile.
 */
export async function inspectModelKit(source: ReadOnlyTarget, ref: string, opts: { signal?: AbortSignal; logger?: Logger } = {}): Promise<InspectedModelKit> {
  const descriptor = await source.resolve(ref, opts);
  if (descriptor.mediaType !== OCI_MANIFEST) throw new NotAModelKitError();
  const bytes = await fetchBytes(source, descriptor, undefined, opts);
  let kit;
  try {
    kit = await modelKitFromManifest(descriptor, bytes, (d) => fetchBytes(source, d, undefined, opts), opts.logger);
  } catch (e) {
    if (e instanceof InvalidManifestError) throw new NotAModelKitError();
    throw e;
  }
  if (!kit) throw new NotAModelKitError();
  const synthesised = kit.kind === "modelpack" && !kit.manifest.annotations?.[ANNOTATION_KITFILE];
  return { descriptor, manifest: kit.manifest, kitfile: kit.kitfile, synthesised };
}

/**
 * The ModelKit `ref` from the store `open` gives (local storage or a registry), with kit's
 * messages: `Could not find modelkit <ref>` or `Error resolving modelkit: <err>`. `logger` gets
 * the warning for a ModelKit without a Kitfile.
 */
export async function loadModelKit(
  ref: ModelRef,
  open: () => Promise<ReadOnlyTarget>,
  opts: { signal?: AbortSignal; logger?: Logger } = {},
): Promise<InspectedModelKit> {
  try {
    return await inspectModelKit(await open(), tagOrDigest(ref), opts);
  } catch (e) {
    if (e instanceof CancelledError || opts.signal?.aborted) throw e;
    if (e instanceof NotFoundError) throw new KitError(`Could not find modelkit ${displayRef(refToString(ref))}`, { cause: e });
    throw new KitError(`Error resolving modelkit: ${(e as Error).message}`, { cause: e, hint: hintIn(e) });
  }
}

/**
 * The ModelKit at `loc` ({@link loadModelKit}): a layout's (nothing stored), or a reference's in
 * local storage, or with `remote` in its registry (inspect and info).
 */
export async function loadKitAt(
  loc: KitLocation,
  o: { storage: () => Promise<LayoutStore>; remote?: RemoteOpener; signal?: AbortSignal; logger?: Logger },
): Promise<InspectedModelKit> {
  if (loc.kind === "layout") {
    const kit = await openKit(loc, { storage: o.storage, signal: o.signal });
    return loadModelKit(kit.ref, () => kit.locate(kit.ref), o);
  }
  const { ref } = loc;
  return loadModelKit(ref, async () => (o.remote ? o.remote(ref) : new LocalRepository(await o.storage(), repoKey(ref))), o);
}

/** The CLI version that packed the kit (its manifest annotation) or `unknown`. */
export function cliVersionOf(m: Manifest): string {
  return m.annotations?.[ANNOTATION_CLI_VERSION] || "unknown";
}

/**
 * `kit inspect`'s document: Go `json.MarshalIndent` (2 spaces) of
 * `{"digest","cliVersion","kitfile","manifest"}`; `kitfile` is left out when the kit has none.
 */
export function inspectJson(k: InspectedModelKit): string {
  let compact = `{"digest":${goQuote(k.descriptor.digest)},"cliVersion":${goQuote(cliVersionOf(k.manifest))}`;
  if (!k.synthesised) compact += `,"kitfile":${kitfileToConfigJson(k.kitfile)}`;
  compact += `,"manifest":${encodeManifest(k.manifest)}}`;
  return indentCompactJson(compact, "  ");
}
