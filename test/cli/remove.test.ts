import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { APPENDIX_A_DIGEST, APPENDIX_A_FILES, blobFiles, packKit, referencedBlobs, storageDir } from "./modelkit-fixtures.ts";

const MODEL_LAYER = "e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce";

/**
 * example:v1,v2 (Appendix A), other:latest (same model layer plus docs), and two untagged kits.
 * 3 + 4 + 3 + 3 blobs, the model layer shared: 12 files.
 */
async function store() {
  const home = tempDir();
  const d1 = await packKit(home, APPENDIX_A_FILES, { tag: "example:v1,v2", shape: "v1.7" });
  const d2 = await packKit(home, {
    Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: other\nmodel:\n  path: model.bin\ndocs:\n  - path: README.md\n",
    "model.bin": "hello",
    "README.md": "readme\n",
  }, { tag: "other:latest" });
  const d3 = await packKit(home, { Kitfile: "manifestVersion: 1.0.0\ndocs:\n  - path: a.txt\n", "a.txt": "a" });
  const d4 = await packKit(home, { Kitfile: "manifestVersion: 1.0.0\ndocs:\n  - path: b.txt\n", "b.txt": "b" });
  const remove = (...args: string[]) => runInProcess(["remove", ...args], { env: { KITOPS_HOME: home } });
  const digests = async () => (await runInProcess(["list", "--format", "{{ .Repo }} {{ .Tags }}"], { env: { KITOPS_HOME: home } })).stdout;
  return { home, d1, d2, d3, d4, remove, digests };
}

/** The storage holds exactly the blobs the remaining manifests use. */
async function expectNoGarbage(home: string, count: number) {
  expect(blobFiles(home)).toEqual(await referencedBlobs(home));
  expect(blobFiles(home).length).toBe(count);
}

test("the fixture store: 12 blobs, all referenced", async () => {
  const { home } = await store();
  await expectNoGarbage(home, 12);
});

test("removing one of several tags only untags; the last tag deletes the manifest and its unshared blobs", async () => {
  const { home, d1, remove, digests } = await store();
  expect(await remove("example:v1")).toEqual({ code: 0, stdout: `Removed example:v1 (digest ${d1})\n`, stderr: "" });
  await expectNoGarbage(home, 12);
  expect(await digests()).toBe("<none> []\n<none> []\nexample [v2]\nother [latest]\n");
  expect(await remove("example:v2")).toEqual({ code: 0, stdout: `Removed example:v2 (digest ${d1})\n`, stderr: "" });
  // Manifest and config gone; the model layer stays for other:latest.
  await expectNoGarbage(home, 10);
  expect(blobFiles(home)).toContain(MODEL_LAYER);
  expect(blobFiles(home)).not.toContain(APPENDIX_A_DIGEST.slice(7));
  expect(await digests()).toBe("<none> []\n<none> []\nother [latest]\n");
});

test("removing by digest deletes the manifest with all its tags", async () => {
  const { home, d1, remove, digests } = await store();
  expect(await remove(`example@${d1}`)).toEqual({ code: 0, stdout: `Removed example@${d1} (digest ${d1})\n`, stderr: "" });
  await expectNoGarbage(home, 10);
  expect(await digests()).toBe("<none> []\n<none> []\nother [latest]\n");
});

test("a bare digest removes an untagged kit (it names localhost/_)", async () => {
  const { home, d3, remove } = await store();
  expect(await remove(d3)).toEqual({ code: 0, stdout: `Removed ${d3} (digest ${d3})\n`, stderr: "" });
  await expectNoGarbage(home, 9);
});

test("--force on a tag deletes the manifest although other tags refer to it", async () => {
  const { home, d1, d2, remove, digests } = await store();
  expect(await remove("-f", "example:v2")).toEqual({ code: 0, stdout: `Removed example:v2 (digest ${d1})\n`, stderr: "" });
  await expectNoGarbage(home, 10);
  expect(await remove("other")).toEqual({ code: 0, stdout: `Removed other:latest (digest ${d2})\n`, stderr: "" });
  // Now the shared model layer has no user left either.
  await expectNoGarbage(home, 6);
  expect(blobFiles(home)).not.toContain(MODEL_LAYER);
  expect(await digests()).toBe("<none> []\n<none> []\n");
});

