/**
 * What `kit inspect` and `kit info` read and print (docs/format.md#inspect-and-info): the manifest and
 * the Kitfile of one ModelKit from any {@link ReadOnlyTarget}, and inspect's JSON document.
 * @module
 */
import { kitfileToConfigJson } from "../kitfile/config.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { artifactKind, encodeManifest, parseManifest, type Manifest } from "../oci/manifest.ts";
import { ANNOTATION_CLI_VERSION, ANNOTATION_KITFILE, OCI_MANIFEST } from "../oci/media-types.ts";
import { bytesStream, fetchBytes, type ReadOnlyTarget } from "../store/target.ts";
import { KitError } from "../util/errors.ts";
import { goQuote, indentCompactJson } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";
import { readModelKit } from "./unpack.ts";

/** kit's `ErrNotAModelKit`. */
export class NotAModelKitError extends KitError {
  override name = "NotAModelKitError";
  constructor() {
    super("reference exists but is not a modelkit");
  }
}

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
  let manifest: Manifest;
  try {
    manifest = parseManifest(bytes);
  } catch (e) {
    if (e instanceof KitError && e.message.startsWith("Invalid manifest")) throw new NotAModelKitError();
    throw e;
  }
  const kind = artifactKind(manifest);
  if (kind === "other") throw new NotAModelKitError();
  const synthesised = kind === "modelpack" && !manifest.annotations?.[ANNOTATION_KITFILE];
  // The manifest is already here and verified: reading the kit asks the source only for the config
  // (a registry is not asked twice).
  const known: ReadOnlyTarget = {
    resolve: async (r, o) => (r === descriptor.digest ? descriptor : source.resolve(r, o)),
    exists: (d, o) => source.exists(d, o),
    fetch: async (d, o) => (d.digest === descriptor.digest ? bytesStream(bytes) : source.fetch(d, o)),
  };
  const kit = await readModelKit(known, descriptor.digest, opts);
  return { descriptor, manifest: kit.manifest, kitfile: kit.kitfile, synthesised };
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
