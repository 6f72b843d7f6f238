/**
 * OCI image manifests as kit writes and reads them (docs/format.md#manifest, docs/format.md#compat-v17).
 * @module
 */
import { goJson, GoMap } from "../util/go-json.ts";
import { KitError } from "../util/errors.ts";
import { type Descriptor, goDescriptorValue, plainDescriptor } from "./descriptor.ts";
import { isDigest } from "./digest.ts";
import {
  KIT_ARTIFACT_TYPE,
  KIT_CONFIG,
  MODELPACK_ARTIFACT_TYPE,
  MODELPACK_CONFIG,
  OCI_MANIFEST,
} from "./media-types.ts";

/** Bytes that are not an OCI image manifest kit can read. */
export class InvalidManifestError extends KitError {
  override name = "InvalidManifestError";
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[] | null;
  annotations?: Record<string, string>;
  subject?: Descriptor;
}

/** Which shape to write: kit v1.7's bytes, or the newest released shape (v1.15 + SOURCE_DATE_EPOCH). */
export type ManifestShape = "v1.7" | "newest";

/** The exact bytes Go's json.Marshal writes for kit's manifest struct. */
export function encodeManifest(m: Manifest): string {
  return goJson({
    schemaVersion: m.schemaVersion,
    mediaType: m.mediaType || undefined,
    artifactType: m.artifactType || undefined,
    config: goDescriptorValue(m.config),
    layers: m.layers === null ? null : m.layers.map(goDescriptorValue),
    subject: m.subject ? goDescriptorValue(m.subject) : undefined,
    annotations: m.annotations && Object.keys(m.annotations).length ? new GoMap(m.annotations) : undefined,
  });
}

export interface BuildManifestInput {
  config: Descriptor;
  layers: Descriptor[];
  annotations: Record<string, string>;
  shape: ManifestShape;
  /** Defaults to kit's manifest artifact type (the newest shape only). */
  artifactType?: string;
}

export function buildManifest(i: BuildManifestInput): Manifest {
  const layers = i.layers.length === 0 ? null : i.shape === "v1.7" ? i.layers.map(plainDescriptor) : i.layers;
  return {
    schemaVersion: 2,
    ...(i.shape === "newest" ? { mediaType: OCI_MANIFEST, artifactType: i.artifactType ?? KIT_ARTIFACT_TYPE } : {}),
    config: plainDescriptor(i.config),
    layers,
    annotations: i.annotations,
  };
}

function asDescriptor(v: unknown, where: string): Descriptor {
  const o = v as Record<string, unknown>;
  if (!o || typeof o !== "object" || typeof o.mediaType !== "string" || typeof o.digest !== "string" || typeof o.size !== "number") {
    throw new InvalidManifestError(`Invalid manifest: ${where} is not a valid descriptor`);
  }
  if (!isDigest(o.digest)) throw new InvalidManifestError(`Invalid manifest: ${where} has an unsupported digest ${JSON.stringify(o.digest)}`);
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw new InvalidManifestError(`Invalid manifest: ${where} has an invalid size`);
  const d: Descriptor = { mediaType: o.mediaType, digest: o.digest, size: o.size };
  if (o.annotations && typeof o.annotations === "object") d.annotations = o.annotations as Record<string, string>;
  if (typeof o.artifactType === "string") d.artifactType = o.artifactType;
  return d;
}

export function parseManifest(bytes: Uint8Array | string): Manifest {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes));
  } catch (e) {
    throw new InvalidManifestError(`Invalid manifest: not JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new InvalidManifestError("Invalid manifest: not a JSON object");
  if (raw.schemaVersion !== 2) throw new InvalidManifestError(`Invalid manifest: unsupported schemaVersion ${JSON.stringify(raw.schemaVersion)}`);
  const layers = raw.layers == null ? null : Array.isArray(raw.layers) ? raw.layers.map((l, i) => asDescriptor(l, `layer ${i}`)) : (() => {
    throw new InvalidManifestError("Invalid manifest: layers is not a list");
  })();
  const m: Manifest = { schemaVersion: 2, config: asDescriptor(raw.config, "config"), layers };
  if (typeof raw.mediaType === "string") m.mediaType = raw.mediaType;
  if (typeof raw.artifactType === "string") m.artifactType = raw.artifactType;
  if (raw.annotations && typeof raw.annotations === "object") m.annotations = raw.annotations as Record<string, string>;
  if (raw.subject) m.subject = asDescriptor(raw.subject, "subject");
  return m;
}

export type ArtifactKind = "kit" | "modelpack" | "other";

/**
 * Kit if artifactType or config type is kit's; ModelPack likewise; otherwise not a ModelKit
 * (docs/format.md#media-types).
 */
export function artifactKind(m: Manifest): ArtifactKind {
  if (m.artifactType === KIT_ARTIFACT_TYPE || m.config.mediaType === KIT_CONFIG) return "kit";
  if (m.artifactType === MODELPACK_ARTIFACT_TYPE || m.config.mediaType === MODELPACK_CONFIG) return "modelpack";
  return "other";
}
