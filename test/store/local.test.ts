import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import {
  decodeRepoName,
  encodeRepoName,
  listRepositories,
  LocalRepository,
  repoIndexPath,
  repoTagsPath,
} from "../../src/store/local.ts";
import { KitError, NotFoundError } from "../../src/util/errors.ts";
import { chunked } from "../helpers/streams.ts";
import { describeTarget, sampleGraph } from "./conformance.ts";

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "kit-local-"));
}

describeTarget("LocalRepository", async () => {
  const dir = tmpdir();
  return {
    target: await LocalRepository.open(path.join(dir, "storage"), "localhost/conformance"),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describe("repository file names", () => {
  test("base64url with padding, as kit (docs/format.md#storage-layout)", () => {
    expect(encodeRepoName("localhost/test")).toBe("bG9jYWxob3N0L3Rlc3Q=");
    expect(encodeRepoName("localhost/_")).toBe("bG9jYWxob3N0L18=");
    expect(encodeRepoName("localhost/test-ref")).toBe("bG9jYWxob3N0L3Rlc3QtcmVm");
    expect(encodeRepoName("registry.example.com/org/model")).toBe("cmVnaXN0cnkuZXhhbXBsZS5jb20vb3JnL21vZGVs");
    expect(encodeRepoName("localhost/example")).toBe("bG9jYWxob3N0L2V4YW1wbGU=");
    // Bytes 0xfb/0xff exercise the URL alphabet (- and _ instead of + and /).
    expect(encodeRepoName("a\u00ff\u00fe?")).toBe("YcO_w74_");
    expect(repoIndexPath("/s", "localhost/example")).toBe("/s/bG9jYWxob3N0L2V4YW1wbGU=-index.json");
    expect(repoTagsPath("/s", "localhost/example")).toBe("/s/bG9jYWxob3N0L2V4YW1wbGU=-tags.json");
  });

  test("decoding round-trips and rejects what Go rejects, at Go's offsets", () => {
    for (const r of ["localhost/test", "localhost/_", "localhost/test-ref", "a\u00ff\u00fe?", "", "ab", "abc"]) {
      expect(decodeRepoName(encodeRepoName(r))).toBe(r);
    }
    const err = (s: string) => {
      try {
        decodeRepoName(s);
        return "ok";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(err("bG9jYWxob3N0L3Rlc3Q")).toBe("illegal base64 data at input byte 16"); // missing padding
    expect(err("YW=")).toBe("illegal base64 data at input byte 3"); // not enough padding
    expect(err("Y===")).toBe("illegal base64 data at input byte 1");
    expect(err("YWJj+A==")).toBe("illegal base64 data at input byte 4"); // '+' is not URL alphabet
    expect(err("YQ==YQ==")).toBe("illegal base64 data at input byte 4"); // trailing data
    expect(err("YWE=x")).toBe("illegal base64 data at input byte 4");
  });
});

describe("LocalRepository on kit's layout", () => {
  let dir: string;
  let storage: string;
  beforeEach(() => {
    dir = tmpdir();
    storage = path.join(dir, "storage");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const read = (p: string) => fs.readFileSync(p, "utf8");

  test("Appendix A: pack-shaped push and tag writes byte-identical repo files", async () => {
    const repo = await LocalRepository.open(storage, "localhost/example");
    const enc = new TextEncoder();
    const layer = new Uint8Array(2048); // content does not matter for the index files
    const config = enc.encode(
      `{"manifestVersion":"1.0.0","package":{"name":"example"},"model":{"path":"model.bin","digest":"sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce","diffId":"sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce"}}`,
    );
    const manifest = enc.encode(
      `{"schemaVersion":2,"config":{"mediaType":"application/vnd.kitops.modelkit.config.v1+json","digest":"sha256:43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00","size":251},"layers":[{"mediaType":"application/vnd.kitops.modelkit.model.v1.tar","digest":"sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce","size":2048}],"annotations":{"ml.kitops.modelkit.cli-version":"1.7.0"}}`,
    );
    const cd = descriptorFromBytes("application/vnd.kitops.modelkit.config.v1+json", config);
    const md = descriptorFromBytes(OCI_MANIFEST, manifest);
    expect(cd.digest).toBe("sha256:43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00");
    expect(md.digest).toBe("sha256:59eac463c5fe6c728e544a6d3c303d025353271076e5b784684d824cd85ca648");
    expect(md.size).toBe(409);
    await repo.layout.ingest(chunked(layer, 512));
    await repo.push(cd, chunked(config));
    await repo.push(md, chunked(manifest));
    await repo.tag(md, "v1");

    const entry = `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${md.digest}","size":409}`;
    expect(read(path.join(storage, "bG9jYWxob3N0L2V4YW1wbGU=-index.json"))).toBe(`{"schemaVersion":2,"manifests":[${entry}]}`);
    expect(read(path.join(storage, "bG9jYWxob3N0L2V4YW1wbGU=-tags.json"))).toBe(`{"v1":${entry}}`);
    expect(read(path.join(storage, "oci-layout"))).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(read(path.join(storage, "index.json"))).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[${entry}]}`,
    );
    expect(fs.readdirSync(path.join(storage, "blobs", "sha256")).sort()).toEqual([
      "43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00",
      "59eac463c5fe6c728e544a6d3c303d025353271076e5b784684d824cd85ca648",
      "e5a00aa9991ac8a5ee3109844d84a55583bd20572ad3ffcd42792f3c36b183ad", // 2048 zero bytes
    ]);
    expect(await listRepositories(storage)).toEqual(["localhost/example"]);
  });

  test("repo index keeps insertion order, dedupes, strips ref names into tags", async () => {
    const repo = await LocalRepository.open(storage, "localhost/r");
    const a = sampleGraph("a");
    const b = sampleGraph("b");
    for (const g of [b, a]) {
      await repo.push(g.configDesc, chunked(g.config));
      await repo.push(g.layer1Desc, chunked(g.layer1));
      await repo.push(g.layer2Desc, chunked(g.layer2));
    }
    await repo.push(b.manifestDesc, chunked(b.manifest));
    await repo.push({ ...a.manifestDesc, annotations: { "org.opencontainers.image.ref.name": "t1", x: "y" } }, chunked(a.manifest));
    await repo.push(b.manifestDesc, chunked(b.manifest)); // again: no duplicate, no error
    const idx = read(repo.indexPath);
    expect(idx).toBe(
      `{"schemaVersion":2,"manifests":[` +
        `{"mediaType":"${OCI_MANIFEST}","digest":"${b.manifestDesc.digest}","size":${b.manifestDesc.size}},` +
        `{"mediaType":"${OCI_MANIFEST}","digest":"${a.manifestDesc.digest}","size":${a.manifestDesc.size},"annotations":{"x":"y"}}]}`,
    );
    expect(read(repo.tagsPath)).toBe(
      `{"t1":{"mediaType":"${OCI_MANIFEST}","digest":"${a.manifestDesc.digest}","size":${a.manifestDesc.size},"annotations":{"x":"y"}}}`,
    );
    await repo.tag(b.manifestDesc, "z");
    await repo.tag(b.manifestDesc, "B");
    await repo.tag(b.manifestDesc, "a");
    expect(Object.keys(JSON.parse(read(repo.tagsPath)))).toEqual(["B", "a", "t1", "z"]);
    expect(await repo.tagsOf(b.manifestDesc)).toEqual(["B", "a", "z"]);
    // Tagging with the manifest's own digest is not a tag.
    await repo.tag(b.manifestDesc, b.manifestDesc.digest);
    expect(Object.keys(JSON.parse(read(repo.tagsPath)))).toEqual(["B", "a", "t1", "z"]);
    expect(await repo.tag(b.manifestDesc, a.manifestDesc.digest).catch((e) => e)).toBeInstanceOf(KitError);
  });

  test("manifests are scoped to their repository; blobs are shared", async () => {
    const one = await LocalRepository.open(storage, "localhost/one");
    const two = new LocalRepository(one.layout, "localhost/two");
    const g = sampleGraph();
    for (const [d, b] of [[g.configDesc, g.config], [g.layer1Desc, g.layer1], [g.layer2Desc, g.layer2], [g.manifestDesc, g.manifest]] as const) {
      await one.push(d, chunked(b));
    }
    expect(await two.exists(g.layer1Desc)).toBe(true);
    expect(await two.exists(g.manifestDesc)).toBe(false);
    expect(await two.fetch(g.manifestDesc).catch((e) => e)).toBeInstanceOf(NotFoundError);
    expect(await two.resolve(g.manifestDesc.digest).catch((e) => e)).toBeInstanceOf(NotFoundError);
    expect(await two.tag(g.manifestDesc, "v1").catch((e) => e)).toBeInstanceOf(NotFoundError);
    // Pushing the manifest into the second repo only adds it to that repo's index.
    await two.push(g.manifestDesc, chunked(g.manifest));
    expect(await two.exists(g.manifestDesc)).toBe(true);
    expect(JSON.parse(read(path.join(storage, "index.json"))).manifests).toHaveLength(1);
    expect(await listRepositories(storage)).toEqual(["localhost/one", "localhost/two"]);
  });

  test("missing reference and untag", async () => {
    const repo = await LocalRepository.open(storage, "localhost/r");
    expect((await repo.resolve("").catch((e) => e)).message).toBe("missing reference");
    const g = sampleGraph();
    await repo.push(g.configDesc, chunked(g.config));
    await repo.push(g.manifestDesc, chunked(g.manifest));
    await repo.tag(g.manifestDesc, "v1");
    await new LocalRepository(repo.layout, "localhost/r").untag("v1");
    expect(fs.existsSync(repo.tagsPath)).toBe(false);
    expect((await new LocalRepository(repo.layout, "localhost/r").untag("v1").catch((e) => e)).message).toBe("v1: not found");
  });

  test("listRepositories decodes, sorts bytewise, ignores other files, fails on bad names", async () => {
    fs.mkdirSync(storage, { recursive: true });
    for (const r of ["localhost/b", "ghcr.io/x/y", "localhost/B", "localhost/_"]) {
      fs.writeFileSync(repoIndexPath(storage, r), "{}");
      fs.writeFileSync(repoTagsPath(storage, r), "{}");
    }
    fs.writeFileSync(path.join(storage, "index.json"), "{}");
    fs.mkdirSync(path.join(storage, "bG9jYWxob3N0L2Rpcg==-index.json"));
    expect(await listRepositories(storage)).toEqual(["ghcr.io/x/y", "localhost/B", "localhost/_", "localhost/b"]);
    fs.writeFileSync(path.join(storage, "abc-index.json"), "{}");
    expect((await listRepositories(storage).catch((e) => e)).message).toBe(
      "failed to parse repo from index abc-index.json: illegal base64 data at input byte 0",
    );
    expect(await listRepositories(path.join(dir, "nothing"))).toEqual([]);
  });

  test("deleteManifest: shared blobs survive, exclusive ones are collected, files vanish when empty", async () => {
    const layout = await LayoutStore.open(storage);
    const one = new LocalRepository(layout, "localhost/one");
    const a = sampleGraph("a");
    const b = sampleGraph("b");
    // b shares a's layer1 through a manifest listing it.
    const bm = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      config: b.configDesc,
      layers: [a.layer1Desc, b.layer2Desc],
    }));
    const bmd = descriptorFromBytes(OCI_MANIFEST, bm);
    for (const [d, x] of [[a.configDesc, a.config], [a.layer1Desc, a.layer1], [a.layer2Desc, a.layer2], [a.manifestDesc, a.manifest], [b.configDesc, b.config], [b.layer2Desc, b.layer2], [bmd, bm]] as const) {
      await one.push(d, chunked(x));
    }
    await one.tag(a.manifestDesc, "a1");
    await one.tag(a.manifestDesc, "a2");
    await one.tag(bmd, "b1");
    const blob = (d: { digest: string }) => fs.existsSync(layout.blobPath(d.digest));

    const r = await new LocalRepository(layout, "localhost/one").delete(a.manifestDesc);
    expect(r.deleted.map((d) => d.digest)).toEqual([a.manifestDesc.digest, a.configDesc.digest, a.layer2Desc.digest]);
    expect(r.missing).toEqual([]);
    expect(blob(a.manifestDesc)).toBe(false);
    expect(blob(a.configDesc)).toBe(false);
    expect(blob(a.layer2Desc)).toBe(false);
    expect(blob(a.layer1Desc)).toBe(true); // still used by bmd
    expect(Object.keys(JSON.parse(read(one.tagsPath)))).toEqual(["b1"]);
    expect(JSON.parse(read(one.indexPath)).manifests.map((d: { digest: string }) => d.digest)).toEqual([bmd.digest]);
    expect(read(path.join(storage, "index.json"))).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"${OCI_MANIFEST}","digest":"${bmd.digest}","size":${bmd.size}}]}`,
    );

    await one.delete(bmd);
    expect(fs.readdirSync(path.join(storage, "blobs", "sha256"))).toEqual([]);
    expect(fs.existsSync(one.indexPath)).toBe(false);
    expect(fs.existsSync(one.tagsPath)).toBe(false);
    // oras writes the emptied index's nil slice as null.
    expect(read(path.join(storage, "index.json"))).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}`,
    );
    expect(await listRepositories(storage)).toEqual([]);
    expect(await one.delete(bmd).catch((e) => e)).toBeInstanceOf(NotFoundError);
    // A null manifest list is read back as empty and grows again.
    await one.push(a.configDesc, chunked(a.config));
    await one.push(a.manifestDesc, chunked(a.manifest));
    expect(JSON.parse(read(path.join(storage, "index.json"))).manifests).toHaveLength(1);
  });

  test("deleteManifest keeps the shared copy while another repository lists the manifest", async () => {
    const layout = await LayoutStore.open(storage);
    const one = new LocalRepository(layout, "localhost/one");
    const two = new LocalRepository(layout, "localhost/two");
    const g = sampleGraph();
    for (const [d, x] of [[g.configDesc, g.config], [g.layer1Desc, g.layer1], [g.layer2Desc, g.layer2], [g.manifestDesc, g.manifest]] as const) {
      await one.push(d, chunked(x));
    }
    await two.push(g.manifestDesc, chunked(g.manifest));
    await one.tag(g.manifestDesc, "v1");
    await two.tag(g.manifestDesc, "v2");
    const r = await one.delete(g.manifestDesc);
    expect(r.deleted).toEqual([]);
    expect(await one.exists(g.manifestDesc)).toBe(false);
    expect(fs.existsSync(one.tagsPath)).toBe(false);
    expect(await two.resolve("v2")).toEqual(g.manifestDesc);
    expect(fs.existsSync(layout.blobPath(g.manifestDesc.digest))).toBe(true);
    await two.delete(g.manifestDesc);
    expect(fs.readdirSync(path.join(storage, "blobs", "sha256"))).toEqual([]);
  });
});
