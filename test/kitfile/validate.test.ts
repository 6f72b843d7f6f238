import { describe, expect, test } from "bun:test";
import { KitfileError } from "../../src/kitfile/errors.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { cleanPath, goUrlParse, isLocalPath, pathKind, relPath } from "../../src/kitfile/paths.ts";
import type { Kitfile } from "../../src/kitfile/schema.ts";
import { assertValidKitfile, formatValidationErrors, validateKitfile } from "../../src/kitfile/validate.ts";
import { memoryLogger } from "../../src/util/log.ts";

const check = (yaml: string) => validateKitfile(parseKitfile(yaml, "Kitfile").kitfile);
const errorsOf = (yaml: string) => check(`manifestVersion: 1.0.0\n${yaml}`).errors;

describe("validateKitfile", () => {
  test("a valid Kitfile has no errors and no warnings", () => {
    expect(check(`manifestVersion: 1.0.0
package: {name: ok}
model:
  name: m
  path: models/
  parts:
    - {name: lora, path: lora.safetensors, type: LoRA_v1.2-x}
code: [{path: src}, {path: .}]
datasets:
  - {path: data/train}
  - {path: data/eval, remotePath: "s3://bucket/eval.csv?versionId=3", remoteHash: abc}
docs: [{path: README.md}]
prompts: [{path: prompts/system.md}]
mcpServers: [{name: fs, path: servers/fs.mcpb}]
`)).toEqual({ errors: [], warnings: [] });
  });

  test("an unrecognized manifestVersion is only a warning", () => {
    expect(check("manifestVersion: 1.1\n")).toEqual({ errors: [], warnings: ["Unrecognized manifestVersion 1.1: treating Kitfile as 1.0.0"] });
    expect(check("manifestVersion: 2.0.0\n").warnings).toEqual(["Unrecognized manifestVersion 2.0.0: treating Kitfile as 1.0.0"]);
    expect(check("manifestVersion: 1.0.0.0\n").warnings).toHaveLength(1);
    expect(check("model: {path: m}\n").warnings).toEqual(["Unrecognized manifestVersion : treating Kitfile as 1.0.0"]);
  });

  test("manifestVersion 1.0 (a YAML number, as the KitOps docs write it) and 1 are 1.0.0", () => {
    for (const v of ["1.0.0", "1.0", "1", '"1.0"', "v1.0.0"]) expect(check(`manifestVersion: ${v}\n`)).toEqual({ errors: [], warnings: [] });
  });

  test("duplicate paths compare cleaned paths, listing every user", () => {
    expect(errorsOf("model: {name: m, path: dir/}\ncode: [{path: ./dir}, {path: dir}]\ndocs: [{path: a/../dir}]\n")).toEqual([
      "model m, code layer 0, code layer 1 and docs layer 0 use the same path dir",
    ]);
    // Empty paths mean the whole context.
    expect(errorsOf("code: [{}, {path: .}]\ndatasets: [{path: ./}]\n")).toEqual([
      "code layer 0, code layer 1 and dataset layer 0 use the same path .",
    ]);
    // Model parts, prompts and MCP servers take part too; the model's empty name leaves a trailing space.
    expect(errorsOf("model: {path: x, parts: [{name: p, path: x}]}\nprompts: [{path: y}]\nmcpServers: [{name: s, path: y}]\n")).toEqual([
      "invalid path for mcpServer (y): path must point to a single .mcpb file",
      "model  and modelpart p use the same path x",
      "prompt layer 0 and mcpServer layer 0 use the same path y",
    ]);
  });

  test("absolute paths and paths outside the context", () => {
    expect(errorsOf("code: [{path: /etc/passwd}]\ndocs: [{path: ../README.md}]\ndatasets: [{path: a/../../b}, {path: ..}]\n")).toEqual([
      "absolute paths are not supported in a Kitfile (path /etc/passwd in code layer 0)",
      "paths outside the context directory are not supported in a Kitfile (path .. in dataset layer 1)",
      "paths outside the context directory are not supported in a Kitfile (path ../README.md in docs layer 0)",
      "paths outside the context directory are not supported in a Kitfile (path ../b in dataset layer 0)",
    ]);
    expect(errorsOf("code: [{path: a/..}, {path: ./b/../c/..x}]\n")).toEqual([]);
  });

  test("URL paths: references only for the model, S3 only for remotePath", () => {
    expect(errorsOf("model: {path: registry.example.com/org/base:v1}\n")).toEqual([]);
    expect(errorsOf("model: {path: s3://bucket/model.bin}\n")).toEqual([
      "invalid path for model: only local paths and ModelKit references are permitted",
    ]);
    expect(errorsOf("model: {path: x, parts: [{path: 'org/repo:v1'}]}\n")).toEqual([
      "invalid path for model part (org/repo:v1): only local paths are permitted",
    ]);
    expect(errorsOf("prompts: [{path: 'http://example.com/p.md'}]\n")).toEqual([
      "invalid path for prompt (http://example.com/p.md): HTTP urls are not supported in paths (http://example.com/p.md)",
      "invalid path for prompt (http://example.com/p.md): only local paths are permitted",
    ]);
    expect(errorsOf("code: [{path: 'git+ssh://host/repo'}]\n")).toEqual([
      "invalid path for code (git+ssh://host/repo): only local paths are permitted",
      "invalid path for code (git+ssh://host/repo): unrecognized URL in path: git+ssh://host/repo",
    ]);
    // `models/m:v1.bin` parses as a reference, so it is one (kit quirk, docs/format.md#model-references).
    expect(errorsOf("model: {path: 'models/m:v1.bin'}\n")).toEqual([]);
    expect(pathKind("models/m:v1.bin").kind).toBe("reference");
  });

  test("remote datasets", () => {
    expect(errorsOf("datasets: [{path: d, remotePath: s3://b/k}]\n")).toEqual([
      "remoteHash is required when remote dataset paths are used (s3://b/k)",
    ]);
    expect(errorsOf("datasets: [{path: d, remoteHash: abc}]\n")).toEqual(["remote hash is only applicable when remotePath is set"]);
    expect(errorsOf("datasets: [{path: d, remotePath: local/dir, remoteHash: x}]\n")).toEqual([
      "only S3 URLs and ModelKit references are supported for remote dataset paths (local/dir)",
    ]);
    expect(errorsOf("datasets: [{path: d, remotePath: 'ftp://h/f', remoteHash: x}]\n")).toEqual([
      "invalid remote path for dataset (ftp://h/f): unrecognized URL in path: ftp://h/f",
      "only S3 URLs and ModelKit references are supported for remote dataset paths (ftp://h/f)",
    ]);
    const ref = check("manifestVersion: 1.0.0\ndatasets: [{path: data, remotePath: 'reg.io/org/data:v1', remoteHash: h}]\n");
    expect(ref).toEqual({ errors: [], warnings: ["remoteHash is ignored for ModelKit references in datasets (data)"] });
  });

  test("nothing may sit inside the path of a ModelKit-reference dataset; siblings may", () => {
    const base = "datasets:\n  - {path: data/train, remotePath: 'reg.io/org/data:v1'}\n";
    expect(errorsOf(base + "  - {path: data/train-eval}\n  - {path: data}\ncode: [{path: data/eval}]\n")).toEqual([]);
    expect(errorsOf(base + "model: {path: data/train/m.bin}\ndocs: [{path: data/train/sub/README.md}]\n")).toEqual([
      "docs layer 0 uses a path (data/train/sub/README.md) that is within the path for a remote dataset",
      "model  uses a path (data/train/m.bin) that is within the path for a remote dataset",
    ]);
    // A remote dataset at the context root contains every other layer.
    expect(errorsOf("datasets: [{remotePath: 'reg.io/org/data:v1'}]\ncode: [{path: src}]\n")).toEqual([
      "code layer 0 uses a path (src) that is within the path for a remote dataset",
    ]);
  });

  test("MCP servers: name required and unique, one .mcpb file, local path", () => {
    expect(errorsOf("mcpServers: [{path: a.mcpb}, {name: x, path: b.mcpb}, {name: x, path: c.mcpb}, {name: y, path: dir}, {name: z, path: 's3://b/k.mcpb'}]\n")).toEqual([
      "duplicate mcpServer name x: names must be unique",
      "invalid path for mcpServer (dir): path must point to a single .mcpb file",
      "invalid path for mcpServer (s3://b/k.mcpb): only local paths are permitted",
      "mcpServer with path a.mcpb must have a name",
    ]);
  });

  test("model part types", () => {
    expect(errorsOf(`model: {path: m, parts: [{name: a, path: a, type: "x y"}, {name: b, path: b, type: ".x"}, {name: c, path: c, type: "${"t".repeat(64)}"}, {name: d, path: d, type: "${"t".repeat(65)}"}]}\n`)).toEqual([
      "modelpart a has invalid type (must be alphanumeric with dots, dashes, and underscores)",
      "modelpart b has invalid type (must be alphanumeric with dots, dashes, and underscores)",
      "modelpart d type is too long (must be fewer than 64 characters)",
    ]);
    expect(errorsOf("model: {path: m, parts: [{name: é, path: a, type: é}]}\n")).toEqual([
      "modelpart é has invalid type (must be alphanumeric with dots, dashes, and underscores)",
    ]);
  });

  test("assertValidKitfile: kit's message, errors sorted bytewise; warnings logged and returned", () => {
    const k = parseKitfile("model: {path: /m}\ncode: [{path: ../c}, {path: B}]\ndocs: [{path: B}]\n", "Kitfile").kitfile;
    const logger = memoryLogger();
    let err: unknown;
    try {
      assertValidKitfile(k, logger);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KitfileError);
    expect((err as Error).message).toBe(
      "errors while validating Kitfile: \n" +
        "  * absolute paths are not supported in a Kitfile (path /m in model )\n" +
        "  * code layer 1 and docs layer 0 use the same path B\n" +
        "  * paths outside the context directory are not supported in a Kitfile (path ../c in code layer 0)",
    );
    expect(logger.err.join("")).toBe("[WARN ] Unrecognized manifestVersion : treating Kitfile as 1.0.0\n");
    const ok: Kitfile = { manifestVersion: "2", model: { path: "m" } };
    expect(assertValidKitfile(ok)).toEqual(["Unrecognized manifestVersion 2: treating Kitfile as 1.0.0"]);
    expect(formatValidationErrors(["b", "a"])).toBe("errors while validating Kitfile: \n  * b\n  * a");
  });
});

