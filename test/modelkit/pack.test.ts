/** pack() against kit's byte-level expectations (docs/format.md#worked-example, docs/format.md#manifest). */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { appendFileSync, readFileSync, readdirSync, writeFileSync, symlinkSync, truncateSync, utimesSync } from "node:fs";
import path from "node:path";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { pack, planLayers } from "../../src/modelkit/pack.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { project } from "../helpers/files.ts";
import { tempDir } from "../helpers/kit.ts";
import { makeMcpBundle } from "../helpers/mcpb.ts";
import { modelPackConfigErrors } from "../helpers/modelpack-schema.ts";

const APPENDIX_KITFILE = "manifestVersion: 1.0.0\npackage:\n  name: example\nmodel:\n  path: model.bin\n";
const LAYER = "sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce";
const CONFIG = "sha256:43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00";
const MANIFEST_V17 = "sha256:59eac463c5fe6c728e544a6d3c303d025353271076e5b784684d824cd85ca648";

async function packDir(dir: string, kitfileText: string, over: Partial<Parameters<typeof pack>[0]> = {}) {
  const storage = over.storage ?? (await LayoutStore.open(path.join(tempDir("kit-store-"), "storage")));
  const logger = memoryLogger();
  const { kitfile } = parseKitfile(kitfileText, "Kitfile");
  const result = await pack({
    context: dir,
    kitfile,
    storage,
    repo: "localhost/example",
    tags: ["v1"],
    compression: "none",
    layerFormat: "tar",
    shape: "newest",
    cliVersion: "1.7.0",
    created: "2026-01-02T03:04:05Z",
    logger,
    ...over,
  });
  const blob = (d: string) => readFileSync(storage.blobPath(d));
  return { storage, result, logger, blob };
}

describe("Appendix A", () => {
  test("--compat v1.7 reproduces kit's layer, config and manifest bytes and storage files", async () => {
    const dir = project({ Kitfile: APPENDIX_KITFILE, "model.bin": "hello" });
    const { storage, result, logger, blob } = await packDir(dir, APPENDIX_KITFILE, { shape: "v1.7" });
    expect(result.layers.map((l) => l.digest)).toEqual([LAYER]);
    expect(result.config.digest).toBe(CONFIG);
    expect(result.config.size).toBe(251);
    expect(result.manifest.digest).toBe(MANIFEST_V17);
    expect(result.manifest.size).toBe(409);
    expect(blob(LAYER).byteLength).toBe(2048);
    expect(logger.text()).toBe(
      `Saved model layer: ${LAYER}\nSaved configuration: ${CONFIG}\nSaved manifest to storage: ${MANIFEST_V17}\n`,
    );
    const desc = `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${MANIFEST_V17}","size":409}`;
    expect(readFileSync(path.join(storage.root, "bG9jYWxob3N0L2V4YW1wbGU=-index.json"), "utf8")).toBe(`{"schemaVersion":2,"manifests":[${desc}]}`);
    expect(readFileSync(path.join(storage.root, "bG9jYWxob3N0L2V4YW1wbGU=-tags.json"), "utf8")).toBe(`{"v1":${desc}}`);
    expect(readFileSync(path.join(storage.root, "oci-layout"), "utf8")).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(readdirSync(path.join(storage.root, "blobs", "sha256")).sort()).toEqual([LAYER, CONFIG, MANIFEST_V17].map((d) => d.slice(7)).sort());
  });

  test("the newest shape keeps layer and config digests and adds mediaType, artifactType, filepath and created", async () => {
    const dir = project({ Kitfile: APPENDIX_KITFILE, "model.bin": "hello" });
    const { result, blob } = await packDir(dir, APPENDIX_KITFILE);
    expect(result.layers[0]!.digest).toBe(LAYER);
    expect(result.config.digest).toBe(CONFIG);
    expect(blob(result.manifest.digest).toString()).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.kitops.modelkit.manifest.v1+json",` +
        `"config":{"mediaType":"application/vnd.kitops.modelkit.config.v1+json","digest":"${CONFIG}","size":251},` +
        `"layers":[{"mediaType":"application/vnd.kitops.modelkit.model.v1.tar","digest":"${LAYER}","size":2048,"annotations":{"org.cncf.model.filepath":"model.bin"}}],` +
        `"annotations":{"ml.kitops.modelkit.cli-version":"1.7.0","org.opencontainers.image.created":"2026-01-02T03:04:05Z"}}`,
    );
  });

  test("packing again reports what already exists and gives the same digests", async () => {
    const dir = project({ Kitfile: APPENDIX_KITFILE, "model.bin": "hello" });
    const first = await packDir(dir, APPENDIX_KITFILE);
    const logger = memoryLogger();
    const { kitfile } = parseKitfile(APPENDIX_KITFILE, "Kitfile");
    const again = await pack({
      context: dir, kitfile, storage: first.storage, repo: "localhost/example", tags: ["v1"], compression: "none",
      layerFormat: "tar", shape: "newest", cliVersion: "1.7.0", created: "2026-01-02T03:04:05Z", logger,
    });
    expect(again.manifest.digest).toBe(first.result.manifest.digest);
    expect(logger.text()).toBe(
      `Already saved model layer: ${LAYER}\nConfiguration already exists in storage: ${CONFIG}\nManifest already exists in storage: ${again.manifest.digest}\n`,
    );
  });
});