test("extra comma tags are removed one by one; a failed one is reported, the rest done, and the exit code is 1", async () => {
  const { home, d1, remove } = await store();
  expect(await remove("example:v1,zz,v2")).toEqual({
    code: 1,
    stdout: `Removed example:v1 (digest ${d1})\nRemoved example:v2 (digest ${d1})\n`,
    stderr: "[ERROR] Failed to remove tag zz: model example:zz not found\n[ERROR] Could not remove 1 tag: zz\n",
  });
  await expectNoGarbage(home, 10);
});

test("a missing modelkit fails with kit's message", async () => {
  const { remove } = await store();
  expect(await remove("example:nope")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Failed to remove: model example:nope not found\n" });
  expect(await remove("reg.io/x/y:1")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Failed to remove: model reg.io/x/y:1 not found\n" });
});

test("--all removes only untagged modelkits", async () => {
  const { home, d3, d4, remove, digests } = await store();
  expect(await remove("--all")).toEqual({ code: 0, stdout: `Removed @${d3}\nRemoved @${d4}\n`, stderr: "" });
  await expectNoGarbage(home, 6);
  expect(await digests()).toBe("example [v1 v2]\nother [latest]\n");
  const v = await remove("--all", "-v");
  expect(v.code).toBe(0);
  expect(v.stdout).toContain("[DEBUG] Removing all untagged modelkits\n");
  expect(v.stdout).toMatch(/\[DEBUG\] Skipping sha256:[0-9a-f]{64} \(tags: v1, v2\)\n/);
});

test("--all --force removes everything and leaves no blob", async () => {
  const { home, d1, d2, d3, d4, remove } = await store();
  expect(await remove("--all", "--force")).toEqual({
    code: 0,
    stderr: "",
    stdout:
      `Removed @${d3}\nRemoved @${d4}\n` +
      `Untagged example:v1\nUntagged example:v2\nRemoved example@${d1}\n` +
      `Untagged other:latest\nRemoved other@${d2}\n`,
  });
  await expectNoGarbage(home, 0);
  expect(readFileSync(path.join(storageDir(home), "index.json"), "utf8")).toBe(
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}',
  );
  expect((await runInProcess(["list"], { env: { KITOPS_HOME: home } })).stdout).toBe("REPOSITORY   TAG   MAINTAINER   NAME   SIZE   DIGEST\n");
});

test("a manifest in two repositories keeps its blobs until the last repository lets go", async () => {
  const { home, d2, remove } = await store();
  expect((await runInProcess(["tag", "other:latest", "ghcr.io/org/other:1"], { env: { KITOPS_HOME: home } })).code).toBe(0);
  expect(await remove("other:latest")).toEqual({ code: 0, stdout: `Removed other:latest (digest ${d2})\n`, stderr: "" });
  await expectNoGarbage(home, 12);
  expect(await remove("ghcr.io/org/other:1")).toEqual({ code: 0, stdout: `Removed ghcr.io/org/other:1 (digest ${d2})\n`, stderr: "" });
  await expectNoGarbage(home, 9);
});

test("argument rules and --remote", async () => {
  const { remove } = await store();
  const usage = async (args: string[], msg: string) => {
    const r = await remove(...args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toStartWith(`Error: ${msg}\nUsage:\n  kit remove [flags] registry/repository[:tag|@digest]\n`);
  };
  await usage([], "modelkit is required for remove unless --all is specified");
  await usage(["--all", "example:v1"], "modelkit should not be specified when --all flag is used");
  await usage(["a", "b"], "accepts at most 1 arg(s), received 2");
  expect(await remove("--all", "--remote")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Invalid arguments: cannot use --all with --remote\n" });
  expect(await remove("Bad:v1")).toEqual({ code: 1, stdout: "A ModelKit reference is [REGISTRY/]REPOSITORY[:TAG|@DIGEST] in lower case, e.g. registry.example.com/myorg/my-model:v1 or my-model:v1\n", stderr: "[ERROR] Invalid arguments: failed to parse reference: repository (Bad) name must be lowercase\n" });
  // --remote against a registry: test/integration/remote-commands.test.ts and test/cli/remote-commands.test.ts.
});
