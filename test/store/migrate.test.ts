import { afterEach, beforeEach, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { listRepositories, LocalRepository } from "../../src/store/local.ts";
import { findLegacyStores, migrateLegacyStorage, needsMigration } from "../../src/store/migrate.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { sampleGraph } from "./conformance.ts";

let dir: string;
let storage: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-migrate-"));
  storage = path.join(dir, "storage");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

type Graph = ReturnType<typeof sampleGraph>;

/** Writes a pre-v0.3.0 per-repository OCI layout, tags as ref-name annotations. */
function legacyRepo(rel: string, entries: Array<{ g: Graph; tag?: string }>): void {
  const root = path.join(storage, ...rel.split("/"));
  fs.mkdirSync(path.join(root, "blobs", "sha256"), { recursive: true });
  fs.writeFileSync(path.join(root, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const manifests = [];
  for (const { g, tag } of entries) {
    for (const [digest, data] of g.blobs) fs.writeFileSync(path.join(root, "blobs", "sha256", digest.slice(7)), data);
    manifests.push({
      mediaType: OCI_MANIFEST,
      digest: g.manifestDesc.digest,
      size: g.manifestDesc.size,
      ...(tag ? { annotations: { "org.opencontainers.image.ref.name": tag } } : {}),
    });
  }
  fs.writeFileSync(path.join(root, "index.json"), JSON.stringify({ schemaVersion: 2, manifests }));
}

function walkIndexFiles(d: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walkIndexFiles(path.join(d, e.name), r));
    else if (e.name === "index.json") out.push(r);
  }
  return out;
}

test("legacy per-repository layouts move into the shared layout", async () => {
  const a = sampleGraph("a");
  const b = sampleGraph("b");
  const c = sampleGraph("c");
  legacyRepo("localhost/legacy", [{ g: a, tag: "v1" }, { g: b }]);
  legacyRepo("ghcr.io/org/model", [{ g: c, tag: "latest" }, { g: a, tag: "shared" }]);
  expect(await findLegacyStores(storage)).toEqual(["ghcr.io/org/model", "localhost/legacy"]);
  expect(await needsMigration(storage)).toBe(true);

  const log = memoryLogger("debug");
  const migrated = await migrateLegacyStorage(storage, { logger: log });
  expect(migrated).toEqual(["ghcr.io/org/model", "localhost/legacy"]);
  expect(log.text()).toContain(`Migrating model localhost/legacy with reference ${b.manifestDesc.digest} to new storage`);
  expect(log.text()).toContain("Migration done!");

  expect(await needsMigration(storage)).toBe(false);
  expect(walkIndexFiles(storage)).toEqual(["index.json"]);
  expect(fs.existsSync(path.join(storage, "localhost"))).toBe(false);
  expect(fs.existsSync(path.join(storage, "ghcr.io"))).toBe(false);
  expect(await listRepositories(storage)).toEqual(["ghcr.io/org/model", "localhost/legacy"]);

  const legacy = await LocalRepository.open(storage, "localhost/legacy");
  const entry = (g: Graph) => `{"mediaType":"${OCI_MANIFEST}","digest":"${g.manifestDesc.digest}","size":${g.manifestDesc.size}}`;
  expect(fs.readFileSync(legacy.indexPath, "utf8")).toBe(`{"schemaVersion":2,"manifests":[${entry(a)},${entry(b)}]}`);
  // The untagged manifest gets no digest-named tag.
  expect(fs.readFileSync(legacy.tagsPath, "utf8")).toBe(`{"v1":${entry(a)}}`);
  const model = new LocalRepository(legacy.layout, "ghcr.io/org/model");
  expect(fs.readFileSync(model.tagsPath, "utf8")).toBe(`{"latest":${entry(c)},"shared":${entry(a)}}`);

  const shared = JSON.parse(fs.readFileSync(path.join(storage, "index.json"), "utf8"));
  expect(shared.manifests.map((d: { digest: string }) => d.digest).sort()).toEqual(
    [a.manifestDesc.digest, b.manifestDesc.digest, c.manifestDesc.digest].sort(),
  );
  const blobs = fs.readdirSync(path.join(storage, "blobs", "sha256")).sort();
  expect(blobs).toEqual([...new Set([...a.blobs.keys(), ...b.blobs.keys(), ...c.blobs.keys()])].map((d) => d.slice(7)).sort());
  for (const g of [a, b, c]) {
    for (const [digest, data] of g.blobs) {
      expect(fs.readFileSync(path.join(storage, "blobs", "sha256", digest.slice(7))).equals(data)).toBe(true);
    }
  }
  // Nothing to do the second time.
  expect(await migrateLegacyStorage(storage)).toEqual([]);
});

test("a damaged legacy blob stops the migration and keeps the legacy directory", async () => {
  const a = sampleGraph("a");
  legacyRepo("localhost/broken", [{ g: a, tag: "v1" }]);
  fs.writeFileSync(path.join(storage, "localhost", "broken", "blobs", "sha256", a.layer1Desc.digest.slice(7)), "damaged");
  const e = await migrateLegacyStorage(storage).catch((x) => x);
  expect(e.message).toStartWith('failed to migrate modelkit localhost/broken:v1: failed to perform "Fetch" on source: Content of');
  expect(fs.existsSync(path.join(storage, "localhost", "broken", "index.json"))).toBe(true);
  expect(fs.existsSync(path.join(storage, "blobs", "sha256", a.layer1Desc.digest.slice(7)))).toBe(false);
});