describe("layers", () => {
  test("order is model, parts, code, datasets, docs, prompts, MCP servers; remote datasets skipped", () => {
    const { kitfile } = parseKitfile(
      `manifestVersion: 1.0.0
model:
  path: m.bin
  parts:
    - path: p1
code:
  - path: src
datasets:
  - path: d1
  - path: remote
    remotePath: s3://bucket/key
    remoteHash: abc
docs:
  - path: README.md
prompts:
  - path: prompts/a.prompt
mcpServers:
  - name: tools
    path: tools.mcpb
`,
      "Kitfile",
    );
    expect(planLayers(kitfile, "tar").map((p) => `${p.section}:${p.kind}:${p.format}:${p.path}`)).toEqual([
      "model:model:tar:m.bin",
      "modelpart:modelpart:tar:p1",
      "code:code:tar:src",
      "dataset:dataset:tar:d1",
      "docs:docs:tar:README.md",
      "prompt:code:tar:prompts/a.prompt",
      "mcpserver:mcpb:raw:tools.mcpb",
    ]);
  });

  test("nested layer paths: each file goes to the most specific layer, whole segments compared", async () => {
    const kf = "manifestVersion: 1.0.0\ncode:\n  - path: .\ndatasets:\n  - path: data\n";
    const dir = project({ Kitfile: kf, "data/a.csv": "a", "data2/b.csv": "b", "database.csv": "c", "main.py": "x" });
    const { result, blob } = await packDir(dir, kf);
    const names = (d: string) => {
      const buf = blob(d);
      const out: string[] = [];
      for (let off = 0; off + 512 <= buf.length; ) {
        const h = buf.subarray(off, off + 512);
        if (h.every((b) => b === 0)) break;
        const name = h.subarray(0, 100).toString().replace(/\0.*$/s, "");
        const size = parseInt(h.subarray(124, 136).toString().replace(/\0.*$/s, "").trim() || "0", 8);
        out.push(name);
        off += 512 + Math.ceil(size / 512) * 512;
      }
      return out;
    };
    expect(names(result.layers[0]!.digest)).toEqual(["data2", "data2/b.csv", "database.csv", "main.py"]);
    expect(names(result.layers[1]!.digest)).toEqual(["data", "data/a.csv"]);
  });

  test("a symlink inside the context is packed as the file it points to; one leading outside fails", async () => {
    const kf = "manifestVersion: 1.0.0\nmodel:\n  path: snap\n";
    const dir = project({ Kitfile: kf, "blobs/abc": "weights", "snap/model.safetensors": { symlink: "../blobs/abc" } });
    const { result, blob } = await packDir(dir, kf);
    const tar = blob(result.layers[0]!.digest);
    expect(tar.subarray(512, 512 + 100).toString()).toStartWith("snap/model.safetensors\0");
    expect(tar.subarray(1024, 1031).toString()).toBe("weights");

    const outside = tempDir("kit-outside-");
    writeFileSync(path.join(outside, "secret"), "s");
    symlinkSync(path.join(outside, "secret"), path.join(dir, "snap", "leak"));
    await expect(packDir(dir, kf)).rejects.toThrow(/Symlink snap\/leak points outside the context directory/);
  });

  test("a missing layer path fails with kit's message", async () => {
    const kf = "manifestVersion: 1.0.0\ndatasets:\n  - path: nothing-here\n";
    const dir = project({ Kitfile: kf });
    await expect(packDir(dir, kf)).rejects.toThrow("error processing dataset: path nothing-here does not exist");
  });

  test("gzip layers: digest of the compressed blob, diffId of the tar", async () => {
    const dir = project({ Kitfile: APPENDIX_KITFILE, "model.bin": "hello" });
    const { result, blob } = await packDir(dir, APPENDIX_KITFILE, { compression: "gzip" });
    expect(result.layers[0]!.mediaType).toBe("application/vnd.kitops.modelkit.model.v1.tar+gzip");
    const config = JSON.parse(blob(result.config.digest).toString());
    expect(config.model.diffId).toBe(LAYER);
    expect(config.model.digest).toBe(result.layers[0]!.digest);
    expect(Bun.gunzipSync(blob(result.layers[0]!.digest)).byteLength).toBe(2048);
  });

  test("raw layers carry the file bytes and the metadata annotation", async () => {
    const dir = project({ Kitfile: APPENDIX_KITFILE, "model.bin": "hello" });
    const { result, blob } = await packDir(dir, APPENDIX_KITFILE, { layerFormat: "raw" });
    const l = result.layers[0]!;
    expect(l.mediaType).toBe("application/vnd.kitops.modelkit.model.v1.raw");
    expect(blob(l.digest).toString()).toBe("hello");
    const meta = JSON.parse(l.annotations!["org.cncf.model.file.metadata+json"]!);
    expect(meta).toMatchObject({ name: "model.bin", mode: 0o644, uid: 0, gid: 0, size: 5, typeflag: 0 });
    expect(Object.keys(meta)).toEqual(["name", "mode", "uid", "gid", "size", "mtime", "typeflag"]);
    expect(Object.keys(l.annotations!)).toEqual(["org.cncf.model.file.metadata+json", "org.cncf.model.filepath"]);
  });

  test("the raw-layer metadata has the file's mtime as Go's RFC3339Nano with the local offset", async () => {
    const dir = project({ Kitfile: APPENDIX_KITFILE, "model.bin": "hello" });
    utimesSync(path.join(dir, "model.bin"), 1_700_000_000, 1_700_000_000.25);
    const { result } = await packDir(dir, APPENDIX_KITFILE, { layerFormat: "raw" });
    const { mtime } = JSON.parse(result.layers[0]!.annotations!["org.cncf.model.file.metadata+json"]!);
    const offsetMin = -new Date(1_700_000_000_000).getTimezoneOffset();
    const wall = new Date(1_700_000_000_000 + offsetMin * 60_000).toISOString().slice(0, 19);
    const hhmm = `${String(Math.floor(Math.abs(offsetMin) / 60)).padStart(2, "0")}:${String(Math.abs(offsetMin) % 60).padStart(2, "0")}`;
    expect(mtime).toBe(`${wall}.25${offsetMin === 0 ? "Z" : (offsetMin < 0 ? "-" : "+") + hhmm}`);
    expect(new Date(mtime).getTime()).toBe(1_700_000_000_250);
  });
});

