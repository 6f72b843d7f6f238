/**
 * ModelKit references in `model.path` (docs/format.md#model-references): a Kitfile may name another ModelKit as
 * its model. Pack resolves the chain of parents (at most 10), merges their Kitfiles and leaves
 * their files to them; unpack restores the parents' model files too.
 * @module
 */
import { cleanPath, modelReference } from "../kitfile/paths.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import { displayRef, refToString, type ModelRef } from "../oci/reference.ts";
import { KitError, NotFoundError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { throwIfAborted } from "../util/pool.ts";
import { readModelKit, type ModelKitContents } from "./contents.ts";
import type { ParentSource } from "./locate.ts";

/** kit's `MaxModelRefChain`. */
export const MAX_MODEL_REF_CHAIN = 10;

export interface ResolvedReferences {
  /** The child merged with every ancestor (child wins for scalars, lists concatenated child first). */
  merged: Kitfile;
  /** Every ancestor's layer paths: their files belong to the parent kits. */
  ancestorPaths: string[];
  parents: Array<{ ref: ModelRef; contents: ModelKitContents }>;
}

function mergeInto(into: Kitfile, from: Kitfile): void {
  const pkgFrom = from.package ?? {};
  const pkg = (into.package ??= {});
  for (const k of ["name", "version", "description", "license"] as const) if (!pkg[k] && pkgFrom[k]) pkg[k] = pkgFrom[k];
  if (pkgFrom.authors?.length) pkg.authors = [...(pkg.authors ?? []), ...pkgFrom.authors];
  if (from.model) {
    const m = (into.model ??= {});
    for (const k of ["name", "license", "framework", "format", "version", "description"] as const) if (!m[k] && from.model[k]) m[k] = from.model[k];
    if (m.parameters === undefined && from.model.parameters !== undefined) m.parameters = from.model.parameters;
    m.path = from.model.path;
    if (from.model.parts?.length) m.parts = [...(m.parts ?? []), ...from.model.parts];
  }
  if (from.code?.length) into.code = [...(into.code ?? []), ...from.code];
  if (from.datasets?.length) into.datasets = [...(into.datasets ?? []), ...from.datasets];
  if (from.docs?.length) into.docs = [...(into.docs ?? []), ...from.docs];
}

function layerPaths(k: Kitfile, includeModel: boolean): string[] {
  const out: string[] = [];
  const add = (p: string | undefined) => out.push(cleanPath(p ? p : "."));
  if (includeModel && k.model?.path && !modelReference(k.model.path)) add(k.model.path);
  for (const p of k.model?.parts ?? []) add(p.path);
  for (const c of k.code ?? []) add(c.path);
  for (const d of k.datasets ?? []) if (!d.remotePath) add(d.path);
  for (const d of k.docs ?? []) add(d.path);
  for (const p of k.prompts ?? []) add(p.path);
  return out;
}

/**
 * Follows `kitfile.model.path` while it names a ModelKit. Undefined when it does not.
 * `self` is the reference being packed (display form), the first element of kit's chain.
 */
export async function resolveModelReferences(
  kitfile: Kitfile,
  opts: { source: ParentSource; self: string; logger?: Logger; signal?: AbortSignal },
): Promise<ResolvedReferences | undefined> {
  let ref = modelReference(kitfile.model?.path);
  if (!ref) return undefined;
  const merged = structuredClone(kitfile);
  const chain = [opts.self, kitfile.model!.path!];
  const parents: ResolvedReferences["parents"] = [];
  const ancestorPaths: string[] = [];
  const first = kitfile.model!.path!;
  try {
    while (ref) {
      if (parents.length >= MAX_MODEL_REF_CHAIN) {
        throw new KitError(`reached maximum number of model references: [${chain.join("=>")}]`);
      }
      throwIfAborted(opts.signal);
      const found = await opts.source(ref);
      if (!found) throw new NotFoundError(`${displayRef(refToString(ref))} was not found in local storage or its registry`);
      const contents = await readModelKit(found.source, found.ref, { signal: opts.signal, logger: opts.logger });
      parents.push({ ref, contents });
      mergeInto(merged, contents.kitfile);
      const nextPath = contents.kitfile.model?.path;
      const next = modelReference(nextPath);
      ancestorPaths.push(...layerPaths(contents.kitfile, next === undefined));
      if (next) {
        const norm = (x: string) => {
          const r = modelReference(x);
          return r ? refToString(r) : x;
        };
        if (chain.some((c) => norm(c) === norm(nextPath!))) throw new KitError(`Found cycle in modelkit references: [${[...chain, nextPath].join("=>")}]`);
        chain.push(nextPath!);
      }
      ref = next;
    }
  } catch (e) {
    if (e instanceof KitError) throw new KitError(`Failed to resolve referenced modelkit ${first}: ${e.message}`, { cause: e, hint: e.hint });
    throw e;
  }
  return { merged, ancestorPaths, parents };
}