describe("path helpers", () => {
  test("cleanPath is Go's filepath.Clean", () => {
    const cases: [string, string][] = [
      ["", "."], [".", "."], ["./", "."], ["a/", "a"], ["./a/b/", "a/b"], ["a//b", "a/b"], ["a/./b", "a/b"],
      ["a/../b", "b"], ["a/..", "."], ["../a", "../a"], ["a/../../b", "../b"], ["../../x/..", "../.."],
      ["/", "/"], ["/..", "/"], ["/../a/", "/a"], ["//a", "/a"],
    ];
    for (const [p, want] of cases) expect(cleanPath(p)).toBe(want);
  });

  test("isLocalPath is Go's filepath.IsLocal", () => {
    expect(["a", "a/b", ".", "a/../b", "..x"].map(isLocalPath)).toEqual([true, true, true, true, true]);
    expect(["", "/a", "..", "../a", "a/../../b"].map(isLocalPath)).toEqual([false, false, false, false, false]);
  });

  test("relPath is Go's filepath.Rel", () => {
    expect(relPath("data/train", "data/train/code")).toBe("code");
    expect(relPath("data/train", "data/train-eval")).toBe("../train-eval");
    expect(relPath("data/train", "data")).toBe("..");
    expect(relPath("a/b", "c")).toBe("../../c");
    expect(relPath(".", "x/y")).toBe("x/y");
    expect(relPath("a", "a")).toBe(".");
    expect(relPath("../x", "y")).toEqual({ error: "Rel: can't make y relative to ../x" });
    expect(relPath("/a", "b")).toEqual({ error: "Rel: can't make b relative to /a" });
  });

  test("goUrlParse finds scheme and host as Go's url.Parse, or fails where it fails", () => {
    const cases: [string, { scheme: string; host: string } | undefined][] = [
      ["model.bin", { scheme: "", host: "" }],
      ["dir/sub", { scheme: "", host: "" }],
      ["s3://bucket/key", { scheme: "s3", host: "bucket" }],
      ["S3://Bucket/key", { scheme: "s3", host: "Bucket" }],
      ["https://user:pw@host:8080/x?q#f", { scheme: "https", host: "host:8080" }],
      ["//host/path", { scheme: "", host: "host" }],
      ["///abs", { scheme: "", host: "" }],
      ["mailto:someone", { scheme: "mailto", host: "" }],
      [":nope", undefined],
      ["1abc:x", undefined], // first path segment cannot contain a colon
      ["a b:c", undefined],
      ["http://host:port/", undefined],
      ["http://a b/", undefined],
      ["http://[::1/", undefined],
      ["%zz", undefined],
      ["x#%zz", undefined],
      ["tab\there", undefined],
    ];
    for (const [u, want] of cases) expect([u, goUrlParse(u)]).toEqual([u, want]);
  });

  test("pathKind classification", () => {
    expect(pathKind("data")).toEqual({ kind: "local" });
    expect(pathKind("a b:c")).toEqual({ kind: "local" });
    expect(pathKind("s3://b/k")).toEqual({ kind: "s3" });
    expect(pathKind("ghcr.io/org/repo@sha256:" + "a".repeat(64))).toEqual({ kind: "reference" });
    expect(pathKind("HTTPS://x")).toEqual({ kind: "unknown", error: "HTTP urls are not supported in paths (HTTPS://x)" });
    expect(pathKind("//host/x")).toEqual({ kind: "unknown", error: "unrecognized URL in path: //host/x" });
  });
});