describe("--use-model-pack", () => {
  const KF = `manifestVersion: 1.0.0
package:
  name: mp
  authors: [Ada]
model:
  path: model.gguf
  format: gguf
  parts:
    - path: config.json
code:
  - path: src
datasets:
  - path: data
docs:
  - path: README.md
prompts:
  - path: prompt.md
`;
  const FILES = { Kitfile: KF, "model.gguf": "GGUF", "config.json": "{}", "src/a.py": "print(1)\n", "data/t.csv": "a,b\n", "README.md": "# mp\n", "prompt.md": "Be brief.\n" };
  const MP = { createdAt: "2026-01-02T03:04:05Z" };

  for (const compression of ["none", "gzip", "zstd"] as const) {
    test(`${compression}: ModelPack media types, filepath annotations, config with the diffIds of the uncompressed layers, the Kitfile annotation`, async () => {
      const dir = project(FILES);
      const { result, blob, logger } = await packDir(dir, KF, { compression, modelPack: MP });
      const suffix = compression === "none" ? "" : `+${compression}`;
      expect(result.layers.map((l) => l.mediaType)).toEqual(
        ["weight", "weight.config", "code", "dataset", "doc", "code"].map((t) => `application/vnd.cncf.model.${t}.v1.tar${suffix}`),
      );
      expect(result.layers.map((l) => l.annotations)).toEqual([
        { "org.cncf.model.filepath": "model.gguf" },
        { "org.cncf.model.filepath": "config.json" },
        { "org.cncf.model.filepath": "src" },
        { "org.cncf.model.filepath": "data" },
        { "org.cncf.model.filepath": "README.md" },
        { "ml.kitops.modelkit.layer-subtype": "prompt", "org.cncf.model.filepath": "prompt.md" },
      ]);
      expect(result.config.mediaType).toBe("application/vnd.cncf.model.config.v1+json");
      const config = JSON.parse(blob(result.config.digest).toString());
      expect(modelPackConfigErrors(config)).toEqual([]);
      const uncompressed = (b: Buffer) => (compression === "gzip" ? gunzipSync(b) : compression === "zstd" ? zstdDecompressSync(b) : b);
      const diffIds = result.layers.map((l) => "sha256:" + createHash("sha256").update(uncompressed(blob(l.digest))).digest("hex"));
      expect(config.modelfs).toEqual({ type: "layers", diffIds });
      if (compression !== "none") expect(diffIds).not.toEqual(result.layers.map((l) => l.digest));
      expect(config.descriptor).toEqual({ createdAt: MP.createdAt, authors: ["Ada"], name: "mp", title: "mp" });
      expect(config.config).toEqual({ format: "gguf" });
      const manifest = JSON.parse(blob(result.manifest.digest).toString());
      expect(Object.keys(manifest)).toEqual(["schemaVersion", "mediaType", "artifactType", "config", "layers", "annotations"]);
      expect(manifest.artifactType).toBe("application/vnd.cncf.model.manifest.v1+json");
      expect(Object.keys(manifest.annotations)).toEqual(["ml.kitops.modelkit.cli-version", "ml.kitops.modelkit.kitfile", "org.opencontainers.image.created"]);
      // The Kitfile annotation is kit's config JSON with the layer info filled in.
      const kitfile = JSON.parse(manifest.annotations["ml.kitops.modelkit.kitfile"]);
      expect(kitfile.model).toMatchObject({ path: "model.gguf", digest: result.layers[0]!.digest, diffId: diffIds[0] });
      expect(kitfile.prompts[0]).toMatchObject({ path: "prompt.md", digest: result.layers[5]!.digest, diffId: diffIds[5] });
      expect(logger.text().split("\n").slice(0, 6)).toEqual(
        ["model", "modelpart", "code", "dataset", "docs", "code"].map((k, i) => `Saved ${k} layer: ${result.layers[i]!.digest}`),
      );
    });
  }

  test("raw layers: uncompressed ModelPack raw types with the metadata annotation; compressed raw is refused", async () => {
    const kf = "manifestVersion: 1.0.0\nmodel:\n  path: model.gguf\ndatasets:\n  - path: t.csv\n";
    const dir = project({ Kitfile: kf, "model.gguf": "GGUF", "t.csv": "a,b\n" });
    const { result, blob } = await packDir(dir, kf, { layerFormat: "raw", modelPack: MP });
    expect(result.layers.map((l) => l.mediaType)).toEqual(["application/vnd.cncf.model.weight.v1.raw", "application/vnd.cncf.model.dataset.v1.raw"]);
    expect(Object.keys(result.layers[0]!.annotations!)).toEqual(["org.cncf.model.file.metadata+json", "org.cncf.model.filepath"]);
    expect(blob(result.layers[0]!.digest).toString()).toBe("GGUF");
    const config = JSON.parse(blob(result.config.digest).toString());
    expect(config.modelfs.diffIds).toEqual(result.layers.map((l) => l.digest));
    expect(modelPackConfigErrors(config)).toEqual([]);
    await expect(packDir(dir, kf, { layerFormat: "raw", compression: "gzip", modelPack: MP })).rejects.toThrow("compression for raw layers is not supported for ModelPack");
  });

  test("MCP servers are refused", async () => {
    const kf = "manifestVersion: 1.0.0\nmcpServers:\n  - name: s\n    path: s.mcpb\n";
    const dir = project({ Kitfile: kf, "s.mcpb": "x" });
    await expect(packDir(dir, kf, { modelPack: MP })).rejects.toThrow("mcpServers are not supported when packing in modelpack format");
  });
});

