/**
 * `kit fsck`: checks local storage against its own digests and sizes, in bounded memory (every
 * blob is hashed as it streams, once), and with `repair` removes the damage and fetches damaged
 * ModelKits again from their registry through the generic copy.
 *
 * What is checked: every blob file (its bytes hash to its name), every manifest of every
 * repository and every tag (the manifest blob is sound and readable; the blobs it names are stored,
 * sound and of the size it says), and `index.json` entries (their manifest blob is stored).
 * Blobs no manifest uses are orphans. With references, only those ModelKits are checked.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { displayRef, LOCAL_REGISTRY, parseReference, refToString, repoKey, tagOrDigest, type ModelRef } from "../oci/reference.ts";
import { copy } from "../store/copy.ts";
import { GraphReader } from "../store/graph.ts";
import type { LayoutStore } from "../store/layout.ts";
import { listRepositories, LocalRepository } from "../store/local.ts";
import { fetchBytes, isManifestType, successorsOf, type ReadOnlyTarget } from "../store/target.ts";
import { CancelledError, errorMessage, KitError, NotFoundError } from "../util/errors.ts";
import { formatBytes, type Logger } from "../util/log.ts";
import { Pool, throwIfAborted } from "../util/pool.ts";

/** Orphan blobs written this recently are kept by `repair`: a running pack may not have indexed them yet. */
export const ORPHAN_GRACE_MS = 10 * 60_000;

export interface FsckOptions {
  storage: LayoutStore;
  /** Only these ModelKits (no orphan or `index.json` check); all of local storage when empty. */
  refs?: ModelRef[];
  /** Remove the damage and fetch damaged ModelKits again from their registry. */
  repair?: boolean;
  /** Opens the registry repository of a reference, for fetching a damaged ModelKit again. */
  remote?: (ref: ModelRef) => Promise<ReadOnlyTarget>;
  logger: Logger;
  signal?: AbortSignal;
  /** Blobs hashed at once (default 2). */
  concurrency?: number;
  /** Fetches at once while repairing (default 5). */
  fetchConcurrency?: number;
}

/** One ModelKit (a manifest in a repository) and what is wrong with it. */
export interface KitCheck {
  repository: string;
  manifest: Descriptor;
  tags: string[];
  /** False for a tag naming a manifest its repository does not list. */
  listed: boolean;
  problems: string[];
}

export interface FsckResult {
  /** Blob files hashed. */
  blobs: number;
  /** ModelKits (manifests in repositories) checked. */
  kits: number;
  /** ModelKits found damaged, and whether `repair` made each whole again. */
  damaged: Array<KitCheck & { repaired: boolean }>;
  /** Blobs no manifest uses: digest and size. */
  orphans: Array<{ digest: string; size: number; removed: boolean }>;
  /** Damaged blobs no manifest uses. */
  damagedOrphans: Array<{ digest: string; reason: string; removed: boolean }>;
  /** `index.json` entries whose manifest blob is gone. */
  danglingIndex: Array<{ digest: string; removed: boolean }>;
  /** Damage left after the run (repaired items excluded); the command fails when above 0. */
  remaining: number;
}

type BlobState = { problem: "missing" | "damaged"; reason: string } | undefined;

/** Fails when damage remains after the run, saying what to do next (`repair`: whether it was tried). */
export function assertNoDamageLeft(result: FsckResult, repair: boolean): void {
  const n = result.remaining;
  if (n === 0) return;
  throw new KitError(`Local storage is damaged: ${n} problem${n === 1 ? "" : "s"} remain${n === 1 ? "s" : ""}`, {
    hint: repair
      ? "Fix what stopped the repair and run it again, or pack the damaged ModelKits again, or remove them with kit remove"
      : "Run kit fsck --repair to remove the damage and fetch damaged ModelKits again from their registry",
  });
}

/** How a ModelKit is named in messages: `repo:tag` (the first tag) or `repo@digest`. */
export function kitLabel(k: { repository: string; manifest: Descriptor; tags: string[] }): string {
  return displayRef(k.tags.length > 0 ? `${k.repository}:${k.tags[0]}` : `${k.repository}@${k.manifest.digest}`);
}

type BlobChecker = ((digest: string) => Promise<BlobState>) & { states: Map<string, Promise<BlobState>> };

