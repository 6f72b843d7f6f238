/** unpack from local storage: every era of ModelKit, pairing rules, integrity and hostile layers. */
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { kitfileToConfigJson } from "../../src/kitfile/config.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import type { Kitfile } from "../../src/kitfile/schema.ts";
import { descriptorFromBytes, type Descriptor } from "../../src/oci/descriptor.ts";
import { encodeManifest } from "../../src/oci/manifest.ts";
import { KIT_CONFIG, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { parseFilter } from "../../src/modelkit/layer-filter.ts";
import { pack } from "../../src/modelkit/pack.ts";
import { readModelKit } from "../../src/modelkit/contents.ts";
import { unpackContents } from "../../src/modelkit/unpack.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { LocalRepository } from "../../src/store/local.ts";
import { bytesStream } from "../../src/store/target.ts";
import { CorruptDataError, IntegrityError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { listTree, project } from "../helpers/files.ts";
import { deadPid, tempDir } from "../helpers/kit.ts";
import { ownedTempName } from "../../src/util/fs.ts";
import { tarOf } from "../helpers/tar.ts";

const enc = new TextEncoder();

async function store() {
  return LayoutStore.open(path.join(tempDir("kit-unpack-store-"), "storage"));
}

/** Stores a hand-made kit: layers (bytes + media type), a config, a manifest, tagged `t`. */
async function storeKit(layout: LayoutStore, repoName: string, layers: Array<{ mediaType: string; data: Uint8Array; annotations?: Record<string, string> }>, config: Kitfile | string, extra: { artifactType?: string; configType?: string; annotations?: Record<string, string> } = {}) {
  const repo = new LocalRepository(layout, repoName);
  const descs: Descriptor[] = [];
  for (const l of layers) {
    const d = descriptorFromBytes(l.mediaType, l.data);
    if (!(await layout.exists(d))) await layout.push(d, bytesStream(l.data));
    descs.push(l.annotations ? { ...d, annotations: l.annotations } : d);
  }
  const cfgBytes = enc.encode(typeof config === "string" ? config : kitfileToConfigJson(config));
  const cfg = descriptorFromBytes(extra.configType ?? KIT_CONFIG, cfgBytes);
  if (!(await layout.exists(cfg))) await layout.push(cfg, bytesStream(cfgBytes));
  const mBytes = enc.encode(encodeManifest({ schemaVersion: 2, artifactType: extra.artifactType, config: cfg, layers: descs, annotations: extra.annotations }));
  const m = descriptorFromBytes(OCI_MANIFEST, mBytes);
  await repo.push(m, bytesStream(mBytes));
  await repo.tag(m, "t");
  return { repo, manifest: m, layers: descs };
}

async function unpackAll(repo: LocalRepository, dir: string, filters: string[] = [], over: { overwrite?: boolean } = {}) {
  const logger = memoryLogger();
  const kit = await readModelKit(repo, "t");
  await unpackContents(repo, kit, { dir, filters: filters.map(parseFilter), overwrite: over.overwrite ?? false, ignoreExisting: false, logger });
  return logger;
}

describe("reading every era", () => {
  for (const shape of ["v1.7", "newest"] as const) {
    test(`a kit in the ${shape} shape unpacks every layer and the Kitfile`, async () => {
      const ctx = project({ "m.bin": "weights", "data/a.csv": "1,2" }, { modes: { "m.bin": 0o640 } });
      const text = "manifestVersion: 1.0.0\npackage:\n  name: era\nmodel:\n  name: m\n  path: m.bin\ndatasets:\n  - name: d\n    path: data\n";
      const layout = await store();
      await pack({
        context: ctx, kitfile: parseKitfile(text, "Kitfile").kitfile, storage: layout, repo: "localhost/era", tags: ["t"],
        compression: "gzip", layerFormat: "tar", shape, cliVersion: "test", created: "2026-01-01T00:00:00Z", logger: memoryLogger(),
      });
      const out = tempDir();
      const log = await unpackAll(new LocalRepository(layout, "localhost/era"), out);
      expect(listTree(out)).toEqual(["Kitfile", "data/", "data/a.csv", "m.bin"]);
      expect(readFileSync(path.join(out, "Kitfile"), "utf8")).toBe(text);
      expect(statSync(path.join(out, "m.bin")).mode & 0o777).toBe(0o640);
      expect(log.text()).toBe(`Unpacking config to ${out}/Kitfile\nUnpacking model m to m.bin\nUnpacking dataset d to data\n`);
    });
  }

  test("a pre-v0.5.0 kit (no layer info, gzip, tar relative to the layer's parent) pairs by counting per type", async () => {
    const layout = await store();
    const config = { manifestVersion: "1.0.0", model: { path: "models/m.bin" }, code: [{ path: "src" }, { path: "tools/x" }], docs: [{ path: "README.md" }] } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/old", [
      { mediaType: "application/vnd.kitops.modelkit.model.v1.tar+gzip", data: gzipSync(tarOf([["m.bin", "old weights"]])) },
      { mediaType: "application/vnd.kitops.modelkit.code.v1.tar+gzip", data: gzipSync(tarOf([["src", "dir"], ["src/a.py", "a"]])) },
      { mediaType: "application/vnd.kitops.modelkit.code.v1.tar+gzip", data: gzipSync(tarOf([["x", "dir"], ["x/b.py", "b"]])) },
      { mediaType: "application/vnd.kitops.modelkit.docs.v1.tar+gzip", data: gzipSync(tarOf([["README.md", "# old"]])) },
    ], config);
    const out = tempDir();
    await unpackAll(repo, out);
    expect(listTree(out)).toEqual(["Kitfile", "README.md", "models/", "models/m.bin", "src/", "src/a.py", "tools/", "tools/x/", "tools/x/b.py"]);
  });

  test("prompts without layer info pair with code layers carrying the prompt subtype", async () => {
    const layout = await store();
    const config = { manifestVersion: "1.0.0", code: [{ path: "src" }], prompts: [{ name: "sys", path: "p.md" }] } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/prompts", [
      { mediaType: "application/vnd.kitops.modelkit.code.v1.tar", data: tarOf([["p.md", "prompt text"]]), annotations: { "ml.kitops.modelkit.layer-subtype": "prompt", "org.cncf.model.filepath": "p.md" } },
      { mediaType: "application/vnd.kitops.modelkit.code.v1.tar", data: tarOf([["src", "dir"], ["src/c.py", "c"]]), annotations: { "org.cncf.model.filepath": "src" } },
    ], config);
    const out = tempDir();
    const log = await unpackAll(repo, out, ["prompts:sys"]);
    expect(listTree(out)).toEqual(["p.md"]);
    expect(log.text()).toBe("Unpacking prompt sys to p.md\n");
  });

  test("a ModelPack without a Kitfile annotation is unpacked from its filepath annotations, with kit's warning", async () => {
    const layout = await store();
    const { repo } = await storeKit(layout, "localhost/mp", [
      { mediaType: "application/vnd.cncf.model.weight.v1.raw", data: enc.encode("W"), annotations: { "org.cncf.model.filepath": "w.safetensors" } },
      { mediaType: "application/vnd.cncf.model.doc.v1.tar", data: tarOf([["README.md", "doc"]]), annotations: { "org.cncf.model.filepath": "README.md" } },
    ], '{"descriptor":{"name":"mp"},"modelfs":{"type":"layers","diffIds":[]},"config":{}}', { artifactType: "application/vnd.cncf.model.manifest.v1+json", configType: "application/vnd.cncf.model.config.v1+json" });
    const logger = memoryLogger();
    const kit = await readModelKit(repo, "t", { logger });
    expect(logger.err.join("")).toBe("[WARN ] Artifact does not include Kitfile: functionality may be impacted\n");
    const out = tempDir();
    await unpackContents(repo, kit, { dir: out, filters: [parseFilter("model,docs")], overwrite: false, ignoreExisting: false, logger });
    expect(listTree(out)).toEqual(["README.md", "w.safetensors"]);
    expect(readFileSync(path.join(out, "w.safetensors"), "utf8")).toBe("W");
  });
});