describe("overlapped pack (pooled buffers, hashing on a worker thread)", () => {
  // Several chunks per file, sizes off the 1 MiB chunk and 512-byte block boundaries, small files
  // between the large ones (staged and passed through in turn), an empty file.
  const KITFILE = "manifestVersion: 1.0.0\nmodel:\n  path: model.bin\ndatasets:\n  - path: data\ncode:\n  - path: src\n";
  function files(): Record<string, Uint8Array | string> {
    const rnd = (n: number, seed: number) => {
      const b = new Uint8Array(n);
      let x = seed;
      for (let i = 0; i < n; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
      return b;
    };
    return {
      Kitfile: KITFILE,
      "model.bin": rnd(5 * 1024 * 1024 + 777, 1),
      "data/a.bin": rnd(3 * 1024 * 1024 + 1, 2),
      "data/b.txt": "b".repeat(70_000),
      "data/c/d.bin": rnd(1024 * 1024, 3),
      "data/c/e.txt": "",
      "data/f.txt": "f".repeat(100),
      "src/x.py": "print(1)\n",
    };
  }
  const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

  for (const layerFormat of ["tar", "raw"] as const) {
    test(`${layerFormat} layers: the same bytes and digests as the sequential path`, async () => {
      const dir = project(files());
      const kitfile = layerFormat === "raw" ? "manifestVersion: 1.0.0\nmodel:\n  path: model.bin\n" : KITFILE;
      const seq = await packDir(dir, kitfile, { layerFormat, offloadHashBytes: Infinity });
      const over = await packDir(dir, kitfile, { layerFormat, offloadHashBytes: 0 });
      expect(over.result.manifest.digest).toBe(seq.result.manifest.digest);
      expect(over.result.layers).toEqual(seq.result.layers);
      for (const l of over.result.layers) {
        const bytes = over.blob(l.digest);
        expect(sha(bytes)).toBe(l.digest);
        expect(bytes.byteLength).toBe(l.size);
        expect(Buffer.compare(bytes, seq.blob(l.digest))).toBe(0);
      }
      if (layerFormat === "raw") expect(Buffer.compare(over.blob(over.result.layers[0]!.digest), readFileSync(path.join(dir, "model.bin")))).toBe(0);
    });
  }

  for (const change of ["grows", "shrinks"] as const) {
    test(`a file that ${change} while it is read fails the pack and stores no layer`, async () => {
      const dir = project(files());
      const big = path.join(dir, "data", "a.bin");
      let changed = false;
      // The first bytes counted for data/ are the first chunk of a.bin, read before the rest.
      const progress = {
        task: (title: string) => ({
          add() {
            if (changed || !title.includes("data")) return;
            changed = true;
            if (change === "grows") appendFileSync(big, new Uint8Array(4096));
            else truncateSync(big, 2 * 1024 * 1024);
          },
          already() {},
          done() {},
        }),
        suspend: <T>(fn: () => T) => fn(),
        close() {},
      };
      const storage = await LayoutStore.open(path.join(tempDir("kit-store-"), "storage"));
      const e = await packDir(dir, "manifestVersion: 1.0.0\ndatasets:\n  - path: data\n", { offloadHashBytes: 0, progress, storage }).catch((x) => x);
      expect(changed).toBe(true);
      expect(e.message).toMatch(/^error processing dataset: File data\/a\.bin changed size while it was being packed/);
      expect(readdirSync(path.join(storage.root, "blobs", "sha256"))).toEqual([]);
      expect(readdirSync(path.join(storage.root, "ingest"))).toEqual([]);
    });
  }
});

describe("MCP bundles", () => {
  const KF = "manifestVersion: 1.0.0\nmcpServers:\n  - name: tools\n    path: tools.mcpb\n";
  test("a ZIP with manifest.json at its root is packed as a raw layer; anything else is refused", async () => {
    const good = project({ Kitfile: KF, "tools.mcpb": await makeMcpBundle({ "manifest.json": '{"name":"tools"}', "server/index.js": "1" }) });
    const { result } = await packDir(good, KF);
    expect(result.layers.map((l) => l.mediaType)).toEqual(["application/vnd.kitops.modelkit.mcpb.v1.raw"]);
    const notZip = project({ Kitfile: KF, "tools.mcpb": "not a zip" });
    await expect(packDir(notZip, KF)).rejects.toThrow(/^error processing mcpserver: invalid MCP bundle for mcpServer tools: not a ZIP file/);
    const noManifest = project({ Kitfile: KF, "tools.mcpb": await makeMcpBundle({ "server/manifest.json": "{}" }) });
    await expect(packDir(noManifest, KF)).rejects.toThrow("error processing mcpserver: invalid MCP bundle for mcpServer tools: manifest.json not found at the root of the bundle");
  });
});