/** Hashes each blob once, at most `concurrency` at a time; `states` holds every result. */
function blobChecker(storage: LayoutStore, concurrency: number, signal?: AbortSignal): BlobChecker {
  const pool = new Pool(concurrency);
  const states = new Map<string, Promise<BlobState>>();
  const check = (digest: string): Promise<BlobState> => {
    let p = states.get(digest);
    if (!p) {
      p = pool.run(() => storage.checkBlob(digest, { signal }), signal);
      states.set(digest, p);
    }
    return p;
  };
  return Object.assign(check, { states });
}

/** Adds to `k.problems` what is wrong with its manifest and the blobs it names. */
async function checkKit(storage: LayoutStore, k: KitCheck, blob: BlobChecker, signal?: AbortSignal): Promise<void> {
  const m = await blob(k.manifest.digest);
  if (m) {
    k.problems.push(`manifest ${k.manifest.digest}: ${m.reason}`);
    return;
  }
  let children: Descriptor[];
  try {
    children = successorsOf(k.manifest, await fetchBytes(storage, k.manifest, undefined, { signal }));
  } catch (e) {
    if (e instanceof CancelledError) throw e;
    k.problems.push(`manifest ${k.manifest.digest}: ${errorMessage(e)}`);
    return;
  }
  // A subject is another manifest, checked on its own; the first blob is the config.
  const blobs = children.filter((c) => !isManifestType(c.mediaType));
  for (const [i, c] of blobs.entries()) {
    const what = i === 0 ? `config ${c.digest}` : `layer ${i - 1} ${c.digest}`;
    const s = await blob(c.digest);
    if (s) {
      k.problems.push(`${what}: ${s.reason}`);
      continue;
    }
    const size = await storage.blobSize(c.digest);
    if (size !== undefined && size !== c.size) k.problems.push(`${what}: ${size} bytes stored, the manifest says ${c.size}`);
  }
}

