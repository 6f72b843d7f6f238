/** kit fsck's domain logic on real storage: every kind of damage found, repaired where it can be. */
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { encodeManifest } from "../../src/oci/manifest.ts";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { parseReference } from "../../src/oci/reference.ts";
import { fsck, type FsckOptions } from "../../src/modelkit/fsck.ts";
import { pack, type PackResult } from "../../src/modelkit/pack.ts";
import { copy } from "../../src/store/copy.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { LocalRepository } from "../../src/store/local.ts";
import { bytesStream } from "../../src/store/target.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { project } from "../helpers/files.ts";
import { tempDir } from "../helpers/kit.ts";

const REPO = "registry.example.com/team/model";
const KITFILE = "manifestVersion: 1.0.0\npackage:\n  name: checked\nmodel:\n  path: m.bin\ndatasets:\n  - name: d\n    path: data\n";

/** Local storage with one kit `REPO:1` (model, dataset) and a "registry" (another store) holding the same kit. */
async function setup() {
  const storage = await LayoutStore.open(path.join(tempDir("kit-fsck-"), "storage"));
  const ctx = project({ "m.bin": "weights ".repeat(1000), "data/a.csv": "1,2\n" });
  const packed = await pack({
    context: ctx, kitfile: parseKitfile(KITFILE, "Kitfile").kitfile, storage, repo: REPO, tags: ["1"],
    compression: "none", layerFormat: "tar", shape: "newest", cliVersion: "test", created: "2026-01-01T00:00:00Z", logger: memoryLogger(),
  });
  const registry = new LocalRepository(await LayoutStore.open(path.join(tempDir("kit-fsck-registry-"), "storage")), REPO);
  await copy(new LocalRepository(storage, REPO), "1", registry, "1");
  const run = async (extra: Partial<FsckOptions> = {}) => {
    const logger = memoryLogger();
    const result = await fsck({ storage, logger, remote: async () => registry, ...extra });
    return { result, text: logger.text() };
  };
  const writable = (digest: string) => {
    const p = storage.blobPath(digest);
    chmodSync(p, 0o644);
    return p;
  };
  return { storage, packed, registry, run, writable };
}

const model = (p: PackResult) => p.layers[0]!;

