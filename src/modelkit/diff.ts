/**
 * `kit diff`: compares two ModelKit manifests (docs/format.md#diff) and renders kit's report. Unlike kit,
 * ties in the layer lists are ordered by digest, so the report never varies between runs.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { parseLayerType } from "../oci/layer-type.ts";
import type { Manifest } from "../oci/manifest.ts";
import { OCI_MANIFEST } from "../oci/media-types.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { formatBytes } from "../util/log.ts";

export interface DiffResult {
  sameConfig: boolean;
  annotationsMatch: boolean;
  /** Layers in both (B's descriptors). */
  shared: Descriptor[];
  /** Layers only in A, one per digest. */
  uniqueA: Descriptor[];
  /** Layers only in B (a digest B repeats more often than A has it counts as unique to B). */
  uniqueB: Descriptor[];
}

function byTypeThenDigest(a: Descriptor, b: Descriptor): number {
  return compareGoStrings(a.mediaType, b.mediaType) || compareGoStrings(a.digest, b.digest);
}

function sameAnnotations(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b ?? {}, k) && b![k] === a![k]);
}

/** kit's `CompareManifests` (layers matched by digest), with ties sorted by digest. */
export function compareManifests(a: Manifest, b: Manifest): DiffResult {
  const remaining = new Map<string, Descriptor>();
  for (const l of a.layers ?? []) remaining.set(l.digest, l);
  const shared: Descriptor[] = [];
  const uniqueB: Descriptor[] = [];
  for (const l of b.layers ?? []) {
    if (remaining.has(l.digest)) {
      shared.push(l);
      remaining.delete(l.digest);
    } else {
      uniqueB.push(l);
    }
  }
  return {
    sameConfig: a.config.digest === b.config.digest,
    annotationsMatch: sameAnnotations(a.annotations, b.annotations),
    shared: shared.sort(byTypeThenDigest),
    uniqueA: [...remaining.values()].sort(byTypeThenDigest),
    uniqueB: uniqueB.sort(byTypeThenDigest),
  };
}

/** kit's `FormatMediaTypeForUser`: `manifest`, the layer's type word, or `(invalid media type)`. */
export function layerTypeForUser(mediaType: string): string {
  if (mediaType === OCI_MANIFEST) return "manifest";
  const t = parseLayerType(mediaType);
  if (!t) return "(invalid media type)";
  if (!t.modelpack) return t.base;
  const names: Record<string, string> = { model: "weight", modelpart: "weight.config", dataset: "dataset", code: "code", docs: "doc" };
  return names[t.base] ?? t.base;
}

const DASHES = "-".repeat(39);

/**
 * The report as the messages kit logs, in order (each one an info-level message; kit upper-cases
 * the first character of each). `refA`/`refB` are the `reg/repo:tag` strings.
 */
export function diffReport(refA: string, refB: string, a: Manifest, b: Manifest): string[] {
  const r = compareManifests(a, b);
  const short = (d: string) => d.slice(0, 17);
  const out: string[] = [
    "Comparing:\n",
    `  ModelKit1: ${refA}\n`,
    `  ModelKit2: ${refB}\n\n`,
    "Configurations:\n",
    DASHES + "\n",
  ];
  if (r.sameConfig) {
    out.push(`  Configs are identical (Digest: ${short(a.config.digest)})\n\n`);
  } else {
    out.push("Configs differ:\n", `  ModelKit1 Config Digest: ${short(a.config.digest)}\n`, `  ModelKit2 Config Digest: ${short(b.config.digest)}\n\n`);
  }
  out.push("Annotations:\n", DASHES + "\n", r.annotationsMatch ? "  Annotations are identical \n\n" : "  Annotations does not match\n\n");
  const layers = (title: string, list: Descriptor[]) => {
    out.push(title + "\n", DASHES + "\n");
    if (list.length > 0) {
      out.push("Type    | Digest             | Size");
      for (const l of list) out.push(`${layerTypeForUser(l.mediaType).padEnd(7)} | ${short(l.digest).padEnd(18)} | ${formatBytes(l.size)}\n`);
    } else {
      out.push("<none>\n");
    }
    out.push("\n");
  };
  layers("Shared Layers", r.shared);
  layers(`Unique Layers to ModelKit1 (${refA})`, r.uniqueA);
  layers(`Unique Layers to ModelKit2 (${refB})`, r.uniqueB);
  return out;
}
