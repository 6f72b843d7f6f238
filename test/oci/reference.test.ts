import { describe, expect, test } from "bun:test";
import { parseRefArg } from "../../src/cli/session.ts";
import {
  displayRef,
  type ModelRef,
  type RepositoryRef,
  parseOrasReference,
  parseReference,
  refToString,
  repoKey,
} from "../../src/oci/reference.ts";
import { digestProblem } from "../../src/oci/digest.ts";
import { KitError } from "../../src/util/errors.ts";

const D = "sha256:" + "ab".repeat(32);

function ref(registry: string, repository: string, reference: string): ModelRef | RepositoryRef {
  if (reference === "") return { registry, repository };
  return reference.includes(":") ? { registry, repository, digest: reference } : { registry, repository, tag: reference };
}

describe("parseReference (kit, docs/format.md#references)", () => {
  const ok: [string, ModelRef | RepositoryRef][] = [
    ["a/b/c/d", ref("localhost", "a/b/c/d", "latest")],
    ["test.io/a/b/c/d", ref("test.io", "a/b/c/d", "latest")],
    [`testrepo:ignoredtag@${D}`, ref("localhost", "testrepo", D)],
    [`testrepo@${D}`, ref("localhost", "testrepo", D)],
    [D, ref("localhost", "_", D)],
    ["testorg/testrepo", ref("localhost", "testorg/testrepo", "latest")],
    ["localhost/foo", ref("localhost", "localhost/foo", "latest")],
    ["localhost/foo:v1", ref("localhost", "localhost/foo", "v1")],
    ["myrepo", ref("localhost", "myrepo", "latest")],
    ["myrepo:v1.0_rc-1", ref("localhost", "myrepo", "v1.0_rc-1")],
    ["ghcr.io/org/model:latest", ref("ghcr.io", "org/model", "latest")],
    ["127.0.0.1:5000/x", ref("127.0.0.1:5000", "x", "latest")],
    ["[::1]:5000/x:t", ref("[::1]:5000", "x", "t")],
    ["registry:5000/a__b.c-d/e---f:T", ref("registry:5000", "a__b.c-d/e---f", "T")],
    ["Reg.IO/repo", ref("Reg.IO", "repo", "latest")],
  ];
  for (const [input, want] of ok) {
    test(`parses ${JSON.stringify(input)}`, () => {
      expect(parseReference(input)).toEqual(want as ModelRef);
    });
  }

  test("extra tags after commas are the command line's (parseRefArg), never validated", () => {
    expect(parseRefArg("localhost:5000/org/repo:t,x,y")).toEqual({ ref: ref("localhost:5000", "org/repo", "t") as ModelRef, extraTags: ["x", "y"], explicit: true });
    expect(parseRefArg("repo:t,UNVALIDATED!!,")).toEqual({ ref: ref("localhost", "repo", "t") as ModelRef, extraTags: ["UNVALIDATED!!", ""], explicit: true });
    // A digest before the comma is a digest (kit took "sha256" for a repository here).
    expect(parseRefArg(`${D},x`)).toEqual({ ref: ref("localhost", "_", D) as ModelRef, extraTags: ["x"], explicit: true });
    // whether the argument itself named a tag or digest (kit list lists every tag otherwise)
    expect(parseRefArg("reg.io:5000/org/repo").explicit).toBe(false);
    expect(parseRefArg("reg.io:5000/org/repo:v1").explicit).toBe(true);
    // The reference parser itself knows no commas.
    expect(() => parseReference("repo:a,b")).toThrow('invalid reference: invalid tag "a,b"');
  });

  const bad: [string, string][] = [
    ["", "repository () must start and end with a letter or number"],
    ["Upper", "repository (Upper) name must be lowercase"],
    ["org/MyRepo:v1", "repository (org/MyRepo) name must be lowercase"],
    ["ghcr.io/Org/repo", "repository (Org/repo) name must be lowercase"],
    ["---", "repository (---) must start and end with a letter or number"],
    ["-abc", 'invalid reference: invalid repository "-abc"'],
    ["abc-", 'invalid reference: invalid repository "abc-"'],
    ["a//b", 'invalid reference: invalid repository "a//b"'],
    ["repo:-bad", 'invalid reference: invalid tag "-bad"'],
    ["repo:a/b", 'invalid reference: invalid registry "repo:a"'],
    ["repo:", 'invalid reference: invalid tag ""'],
    ["repo:" + "a".repeat(129), `invalid reference: invalid tag "${"a".repeat(129)}"`],
    ["my.reg:abc/repo", 'invalid reference: invalid registry "my.reg:abc"'],
    ["a.b@c/repo", 'invalid reference: invalid registry "a.b@c"'],
    ["a.b%41/repo", 'invalid reference: invalid registry "a.b%41"'],
    ["a.b c/repo", 'invalid reference: invalid registry "a.b c"'],
    ["repo@sha256:abc", 'invalid reference: invalid digest "sha256:abc": invalid checksum digest length'],
    ["repo@md5:abc", 'invalid reference: invalid digest "md5:abc": unsupported digest algorithm'],
    ["repo@sha256", 'invalid reference: invalid digest "sha256": invalid checksum digest format'],
    ["repo@", 'invalid reference: invalid digest "": invalid checksum digest format'],
    [
      "repo@sha256:" + "AB".repeat(32),
      `invalid reference: invalid digest "sha256:${"AB".repeat(32)}": invalid checksum digest format`,
    ],
  ];
  for (const [input, message] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      let err: unknown;
      try {
        parseReference(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KitError);
      expect((err as Error).message).toBe(message);
    });
  }
});