describe("kit fsck finds", () => {
  test("nothing in sound storage", async () => {
    const { run } = await setup();
    const { result, text } = await run();
    expect(result).toMatchObject({ blobs: 4, kits: 1, damaged: [], orphans: [], remaining: 0 });
    expect(text).toBe("Checked 4 blobs and 1 ModelKit: no damage found\n");
  });

  test("a flipped byte in a layer", async () => {
    const { packed, run, writable } = await setup();
    const p = writable(model(packed).digest);
    const bytes = readFileSync(p);
    bytes[600] = bytes[600]! ^ 1;
    writeFileSync(p, bytes);
    const { result, text } = await run();
    expect(result.remaining).toBe(1);
    expect(text).toContain(`Damaged ModelKit registry.example.com/team/model:1 (${packed.manifest.digest}):\n  layer 0 ${model(packed).digest}: its content hashes to sha256:`);
    expect(text).toEndWith("Checked 4 blobs and 1 ModelKit: 1 damaged ModelKit\n");
    expect(existsSync(p)).toBe(true); // reported, not removed, without --repair
  });

  test("a truncated blob", async () => {
    const { packed, run, writable } = await setup();
    truncateSync(writable(packed.layers[1]!.digest), 100);
    const { result, text } = await run();
    expect(result.remaining).toBe(1);
    expect(text).toContain(`  layer 1 ${packed.layers[1]!.digest}: its content hashes to sha256:`);
  });

  test("a missing blob", async () => {
    const { packed, storage, run } = await setup();
    rmSync(storage.blobPath(model(packed).digest));
    const { result, text } = await run();
    expect(result.remaining).toBe(1);
    expect(text).toContain(`  layer 0 ${model(packed).digest}: the blob file is missing\n`);
  });

  test("a manifest naming a missing config", async () => {
    const { packed, storage, run } = await setup();
    rmSync(storage.blobPath(packed.config.digest));
    const { result, text } = await run();
    expect(result.remaining).toBe(1);
    expect(text).toContain(`  config ${packed.config.digest}: the blob file is missing\n`);
  });

  test("a damaged manifest, a tag naming a manifest the repository does not list, an index.json entry without its blob", async () => {
    const { packed, storage, run, writable } = await setup();
    const other = new TextEncoder().encode(encodeManifest({ schemaVersion: 2, config: packed.config, layers: [] }));
    const ghost = descriptorFromBytes(OCI_MANIFEST, other);
    await storage.addToIndex([ghost]); // listed, never stored
    const repo = new LocalRepository(storage, REPO);
    const tagsFile = repo.tagsPath;
    const tags = JSON.parse(readFileSync(tagsFile, "utf8"));
    tags.ghost = { ...ghost };
    writeFileSync(tagsFile, JSON.stringify(tags));
    writeFileSync(writable(packed.manifest.digest), "{}");
    const { result, text } = await run();
    expect(text).toContain(`  manifest ${packed.manifest.digest}: its content hashes to sha256:`);
    expect(text).toContain(`Damaged ModelKit registry.example.com/team/model:ghost (${ghost.digest}):\n  tag ghost names manifest ${ghost.digest}, which the repository does not list\n`);
    expect(text).toContain("A damaged manifest cannot be read: some of the orphan blobs below may be its config and layers\n");
    expect(text).toContain(`The shared index.json lists manifest ${ghost.digest}, which is not stored\n`);
    expect(result.remaining).toBe(3);

    // --repair: the manifest comes back from the registry (and with it the use of its blobs, which
    // are not removed as orphans); the index entry goes; the ghost tag stays damaged
    const old = new Date(Date.now() - 3600_000); // not "perhaps still being written"
    for (const b of await storage.listBlobs()) utimesSync(storage.blobPath(b.digest), old, old);
    const repaired = await run({ repair: true });
    expect(repaired.text).toContain("Repaired registry.example.com/team/model:1\n");
    expect(repaired.text).toContain(`Removed the index.json entry of ${ghost.digest}\n`);
    expect(repaired.text).not.toContain("Removed orphan");
    expect(repaired.result.remaining).toBe(1);
    for (const d of [packed.config, ...packed.layers]) expect(existsSync(storage.blobPath(d.digest))).toBe(true);
  });

  test("orphan blobs (and a damaged one), which only --repair removes, recent ones kept", async () => {
    const { storage, run } = await setup();
    const orphan = new TextEncoder().encode("nobody uses me");
    const d = descriptorFromBytes("application/octet-stream", orphan);
    await storage.push(d, bytesStream(orphan));
    const fresh = new TextEncoder().encode("just written");
    const f = descriptorFromBytes("application/octet-stream", fresh);
    await storage.push(f, bytesStream(fresh));
    const bad = new TextEncoder().encode("damaged and unused");
    const b = descriptorFromBytes("application/octet-stream", bad);
    await storage.push(b, bytesStream(bad));
    writeFileSync((chmodSync(storage.blobPath(b.digest), 0o644), storage.blobPath(b.digest)), "changed");
    const old = new Date(Date.now() - 3600_000);
    utimesSync(storage.blobPath(d.digest), old, old);

    const checked = await run();
    expect(checked.text).toContain(`Orphan blob ${d.digest} (14 B): no ModelKit uses it\n`);
    expect(checked.text).toContain(`Orphan blob ${f.digest} (12 B): no ModelKit uses it (written in the last 10 minutes, perhaps by a kit still running: kept)\n`);
    expect(checked.text).toContain(`Damaged blob ${b.digest} that no ModelKit uses: its content hashes to sha256:`);
    expect(checked.result.remaining).toBe(1); // the damaged blob; orphans are not damage
    expect(existsSync(storage.blobPath(d.digest))).toBe(true);

    const repaired = await run({ repair: true });
    expect(repaired.text).toContain(`Removed orphan blob ${d.digest}\n`);
    expect(repaired.text).toContain(`Removed damaged blob ${b.digest}\n`);
    expect(repaired.result.remaining).toBe(0);
    expect(existsSync(storage.blobPath(d.digest))).toBe(false);
    expect(existsSync(storage.blobPath(b.digest))).toBe(false);
    expect(existsSync(storage.blobPath(f.digest))).toBe(true);
  });

  test("with references, only those ModelKits; a reference not in storage is an error", async () => {
    const { storage, run } = await setup();
    const orphan = new TextEncoder().encode("unchecked");
    await storage.push(descriptorFromBytes("x/y", orphan), bytesStream(orphan));
    const { result, text } = await run({ refs: [parseReference(`${REPO}:1`)] });
    expect(result).toMatchObject({ blobs: 4, kits: 1, orphans: [], remaining: 0 });
    expect(text).toBe("Checked 4 blobs and 1 ModelKit: no damage found\n");
    await expect(run({ refs: [parseReference(`${REPO}:nope`)] })).rejects.toThrow("registry.example.com/team/model:nope is not in local storage");
  });
});

describe("kit fsck --repair", () => {
  test("removes the damage and fetches the ModelKit again from its registry", async () => {
    const { packed, storage, run, writable } = await setup();
    const p = writable(model(packed).digest);
    writeFileSync(p, "evil");
    rmSync(storage.blobPath(packed.config.digest));
    const { result, text } = await run({ repair: true });
    expect(text).toContain(`Removed damaged blob ${model(packed).digest}\n`);
    expect(text).toContain("Fetching registry.example.com/team/model:1 again from registry.example.com\nRepaired registry.example.com/team/model:1\n");
    expect(result.remaining).toBe(0);
    expect(result.damaged.map((k) => k.repaired)).toEqual([true]);
    expect((await run()).text).toBe("Checked 4 blobs and 1 ModelKit: no damage found\n");
  });

  test("a ModelKit without a registry, or one the registry cannot give, stays damaged", async () => {
    const { packed, storage, run, writable, registry } = await setup();
    writeFileSync(writable(model(packed).digest), "evil");
    const noRemote = await run({ repair: true, remote: undefined });
    expect(noRemote.text).toContain("Could not repair registry.example.com/team/model:1: it has no registry to fetch it from; pack it again, or remove it with kit remove\n");
    expect(noRemote.result.remaining).toBe(1);
    expect(existsSync(storage.blobPath(model(packed).digest))).toBe(false); // the damage itself is gone
    await registry.layout.removeBlob(model(packed).digest);
    const failing = await run({ repair: true });
    expect(failing.text).toContain("Could not repair registry.example.com/team/model:1: ");
    expect(failing.result.remaining).toBe(1);
  });
});