/** Checks (and with `repair`, repairs) local storage. Reports as it goes through `logger`. */
export async function fsck(o: FsckOptions): Promise<FsckResult> {
  const { storage, logger: log, signal } = o;
  const blob = blobChecker(storage, o.concurrency ?? 2, signal);
  const states = blob.states;
  const result: FsckResult = { blobs: 0, kits: 0, damaged: [], orphans: [], damagedOrphans: [], danglingIndex: [], remaining: 0 };

  // ---- what to check
  const kits = o.refs?.length ? await kitsOf(storage, o.refs, signal) : await allKits(storage);
  result.kits = kits.length;

  // ---- every blob, when checking everything (orphans included)
  const listed = o.refs?.length ? [] : await storage.listBlobs();
  await Promise.all(listed.map((b) => blob(b.digest)));

  // ---- each ModelKit (a tag without its manifest has nothing more to read)
  await Promise.all(kits.map((k) => (k.problems.length > 0 ? undefined : checkKit(storage, k, blob, signal))));

  // ---- orphans and index.json, when checking everything
  const used = new Set<string>();
  if (!o.refs?.length) {
    const roots = [...kits.map((k) => k.manifest), ...((await storage.readIndex()).manifests ?? [])];
    for (const d of await new GraphReader(storage).closure(roots, false)) used.add(d);
    for (const d of (await storage.readIndex()).manifests ?? []) {
      // (a manifest a repository lists is that ModelKit's damage, repaired with it)
      if ((await storage.blobSize(d.digest)) === undefined && !kits.some((k) => k.listed && k.manifest.digest === d.digest)) {
        result.danglingIndex.push({ digest: d.digest, removed: false });
      }
    }
  }
  result.blobs = states.size;

  // ---- report
  const damaged = kits.filter((k) => k.problems.length > 0);
  for (const k of damaged) {
    log.info(`Damaged ModelKit ${kitLabel(k)} (${k.manifest.digest}):`);
    for (const p of k.problems) log.info(`  ${p}`);
  }
  const now = Date.now();
  // Blobs of a manifest that cannot be read look unused: they are reported, never removed.
  const unreadable = damaged.some((k) => k.problems.some((p) => p.startsWith("manifest ")));
  if (unreadable && listed.some((b) => !used.has(b.digest))) {
    log.info("A damaged manifest cannot be read: some of the orphan blobs below may be its config and layers");
  }
  for (const b of listed) {
    if (used.has(b.digest)) continue;
    const s = await blob(b.digest);
    if (s) {
      result.damagedOrphans.push({ digest: b.digest, reason: s.reason, removed: false });
      log.info(`Damaged blob ${b.digest} that no ModelKit uses: ${s.reason}`);
    } else {
      result.orphans.push({ digest: b.digest, size: b.size, removed: false });
      const recent = now - b.mtimeMs < ORPHAN_GRACE_MS;
      log.info(`Orphan blob ${b.digest} (${formatBytes(b.size)}): no ModelKit uses it${recent ? " (written in the last 10 minutes, perhaps by a kit still running: kept)" : ""}`);
    }
  }
  for (const d of result.danglingIndex) log.info(`The shared index.json lists manifest ${d.digest}, which is not stored`);

  // ---- repair
  const repaired = new Set<KitCheck>();
  if (o.repair) {
    throwIfAborted(signal);
    // Damaged blobs first, so fetching again replaces them.
    for (const [digest, state] of states) {
      if ((await state)?.problem !== "damaged") continue;
      if (await storage.removeBlob(digest)) log.info(`Removed damaged blob ${digest}`);
      const orphan = result.damagedOrphans.find((x) => x.digest === digest);
      if (orphan) orphan.removed = true;
    }
    for (const k of damaged) {
      if (await refetch(k, o)) repaired.add(k);
    }
    await removeOrphans(storage, result, log, now, signal);
    if (result.danglingIndex.length > 0) {
      const gone = new Set(result.danglingIndex.map((d) => d.digest));
      await storage.withLock(async () => {
        const idx = await storage.readIndex();
        const keep: Descriptor[] = [];
        for (const d of idx.manifests ?? []) {
          if (!gone.has(d.digest) || (await storage.blobSize(d.digest)) !== undefined) keep.push(d);
        }
        idx.manifests = keep.length > 0 ? keep : null; // oras writes a nil slice as null
        await storage.writeIndexLocked(idx);
      }, signal);
      for (const d of result.danglingIndex) {
        d.removed = true;
        log.info(`Removed the index.json entry of ${d.digest}`);
      }
    }
    await storage.pruneIngest().catch(() => 0);
  }

  result.damaged = damaged.map((k) => ({ ...k, repaired: repaired.has(k) }));
  result.remaining = result.damaged.filter((k) => !k.repaired).length
    + result.damagedOrphans.filter((x) => !x.removed).length
    + result.danglingIndex.filter((x) => !x.removed).length;
  const summary = `Checked ${result.blobs} blob${result.blobs === 1 ? "" : "s"} and ${result.kits} ModelKit${result.kits === 1 ? "" : "s"}`;
  const found = [
    damaged.length ? `${damaged.length} damaged ModelKit${damaged.length === 1 ? "" : "s"}` : "",
    result.damagedOrphans.length ? `${result.damagedOrphans.length} damaged unused blob${result.damagedOrphans.length === 1 ? "" : "s"}` : "",
    result.orphans.length ? `${result.orphans.length} orphan blob${result.orphans.length === 1 ? "" : "s"}` : "",
    result.danglingIndex.length ? `${result.danglingIndex.length} dangling index.json entr${result.danglingIndex.length === 1 ? "y" : "ies"}` : "",
  ].filter(Boolean);
  log.info(found.length ? `${summary}: ${found.join(", ")}` : `${summary}: no damage found`);
  return result;
}

/** Every ModelKit of every repository: its manifests, and tags naming a manifest it does not list. */
async function allKits(storage: LayoutStore): Promise<KitCheck[]> {
  const out: KitCheck[] = [];
  for (const name of await listRepositories(storage.root)) {
    const repo = new LocalRepository(storage, name);
    const manifests = await repo.manifests();
    const tags = await repo.readTags();
    for (const m of manifests) {
      const mine = [...tags].filter(([, d]) => d.digest === m.digest).map(([t]) => t).sort();
      out.push({ repository: name, manifest: m, tags: mine, listed: true, problems: [] });
    }
    for (const [t, d] of tags) {
      if (manifests.some((m) => m.digest === d.digest)) continue;
      out.push({ repository: name, manifest: d, tags: [t], listed: false, problems: [`tag ${t} names manifest ${d.digest}, which the repository does not list`] });
    }
  }
  return out;
}

