import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { encodeRepoName } from "../../src/store/local.ts";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { APPENDIX_A_DIGEST, APPENDIX_A_FILES, blobFiles, packKit, referencedBlobs, storageDir } from "./modelkit-fixtures.ts";

const repoFile = (home: string, repo: string, kind: "index" | "tags") =>
  readFileSync(path.join(storageDir(home), `${encodeRepoName(repo)}-${kind}.json`), "utf8");
const MANIFEST_DESC = `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${APPENDIX_A_DIGEST}","size":409}`;

test("tag within a repository adds a tag", async () => {
  const home = tempDir();
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  const r = await runInProcess(["tag", "example:v1", "example:stable"], { env: { KITOPS_HOME: home } });
  expect(r).toEqual({ code: 0, stdout: "Modelkit localhost/example:v1 tagged as localhost/example:stable\n", stderr: "" });
  expect(repoFile(home, "localhost/example", "tags")).toBe(`{"stable":${MANIFEST_DESC},"v1":${MANIFEST_DESC}}`);
  expect((await runInProcess(["list", "--format", "{{ .Tags }}"], { env: { KITOPS_HOME: home } })).stdout).toBe("[stable v1]\n");
});

test("tag into another repository records the manifest there; no blob is copied", async () => {
  const home = tempDir();
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  const before = blobFiles(home);
  const r = await runInProcess(["tag", "example:v1", "registry.example.com/team/example:1.0,ignored"], { env: { KITOPS_HOME: home } });
  expect(r).toEqual({ code: 0, stdout: "Modelkit localhost/example:v1 tagged as registry.example.com/team/example:1.0\n", stderr: "" });
  expect(repoFile(home, "registry.example.com/team/example", "index")).toBe(`{"schemaVersion":2,"manifests":[${MANIFEST_DESC}]}`);
  expect(repoFile(home, "registry.example.com/team/example", "tags")).toBe(`{"1.0":${MANIFEST_DESC}}`);
  expect(blobFiles(home)).toEqual(before);
  expect(await referencedBlobs(home)).toEqual(before);
  const list = await runInProcess(["list"], { env: { KITOPS_HOME: home } });
  expect(list.stdout).toBe(
    "REPOSITORY                          TAG   MAINTAINER   NAME      SIZE      DIGEST\n" +
      `example                             v1    <none>       example   2.0 KiB   ${APPENDIX_A_DIGEST}\n` +
      `registry.example.com/team/example   1.0   <none>       example   2.0 KiB   ${APPENDIX_A_DIGEST}\n`,
  );
});

test("tag moves an existing tag to the source's manifest", async () => {
  const home = tempDir();
  const a = await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  const b = await packKit(home, { ...APPENDIX_A_FILES, "model.bin": "other" }, { tag: "example:v2", shape: "v1.7" });
  expect((await runInProcess(["tag", "example:v1", "example:v2"], { env: { KITOPS_HOME: home } })).code).toBe(0);
  const rows = (await runInProcess(["list", "--format", "{{ .Digest }} {{ .Tags }}"], { env: { KITOPS_HOME: home } })).stdout;
  expect(rows).toBe([`${a} [v1 v2]`, `${b} []`].sort().join("\n") + "\n");
});

test("tag errors: missing source, bad references, argument count", async () => {
  const home = tempDir();
  const tag = (...args: string[]) => runInProcess(["tag", ...args], { env: { KITOPS_HOME: home } });
  expect(await tag("example:v1", "example:v2")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Failed to tag modelkit: model localhost/example:v1 not found\n" });
  expect(await tag("Example:v1", "example:v2")).toEqual({
    code: 1,
    stdout: "A ModelKit reference is [REGISTRY/]REPOSITORY[:TAG|@DIGEST] in lower case, e.g. registry.example.com/myorg/my-model:v1 or my-model:v1\n",
    stderr: "[ERROR] Invalid arguments: failed to parse reference: repository (Example) name must be lowercase\n",
  });
  expect(await tag("example:v1", "example:-bad")).toEqual({
    code: 1,
    stdout: "A ModelKit reference is [REGISTRY/]REPOSITORY[:TAG|@DIGEST] in lower case, e.g. registry.example.com/myorg/my-model:v1 or my-model:v1\n",
    stderr: '[ERROR] Invalid arguments: failed to parse reference: invalid reference: invalid tag "-bad"\n',
  });
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  expect(await tag("example:v1", `example@sha256:${"0".repeat(64)}`)).toEqual({
    code: 1,
    stdout: "",
    stderr: `[ERROR] Failed to tag modelkit: failed to tag reference localhost/example@sha256:${"0".repeat(64)}: Cannot tag ${APPENDIX_A_DIGEST} as sha256:${"0".repeat(64)}: a digest cannot be used as a tag\n`,
  });
  expect((await tag("example:v1")).stderr).toStartWith("Error: accepts 2 arg(s), received 1\n");
});
