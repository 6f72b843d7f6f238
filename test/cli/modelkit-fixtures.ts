/**
 * Fixture stores for the local-management command tests (list, info, inspect, tag, remove,
 * diff): real kits packed with `pack()` (fixed `created`, chosen CLI version, 0644/0755 modes so
 * digests never vary), hand-made manifests, and a blob census of the storage directory.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { descriptorFromBytes, type Descriptor } from "../../src/oci/descriptor.ts";
import { KIT_CONFIG, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { repoKey, tagOrDigest } from "../../src/oci/reference.ts";
import { parseRefArg } from "../../src/cli/session.ts";
import { pack } from "../../src/modelkit/pack.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { listRepositories, LocalRepository } from "../../src/store/local.ts";
import { bytesStream, successorsOf } from "../../src/store/target.ts";
import { goJson } from "../../src/util/go-json.ts";
import { silentLogger } from "../../src/util/log.ts";
import { project } from "../helpers/files.ts";

export const storageDir = (home: string) => path.join(home, "storage");

export interface PackKitOptions {
  /** `[reg/]repo[:tag][,tag2]`, as `kit pack -t`; untagged (`localhost/_`) when absent. */
  tag?: string;
  /** Manifest shape: `v1.7` bytes (Appendix A) or the newest. Default newest. */
  shape?: "v1.7" | "newest";
  /** CLI version annotation (default `1.7.0`). */
  version?: string;
}

/** Packs a kit from `files` (which must include `Kitfile`) into `<home>/storage`; returns the manifest digest. */
export async function packKit(home: string, files: Record<string, string>, opts: PackKitOptions = {}): Promise<string> {
  const context = project(files, { prefix: "kit-ctx-" });
  const { kitfile } = parseKitfile(files.Kitfile!, "Kitfile");
  const storage = await LayoutStore.open(storageDir(home));
  let repo = "localhost/_";
  let tags: string[] = [];
  if (opts.tag) {
    const { ref, extraTags } = parseRefArg(opts.tag);
    repo = repoKey(ref);
    tags = [tagOrDigest(ref), ...extraTags];
  }
  const r = await pack({
    context,
    kitfile,
    storage,
    repo,
    tags,
    compression: "none",
    layerFormat: "tar",
    shape: opts.shape ?? "newest",
    cliVersion: opts.version ?? "1.7.0",
    created: "2025-01-02T03:04:05Z",
    logger: silentLogger,
  });
  return r.manifest.digest;
}

/** The Appendix A kit: `kit pack . -t example:v1` with kit 1.7.0 → `sha256:59eac463…`. */
export const APPENDIX_A_FILES = {
  Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: example\nmodel:\n  path: model.bin\n",
  "model.bin": "hello",
};
export const APPENDIX_A_DIGEST = "sha256:59eac463c5fe6c728e544a6d3c303d025353271076e5b784684d824cd85ca648";

/**
 * Stores a hand-made manifest (and its config blob) in repository `repo`, tagged `tag` when given.
 * Layers need not exist. Returns the manifest descriptor.
 */
export async function pushManifest(
  home: string,
  repo: string,
  m: { configMediaType?: string; config?: string; layers?: Descriptor[] | null; annotations?: Record<string, string> },
  tag?: string,
): Promise<Descriptor> {
  const storage = await LayoutStore.open(storageDir(home));
  const configBytes = new TextEncoder().encode(m.config ?? '{"manifestVersion":"1.0.0","package":{}}');
  const configDesc = descriptorFromBytes(m.configMediaType ?? KIT_CONFIG, configBytes);
  if (!(await storage.exists(configDesc))) await storage.push(configDesc, bytesStream(configBytes));
  const body = goJson({
    schemaVersion: 2,
    config: { mediaType: configDesc.mediaType, digest: configDesc.digest, size: configDesc.size },
    layers: m.layers === undefined ? [] : m.layers,
    annotations: m.annotations,
  });
  const bytes = new TextEncoder().encode(body);
  const desc = descriptorFromBytes(OCI_MANIFEST, bytes);
  const r = new LocalRepository(storage, repo);
  await r.push(desc, bytesStream(bytes));
  if (tag) await r.tag(desc, tag);
  return desc;
}

/** Blob files in `storage/blobs/sha256`. */
export function blobFiles(home: string): string[] {
  try {
    return readdirSync(path.join(storageDir(home), "blobs", "sha256")).sort();
  } catch {
    return [];
  }
}

/**
 * Every blob the manifests of every repository index still use: the manifests themselves and
 * their configs and layers (hex digests, sorted).
 */
export async function referencedBlobs(home: string): Promise<string[]> {
  const dir = storageDir(home);
  const out = new Set<string>();
  for (const repo of await listRepositories(dir)) {
    const r = new LocalRepository(new LayoutStore(dir), repo);
    for (const d of await r.manifests()) {
      out.add(d.digest.slice(7));
      const bytes = readFileSync(path.join(dir, "blobs", "sha256", d.digest.slice(7)));
      for (const s of successorsOf(d, bytes)) out.add(s.digest.slice(7));
    }
  }
  return [...out].sort();
}
