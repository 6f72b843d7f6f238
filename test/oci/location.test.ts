import { describe, expect, test } from "bun:test";
import { layoutEntryNamer, layoutKitName, layoutRefToString, parseLayoutRef, repositoryFromPath } from "../../src/oci/location.ts";

const D = `sha256:${"ab".repeat(32)}`;

describe("parseLayoutRef", () => {
  test("kit's own references are not layouts", () => {
    expect(parseLayoutRef("registry.example.com/team/model:v1")).toBeUndefined();
    expect(parseLayoutRef("model:v1")).toBeUndefined();
    expect(parseLayoutRef("ocimodel:v1")).toBeUndefined();
  });

  test("PATH, PATH:TAG and PATH@DIGEST for both transports", () => {
    expect(parseLayoutRef("oci:dir")).toEqual({ kind: "layout", format: "oci", path: "dir" });
    expect(parseLayoutRef("oci:./a/b:v1")).toEqual({ kind: "layout", format: "oci", path: "./a/b", tag: "v1" });
    expect(parseLayoutRef(`oci-archive:/tmp/m.tar@${D}`)).toEqual({ kind: "layout", format: "oci-archive", path: "/tmp/m.tar", digest: D });
    expect(parseLayoutRef("oci-archive:m.tar:1.0")).toEqual({ kind: "layout", format: "oci-archive", path: "m.tar", tag: "1.0" });
  });

  test("PATH ends at its first ':' (skopeo's rule): the rest is the tag, which may be a name as other tools write", () => {
    expect(parseLayoutRef("oci:dir:library/busybox:latest")).toEqual({ kind: "layout", format: "oci", path: "dir", tag: "library/busybox:latest" });
    expect(parseLayoutRef(`oci:dir:name@${D}`)?.tag).toBe(`name@${D}`);
  });

  test("Windows drive letters are part of PATH", () => {
    expect(parseLayoutRef("oci:C:\\models\\layout")).toEqual({ kind: "layout", format: "oci", path: "C:\\models\\layout" });
    expect(parseLayoutRef("oci-archive:D:/m.tar:v2")).toEqual({ kind: "layout", format: "oci-archive", path: "D:/m.tar", tag: "v2" });
    expect(parseLayoutRef(`oci:c:\\x@${D}`)).toEqual({ kind: "layout", format: "oci", path: "c:\\x", digest: D });
  });

  test("a mistyped @digest is an invalid digest, not a path ending in @sha256; an @ elsewhere stays in PATH", () => {
    expect(() => parseLayoutRef("oci-archive:b.tar@sha256:abc")).toThrow('invalid oci-archive: reference "oci-archive:b.tar@sha256:abc": invalid digest "sha256:abc"');
    expect(parseLayoutRef("oci-archive:file@v2.tar:t")).toEqual({ kind: "layout", format: "oci-archive", path: "file@v2.tar", tag: "t" });
    expect(parseLayoutRef("oci:d@2/x:t")).toEqual({ kind: "layout", format: "oci", path: "d@2/x", tag: "t" });
  });

  test("an empty path or tag, and a tag outside the ref.name grammar, are refused with the rule in the hint", () => {
    for (const bad of ["oci:", "oci::v1", "oci:dir:", "oci-archive:m.tar:bad tag", "oci:dir:-x", `oci:@${D}`, "oci-archive:b.tar@sha256:abc"]) {
      let err: unknown;
      try {
        parseLayoutRef(bad);
      } catch (e) {
        err = e;
      }
      expect({ bad, message: (err as Error | undefined)?.message ?? "" }).toMatchObject({ bad, message: expect.stringContaining("invalid oci") });
      expect((err as { hint?: string }).hint).toContain("first ':'");
    }
  });

  test("an '@' that is not followed by a digest stays in PATH", () => {
    expect(parseLayoutRef("oci:/data/a@b")).toEqual({ kind: "layout", format: "oci", path: "/data/a@b" });
  });

  test("round trip through layoutRefToString", () => {
    for (const s of ["oci:dir", "oci:dir:v1", `oci-archive:/x/m.tar@${D}`, "oci:C:\\l:v3"]) expect(layoutRefToString(parseLayoutRef(s)!)).toBe(s);
  });
});

