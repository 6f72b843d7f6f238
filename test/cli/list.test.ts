import { beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { executeListTemplate, formatListTable, parseListTemplate, tabwrite } from "../../src/modelkit/list-format.ts";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { APPENDIX_A_DIGEST, APPENDIX_A_FILES, packKit, pushManifest } from "./modelkit-fixtures.ts";

const list = (home: string, ...args: string[]) => runInProcess(["list", ...args], { env: { KITOPS_HOME: home } });

test("an empty store lists only the header; json is []; a template prints nothing", async () => {
  const home = tempDir();
  expect(await list(home)).toEqual({ code: 0, stdout: "REPOSITORY   TAG   MAINTAINER   NAME   SIZE   DIGEST\n", stderr: "" });
  expect(await list(home, "--format", "json")).toEqual({ code: 0, stdout: "[]\n", stderr: "" });
  expect(await list(home, "--format", "{{ .Repo }}")).toEqual({ code: 0, stdout: "", stderr: "" });
});

test("the Appendix A kit lists exactly as kit prints it", async () => {
  const home = tempDir();
  expect(await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" })).toBe(APPENDIX_A_DIGEST);
  expect((await list(home)).stdout).toBe(
    "REPOSITORY   TAG   MAINTAINER   NAME      SIZE      DIGEST\n" +
      `example      v1    <none>       example   2.0 KiB   ${APPENDIX_A_DIGEST}\n`,
  );
});

describe("a store with several repositories", () => {
  const home = tempDir();
  let d1 = "", d2 = "", d3 = "", d4 = "";
  beforeAll(async () => {
    // 4.0 KiB: two 2048-byte layers.
    d1 = await packKit(home, {
      Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: sentiment\n  authors: [Alice, Bob]\nmodel:\n  path: model.bin\ndatasets:\n  - name: train\n    path: train.csv\n",
      "model.bin": "hello",
      "train.csv": "a,b\n",
    }, { tag: "ghcr.io/org/model:1.0" });
    // 2.5 KiB: dir entry + file header + data block + end blocks; no name, no author.
    d2 = await packKit(home, { Kitfile: "manifestVersion: 1.0.0\ncode:\n  - path: src\n", "src/main.py": "print(1)\n" }, { tag: "zeta:b,a" });
    d3 = await packKit(home, { Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: scratch\n  authors: [Carol]\ndocs:\n  - path: README.md\n", "README.md": "readme\n" });
    d4 = await packKit(home, { Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: other\ncode:\n  - path: src\n", "src/main.py": "print(2)\n" }, { tag: "zeta:c" });
  });

  const zetaRows = () => {
    const rowsD2 = [`zeta                a        <none>       <none>      2.5 KiB   ${d2}\n`, `zeta                b        <none>       <none>      2.5 KiB   ${d2}\n`];
    const rowD4 = [`zeta                c        <none>       other       2.5 KiB   ${d4}\n`];
    return d2 < d4 ? [...rowsD2, ...rowD4] : [...rowD4, ...rowsD2];
  };

  test("table: padding 3, last column unpadded, one row per tag, <none> cells, byte-ordered repositories", async () => {
    const r = await list(home);
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "REPOSITORY          TAG      MAINTAINER   NAME        SIZE      DIGEST\n" +
        `ghcr.io/org/model   1.0      Alice        sentiment   4.0 KiB   ${d1}\n` +
        `<none>              <none>   Carol        scratch     2.0 KiB   ${d3}\n` +
        zetaRows().join(""),
    });
    expect(await list(home, "--format", "table")).toEqual(r);
    expect(await list(home, "--format", "")).toEqual(r);
  });

  test("json: Go MarshalIndent with HTML escaping, tags null when untagged", async () => {
    const entry = (repo: string, digest: string, tags: string[] | null, name: string, size: string, author: string) =>
      `  {\n    "repo": "${repo}",\n    "digest": "${digest}",\n    "tags": ${tags ? `[\n${tags.map((t) => `      "${t}"`).join(",\n")}\n    ]` : "null"},\n` +
      `    "modelName": "${name}",\n    "size": "${size}",\n    "author": "${author}"\n  }`;
    const zeta = [entry("zeta", d2, ["a", "b"], "\\u003cnone\\u003e", "2.5 KiB", "\\u003cnone\\u003e"), entry("zeta", d4, ["c"], "other", "2.5 KiB", "\\u003cnone\\u003e")];
    const expected = "[\n" + [
      entry("ghcr.io/org/model", d1, ["1.0"], "sentiment", "4.0 KiB", "Alice"),
      entry("\\u003cnone\\u003e", d3, null, "scratch", "2.0 KiB", "Carol"),
      ...(d2 < d4 ? zeta : zeta.reverse()),
    ].join(",\n") + "\n]\n";
    expect(await list(home, "--format", "json")).toEqual({ code: 0, stdout: expected, stderr: "" });
  });

  test("templates: every field, Go slice formatting, one line per kit", async () => {
    const r = await list(home, "--format", "{{ .Repo }}|{{ .Tags }}|{{.Digest}}|{{ .ModelName }}|{{ .Size }}|{{ .Author }}");
    const zeta = [`zeta|[a b]|${d2}|<none>|2.5 KiB|<none>\n`, `zeta|[c]|${d4}|other|2.5 KiB|<none>\n`];
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout: `ghcr.io/org/model|[1.0]|${d1}|sentiment|4.0 KiB|Alice\n<none>|[]|${d3}|scratch|2.0 KiB|Carol\n` + (d2 < d4 ? zeta : zeta.reverse()).join(""),
    });
  });

  test("templates: a trailing newline is not doubled; trim markers and comments", async () => {
    const names = ["sentiment", "scratch", ...(d2 < d4 ? ["<none>", "other"] : ["other", "<none>"])];
    expect((await list(home, "--format", "{{ .ModelName }}\n")).stdout).toBe(names.map((n) => n + "\n").join(""));
    expect((await list(home, "--format", "a  {{- .ModelName -}}  b{{/* note */}}!")).stdout).toBe(names.map((n) => `a${n}b!\n`).join(""));
  });

  test("templates: index .Tags 0 fails on the untagged kit after printing what came before", async () => {
    const r = await list(home, "--format", "tag={{ index .Tags 0 }}");
    expect(r).toEqual({
      code: 1,
      stdout: "tag=1.0\ntag=",
      stderr: '[ERROR] Error executing --format template: template: list:1:7: executing "list" at <index .Tags 0>: error calling index: index out of range: 0\n',
    });
  });

  test("templates: unknown fields fail as Go's do; syntax errors name the line", async () => {
    expect(await list(home, "--format", "{{ .Foo }}")).toEqual({
      code: 1,
      stdout: "",
      stderr: '[ERROR] Error executing --format template: template: list:1:3: executing "list" at <.Foo>: can\'t evaluate field Foo in type list.modelInfo\n',
    });
    expect(await list(home, "--format", "x\n{{ .Repo ")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Error parsing --format template: template: list:2: unclosed action\n" });
    expect(await list(home, "--format", "{{ range .Tags }}{{ . }}")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Error parsing --format template: template: list:1: unexpected EOF\n" });
    expect(await list(home, "--format", "{{ nope .Repo }}")).toEqual({ code: 1, stdout: "", stderr: '[ERROR] Error parsing --format template: template: list:1: function "nope" not defined\n' });
  });

  test("templates: range, if/else, with, variables, printf, len, json over the listed kits", async () => {
    const rows = async (format: string) => (await list(home, "--format", format)).stdout.split("\n").filter(Boolean);
    const zetaTags = d2 < d4 ? ["a,b", "c"] : ["c", "a,b"];
    expect(await rows("{{ range $i, $t := .Tags }}{{ if $i }},{{ end }}{{ $t }}{{ else }}untagged{{ end }}")).toEqual(["1.0", "untagged", ...zetaTags]);
    expect(await rows('{{ with .Author }}{{ if eq . "<none>" }}-{{ else }}{{ . }}{{ end }}{{ end }}')).toEqual(["Alice", "Carol", "-", "-"]);
    expect(await rows('{{ printf "%-20s|%3d" .Repo (len .Tags) }}')).toEqual([
      "ghcr.io/org/model   |  1",
      "<none>              |  0",
      ...(d2 < d4 ? ["zeta                |  2", "zeta                |  1"] : ["zeta                |  1", "zeta                |  2"]),
    ]);
    const json = await rows("{{ json . }}");
    expect(JSON.parse(json[1]!)).toEqual({ repo: "<none>", digest: d3, tags: null, modelName: "scratch", size: "2.0 KiB", author: "Carol" });
    expect(json[1]).toContain('"repo":"\\u003cnone\\u003e"');
    expect(await rows('{{ $n := .ModelName }}{{ if and .Tags (ne $n "<none>") }}{{ $n }}:{{ index .Tags 0 }}{{ end }}')).toEqual(
      ["sentiment:1.0", ...(d2 < d4 ? ["other:c"] : ["other:c"])],
    );
  });

  test("--filter keeps kits with a matching Kitfile entry; repeated filters are ORed", async () => {
    const digests = async (...args: string[]) => (await list(home, "--format", "{{ .Digest }}", ...args)).stdout.trim().split("\n").filter(Boolean);
    expect(await digests("--filter", "datasets")).toEqual([d1]);
    expect(await digests("--filter", "datasets:train")).toEqual([d1]);
    expect(await digests("-f", "datasets:nope")).toEqual([]);
    expect(await digests("--filter", "model:model.bin")).toEqual([d1]);
    expect(await digests("--filter", "docs:README.md")).toEqual([d3]);
    expect(await digests("--filter", "docs", "--filter", "datasets")).toEqual([d1, d3]);
    expect((await digests("--filter", "code")).sort()).toEqual([d2, d4].sort());
    expect((await digests("--filter", "kitfile")).length).toBe(4);
    expect(await list(home, "--filter", "layers")).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Invalid arguments: invalid filter type layers (must be one of 'kitfile', 'model', 'datasets', 'code', 'docs', 'prompts', or 'mcpservers')\n",
    });
  });

  test("a copy of the storage directory lists and inspects identically", async () => {
    const copy = tempDir();
    cpSync(path.join(home, "storage"), path.join(copy, "storage"), { recursive: true });
    expect(await list(copy)).toEqual(await list(home));
    expect(await list(copy, "--format", "json")).toEqual(await list(home, "--format", "json"));
    const inspect = (h: string) => runInProcess(["inspect", "zeta:c"], { env: { KITOPS_HOME: h } });
    const a = await inspect(home);
    expect(a.code).toBe(0);
    expect(await inspect(copy)).toEqual(a);
  });
});

test("a manifest that is not a ModelKit is skipped with a debug line", async () => {
  const home = tempDir();
  const kit = await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  const other = await pushManifest(home, "localhost/image", { configMediaType: "application/vnd.oci.image.config.v1+json", config: "{}" }, "latest");
  const r = await list(home);
  expect(r).toEqual({
    code: 0,
    stderr: "",
    stdout: `REPOSITORY   TAG   MAINTAINER   NAME      SIZE      DIGEST\nexample      v1    <none>       example   2.0 KiB   ${kit}\n`,
  });
  const v = await list(home, "-v");
  expect(v.code).toBe(0);
  expect(v.stdout).toContain(`[DEBUG] Skipping ${other.digest} in localhost/image: not a ModelKit (reference exists but is not a modelkit)\n`);
});

test("a damaged ModelKit is left out with a warning naming it and how to remove it; the others are listed", async () => {
  const home = tempDir();
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  await packKit(home, { Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: other\ncode:\n  - path: src\n", "src/a.py": "1\n" }, { tag: "other:v1" });
  const config = "43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00";
  rmSync(path.join(home, "storage", "blobs", "sha256", config));
  const r = await list(home);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("other ");
  expect(r.stdout).not.toContain(APPENDIX_A_DIGEST);
  expect(r.stderr).toBe(
    `[WARN ] Skipping ModelKit example@${APPENDIX_A_DIGEST}, which cannot be read: sha256:${config}: application/vnd.kitops.modelkit.config.v1+json: not found\n` +
      `[WARN ] Remove it with: kit remove example@${APPENDIX_A_DIGEST}\n`,
  );
  // and the hinted command works
  expect((await runInProcess(["remove", `example@${APPENDIX_A_DIGEST}`], { env: { KITOPS_HOME: home } })).code).toBe(0);
  expect((await list(home)).stderr).toBe("");
});

test("an unreadable repository index is skipped with a warning; the other repositories are listed", async () => {
  const home = tempDir();
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  await packKit(home, { Kitfile: "manifestVersion: 1.0.0\ncode:\n  - path: src\n", "src/a.py": "1\n" }, { tag: "other:v1" });
  const storage = path.join(home, "storage");
  const index = readdirSync(storage).find((n) => n.endsWith("-index.json") && Buffer.from(n.slice(0, -"-index.json".length), "base64url").toString() === "localhost/example")!;
  writeFileSync(path.join(storage, index), "{broken");
  const r = await list(home);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("other ");
  expect(r.stderr).toStartWith("[WARN ] Skipping repository example: ");
});

test("REPOSITORY argument errors (listing a registry: test/cli/remote-commands.test.ts, test/integration/remote-commands.test.ts)", async () => {
  const home = tempDir();
  expect((await list(home, "reg.io/a:x,y")).stderr).toBe("[ERROR] Invalid arguments: repository cannot reference multiple tags\n");
  expect((await list(home, "Bad")).stderr).toBe("[ERROR] Invalid arguments: invalid reference: repository (Bad) name must be lowercase\n");
  expect((await list(home, "a", "b")).stderr).toStartWith("Error: accepts at most 1 arg(s), received 2\n");
  // A layout argument that does not parse is said once to be invalid.
  expect((await list(home, "oci:")).stderr).toStartWith(`[ERROR] Invalid arguments: invalid oci: reference "oci:": the path is empty\n`);
});

test("tabwrite matches Go's text/tabwriter column blocks", () => {
  // A line with fewer cells ends the column block; widths count code points.
  expect(tabwrite("a\tbb\tc\nééé\td\te\nsingle\nx\ty\n", 0, 3)).toBe("a     bb   c\nééé   d    e\nsingle\nx   y\n");
  expect(tabwrite("h1\th2\n", 0, 3)).toBe("h1   h2\n");
  expect(formatListTable([])).toBe("REPOSITORY   TAG   MAINTAINER   NAME   SIZE   DIGEST\n");
});

test("template errors report Go's line:column (bytes within the line)", () => {
  const t = parseListTemplate("é{{ .Repo }}\n  {{index   .Tags 3}}");
  const info = { repo: "r", digest: "d", tags: ["a"], modelName: "n", size: "1 B", author: "x" };
  expect(() => executeListTemplate(t, info)).toThrow('template: list:2:4: executing "list" at <index .Tags 3>: error calling index: index out of range: 3');
  expect(() => executeListTemplate(parseListTemplate("éé {{ .Nope }}"), info)).toThrow('template: list:1:8: executing "list" at <.Nope>');
});
