/**
 * The remote forms of the management commands — `list REPOSITORY`, `info -r`, `inspect -r`,
 * `remove -r`, `diff` with remote references — run in process against a real registry (Debian's
 * docker-registry, CNCF distribution 2.8) with no auth and with token auth. ModelKits are packed
 * into one kit home and pushed with `kit push`; the remote commands run from another, empty home,
 * so nothing can come from local storage.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { descriptorFromBytes, type Descriptor } from "../../src/oci/descriptor.ts";
import { OCI_INDEX, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { openSession } from "../../src/registry/remote.ts";
import { bytesStream } from "../../src/store/target.ts";
import { APPENDIX_A_DIGEST, APPENDIX_A_FILES, packKit } from "../cli/modelkit-fixtures.ts";
import { kitEnv } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const TIMEOUT = 60_000;
const ready = hasDockerRegistry();

const env = () => kitEnv("kit-remote-cmd-");

const enc = (s: string) => new TextEncoder().encode(s);

/**
 * Pushes artifacts that are not ModelKits with the registry client: an image manifest with an
 * ordinary image config (tag `image`) and an OCI index pointing to it (tag `index`).
 */
async function pushNonModelKits(reg: TestRegistry, repository: string, home: string): Promise<{ image: Descriptor; index: Descriptor }> {
  const session = await openSession(
    { plainHttp: true, tlsVerify: true, tlsCerts: [], clientCert: "", clientKey: "", proxy: "", concurrency: 2 },
    { home, env: {}, version: "test" },
  );
  const repo = session.repository(reg.host, repository, { actions: ["pull", "push"] });
  const config = enc('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const configDesc = descriptorFromBytes("application/vnd.oci.image.config.v1+json", config);
  await repo.push(configDesc, bytesStream(config));
  const manifest = enc(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers: [] }));
  const image = descriptorFromBytes(OCI_MANIFEST, manifest);
  await repo.pushManifest(image, manifest, "image");
  const indexBytes = enc(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...image, platform: { architecture: "amd64", os: "linux" } }] }));
  const index = descriptorFromBytes(OCI_INDEX, indexBytes);
  await repo.pushManifest(index, indexBytes, "index");
  return { image, index };
}

/** The first `<word> sha256:...` in `out`. */
function digestAfter(out: string, word: string): string {
  const m = new RegExp(`${word} (sha256:[0-9a-f]{64})`).exec(out);
  if (!m) throw new Error(`no "${word} <digest>" in:\n${out}`);
  return m[1]!;
}

