import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import type { Descriptor } from "../../src/oci/descriptor.ts";
import { ANNOTATION_KIT_REFERENCE, ANNOTATION_REF_NAME } from "../../src/oci/media-types.ts";
import { copy } from "../../src/store/copy.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { OciLayoutDir, retag } from "../../src/store/oci-layout.ts";
import { NotFoundError } from "../../src/util/errors.ts";
import { tempDir } from "../helpers/kit.ts";
import { chunked, readStream } from "../helpers/streams.ts";
import { describeTarget, sampleGraph } from "./conformance.ts";

describeTarget("OciLayoutDir", async () => {
  const dir = tempDir("kit-ocidir-conf-");
  return { target: await OciLayoutDir.create(path.join(dir, "layout")), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
});

const g = sampleGraph("a");
const h = sampleGraph("b");

async function pushGraph(t: OciLayoutDir, graph: ReturnType<typeof sampleGraph>) {
  for (const d of [graph.configDesc, graph.layer1Desc, graph.layer2Desc, graph.manifestDesc]) await t.push(d, chunked(graph.blobs.get(d.digest)!));
}

const indexOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8"));

describe("OciLayoutDir", () => {
  test("a new layout is oci-layout, index.json and blobs/sha256; tags are ref.name entries, untagged manifests plain ones", async () => {
    const dir = path.join(tempDir("kit-ocidir-"), "new");
    const t = await OciLayoutDir.create(dir);
    expect(fs.readFileSync(path.join(dir, "oci-layout"), "utf8")).toBe('{"imageLayoutVersion":"1.0.0"}');
    await pushGraph(t, g);
    expect(indexOf(dir).manifests).toEqual([{ mediaType: g.manifestDesc.mediaType, digest: g.manifestDesc.digest, size: g.manifestDesc.size }]);
    await t.tag({ ...g.manifestDesc, annotations: { [ANNOTATION_KIT_REFERENCE]: "reg.example.com/a:v1" } }, "v1");
    await t.tag(g.manifestDesc, "stable");
    const entries = indexOf(dir).manifests;
    expect(entries.map((e: Descriptor) => e.annotations)).toEqual([
      { [ANNOTATION_KIT_REFERENCE]: "reg.example.com/a:v1", [ANNOTATION_REF_NAME]: "v1" },
      { [ANNOTATION_REF_NAME]: "stable" },
    ]);
    expect(fs.readdirSync(dir).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
    expect(await t.resolve("v1")).toEqual(g.manifestDesc); // plain: the entry's annotations stay in the layout
  });

  test("moving a tag keeps the other manifest listed untagged, with its recorded reference", () => {
    const a = { ...g.manifestDesc, annotations: { [ANNOTATION_KIT_REFERENCE]: "r.io/a:v1", [ANNOTATION_REF_NAME]: "v1" } };
    const out = retag([a], h.manifestDesc, "v1");
    expect(out).toEqual([
      { ...g.manifestDesc, annotations: { [ANNOTATION_KIT_REFERENCE]: "r.io/a:v1" } },
      { ...h.manifestDesc, annotations: { [ANNOTATION_REF_NAME]: "v1" } },
    ]);
    // tagging by its own digest records annotations on the entry it has, tag kept
    expect(retag(out, { ...h.manifestDesc, annotations: { [ANNOTATION_KIT_REFERENCE]: "r.io/b:v1" } }, h.manifestDesc.digest)[1]!.annotations)
      .toEqual({ [ANNOTATION_KIT_REFERENCE]: "r.io/b:v1", [ANNOTATION_REF_NAME]: "v1" });
  });

  test("any number of ModelKits share one layout and its blobs; a copy between layouts carries no entry annotations", async () => {
    const root = tempDir("kit-ocidir-");
    const src = new MemoryStore();
    for (const graph of [g, h]) for (const [digest, data] of graph.blobs) {
      const d = [graph.configDesc, graph.layer1Desc, graph.layer2Desc, graph.manifestDesc].find((x) => x.digest === digest)!;
      await src.push(d, chunked(data));
    }
    await src.tag(g.manifestDesc, "a");
    await src.tag(h.manifestDesc, "b");
    const one = await OciLayoutDir.create(path.join(root, "one"));
    await copy(src, "a", one, "a");
    await copy(src, "b", one, "b");
    await one.tag({ ...g.manifestDesc, annotations: { [ANNOTATION_KIT_REFERENCE]: "r.io/a:1" } }, "a");
    expect((await one.entries()).map((e) => e.annotations?.[ANNOTATION_REF_NAME])).toEqual(["b", "a"]);
    const two = await OciLayoutDir.create(path.join(root, "two"));
    await copy(one, "a", two, "x");
    expect((await two.entries()).map((e) => e.annotations)).toEqual([{ [ANNOTATION_REF_NAME]: "x" }]);
    expect(await readStream(await two.fetch(g.layer1Desc))).toEqual(g.layer1);
  });

  test("a directory that is not a layout is refused for reading and for writing", async () => {
    const dir = tempDir("kit-ocidir-");
    fs.writeFileSync(path.join(dir, "notes.txt"), "hello");
    for (const open of [OciLayoutDir.open, OciLayoutDir.create]) {
      const e = await open(dir).catch((x) => x);
      expect(e.message).toContain(`oci:${dir} is not an OCI image layout: it has no oci-layout file`);
    }
    expect(fs.readdirSync(dir)).toEqual(["notes.txt"]);
    expect(await OciLayoutDir.open(path.join(dir, "missing")).catch((x) => x)).toBeInstanceOf(NotFoundError);
  });

  test("reading never writes: a missing blob is named, nothing is created", async () => {
    const dir = path.join(tempDir("kit-ocidir-"), "l");
    const t = await OciLayoutDir.create(dir);
    await pushGraph(t, g);
    fs.rmSync(path.join(dir, "blobs", "sha256", g.layer2Desc.digest.slice(7)));
    const before = fs.readdirSync(dir).sort();
    const r = await OciLayoutDir.open(dir);
    const e = await r.fetch(g.layer2Desc).catch((x) => x);
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.message).toBe(`oci:${dir}: blob ${g.layer2Desc.digest} (${g.layer2Desc.mediaType}) is missing`);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });
});
