import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ANNOTATION_KIT_REFERENCE, ANNOTATION_REF_NAME } from "../../src/oci/media-types.ts";
import { OciArchive, OciArchiveWriter } from "../../src/store/oci-archive.ts";
import { encodeHeader } from "../../src/store/tar.ts";
import { IntegrityError, NotFoundError } from "../../src/util/errors.ts";
import { tempDir } from "../helpers/kit.ts";
import { chunked, concat, readStream } from "../helpers/streams.ts";
import { padded, rawHeader, tarOf } from "../helpers/tar.ts";
import { describeTarget, sampleGraph } from "./conformance.ts";

describeTarget("OciArchiveWriter", async () => {
  const dir = tempDir("kit-ociarchive-conf-");
  const w = await OciArchiveWriter.create(path.join(dir, "m.tar"));
  return {
    target: w,
    cleanup: async () => {
      await w.discard();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

const enc = new TextEncoder();
const g = sampleGraph("a");
const h = sampleGraph("b");
const descs = (graph: ReturnType<typeof sampleGraph>) => [graph.configDesc, graph.layer1Desc, graph.layer2Desc, graph.manifestDesc];

async function writeArchive(file: string, graph: ReturnType<typeof sampleGraph>, tag: string, reference?: string) {
  const w = await OciArchiveWriter.create(file);
  for (const d of descs(graph)) if (!(await w.exists(d))) await w.push(d, chunked(graph.blobs.get(d.digest)!, 1000));
  await w.tag({ ...graph.manifestDesc, annotations: reference ? { [ANNOTATION_KIT_REFERENCE]: reference } : undefined }, tag);
  await w.commit();
}

const tarNames = (file: string) => spawnSync("tar", ["tf", file], { encoding: "utf8" }).stdout.trim().split("\n");
const hex = (d: string) => d.slice("sha256:".length);

async function refusal(file: string): Promise<Error> {
  const e = await OciArchive.open(file).catch((x) => x);
  expect(e).toBeInstanceOf(Error);
  return e;
}

describe("OciArchiveWriter and OciArchive", () => {
  test("a written archive is a plain tar of an OCI layout that GNU tar lists, read back verified without extracting", async () => {
    const file = path.join(tempDir("kit-ociarchive-"), "m.tar");
    await writeArchive(file, g, "v1", "reg.example.com/team/a:v1");
    expect(tarNames(file)).toEqual([
      "oci-layout", "blobs", "blobs/sha256",
      ...descs(g).map((d) => `blobs/sha256/${hex(d.digest)}`),
      "index.json",
    ]);
    const r = await OciArchive.open(file);
    expect(await r.entries()).toEqual([{ ...g.manifestDesc, annotations: { [ANNOTATION_KIT_REFERENCE]: "reg.example.com/team/a:v1", [ANNOTATION_REF_NAME]: "v1" } }]);
    expect((await r.resolve("v1")).digest).toBe(g.manifestDesc.digest);
    for (const d of descs(g)) expect(await readStream(await r.fetch(d))).toEqual(g.blobs.get(d.digest)!);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["m.tar"]); // no temporary file, no lock left
  });

  test("pushing into an existing archive adds the kit and keeps the others (shared blobs once)", async () => {
    const file = path.join(tempDir("kit-ociarchive-"), "m.tar");
    await writeArchive(file, g, "a");
    await writeArchive(file, h, "b");
    const r = await OciArchive.open(file);
    expect((await r.entries()).map((e) => e.annotations?.[ANNOTATION_REF_NAME])).toEqual(["a", "b"]);
    for (const graph of [g, h]) for (const d of descs(graph)) expect(await readStream(await r.fetch(d))).toEqual(graph.blobs.get(d.digest)!);
    const names = tarNames(file);
    expect(names.length).toBe(new Set(names).size);
    expect(names.filter((n) => n.startsWith("blobs/sha256/")).length).toBe(8);
  });

  test("a discarded or failed write leaves the archive that was there byte for byte", async () => {
    const dir = tempDir("kit-ociarchive-");
    const file = path.join(dir, "m.tar");
    await writeArchive(file, g, "a");
    const before = fs.readFileSync(file);
    const w = await OciArchiveWriter.create(file);
    await w.push(h.layer1Desc, chunked(h.layer1));
    const bad = await w.push(h.layer2Desc, chunked(enc.encode("x".repeat(h.layer2.length)))).catch((e) => e);
    expect(bad).toBeInstanceOf(IntegrityError);
    await w.discard();
    expect(fs.readFileSync(file)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual(["m.tar"]);
  });

  test("a file that is not an OCI archive is neither read nor replaced", async () => {
    const dir = tempDir("kit-ociarchive-");
    const notes = path.join(dir, "notes.tar");
    fs.writeFileSync(notes, tarOf([["readme.txt", "hello"]]));
    expect((await refusal(notes)).message).toBe(`oci-archive:${notes} is not an OCI archive: it has no oci-layout file`);
    const e = await OciArchiveWriter.create(notes).catch((x) => x);
    expect(e.message).toContain("refusing to replace it");
    expect(fs.readdirSync(dir)).toEqual(["notes.tar"]);
    expect(await OciArchive.open(path.join(dir, "none.tar")).catch((x) => x)).toBeInstanceOf(NotFoundError);
  });

  describe("hostile and damaged archives are refused", () => {
    const layout = (): Array<[string, string]> => [["oci-layout", '{"imageLayoutVersion":"1.0.0"}'], ["index.json", '{"schemaVersion":2,"manifests":[]}']];
    const write = (bytes: Uint8Array) => {
      const file = path.join(tempDir("kit-ociarchive-bad-"), "m.tar");
      fs.writeFileSync(file, bytes);
      return file;
    };

    test("'..' and absolute names", async () => {
      for (const name of ["../evil", "blobs/../../evil", "/etc/evil", "./x/../../evil"]) {
        const msg = (await refusal(write(tarOf([...layout(), [name, "x"]])))).message;
        expect({ name, msg }).toMatchObject({ name, msg: expect.stringContaining(`refusing the archive: entry ${JSON.stringify(name)}`) });
      }
    });

    test("symlinks and hard links", async () => {
      const link = (flag: string) => concat([tarOf(layout()).subarray(0, -1024), rawHeader("blobs/sha256/x", flag, { linkname: "/etc/passwd" }), new Uint8Array(1024)]);
      expect((await refusal(write(link("2")))).message).toContain('entry "blobs/sha256/x" is a symlink to "/etc/passwd"');
      expect((await refusal(write(link("1")))).message).toContain('entry "blobs/sha256/x" is a hardlink to "/etc/passwd"');
    });

    test("truncated: inside an entry, or before the end-of-archive marker", async () => {
      const file = path.join(tempDir("kit-ociarchive-"), "m.tar");
      await writeArchive(file, g, "v1");
      const whole = fs.readFileSync(file);
      for (const cut of [whole.length - 1024 - 700, whole.length - 1024]) {
        const msg = (await refusal(write(whole.subarray(0, cut)))).message;
        expect(msg).toContain("the archive is truncated or damaged");
      }
    });

    test("a blob with the wrong bytes fails verification; a missing blob is named", async () => {
      const file = path.join(tempDir("kit-ociarchive-"), "m.tar");
      await writeArchive(file, g, "v1");
      const bytes = fs.readFileSync(file);
      const at = bytes.indexOf(Buffer.from(g.layer1.subarray(0, 40)));
      bytes[at + 5]! ^= 1;
      fs.writeFileSync(file, bytes);
      const r = await OciArchive.open(file);
      expect(await readStream(await r.fetch(g.layer1Desc)).catch((e) => e)).toBeInstanceOf(IntegrityError);
      const missing = await r.fetch(h.layer1Desc).catch((e) => e);
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing.message).toBe(`oci-archive:${file}: blob ${h.layer1Desc.digest} (${h.layer1Desc.mediaType}) is missing`);
    });

    test("a blob entry whose size is not the descriptor's is refused before reading", async () => {
      const file = write(tarOf([...layout(), [`blobs/sha256/${hex(g.layer1Desc.digest)}`, "short"]]));
      const e = await (await OciArchive.open(file)).fetch(g.layer1Desc).catch((x) => x);
      expect(e).toBeInstanceOf(IntegrityError);
      expect(e.message).toContain(`has 5 bytes, but ${g.layer1Desc.size} are expected`);
    });
  });

  test("entries past 8 GiB (PAX sizes) are indexed by position without reading them", async () => {
    const dir = tempDir("kit-ociarchive-big-");
    const file = path.join(dir, "big.tar");
    const big = 9 * 2 ** 30 + 3;
    const name = `blobs/sha256/${"cd".repeat(32)}`;
    const head = encodeHeader(name, 0o644, big, "0");
    expect(head.length).toBeGreaterThan(512); // a PAX header carries the size
    const fd = fs.openSync(file, "w");
    fs.writeSync(fd, head);
    const dataStart = head.length;
    // The data is a hole (sparse file): nothing is written or read.
    const tail = tarOf([["oci-layout", '{"imageLayoutVersion":"1.0.0"}'], ["index.json", '{"schemaVersion":2,"manifests":[]}']]);
    fs.writeSync(fd, padded(new Uint8Array(1)).subarray(0, 512 - (big % 512)), 0, 512 - (big % 512), dataStart + big);
    fs.writeSync(fd, tail, 0, tail.length, dataStart + big + (512 - (big % 512)));
    fs.closeSync(fd);
    const r = await OciArchive.open(file);
    expect(r.blobs()).toEqual([{ digest: `sha256:${"cd".repeat(32)}`, size: big }]);
    expect(await r.entries()).toEqual([]);
  }, 20_000);
});