const KIT_B = {
  Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: second\n  authors: [Ann, Bob]\ncode:\n  - path: src\ndatasets:\n  - name: train\n    path: train.csv\n",
  "src/main.py": "print('hi')\n",
  "train.csv": "a,b\n1,2\n",
};
const KIT_C = { Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: third\ndocs:\n  - path: README.md\n", "README.md": "# third\n" };

describe.skipIf(!ready)("remote management commands against a real registry (no auth)", () => {
  let reg: TestRegistry;
  const publisher = env();
  let repoRef = "";
  let digestB = "";
  let digestC = "";

  beforeAll(async () => {
    reg = await startRegistry("none");
    repoRef = `${reg.host}/org/model`;
    // A: tags v1 and v2 (one manifest); B: v3 and latest; C: c1. Pushed tag by tag.
    expect(await packKit(publisher.home, APPENDIX_A_FILES, { tag: `${repoRef}:v1,v2`, shape: "v1.7" })).toBe(APPENDIX_A_DIGEST);
    digestB = await packKit(publisher.home, KIT_B, { tag: `${repoRef}:v3,latest` });
    digestC = await packKit(publisher.home, KIT_C, { tag: `${repoRef}:c1` });
    for (const tag of ["v1", "v2", "v3", "latest", "c1"]) {
      const r = await publisher.run(["push", `${repoRef}:${tag}`, "--plain-http"]);
      expect([tag, r.stderr, r.code]).toEqual([tag, "", 0]);
    }
    await pushNonModelKits(reg, "org/model", publisher.home);
  }, TIMEOUT);
  afterAll(async () => {
    await reg?.stop();
  });

  test("list REPOSITORY shows every tag, grouped and ordered like the local listing; other artifacts are skipped", async () => {
    const reader = env();
    const remote = await reader.run(["list", repoRef, "--plain-http", "--format", "json"]);
    expect(remote.stderr).toBe("");
    expect(remote.code).toBe(0);
    // The publisher's local listing of the same kits, with the repository path as repo.
    const local = await publisher.run(["list", "--format", "json"]);
    const expected = (JSON.parse(local.stdout) as Array<{ repo: string }>).map((e) => ({ ...e, repo: "org/model" }));
    expect(expected.length).toBe(3);
    expect(JSON.parse(remote.stdout)).toEqual(expected);

    const rows = [
      [APPENDIX_A_DIGEST, "v1", "<none>", "example", "2.0 KiB"],
      [APPENDIX_A_DIGEST, "v2", "<none>", "example", "2.0 KiB"],
      [digestB, "latest", "Ann   ", "second ", "4.5 KiB"],
      [digestB, "v3", "Ann   ", "second ", "4.5 KiB"],
      [digestC, "c1", "<none>", "third  ", "2.0 KiB"],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
    const table = await reader.run(["list", repoRef, "--plain-http"]);
    expect(table).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "REPOSITORY   TAG      MAINTAINER   NAME      SIZE      DIGEST\n" +
        rows.map(([d, tag, who, name, size]) => `org/model    ${tag!.padEnd(6)}   ${who}       ${name}   ${size}   ${d}\n`).join(""),
    });

    // -v: the skipped artifacts are named in debug lines.
    const verbose = await reader.run(["list", repoRef, "--plain-http", "-v", "--format", "{{ .Digest }}"]);
    expect(verbose.code).toBe(0);
    const debug = verbose.stdout.split("\n").filter((l) => l.startsWith("[DEBUG] Skipping"));
    // (Manifests are read concurrently: the lines come in any order.)
    expect(debug.map((l) => l.replace(/sha256:[0-9a-f]{64}/, "<d>")).sort()).toEqual([
      `[DEBUG] Skipping <d> in ${repoRef} (tags image): not a ModelKit (reference exists but is not a modelkit)`,
      `[DEBUG] Skipping <d> in ${repoRef} (tags index): not a ModelKit (media type ${OCI_INDEX})`,
    ].sort());
    // Nothing was stored in the reader's home.
    expect(existsSync(path.join(reader.home, "storage", "blobs")) ? readdirSync(path.join(reader.home, "storage", "blobs", "sha256")) : []).toEqual([]);
  }, TIMEOUT);

  test("list REPOSITORY:TAG and @DIGEST show that reference only; --filter applies", async () => {
    const reader = env();
    const one = await reader.run(["list", `${repoRef}:v3`, "--plain-http", "--format", "{{ .Repo }} {{ .Tags }} {{ .Digest }}"]);
    expect(one).toEqual({ code: 0, stderr: "", stdout: `org/model [v3] ${digestB}\n` });
    const byDigest = await reader.run(["list", `${repoRef}@${digestC}`, "--plain-http", "--format", "json"]);
    expect(JSON.parse(byDigest.stdout)).toEqual([{ repo: "org/model", digest: digestC, tags: null, modelName: "third", size: "2.0 KiB", author: "<none>" }]);
    const image = await reader.run(["list", `${repoRef}:image`, "--plain-http", "--format", "json"]);
    expect(image).toEqual({ code: 0, stderr: "", stdout: "[]\n" });
    const filtered = await reader.run(["list", repoRef, "--plain-http", "--filter", "datasets", "--format", "{{ .Tags }}"]);
    expect(filtered).toEqual({ code: 0, stderr: "", stdout: "[latest v3]\n" });
  }, TIMEOUT);

  test("list errors: unknown repository and tag, --plain-http missing", async () => {
    const reader = env();
    expect(await reader.run(["list", `${reg.host}/org/nothing`, "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `[ERROR] Repository ${reg.host}/org/nothing not found: name_unknown: repository name not known to registry\n`,
    });
    expect(await reader.run(["list", `${repoRef}:nope`, "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Failed to resolve reference nope: not found\n",
    });
    const tls = await reader.run(["list", repoRef]);
    expect(tls.code).toBe(1);
    expect(tls.stderr).toBe(`[ERROR] Failed to list tags on repository ${repoRef}: could not connect to ${reg.host}: TLS handshake failed\n`);
    expect(tls.stdout).toBe("If the registry serves plain HTTP, use --plain-http; if it requires a client certificate, use --cert and --key\n");
  }, TIMEOUT);

  test("info -r and inspect -r print exactly what the local commands print for the same kit", async () => {
    const reader = env();
    for (const tag of ["v1", "v3", "c1"]) {
      for (const cmd of [["info"], ["inspect"], ["info", "--filter", ".package.name"]]) {
        const local = await publisher.run([...cmd, `${repoRef}:${tag}`]);
        const remote = await reader.run([...cmd, "-r", `${repoRef}:${tag}`, "--plain-http"]);
        expect(local.code).toBe(0);
        expect(remote).toEqual(local);
      }
    }
    const byDigest = await reader.run(["inspect", "--remote", `${repoRef}@${digestB}`, "--plain-http"]);
    expect(byDigest).toEqual(await publisher.run(["inspect", `${repoRef}@${digestB}`]));
    expect(existsSync(path.join(reader.home, "storage", "blobs"))).toBe(false);
  }, TIMEOUT);

  test("info -r and inspect -r errors: not found, not a ModelKit, no registry", async () => {
    const reader = env();
    for (const cmd of ["info", "inspect"]) {
      expect(await reader.run([cmd, "-r", `${repoRef}:nope`, "--plain-http"])).toEqual({ code: 1, stdout: "", stderr: `[ERROR] Could not find modelkit ${repoRef}:nope\n` });
      expect(await reader.run([cmd, "-r", `${reg.host}/org/unknown:v1`, "--plain-http"])).toEqual({
        code: 1,
        stdout: "",
        stderr: `[ERROR] Could not find modelkit ${reg.host}/org/unknown:v1\n`,
      });
      for (const tag of ["image", "index"]) {
        expect(await reader.run([cmd, "-r", `${repoRef}:${tag}`, "--plain-http"])).toEqual({
          code: 1,
          stdout: "",
          stderr: "[ERROR] Error resolving modelkit: reference exists but is not a modelkit\n",
        });
      }
      expect(await reader.run([cmd, "-r", "org/model:v1"])).toEqual({
        code: 1,
        stdout: "",
        stderr: "[ERROR] Invalid arguments: can not check remote: org/model:v1 does not contain registry\n",
      });
      expect(await reader.run([cmd, "-r", `${repoRef}:v1`, "--plain-http", "--concurrency", "0"])).toEqual({
        code: 1,
        stdout: "",
        stderr: "[ERROR] Invalid arguments: invalid argument for concurrency (0): must be at least 1\n",
      });
    }
  }, TIMEOUT);

  test("diff: remote://, local://, no prefix (local first, then the registry)", async () => {
    const reader = env();
    // Identical: the publisher's local copy against the registry's.
    expect(await publisher.run(["diff", `local://${repoRef}:v1`, `remote://${repoRef}:v2`, "--plain-http"])).toEqual({
      code: 0,
      stderr: "",
      stdout: "ModelKits are identical\n",
    });
    // The same comparison read locally by the publisher and remotely by the reader.
    const local = await publisher.run(["diff", `local://${repoRef}:v1`, `local://${repoRef}:v3`]);
    expect(local.code).toBe(0);
    expect(local.stdout).toStartWith(`Comparing:\n  ModelKit1: ${repoRef}:v1\n  ModelKit2: ${repoRef}:v3\n\n`);
    expect(await reader.run(["diff", `remote://${repoRef}:v1`, `remote://${repoRef}:v3`, "--plain-http"])).toEqual(local);
    // No prefix: the reader has nothing locally, so both come from the registry.
    expect(await reader.run(["diff", `${repoRef}:v1`, `${repoRef}:v3`, "--plain-http"])).toEqual(local);
    // Mixed: a kit only the reader has locally against one only in the registry.
    await packKit(reader.home, APPENDIX_A_FILES, { tag: "mine:v1", shape: "v1.7" });
    expect(await reader.run(["diff", "localhost/mine:v1", `${repoRef}:v1`, "--plain-http"])).toEqual({ code: 0, stderr: "", stdout: "ModelKits are identical\n" });
    // local:// never asks the registry; remote:// never reads local storage.
    expect(await reader.run(["diff", `local://${repoRef}:v1`, "localhost/mine:v1", "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Failed to get manifest for ModelKit1: v1: not found\n",
    });
    expect(await reader.run(["diff", "localhost/mine:v1", `remote://${reg.host}/mine:v1`, "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Failed to get manifest for ModelKit2: v1: not found\n",
    });
    // Neither place has it.
    expect(await reader.run(["diff", "localhost/mine:v1", `${repoRef}:nope`, "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `[ERROR] Failed to get manifest for ModelKit2: ${repoRef}:nope not found in local storage, and reading it from its registry failed: nope: not found\n`,
    });
    expect(await reader.run(["diff", "localhost/mine:v1", `remote://${repoRef}:image`, "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Failed to get manifest for ModelKit2: reference exists but is not a modelkit\n",
    });
  }, TIMEOUT);
});

describe.skipIf(!ready)("remove --remote against a real registry (no auth)", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry("none");
  });
  afterAll(async () => {
    await reg?.stop();
  });

  async function publish(repository: string, tags: string[]) {
    const e = env();
    const ref = `${reg.host}/${repository}`;
    const digest = await packKit(e.home, APPENDIX_A_FILES, { tag: `${ref}:${tags.join(",")}`, shape: "v1.7" });
    for (const t of tags) expect((await e.run(["push", `${ref}:${t}`, "--plain-http"])).code).toBe(0);
    return { ref, digest };
  }
  const tagsOf = async (ref: string) => {
    const r = await env().run(["list", ref, "--plain-http", "--format", "{{ .Tags }}"]);
    return r.stdout;
  };

  test("a tag whose manifest carries other tags: distribution 2.8 cannot untag, so the command refuses and names them", async () => {
    const { ref, digest } = await publish("rm/tag", ["a", "b", "c"]);
    const e = env(); // another manifest in the repository, whose tag must not count
    await packKit(e.home, KIT_C, { tag: `${ref}:z` });
    expect((await e.run(["push", `${ref}:z`, "--plain-http"])).code).toBe(0);
    const r = await env().run(["remove", "-r", `${ref}:a`, "--plain-http"]);
    expect(r).toEqual({
      code: 1,
      stdout: `Untagging remote ModelKit ${ref}:a\nUse --force to delete the ModelKit with every tag that refers to it\n`,
      stderr: `[ERROR] Failed to untag ModelKit in remote: registry ${reg.host} cannot remove a tag on its own, and deleting ${digest} would also remove the tags b, c\n`,
    });
    expect(reg.requests().filter((q) => q.method === "DELETE" && q.path.startsWith("/v2/rm/tag/"))).toEqual([{ method: "DELETE", path: "/v2/rm/tag/manifests/a", status: 400 }]);
    expect((await tagsOf(ref)).trim().split("\n").sort()).toEqual(["[a b c]", "[z]"]);
  }, TIMEOUT);

  test("a tag that is the manifest's only one: deleted by digest as kit v1.7 did, and the output says so", async () => {
    const { ref, digest } = await publish("rm/only", ["solo"]);
    const e = env();
    const otherDigest = await packKit(e.home, KIT_C, { tag: `${ref}:other` });
    expect((await e.run(["push", `${ref}:other`, "--plain-http"])).code).toBe(0);
    expect(await env().run(["remove", "-r", `${ref}:solo`, "--plain-http"])).toEqual({
      code: 0,
      stdout:
        `Untagging remote ModelKit ${ref}:solo\n` +
        `Registry ${reg.host} cannot remove a tag on its own and no other tag refers to ${digest}: deleting the ModelKit instead\n` +
        `Deleting remote ModelKit ${ref}@${digest}\n`,
      stderr: "",
    });
    expect(reg.requests().filter((q) => q.method === "DELETE" && q.path.startsWith("/v2/rm/only/"))).toEqual([
      { method: "DELETE", path: "/v2/rm/only/manifests/solo", status: 400 },
      { method: "DELETE", path: `/v2/rm/only/manifests/${digest}`, status: 202 },
    ]);
    // The other ModelKit in the repository is untouched.
    expect(await env().run(["list", ref, "--plain-http", "--format", "{{ .Tags }} {{ .Digest }}"])).toEqual({ code: 0, stdout: `[other] ${otherDigest}\n`, stderr: "" });
  }, TIMEOUT);

  test("a digest deletes the manifest with every tag", async () => {
    const { ref, digest } = await publish("rm/digest", ["a", "b"]);
    expect(await env().run(["remove", "--remote", `${ref}@${digest}`, "--plain-http"])).toEqual({
      code: 0,
      stdout: `Deleting remote ModelKit ${ref}@${digest}\n`,
      stderr: "",
    });
    expect(reg.requests().filter((r) => r.method === "DELETE" && r.path.startsWith("/v2/rm/digest/"))).toEqual([
      { method: "DELETE", path: `/v2/rm/digest/manifests/${digest}`, status: 202 },
    ]);
    expect(await tagsOf(ref)).toBe("");
    expect(await env().run(["remove", "-r", `${ref}@${digest}`, "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `[ERROR] Model ${ref}@${digest} not found\n`,
    });
  }, TIMEOUT);

  test("--force with a tag deletes by digest; the other tags go too", async () => {
    const { ref, digest } = await publish("rm/force", ["a", "b"]);
    const other = await publish("rm/force", ["keep"]); // same content: same digest
    expect(other.digest).toBe(digest);
    expect(await env().run(["remove", "-r", "-f", `${ref}:a`, "--plain-http"])).toEqual({
      code: 0,
      stdout: `Deleting remote ModelKit ${ref}@${digest}\n`,
      stderr: "",
    });
    expect(await tagsOf(ref)).toBe("");
    expect(await env().run(["remove", "-r", `${ref}:a`, "--plain-http"])).toEqual({ code: 1, stdout: "", stderr: `[ERROR] Model ${ref}:a not found\n` });
  }, TIMEOUT);

  test("argument errors: --all with --remote, no tag", async () => {
    const e = env();
    expect(await e.run(["remove", "--all", "--remote"])).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Invalid arguments: cannot use --all with --remote\n" });
    expect(await e.run(["remove", "-r", `${reg.host}/rm/x:v1`, "--plain-http", "--concurrency", "0"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "[ERROR] Invalid arguments: invalid argument for concurrency (0): must be at least 1\n",
    });
  });
});

describe.skipIf(!ready)("remote management commands with token auth", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry("token");
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test("after login: list, info -r, diff and remove -r --force use pull and delete tokens", async () => {
    const e = env();
    const ref = `${reg.host}/secure/model`;
    expect((await e.run(["login", reg.host, "-u", reg.username, "--password-stdin", "--plain-http"], { stdin: reg.password })).code).toBe(0);
    const digest = await packKit(e.home, APPENDIX_A_FILES, { tag: `${ref}:v1`, shape: "v1.7" });
    const pushed = await e.run(["push", `${ref}:v1`, "--plain-http"]);
    expect(digestAfter(pushed.stdout, "Pushed")).toBe(digest);

    expect(await e.run(["list", ref, "--plain-http", "--format", "{{ .Tags }} {{ .Digest }}"])).toEqual({ code: 0, stderr: "", stdout: `[v1] ${digest}\n` });
    expect(await e.run(["info", "-r", `${ref}:v1`, "--plain-http"])).toEqual({ code: 0, stderr: "", stdout: "manifestVersion: 1.0.0\npackage:\n  name: example\nmodel:\n  path: model.bin\n" });
    expect(await e.run(["diff", `local://${ref}:v1`, `remote://${ref}:v1`, "--plain-http"])).toEqual({ code: 0, stderr: "", stdout: "ModelKits are identical\n" });

    // Anonymous callers get pull only: reading works, deleting is refused.
    const anon = env();
    expect((await anon.run(["list", ref, "--plain-http", "--format", "{{ .Digest }}"])).stdout).toBe(`${digest}\n`);
    const refused = await anon.run(["remove", "-r", "-f", `${ref}:v1`, "--plain-http"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe(`Deleting remote ModelKit ${ref}@${digest}\n${reg.host} needs you to log in: kit login ${reg.host} --plain-http\n`);
    expect(refused.stderr).toStartWith("[ERROR] Failed to remove remote model: ");

    expect(await e.run(["remove", "-r", "-f", `${ref}:v1`, "--plain-http"])).toEqual({ code: 0, stderr: "", stdout: `Deleting remote ModelKit ${ref}@${digest}\n` });
    const asked = reg.tokenServer!.requests.filter((r) => r.user === reg.username).flatMap((r) => r.scopes);
    expect(asked).toContain("repository:secure/model:delete,pull");
    expect(await e.run(["list", ref, "--plain-http"])).toEqual({ code: 0, stderr: "", stdout: "REPOSITORY   TAG   MAINTAINER   NAME   SIZE   DIGEST\n" });
  }, TIMEOUT);
});
