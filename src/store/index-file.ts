/**
 * Reading and writing the JSON files of kit's storage exactly as Go's `encoding/json` writes
 * them: `index.json` (image-spec `Index`), `<b64>-index.json` and `<b64>-tags.json`.
 * Compact, fields in image-spec struct order, map keys sorted, no trailing newline.
 * @module
 */
import { type Descriptor, type DescriptorExtras, goDescriptorValue } from "../oci/descriptor.ts";
import { isDigest } from "../oci/digest.ts";
import { ANNOTATION_REF_NAME } from "../oci/media-types.ts";
import { KitError } from "../util/errors.ts";
import { compareGoStrings, goJson, GoMap } from "../util/go-json.ts";

/** A descriptor as found in index files; image-spec fields beyond {@link Descriptor} are kept. */
export interface StoredDescriptor extends Descriptor, DescriptorExtras {}

/** An image-spec index as stored in a file. `manifests` is null when Go wrote a nil slice. */
export interface IndexFile {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  manifests: StoredDescriptor[] | null;
  subject?: StoredDescriptor;
  annotations?: Record<string, string>;
}

export { ANNOTATION_REF_NAME };

/** A descriptor as compact Go JSON. */
export function encodeDescriptor(d: StoredDescriptor): string {
  return goJson(goDescriptorValue(d));
}

/** An index as compact Go JSON (`ocispec.Index` field order). */
export function encodeIndex(idx: IndexFile): string {
  return goJson({
    schemaVersion: idx.schemaVersion,
    mediaType: idx.mediaType ? idx.mediaType : undefined,
    artifactType: idx.artifactType ? idx.artifactType : undefined,
    manifests: idx.manifests === null ? null : idx.manifests.map(goDescriptorValue),
    subject: idx.subject ? goDescriptorValue(idx.subject) : undefined,
    annotations: idx.annotations && Object.keys(idx.annotations).length > 0 ? new GoMap(idx.annotations) : undefined,
  });
}

/** A tag map as compact Go JSON (`map[string]ocispec.Descriptor`: keys sorted bytewise). */
export function encodeTags(tags: Map<string, StoredDescriptor>): string {
  const keys = [...tags.keys()].sort(compareGoStrings);
  return "{" + keys.map((k) => goJson(k) + ":" + encodeDescriptor(tags.get(k)!)).join(",") + "}";
}

function bad(file: string, why: string): KitError {
  return new KitError(`Failed to parse ${file}: ${why}`, {
    hint: "The local storage is damaged; remove or repair this file",
  });
}

function parseDescriptor(file: string, v: unknown, where: string): StoredDescriptor {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad(file, `${where} is not a descriptor`);
  const d = v as StoredDescriptor;
  if (typeof d.mediaType !== "string") throw bad(file, `${where} has no mediaType`);
  if (typeof d.digest !== "string" || !isDigest(d.digest)) throw bad(file, `${where} has an invalid digest`);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw bad(file, `${where} has an invalid size`);
  if (d.annotations !== undefined && (d.annotations === null || typeof d.annotations !== "object")) {
    delete d.annotations;
  }
  return d;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad(file, (e as Error).message);
  }
}

/** Parses an index file; `manifests` may be null (as oras writes an emptied index). */
export function parseIndex(text: string, file: string): IndexFile {
  const v = parseJson(text, file);
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad(file, "not a JSON object");
  const o = v as Record<string, unknown>;
  const m = o.manifests;
  if (m !== undefined && m !== null && !Array.isArray(m)) throw bad(file, "manifests is not a list");
  const idx: IndexFile = {
    schemaVersion: typeof o.schemaVersion === "number" ? o.schemaVersion : 0,
    manifests: m === undefined || m === null ? null : m.map((x, i) => parseDescriptor(file, x, `manifests[${i}]`)),
  };
  if (typeof o.mediaType === "string") idx.mediaType = o.mediaType;
  if (typeof o.artifactType === "string") idx.artifactType = o.artifactType;
  if (o.subject !== undefined && o.subject !== null) idx.subject = parseDescriptor(file, o.subject, "subject");
  if (o.annotations && typeof o.annotations === "object" && !Array.isArray(o.annotations)) {
    idx.annotations = o.annotations as Record<string, string>;
  }
  return idx;
}

/** Parses a `-tags.json` file. */
export function parseTags(text: string, file: string): Map<string, StoredDescriptor> {
  const v = parseJson(text, file);
  if (v === null) return new Map();
  if (typeof v !== "object" || Array.isArray(v)) throw bad(file, "not a JSON object");
  const out = new Map<string, StoredDescriptor>();
  for (const [k, d] of Object.entries(v as Record<string, unknown>)) out.set(k, parseDescriptor(file, d, `tag ${JSON.stringify(k)}`));
  return out;
}

/** `d` without the ref-name annotation (kit keeps tags only in the tags file). */
export function withoutRefName(d: StoredDescriptor): StoredDescriptor {
  if (!d.annotations || !(ANNOTATION_REF_NAME in d.annotations)) return d;
  const { [ANNOTATION_REF_NAME]: _, ...rest } = d.annotations;
  const out: StoredDescriptor = { ...d, annotations: rest };
  if (Object.keys(rest).length === 0) delete out.annotations;
  return out;
}
