/**
 * Air-gapped transfer with the compiled binary (`dist/kit`): a signed ModelKit goes registry →
 * local storage → oci-archive: → a fresh $KITOPS_HOME with no network (`unshare -n`, where it
 * works) → pull, verified with --verify-key → the same `kit list` row and digest → push to a
 * second real registry → unpacked identical. unpack, info, inspect and list straight from the
 * archive and from an oci: directory, offline. Interoperability with skopeo both ways: skopeo
 * copies what kit wrote and keeps the manifest digest; kit unpacks what skopeo wrote.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitBinary, runKit, tempDir, type RunResult } from "../helpers/kit.ts";
import { hasDockerRegistry, hasSkopeo, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const TIMEOUT = 180_000;
const ready = hasDockerRegistry() && hasSkopeo() && existsSync(kitBinary);
/** `unshare -n` gives a process a network namespace of its own: no interfaces but a down loopback. */
const UNSHARE = "/usr/bin/unshare";
const offlineWorks = existsSync(UNSHARE) && spawnSync(UNSHARE, ["-n", "true"]).status === 0;

let regA: TestRegistry;
let regB: TestRegistry;

interface Env {
  home: string;
  cwd: string;
  run(args: string[], env?: Record<string, string>): Promise<RunResult>;
  /** The same, with no network at all (under `unshare -n` where it works). */
  offline(args: string[], env?: Record<string, string>): Promise<RunResult>;
}

function makeEnv(name: string): Env {
  const root = tempDir(`kit-airgap-${name}-`);
  const home = path.join(root, "home");
  const cwd = path.join(root, "work");
  mkdirSync(cwd, { recursive: true });
  const env = (extra: Record<string, string>) => ({ KITOPS_HOME: home, DOCKER_CONFIG: path.join(root, "docker"), KIT_PASSWORD: "pw", ...extra });
  return {
    home,
    cwd,
    run: (args, extra = {}) => runKit(args, { cwd, env: env(extra) }),
    offline: (args, extra = {}) =>
      offlineWorks ? runKit(["-n", kitBinary, ...args], { cwd, env: env(extra), bin: UNSHARE }) : runKit(args, { cwd, env: env(extra) }),
  };
}

const ok = (r: RunResult) => {
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return r;
};

/** Every file under `dir` with its sha256, by relative path. */
function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true }).map(String).sort()) {
    const p = path.join(dir, rel);
    try {
      out[rel] = createHash("sha256").update(readFileSync(p)).digest("hex");
    } catch {
      // a directory
    }
  }
  return out;
}

const LIST_FORMAT = ["--format", "{{ .Repo }}|{{ .Tags }}|{{ .Digest }}|{{ .ModelName }}|{{ .Size }}|{{ .Author }}"];

