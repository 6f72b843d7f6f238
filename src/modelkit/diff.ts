/**
 * `kit diff`: compares two ModelKit manifests (docs/format.md#diff) and renders kit's report. Unlike kit,
 * ties in the layer lists are ordered by digest, so the report never varies between runs.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { parseLayerType } from "../oci/layer-type.ts";
import { layoutRefToString, type LayoutRef } from "../oci/location.ts";
import type { Manifest } from "../oci/manifest.ts";
import { OCI_MANIFEST } from "../oci/media-types.ts";
import { isModelRef, parseOrasReference, refToString, repoKey, tagOrDigest, type ModelRef, type RepositoryRef } from "../oci/reference.ts";
import type { LayoutStore } from "../store/layout.ts";
import { LocalRepository } from "../store/local.ts";
import { CancelledError, errorMessage, hintIn, KitError, NotFoundError } from "../util/errors.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { formatBytes, type Logger } from "../util/log.ts";
import { inspectModelKit } from "./inspect.ts";
import { openKit, type RemoteOpener } from "./locate.ts";

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

/** Where `kit diff` reads one side: `remote://` → its registry, `local://` → local storage, else local first. */
export type DiffSide = { where: "remote" | "local" | "any"; ref: ModelRef | RepositoryRef } | { where: "layout"; layout: LayoutRef };

const REMOTE_PREFIX = "remote://";
const LOCAL_PREFIX = "local://";

/**
 * The side a reference argument names (the `n`th): `remote://REF` in its registry, `local://REF`
 * in local storage, a plain reference in either. kit's `Invalid arguments: ...` when it does not parse.
 */
export function diffSide(arg: string, n: 1 | 2): DiffSide {
  const where = arg.startsWith(REMOTE_PREFIX) ? "remote" : arg.startsWith(LOCAL_PREFIX) ? "local" : "any";
  const name = arg.startsWith(REMOTE_PREFIX) ? arg.slice(REMOTE_PREFIX.length) : arg;
  const stripped = name.startsWith(LOCAL_PREFIX) ? name.slice(LOCAL_PREFIX.length) : name;
  try {
    return { where, ref: parseOrasReference(stripped) };
  } catch (e) {
    throw new KitError(`Invalid arguments: failed to parse reference for ref${n}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * `kit diff`: both sides read at once ({@link diffManifest}), then `ModelKits are identical` or
 * the report's lines. A side that cannot be read is kit's `Failed to get manifest for ModelKitN`.
 */
export async function diffModelKits(
  sides: [DiffSide, DiffSide],
  stores: Parameters<typeof diffManifest>[1],
  opts: { logger: Logger; signal: AbortSignal },
): Promise<string[]> {
  const [a, b] = await Promise.allSettled([diffManifest(sides[0], stores, opts), diffManifest(sides[1], stores, opts)]);
  const failed = (n: 1 | 2, reason: unknown) => {
    if (reason instanceof CancelledError || opts.signal.aborted) return reason;
    return new KitError(`Failed to get manifest for ModelKit${n}: ${errorMessage(reason)}`, { cause: reason, hint: hintIn(reason) });
  };
  if (a.status === "rejected") throw failed(1, a.reason);
  if (b.status === "rejected") throw failed(2, b.reason);
  if (a.value.descriptor.digest === b.value.descriptor.digest) return ["ModelKits are identical"];
  return diffReport(diffSideName(sides[0]), diffSideName(sides[1]), a.value.manifest, b.value.manifest);
}

/** How a side is named in the report: its reference, or its layout location. */
export function diffSideName(side: DiffSide): string {
  return side.where === "layout" ? layoutRefToString(side.layout) : refToString(side.ref);
}

/**
 * kit's `getManifest` for one side of a diff: the manifest from local storage, the registry, or
 * an `oci:`/`oci-archive:` layout (verified; nothing is stored). With `any`, local storage first
 * and the registry after any local failure; when both fail, the message says both.
 */
export async function diffManifest(
  side: DiffSide,
  stores: { local: () => Promise<LayoutStore>; remote: RemoteOpener },
  opts: { logger: Logger; signal: AbortSignal },
): Promise<{ descriptor: Descriptor; manifest: Manifest }> {
  if (side.where === "layout") {
    const kit = await openKit(side.layout, { storage: stores.local, signal: opts.signal });
    return inspectModelKit(await kit.locate(kit.ref), tagOrDigest(kit.ref), { signal: opts.signal });
  }
  const r = isModelRef(side.ref) ? tagOrDigest(side.ref) : "";
  const fromRemote = async () => inspectModelKit(await stores.remote(side.ref), r, { signal: opts.signal });
  const fromLocal = async () => inspectModelKit(new LocalRepository(await stores.local(), repoKey(side.ref)), r, { signal: opts.signal });
  if (side.where === "remote") return fromRemote();
  if (side.where === "local") return fromLocal();
  try {
    return await fromLocal();
  } catch (localErr) {
    if (localErr instanceof CancelledError || opts.signal.aborted) throw localErr;
    opts.logger.debug(`${refToString(side.ref)} not read from local storage (${errorMessage(localErr)}); trying its registry`);
    try {
      return await fromRemote();
    } catch (remoteErr) {
      if (remoteErr instanceof CancelledError || opts.signal.aborted) throw remoteErr;
      const local = localErr instanceof NotFoundError ? "not found in local storage" : `cannot be read from local storage (${errorMessage(localErr)})`;
      throw new KitError(`${refToString(side.ref)} ${local}, and reading it from its registry failed: ${errorMessage(remoteErr)}`, {
        cause: remoteErr,
        hint: hintIn(remoteErr),
      });
    }
  }
}
