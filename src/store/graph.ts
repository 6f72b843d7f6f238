/**
 * Walking the content graph of the shared layout, for garbage collection.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { NotFoundError } from "../util/errors.ts";
import { DEFAULT_MAX_METADATA_BYTES, type Fetcher, fetchBytes, isManifestType, subjectOf, successorsOf } from "./target.ts";

/**
 * Reads manifests from the layout to walk the content graph, each at most once. A manifest that
 * is missing has no known successors. One that is damaged stops the walk when `strict` (it might
 * hold blobs that must survive a garbage collection), otherwise it too counts as a leaf.
 */
export class GraphReader {
  #cache = new Map<string, Uint8Array | Error | null>();
  constructor(private readonly store: Fetcher) {}

  async #bytes(d: Descriptor, strict: boolean): Promise<Uint8Array | null> {
    if (!isManifestType(d.mediaType)) return null;
    let b = this.#cache.get(d.digest);
    if (b === undefined) {
      try {
        b = await fetchBytes(this.store, d, DEFAULT_MAX_METADATA_BYTES);
      } catch (e) {
        b = e instanceof NotFoundError ? null : e instanceof Error ? e : new Error(String(e));
      }
      this.#cache.set(d.digest, b);
    }
    if (b instanceof Error) {
      if (strict) throw b;
      return null;
    }
    return b;
  }

  async successors(d: Descriptor, strict: boolean): Promise<Descriptor[]> {
    const b = await this.#bytes(d, strict);
    if (!b) return [];
    try {
      return successorsOf(d, b);
    } catch (e) {
      if (strict) throw e;
      return [];
    }
  }

  async subject(d: Descriptor): Promise<Descriptor | undefined> {
    const b = await this.#bytes(d, false);
    try {
      return b ? subjectOf(d, b) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Digests reachable from `roots` (roots included). */
  async closure(roots: Descriptor[], strict: boolean): Promise<Set<string>> {
    return new Set((await this.closureOrdered(roots, strict)).map((d) => d.digest));
  }

  /** Nodes reachable from `roots`, breadth first, each once. */
  async closureOrdered(roots: Descriptor[], strict: boolean): Promise<Descriptor[]> {
    const seen = new Set<string>();
    const out: Descriptor[] = [];
    const queue = [...roots];
    while (queue.length > 0) {
      const d = queue.shift()!;
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      out.push(d);
      queue.push(...(await this.successors(d, strict)));
    }
    return out;
  }
}