describe("integrity and safety", () => {
  test("a corrupted layer blob is refused and leaves no file", async () => {
    const layout = await store();
    const tar = tarOf([["m.bin", "good weights"]]);
    const d = descriptorFromBytes("application/vnd.kitops.modelkit.model.v1.tar", tar);
    const config = { manifestVersion: "1.0.0", model: { path: "m.bin", digest: d.digest, diffId: d.digest } } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/bad", [{ mediaType: d.mediaType, data: tar }], config);
    const blob = layout.blobPath(d.digest);
    chmodSync(blob, 0o644);
    writeFileSync(blob, Buffer.from(tar).toString("latin1").replace("good", "evil"), "latin1");
    const out = tempDir();
    const err = await unpackAll(repo, out, ["model"]).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toContain("does not match its digest");
    expect(existsSync(path.join(out, "m.bin"))).toBe(false);
    expect(readdirSync(out)).toEqual([]);
  });

  test("a corrupted large layer (hashed on a worker thread while files are written) is refused and leaves no file", async () => {
    const layout = await store();
    const big = "w".repeat(9 * 1024 * 1024 + 5);
    const tar = tarOf([["m/a.bin", big], ["m/b.txt", "tail"]]);
    const d = descriptorFromBytes("application/vnd.kitops.modelkit.model.v1.tar", tar);
    const config = { manifestVersion: "1.0.0", model: { path: "m", digest: d.digest, diffId: d.digest } } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/badbig", [{ mediaType: d.mediaType, data: tar }], config);
    const good = tempDir();
    await unpackAll(repo, good, ["model"]);
    expect(readFileSync(path.join(good, "m", "a.bin"), "utf8")).toBe(big);
    const blob = layout.blobPath(d.digest);
    chmodSync(blob, 0o644);
    const bad = new Uint8Array(tar);
    bad[1000] = "x".charCodeAt(0); // inside a.bin's data: the tar still parses
    writeFileSync(blob, bad);
    const out = tempDir();
    const err = await unpackAll(repo, out, ["model"]).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toContain("does not match its digest");
    expect(listTree(out)).toEqual([]); // not even the directory the layer made
  });

  test("a Kitfile digest missing from the manifest is kit's error", async () => {
    const layout = await store();
    const tar = tarOf([["m.bin", "x"]]);
    const config = { manifestVersion: "1.0.0", model: { path: "m.bin", digest: "sha256:" + "0".repeat(64) } } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/mismatch", [{ mediaType: "application/vnd.kitops.modelkit.model.v1.tar", data: tar }], config);
    await expect(unpackAll(repo, tempDir())).rejects.toThrow(`digest sha256:${"0".repeat(64)} not found in manifest`);
  });

  for (const [name, entries] of [
    ["parent traversal", [["../escape.txt", "x"]]],
    ["absolute path", [["/tmp/kit-abs-escape.txt", "x"]]],
    ["nested traversal", [["a", "dir"], ["a/../../escape.txt", "x"]]],
  ] as Array<[string, Array<[string, string]>]>) {
    test(`a hostile layer (${name}) is refused and nothing is written outside the target`, async () => {
      const layout = await store();
      const tar = tarOf(entries);
      const d = descriptorFromBytes("application/vnd.kitops.modelkit.code.v1.tar", tar);
      const { repo } = await storeKit(layout, "localhost/hostile", [{ mediaType: d.mediaType, data: tar }], { manifestVersion: "1.0.0", code: [{ path: "a", digest: d.digest, diffId: d.digest }] } as Kitfile);
      const parent = tempDir();
      const out = path.join(parent, "target");
      await expect(unpackAll(repo, out, ["code"])).rejects.toThrow(/illegal file path/);
      expect(readdirSync(parent)).toEqual(["target"]);
      expect(existsSync("/tmp/kit-abs-escape.txt")).toBe(false);
    });
  }

  test("setuid, setgid and sticky bits from a tar or raw layer are never set, even for root", async () => {
    const layout = await store();
    const tar = tarOf([["bin", "dir", 0o3777], ["bin/tool", "#!/bin/sh\n", 0o6755], ["bin/sticky", "s", 0o1644]]);
    const t = descriptorFromBytes("application/vnd.kitops.modelkit.code.v1.tar", tar);
    const raw = enc.encode("raw weights");
    const r = descriptorFromBytes("application/vnd.cncf.model.weight.v1.raw", raw);
    const rawAnnotations = { "org.cncf.model.filepath": "w.bin", "org.cncf.model.file.metadata+json": JSON.stringify({ name: "w.bin", mode: 0o7755, size: raw.length }) };
    const config = { manifestVersion: "1.0.0", model: { path: "w.bin", digest: r.digest }, code: [{ path: "bin", digest: t.digest, diffId: t.digest }] } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/suid", [{ mediaType: t.mediaType, data: tar }, { mediaType: r.mediaType, data: raw, annotations: rawAnnotations }], config);
    const out = tempDir();
    await unpackAll(repo, out, ["model", "code"]);
    const mode = (p: string) => statSync(path.join(out, p)).mode & 0o7777;
    const umask = process.umask();
    expect(mode("bin")).toBe(0o777 & ~umask);
    expect(mode("bin/tool")).toBe(0o755 & ~umask);
    expect(mode("bin/sticky")).toBe(0o644 & ~umask);
    expect(mode("w.bin")).toBe(0o755 & ~umask);
    // -o over an existing setuid file does not keep the bit either
    chmodSync(path.join(out, "bin/tool"), 0o4755);
    await unpackAll(repo, out, ["code"], { overwrite: true });
    expect(mode("bin/tool")).toBe(0o755);
  });

  test("a layer named by many entries is fetched and extracted once per target path", async () => {
    const layout = await store();
    const tar = tarOf([["part.bin", "weights"]]);
    const t = descriptorFromBytes("application/vnd.kitops.modelkit.modelpart.v1.tar", tar);
    const raw = enc.encode("raw");
    const r = descriptorFromBytes("application/vnd.cncf.model.weight.v1.raw", raw);
    const part = { path: "part.bin", digest: t.digest, diffId: t.digest };
    const config = {
      manifestVersion: "1.0.0",
      model: { path: "w.bin", digest: r.digest, parts: Array.from({ length: 50 }, () => part) },
      docs: [{ path: "w.bin", digest: r.digest }, { path: "w.bin", digest: r.digest }],
    } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/repeat", [{ mediaType: t.mediaType, data: tar }, { mediaType: r.mediaType, data: raw, annotations: { "org.cncf.model.filepath": "w.bin" } }], config);
    const fetched: string[] = [];
    const counting = Object.assign(Object.create(repo), { fetch: (d: Descriptor, o?: { signal?: AbortSignal }) => (fetched.push(d.digest), repo.fetch(d, o)) });
    const out = tempDir();
    const logger = memoryLogger();
    await unpackContents(counting, await readModelKit(repo, "t"), { dir: out, filters: [], overwrite: false, ignoreExisting: false, logger });
    expect(fetched.sort()).toEqual([r.digest, t.digest].sort());
    expect(listTree(out)).toEqual(["Kitfile", "part.bin", "w.bin"]);
    expect(readFileSync(path.join(out, "part.bin"), "utf8")).toBe("weights");
  });

  for (const [format, mediaType] of [["gzip", "application/vnd.kitops.modelkit.model.v1.tar+gzip"], ["zstd", "application/vnd.kitops.modelkit.model.v1.tar+zstd"]]) {
    test(`a ${format} layer that does not decompress names the layer and the reason, and leaves no file`, async () => {
      const layout = await store();
      const data = enc.encode(`not ${format} at all`);
      const d = descriptorFromBytes(mediaType!, data);
      const config = { manifestVersion: "1.0.0", model: { name: "m", path: "m.bin", digest: d.digest, diffId: d.digest } } as Kitfile;
      const { repo } = await storeKit(layout, "localhost/corrupt", [{ mediaType: d.mediaType, data }], config);
      const out = tempDir();
      const err = await unpackAll(repo, out, ["model"]).catch((e) => e);
      expect(err).toBeInstanceOf(CorruptDataError);
      const reason = format === "gzip" ? "incorrect header check" : "Unknown frame descriptor";
      expect(err.message).toBe(`model layer ${d.digest} (m.bin) is corrupt: invalid ${format} data: ${reason}`);
      expect(readdirSync(out)).toEqual([]);
      expect(existsSync(layout.blobPath(d.digest))).toBe(true); // sound bytes: nothing to repair
    });
  }

  test("a damaged gzip blob in local storage is an IntegrityError (not a decompression error), and is removed", async () => {
    const layout = await store();
    const data = gzipSync(tarOf([["m.bin", "x".repeat(10000)]]));
    const d = descriptorFromBytes("application/vnd.kitops.modelkit.model.v1.tar+gzip", data);
    const config = { manifestVersion: "1.0.0", model: { path: "m.bin", digest: d.digest, diffId: d.digest } } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/damaged", [{ mediaType: d.mediaType, data }], config);
    const blob = layout.blobPath(d.digest);
    chmodSync(blob, 0o644);
    const bad = new Uint8Array(data);
    bad[1] = bad[1]! ^ 0xff; // the gzip magic: decompression fails before the digest is known
    writeFileSync(blob, bad);
    const err = await unpackAll(repo, tempDir(), ["model"]).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toContain("the damaged blob was removed from local storage");
    expect(existsSync(blob)).toBe(false);
    // the manifest no longer counts as present, so a pull copies it (and the layer) again
    expect(await repo.exists((await readModelKit(repo, "t")).manifestDesc)).toBe(false);
  });

  test("temporary files a killed unpack left in the target are removed by the next unpack into it", async () => {
    const layout = await store();
    const tar = tarOf([["data", "dir"], ["data/a.csv", "1,2"]]);
    const d = descriptorFromBytes("application/vnd.kitops.modelkit.dataset.v1.tar", tar);
    const { repo } = await storeKit(layout, "localhost/leftover", [{ mediaType: d.mediaType, data: tar }], { manifestVersion: "1.0.0", datasets: [{ path: "data", digest: d.digest, diffId: d.digest }] } as Kitfile);
    const out = tempDir();
    const dead = deadPid();
    const deadName = (base: string) => ownedTempName(base).replace(`.kit-${process.pid}-`, `.kit-${dead}-`);
    mkdirSync(path.join(out, "data/old"), { recursive: true });
    const leftovers = [deadName("Kitfile"), path.join("data", deadName("a.csv")), path.join("data/old", deadName("b.csv"))];
    for (const f of leftovers) writeFileSync(path.join(out, f), "half");
    const mine = path.join("data", ownedTempName("c.csv")); // a live process's file stays
    writeFileSync(path.join(out, mine), "live");
    await unpackAll(repo, out, ["datasets"]);
    expect(listTree(out, { dirs: false }).sort()).toEqual([mine, "data/a.csv"].sort());
  });

  test("an existing different Kitfile is refused unless -o", async () => {
    const layout = await store();
    const { repo } = await storeKit(layout, "localhost/kf", [], { manifestVersion: "1.0.0", package: { name: "x" } } as Kitfile);
    const out = tempDir();
    writeFileSync(path.join(out, "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: y\n");
    await expect(unpackAll(repo, out)).rejects.toThrow("failed to unpack: Kitfile exists and does not match model's Kitfile");
    await unpackAll(repo, out, [], { overwrite: true });
    expect(readFileSync(path.join(out, "Kitfile"), "utf8")).toBe("manifestVersion: 1.0.0\npackage:\n  name: x\n");
    const log = await unpackAll(repo, out);
    expect(log.text()).toBe(`Found existing Kitfile at ${out}/Kitfile\n`);
  });
});

describe("layers unpacked at once, put in place in order", () => {
  // The model layer is large (extracted last of the two), the dataset layer tiny: both write x.txt.
  async function overlapping() {
    const layout = await store();
    const big = tarOf([["w.bin", "w".repeat(9 * 1024 * 1024)], ["x.txt", "from the model layer"]]);
    const small = tarOf([["x.txt", "from the dataset layer"]]);
    const m = descriptorFromBytes("application/vnd.kitops.modelkit.model.v1.tar", big);
    const d = descriptorFromBytes("application/vnd.kitops.modelkit.dataset.v1.tar", small);
    const config = {
      manifestVersion: "1.0.0",
      model: { path: "w.bin", digest: m.digest, diffId: m.digest },
      datasets: [{ path: "x.txt", digest: d.digest, diffId: d.digest }],
    } as Kitfile;
    const { repo } = await storeKit(layout, "localhost/overlap", [{ mediaType: m.mediaType, data: big }, { mediaType: d.mediaType, data: small }], config);
    return repo;
  }
  const unpack = async (repo: LocalRepository, dir: string, o: { overwrite?: boolean; ignoreExisting?: boolean }) => {
    const kit = await readModelKit(repo, "t");
    await unpackContents(repo, kit, { dir, filters: [], overwrite: o.overwrite ?? false, ignoreExisting: o.ignoreExisting ?? false, logger: memoryLogger() });
  };

  test("a file of a later layer meets the file an earlier one put there: an error, the earlier file stays", async () => {
    const repo = await overlapping();
    const out = tempDir();
    const e = await unpack(repo, out, {}).catch((x) => x);
    expect(e.message).toBe("path 'x.txt' already exists");
    expect(readFileSync(path.join(out, "x.txt"), "utf8")).toBe("from the model layer");
    expect(listTree(out)).toEqual(["Kitfile", "w.bin", "x.txt"]);
  });

  test("with --overwrite the later layer's file wins, with --ignore-existing the earlier one's, as one after the other", async () => {
    const repo = await overlapping();
    const a = tempDir();
    await unpack(repo, a, { overwrite: true });
    expect(readFileSync(path.join(a, "x.txt"), "utf8")).toBe("from the dataset layer");
    const b = tempDir();
    await unpack(repo, b, { ignoreExisting: true });
    expect(readFileSync(path.join(b, "x.txt"), "utf8")).toBe("from the model layer");
    for (const dir of [a, b]) expect(listTree(dir)).toEqual(["Kitfile", "w.bin", "x.txt"]);
  });
});

describe("large layers read into reused buffers", () => {
  const rnd = (n: number, seed: number) => {
    const b = new Uint8Array(n);
    let x = seed;
    for (let i = 0; i < n; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    return b;
  };

  test("tar and raw layers of many chunks come out byte for byte, two layers at a time", async () => {
    const dir = project({
      Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n  parts:\n    - path: p.bin\ndatasets:\n  - path: data\n",
      "m.bin": rnd(9 * 1024 * 1024 + 333, 1),
      "p.bin": rnd(10 * 1024 * 1024 + 1, 2),
      "data/a.bin": rnd(12 * 1024 * 1024 - 7, 3),
      "data/b.txt": "small",
      "data/c.bin": rnd(2 * 1024 * 1024 + 513, 4),
    });
    for (const layerFormat of ["tar", "raw"] as const) {
      const kitfile = layerFormat === "raw" ? "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n  parts:\n    - path: p.bin\n" : readFileSync(path.join(dir, "Kitfile"), "utf8");
      const layout = await store();
      const { kitfile: parsed } = parseKitfile(kitfile, "Kitfile");
      await pack({ context: dir, kitfile: parsed, storage: layout, repo: "localhost/big", tags: ["t"], compression: "none", layerFormat, shape: "newest", cliVersion: "1.7.0", created: "2026-01-02T03:04:05Z", logger: memoryLogger() });
      const repo = new LocalRepository(layout, "localhost/big");
      const out = tempDir();
      await unpackAll(repo, out);
      const files = layerFormat === "raw" ? ["m.bin", "p.bin"] : ["m.bin", "p.bin", "data/a.bin", "data/b.txt", "data/c.bin"];
      for (const f of files) expect(Buffer.compare(readFileSync(path.join(out, f)), readFileSync(path.join(dir, f)))).toBe(0);
    }
  });
});