/** The ModelKits `refs` name; a reference that is not in local storage is an error. */
async function kitsOf(storage: LayoutStore, refs: ModelRef[], signal?: AbortSignal): Promise<KitCheck[]> {
  const out: KitCheck[] = [];
  for (const ref of refs) {
    const repo = new LocalRepository(storage, repoKey(ref));
    let manifest: Descriptor;
    try {
      manifest = await repo.resolve(tagOrDigest(ref), { signal });
    } catch (e) {
      if (e instanceof NotFoundError) throw new KitError(`${displayRef(refToString(ref))} is not in local storage`, { cause: e });
      throw e;
    }
    if (out.some((k) => k.repository === repo.name && k.manifest.digest === manifest.digest)) continue;
    const listed = (await repo.manifests()).some((m) => m.digest === manifest.digest);
    out.push({
      repository: repo.name,
      manifest,
      tags: await repo.tagsOf(manifest),
      listed,
      problems: listed ? [] : [`tag ${tagOrDigest(ref)} names manifest ${manifest.digest}, which the repository does not list`],
    });
  }
  return out;
}

/** Fetches a damaged ModelKit again, by digest, from its registry; true when it is whole afterwards. */
async function refetch(k: KitCheck, o: FsckOptions): Promise<boolean> {
  const { storage, logger: log, signal } = o;
  const label = kitLabel(k);
  let ref: ModelRef;
  try {
    ref = parseReference(`${k.repository}@${k.manifest.digest}`);
  } catch {
    log.info(`Could not repair ${label}: its repository name is not a reference`);
    return false;
  }
  if (ref.registry === LOCAL_REGISTRY || !o.remote) {
    log.info(`Could not repair ${label}: it has no registry to fetch it from; pack it again, or remove it with kit remove`);
    return false;
  }
  log.info(`Fetching ${label} again from ${ref.registry}`);
  const local = new LocalRepository(storage, k.repository);
  try {
    const remote = await o.remote(ref);
    await copy(remote, k.manifest.digest, local, k.manifest.digest, { signal, concurrency: o.fetchConcurrency });
  } catch (e) {
    if (e instanceof CancelledError) throw e;
    log.info(`Could not repair ${label}: ${errorMessage(e)}`);
    return false;
  }
  const again: KitCheck = { ...k, problems: [] };
  await checkKit(storage, again, blobChecker(storage, o.concurrency ?? 2, signal), signal);
  if (!(await local.exists(k.manifest, { signal }))) again.problems.push("the repository does not list it");
  if (again.problems.length > 0) {
    log.info(`Could not repair ${label}: still damaged after fetching it again: ${again.problems.join("; ")}`);
    return false;
  }
  log.info(`Repaired ${label}`);
  return true;
}

/**
 * Removes the orphans older than {@link ORPHAN_GRACE_MS}, re-checking under the storage lock that
 * nothing uses them (a repaired ModelKit uses its blobs again). None is removed while a listed
 * manifest is missing or cannot be read: the orphans may be its config and layers.
 */
async function removeOrphans(storage: LayoutStore, result: FsckResult, log: Logger, now: number, signal?: AbortSignal): Promise<void> {
  if (result.orphans.length === 0) return;
  await storage.withLock(async () => {
    const roots: Descriptor[] = [...((await storage.readIndex()).manifests ?? [])];
    for (const name of await listRepositories(storage.root)) {
      const repo = new LocalRepository(storage, name);
      roots.push(...(await repo.manifests()), ...(await repo.readTags()).values());
    }
    let used: Set<string>;
    try {
      for (const r of roots) {
        if ((await storage.blobSize(r.digest)) === undefined) throw new KitError(`manifest ${r.digest} is missing`);
      }
      used = await new GraphReader(storage).closure(roots, true);
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      log.info(`Orphan blobs kept: ${errorMessage(e)}, and they may be the blobs it names`);
      return;
    }
    const blobs = new Map((await storage.listBlobs()).map((b) => [b.digest as string, b]));
    for (const x of result.orphans) {
      const b = blobs.get(x.digest);
      if (!b || used.has(x.digest) || now - b.mtimeMs < ORPHAN_GRACE_MS) continue;
      if (await storage.removeBlob(x.digest)) {
        x.removed = true;
        log.info(`Removed orphan blob ${x.digest}`);
      }
    }
  }, signal);
}