/** A project with a 3 MiB model, a dataset and docs; returns its directory. */
function project(env: Env): string {
  const dir = path.join(env.cwd, "project");
  mkdirSync(path.join(dir, "data"), { recursive: true });
  writeFileSync(path.join(dir, "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: airgapped\n  authors: [Grace]\nmodel:\n  path: model.gguf\ndatasets:\n  - name: eval\n    path: data\ndocs:\n  - path: README.md\n");
  writeFileSync(path.join(dir, "model.gguf"), randomBytes(3 * 1024 * 1024));
  writeFileSync(path.join(dir, "data", "eval.jsonl"), '{"q":"2+2","a":"4"}\n'.repeat(200));
  writeFileSync(path.join(dir, "README.md"), "# A model for air-gapped servers\n");
  return dir;
}

describe.skipIf(!ready)("air-gapped transfer with oci-archive: and oci:", () => {
  beforeAll(async () => {
    [regA, regB] = await Promise.all([startRegistry("none"), startRegistry("none")]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([regA?.stop(), regB?.stop()]);
  });

  test("registry → local → oci-archive: → offline home → pull (signature verified) → same list row → second registry → unpack identical", async () => {
    const publisher = makeEnv("publisher");
    const ref = `${regA.host}/team/model:v1`;
    ok(await publisher.run(["key", "generate"]));
    const packed = ok(await publisher.run(["pack", project(publisher), "-t", ref]));
    const digest = /Model saved: (sha256:[0-9a-f]{64})/.exec(packed.stdout)![1]!;
    ok(await publisher.run(["sign", ref, "--key", "cosign.key"]));
    ok(await publisher.run(["push", ref, "--plain-http"]));
    const pub = path.join(publisher.cwd, "cosign.pub");

    // The connected side: pull from the registry, write the archive.
    const outside = makeEnv("outside");
    ok(await outside.run(["pull", ref, "--plain-http", "--verify-key", pub]));
    const row = ok(await outside.run(["list", ...LIST_FORMAT])).stdout;
    expect(row).toBe(`${regA.host}/team/model|[v1]|${digest}|airgapped|3.0 MiB|Grace\n`);
    const archive = path.join(outside.cwd, "transfer", "model.tar");
    mkdirSync(path.dirname(archive));
    const wrote = ok(await outside.run(["push", ref, `oci-archive:${archive}`]));
    expect(wrote.stdout).toContain(`Pushed ${digest}`);
    expect(readdirSync(path.dirname(archive))).toEqual(["model.tar"]);

    // The air-gapped side: a fresh home and no network.
    const inside = makeEnv("inside");
    const carried = path.join(inside.cwd, "model.tar");
    writeFileSync(carried, readFileSync(archive));
    if (offlineWorks) {
      // The namespace really has no network: the registry is out of reach.
      const cut = await inside.offline(["pull", ref, "--plain-http"]);
      expect(cut.code).toBe(1);
      expect(cut.stderr).toContain(`could not connect to ${regA.host}`);
    }
    const pulled = ok(await inside.offline(["pull", `oci-archive:${carried}`, "--verify-key", pub]));
    expect(pulled.stdout).toContain(`Verified signature of ${ref} (${digest}) with ${pub}`);
    expect(pulled.stdout).toContain(`Pulled ${digest} as ${ref}`);
    expect(ok(await inside.offline(["list", ...LIST_FORMAT])).stdout).toBe(row);
    ok(await inside.offline(["verify", ref, "--key", pub]));

    // A kit signed by another key is refused on the far side, nothing stored.
    ok(await publisher.run(["key", "generate", "--output-key-prefix", "other"]));
    const refused = await makeEnv("refused").offline(["pull", `oci-archive:${carried}`, "--verify-key", path.join(publisher.cwd, "other.pub")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`refusing ${ref}`);

    // On to the internal registry, signature included.
    const internal = `${regB.host}/mirror/model:v1`;
    ok(await inside.run(["push", ref, internal, "--plain-http"]));
    const sig = await fetch(`${regB.url}/v2/mirror/model/manifests/sha256-${digest.slice(7)}.sig`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    expect(sig.status).toBe(200);
    // Or straight from the archive: no tag given, the archive's tag comes along.
    ok(await inside.run(["push", `oci-archive:${carried}`, `${regB.host}/direct/model`, "--plain-http"]));
    const direct = await fetch(`${regB.url}/v2/direct/model/manifests/v1`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    expect(direct.headers.get("docker-content-digest")).toBe(digest);
    const consumer = makeEnv("consumer");
    const fromB = path.join(consumer.cwd, "from-b");
    ok(await consumer.run(["unpack", internal, "-d", fromB, "--plain-http"]));
    const original = path.join(publisher.cwd, "original");
    ok(await publisher.run(["unpack", ref, "-d", original]));
    expect(treeHashes(fromB)).toEqual(treeHashes(original));
    expect(Object.keys(treeHashes(original))).toEqual(["Kitfile", "README.md", "data/eval.jsonl", "model.gguf"]);

    // Straight from the archive and from a directory, offline, nothing stored.
    const reader = makeEnv("reader");
    const fromArchive = path.join(reader.cwd, "from-archive");
    ok(await reader.offline(["unpack", `oci-archive:${carried}`, "-d", fromArchive, "--verify-key", pub]));
    expect(treeHashes(fromArchive)).toEqual(treeHashes(original));
    const dir = path.join(outside.cwd, "layout");
    ok(await outside.run(["push", ref, `oci:${dir}`]));
    const fromDir = path.join(reader.cwd, "from-dir");
    ok(await reader.offline(["unpack", `oci:${dir}:v1`, "-d", fromDir]));
    expect(treeHashes(fromDir)).toEqual(treeHashes(original));
    for (const loc of [`oci-archive:${carried}`, `oci:${dir}`]) {
      expect(ok(await reader.offline(["list", loc, ...LIST_FORMAT])).stdout).toBe(row);
      expect(ok(await reader.offline(["info", loc, "--filter", "package.name"])).stdout).toBe("airgapped\n");
      expect(JSON.parse(ok(await reader.offline(["inspect", loc])).stdout).digest).toBe(digest);
    }
    expect(existsSync(path.join(reader.home, "storage"))).toBe(false);
  }, TIMEOUT);

  test("skopeo copies what kit wrote (same manifest digest), and kit reads what skopeo wrote", async () => {
    const env = makeEnv("skopeo");
    const local = "skopeo/source:v2";
    const digest = /Model saved: (sha256:[0-9a-f]{64})/.exec(ok(await env.run(["pack", project(env), "-t", local])).stdout)![1]!;
    const archive = path.join(env.cwd, "kit.tar");
    ok(await env.run(["push", local, `oci-archive:${archive}`]));
    const skopeo = (...args: string[]) => {
      const r = spawnSync("skopeo", ["--insecure-policy", ...args], { encoding: "utf8" });
      expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
      return r.stdout;
    };
    skopeo("copy", "--quiet", "--dest-tls-verify=false", `oci-archive:${archive}:v2`, `docker://${regA.host}/interop/model:v2`);
    const head = await fetch(`${regA.url}/v2/interop/model/manifests/v2`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    expect(head.headers.get("docker-content-digest")).toBe(digest);

    const original = path.join(env.cwd, "original");
    ok(await env.run(["unpack", local, "-d", original]));
    const dir = path.join(env.cwd, "skopeo-dir");
    const file = path.join(env.cwd, "skopeo.tar");
    skopeo("copy", "--quiet", "--src-tls-verify=false", `docker://${regA.host}/interop/model:v2`, `oci:${dir}:v2`);
    skopeo("copy", "--quiet", "--src-tls-verify=false", `docker://${regA.host}/interop/model:v2`, `oci-archive:${file}:v2`);
    for (const loc of [`oci:${dir}:v2`, `oci-archive:${file}`]) {
      const out = path.join(env.cwd, `out-${loc.split(":")[0]}`);
      ok(await env.offline(["unpack", loc, "-d", out]));
      expect(treeHashes(out)).toEqual(treeHashes(original));
    }
    // A layout without kit's recorded reference: named after its file and tag.
    const far = makeEnv("skopeo-far");
    expect(ok(await far.offline(["pull", `oci-archive:${file}`])).stdout).toContain(`Pulled ${digest} as skopeo:v2`);
  }, TIMEOUT);
});