describe("parseOrasReference (kit diff, docs/format.md#diff-references)", () => {
  test("first segment is always the registry", () => {
    expect(parseOrasReference("localhost/foo:v1")).toEqual(ref("localhost", "foo", "v1"));
    expect(parseOrasReference("ghcr.io/a/b@" + D)).toEqual(ref("ghcr.io", "a/b", D));
    expect(parseOrasReference("ghcr.io/a/b:tag@" + D)).toEqual(ref("ghcr.io", "a/b", D));
  });
  test("reference may be empty", () => {
    expect(parseOrasReference("reg.io/repo")).toEqual(ref("reg.io", "repo", ""));
    expect(parseOrasReference("reg.io/repo:")).toEqual(ref("reg.io", "repo", ""));
  });
  test("errors", () => {
    expect(() => parseOrasReference("repo:v1")).toThrow("invalid reference: missing registry or repository");
    expect(() => parseOrasReference("reg.io/Repo")).toThrow('invalid reference: invalid repository "Repo"');
    expect(() => parseOrasReference("reg:x/repo")).toThrow('invalid reference: invalid registry "reg:x"');
    expect(() => parseOrasReference("reg/repo:-t")).toThrow('invalid reference: invalid tag "-t"');
    expect(() => parseOrasReference("reg/repo@sha256:00")).toThrow(
      'invalid reference: invalid digest "sha256:00": invalid checksum digest length',
    );
  });
});

describe("string forms", () => {
  test("refToString", () => {
    expect(refToString(parseReference("example:v1"))).toBe("localhost/example:v1");
    expect(refToString(parseReference("example"))).toBe("localhost/example:latest");
    expect(refToString(parseReference(D))).toBe(`localhost/_@${D}`);
    expect(refToString(parseReference(`ghcr.io/o/r@${D}`))).toBe(`ghcr.io/o/r@${D}`);
    expect(refToString(parseOrasReference("reg.io/r"))).toBe("reg.io/r");
    expect(refToString(ref("reg.io", "", ""))).toBe("reg.io");
  });
  test("repoKey, and a reference is a tag or a digest", () => {
    expect(repoKey(parseReference("example:v1"))).toBe("localhost/example");
    expect(repoKey(parseReference("localhost:5000/org/repo:t"))).toBe("localhost:5000/org/repo");
    expect(parseReference(D).digest).toBe(D);
    expect(parseReference(D).tag).toBeUndefined();
    expect(parseReference("x:v1").digest).toBeUndefined();
    expect(parseReference("x:v1").tag).toBe("v1");
  });
  test("displayRef (FormatRepositoryForDisplay)", () => {
    expect(displayRef("localhost/test:v1")).toBe("test:v1");
    expect(displayRef(`localhost/_@${D}`)).toBe(D);
    expect(displayRef("ghcr.io/org/repo:v1")).toBe("ghcr.io/org/repo:v1");
    expect(displayRef("localhost/localhost/foo:latest")).toBe("localhost/foo:latest");
  });
  test("digestProblem follows go-digest", () => {
    expect(digestProblem(D)).toBeUndefined();
    expect(digestProblem("sha512:" + "0".repeat(128))).toBeUndefined();
    expect(digestProblem(":abc")).toBe("invalid checksum digest format");
    expect(digestProblem("sha256:")).toBe("invalid checksum digest format");
    expect(digestProblem("sha256:xyz!")).toBe("invalid checksum digest length");
    expect(digestProblem("foo:bar")).toBe("unsupported digest algorithm");
    expect(digestProblem("Foo:bar")).toBe("invalid checksum digest format");
  });
});
