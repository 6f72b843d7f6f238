/**
 * What a ModelKit holds, read from any store: its manifest and its Kitfile (from the config, a
 * ModelPack annotation, or synthesised from ModelPack layer annotations), verified. Pull checks
 * a kit with {@link modelKitFromManifest} before it stores anything; unpack, info, inspect, list
 * and dev read kits with {@link readModelKit}.
 * @module
 */
import { parseConfigJson } from "../kitfile/config.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { parseLayerType } from "../oci/layer-type.ts";
import { artifactKind, parseManifest, type Manifest } from "../oci/manifest.ts";
import { ANNOTATION_FILEPATH, ANNOTATION_KITFILE } from "../oci/media-types.ts";
import { fetchBytes, type ReadOnlyTarget } from "../store/target.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";

export interface ModelKitContents {
  manifestDesc: Descriptor;
  manifest: Manifest;
  /** The Kitfile from the config (or the ModelPack annotation / synthesised from layers). */
  kitfile: Kitfile;
  kind: "kit" | "modelpack";
}

/** Resolves `ref` in `source` and reads the manifest and the Kitfile, verified. */
export async function readModelKit(source: ReadOnlyTarget, ref: string, opts: { signal?: AbortSignal; logger?: Logger } = {}): Promise<ModelKitContents> {
  const manifestDesc = await source.resolve(ref, opts);
  const kit = await modelKitFromManifest(manifestDesc, await fetchBytes(source, manifestDesc, undefined, opts), (d) => fetchBytes(source, d, undefined, opts), opts.logger);
  if (!kit) throw new NotAModelKitError(`Reference ${ref} exists but is not a ModelKit`);
  return kit;
}

/** kit's `ErrNotAModelKit`: the reference names another kind of artifact. */
export class NotAModelKitError extends KitError {
  override name = "NotAModelKitError";
  constructor(message = "reference exists but is not a modelkit") {
    super(message);
  }
}

/**
 * A ModelKit from its verified manifest bytes, reading the config through `fetchConfig`:
 * undefined for another kind of artifact; throws when the manifest, the config or a layer's
 * annotations cannot be read (a pull checks this before it stores anything).
 */
export async function modelKitFromManifest(
  manifestDesc: Descriptor,
  bytes: Uint8Array,
  fetchConfig: (config: Descriptor) => Promise<Uint8Array>,
  logger?: Logger,
): Promise<ModelKitContents | undefined> {
  const manifest = parseManifest(bytes);
  const kind = artifactKind(manifest);
  if (kind === "other") return undefined;
  let kitfile: Kitfile;
  if (kind === "kit") {
    kitfile = parseConfigJson(new TextDecoder().decode(await fetchConfig(manifest.config)));
  } else {
    const annotated = manifest.annotations?.[ANNOTATION_KITFILE];
    if (annotated) {
      kitfile = parseConfigJson(annotated);
    } else {
      logger?.warn("Artifact does not include Kitfile: functionality may be impacted");
      kitfile = synthesiseKitfile(manifest);
    }
  }
  return { manifestDesc, manifest, kitfile, kind };
}

/** A minimal Kitfile from ModelPack layer annotations (docs/format.md#modelpack). */
function synthesiseKitfile(m: Manifest): Kitfile {
  const k: Kitfile = { manifestVersion: "1.0.0" };
  for (const l of m.layers ?? []) {
    const t = parseLayerType(l.mediaType);
    const p = l.annotations?.[ANNOTATION_FILEPATH];
    if (!t) continue;
    if (p === undefined) throw new KitError(`Layer ${l.digest} has no ${ANNOTATION_FILEPATH} annotation`);
    const info = { digest: l.digest };
    switch (t.base) {
      case "model":
        if (!k.model) k.model = { path: p, ...info };
        else (k.model.parts ??= []).push({ path: p, ...info });
        break;
      case "modelpart": (k.model ??= {}).parts = [...(k.model.parts ?? []), { path: p, ...info }]; break;
      case "dataset": (k.datasets ??= []).push({ path: p, ...info }); break;
      case "code": (k.code ??= []).push({ path: p, ...info }); break;
      case "docs": (k.docs ??= []).push({ path: p, ...info }); break;
      case "mcpb": (k.mcpServers ??= []).push({ path: p, ...info }); break;
    }
  }
  return k;
}