describe("layoutKitName", () => {
  const entry = (annotations?: Record<string, string>) => ({ digest: D, annotations });

  test("the recorded reference wins, then containerd's name", () => {
    expect(layoutKitName(entry({ "io.kitops.modelkit.reference": "registry.example.com/team/model:v1", "org.opencontainers.image.ref.name": "prod" }), "/x/m.tar"))
      .toEqual({ registry: "registry.example.com", repository: "team/model", tag: "v1" });
    expect(layoutKitName(entry({ "io.containerd.image.name": "ghcr.io/o/m:2" }), "/x/m.tar")).toEqual({ registry: "ghcr.io", repository: "o/m", tag: "2" });
  });

  test("a recorded local kit keeps its name: the first segment is always the registry", () => {
    // kit records a local kit as localhost/<name>:<tag>; kit's own reference parser would make
    // that repository "localhost/<name>", and the kit would come back under another name.
    expect(layoutKitName(entry({ "io.kitops.modelkit.reference": "localhost/bench/ag:v1" }), "/x/m.tar"))
      .toEqual({ registry: "localhost", repository: "bench/ag", tag: "v1" });
    expect(layoutKitName(entry({ "io.kitops.modelkit.reference": "localhost/localhost/m:v1" }), "/x/m.tar"))
      .toEqual({ registry: "localhost", repository: "localhost/m", tag: "v1" });
    expect(layoutKitName(entry({ "io.kitops.modelkit.reference": `localhost/m@${D}` }), "/x/m.tar")).toEqual({ registry: "localhost", repository: "m", digest: D });
    expect(layoutKitName(entry({ "io.kitops.modelkit.reference": "localhost:5000/m" }), "/x/m.tar")).toEqual({ registry: "localhost:5000", repository: "m", tag: "latest" });
  });

  test("an entry that records no name goes by the one its manifest's other entries agree on", () => {
    const E = `sha256:${"cd".repeat(32)}`;
    const entries: { digest: string; annotations: Record<string, string> }[] = [
      { digest: D, annotations: { "io.kitops.modelkit.reference": "localhost/team/m:v1", "org.opencontainers.image.ref.name": "v1" } },
      { digest: D, annotations: { "org.opencontainers.image.ref.name": "prod" } },
      { digest: E, annotations: { "io.kitops.modelkit.reference": "localhost/a:1" } },
      { digest: E, annotations: { "io.kitops.modelkit.reference": "localhost/b:1" } },
      { digest: E, annotations: { "org.opencontainers.image.ref.name": "x" } },
    ];
    const nameOf = layoutEntryNamer(entries, "/x/m.tar");
    expect(entries.map((e) => nameOf(e))).toEqual([
      { registry: "localhost", repository: "team/m", tag: "v1" },
      { registry: "localhost", repository: "team/m", tag: "v1" },
      { registry: "localhost", repository: "a", tag: "1" },
      { registry: "localhost", repository: "b", tag: "1" },
      { registry: "localhost", repository: "m", tag: "x" }, // they disagree: the name derived from the layout
    ]);
  });

  test("a ref.name that is a full reference is used as it is", () => {
    expect(layoutKitName(entry({ "org.opencontainers.image.ref.name": "quay.io/o/m:3" }), "/x/m.tar")).toEqual({ registry: "quay.io", repository: "o/m", tag: "3" });
  });

  test("otherwise the layout's file name and the tag, or the digest", () => {
    expect(layoutKitName(entry({ "org.opencontainers.image.ref.name": "v1" }), "/x/My Model.tar")).toEqual({ registry: "localhost", repository: "my-model", tag: "v1" });
    expect(layoutKitName(entry(), "/x/layout/")).toEqual({ registry: "localhost", repository: "layout", digest: D });
    expect(layoutKitName(entry({ "io.kitops.modelkit.reference": "NOT A REF" }), "C:\\x\\__")).toEqual({ registry: "localhost", repository: "modelkit", digest: D });
  });

  test("repositoryFromPath makes a valid repository name", () => {
    expect(repositoryFromPath("/a/b/Llama_3.1-8B.TAR")).toBe("llama-3-1-8b");
  });
});
