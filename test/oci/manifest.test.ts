import { expect, test } from "bun:test";
import type { Digest } from "../../src/oci/digest.ts";
import { encodeManifest, parseManifest } from "../../src/oci/manifest.ts";

const D = `sha256:${"a".repeat(64)}` as Digest;

test("encodeManifest writes descriptors as Go's ocispec.Descriptor: field order, omitempty, sorted annotations", () => {
  const text = encodeManifest({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "c", digest: D, size: 1 },
    layers: [{ mediaType: "l", digest: D, size: 2, annotations: { z: "1", a: "2" }, artifactType: "t" }],
    annotations: {},
  });
  expect(text).toBe(
    `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
      `"config":{"mediaType":"c","digest":"${D}","size":1},` +
      `"layers":[{"mediaType":"l","digest":"${D}","size":2,"annotations":{"a":"2","z":"1"},"artifactType":"t"}]}`,
  );
  expect(encodeManifest(parseManifest(text))).toBe(text);
});

test("a manifest without layers keeps Go's null", () => {
  expect(encodeManifest({ schemaVersion: 2, config: { mediaType: "c", digest: D, size: 0 }, layers: null }))
    .toBe(`{"schemaVersion":2,"config":{"mediaType":"c","digest":"${D}","size":0},"layers":null}`);
});
