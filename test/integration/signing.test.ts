/**
 * Signed ModelKits end to end with the compiled binary and a real registry (Debian's
 * docker-registry): key generation, sign and verify in local storage and in the registry,
 * signatures carried by push, tampering (a changed payload byte, a signature re-tagged to another
 * digest), --verify-key on pull and unpack refusing before anything is written, attestations.
 * Needs `dist/kit` (`bun scripts/build.ts`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitBinary, runKit, tempDir, type RunResult } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const TIMEOUT = 120_000;
const ready = hasDockerRegistry() && existsSync(kitBinary);
let reg: TestRegistry;

interface Env {
  home: string;
  cwd: string;
  run(args: string[], env?: Record<string, string>): Promise<RunResult>;
}

function makeEnv(): Env {
  const root = tempDir("kit-sign-e2e-");
  const home = path.join(root, "home");
  const cwd = path.join(root, "work");
  mkdirSync(cwd, { recursive: true });
  return {
    home,
    cwd,
    run: (args, env = {}) => runKit(args, { cwd, env: { KITOPS_HOME: home, DOCKER_CONFIG: path.join(root, "docker"), KIT_PASSWORD: "pw", ...env } }),
  };
}

/** Packs a small kit as `ref` (distinct content per `name`); returns its digest. */
async function pack(env: Env, ref: string, name: string): Promise<string> {
  const dir = path.join(env.cwd, `ctx-${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "Kitfile"), `manifestVersion: 1.0.0\npackage:\n  name: ${name}\nmodel:\n  path: model.bin\n`);
  writeFileSync(path.join(dir, "model.bin"), `weights of ${name}\n`.repeat(100));
  const r = await env.run(["pack", dir, "-t", ref]);
  expect(r.code).toBe(0);
  return /Model saved: (sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
}

const hex = (d: string) => d.slice("sha256:".length);

/** The registry's HTTP API, for what kit must not do itself (tampering). */
async function api(method: string, p: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(p.startsWith("http") ? p : `${reg.url}/v2/${p}`, { method, body: body as Uint8Array<ArrayBuffer> | undefined, headers });
}

async function getManifest(repo: string, ref: string): Promise<Record<string, any>> {
  const res = await api("GET", `${repo}/manifests/${ref}`, undefined, { accept: "application/vnd.oci.image.manifest.v1+json" });
  expect(res.status).toBe(200);
  return res.json();
}

async function putManifest(repo: string, ref: string, m: unknown): Promise<void> {
  const res = await api("PUT", `${repo}/manifests/${ref}`, new TextEncoder().encode(JSON.stringify(m)), { "content-type": "application/vnd.oci.image.manifest.v1+json" });
  expect(res.status).toBe(201);
}

async function putBlob(repo: string, data: Uint8Array): Promise<string> {
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  const start = await api("POST", `${repo}/blobs/uploads/`);
  expect(start.status).toBe(202);
  const loc = new URL(start.headers.get("location")!, reg.url);
  loc.searchParams.set("digest", digest);
  const res = await api("PUT", loc.toString(), data, { "content-type": "application/octet-stream" });
  expect(res.status).toBe(201);
  return digest;
}

function blobCount(home: string): number {
  const d = path.join(home, "storage", "blobs", "sha256");
  return existsSync(d) ? readdirSync(d).length : 0;
}

describe.skipIf(!ready)("signed ModelKits against a real registry", () => {
  beforeAll(async () => {
    reg = await startRegistry("none");
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  test("key generate → sign in local storage → push carries it → verify in the registry; a second key signs there", async () => {
    const env = makeEnv();
    const gen = await env.run(["key", "generate"]);
    expect(gen).toEqual({ code: 0, stdout: "Private key written to cosign.key\nPublic key written to cosign.pub\n", stderr: "" });
    expect(statSync(path.join(env.cwd, "cosign.key")).mode & 0o777).toBe(0o600);
    expect((await env.run(["key", "generate"])).stderr).toBe("[ERROR] Key file cosign.key already exists\n");
    expect((await env.run(["key", "generate", "--output-key-prefix", "second"])).code).toBe(0);

    const ref = `${reg.host}/sign/model:v1`;
    const digest = await pack(env, ref, "model");
    const sign = await env.run(["sign", ref, "--key", "cosign.key", "-a", "stage=prod"]);
    expect(sign.stderr).toBe("");
    expect(sign.stdout).toBe(`Signed ${ref} (${digest}) in local storage: signature stored under sha256-${hex(digest)}.sig\n`);
    const local = await env.run(["verify", ref, "--key", "cosign.pub", "-a", "stage=prod"]);
    expect(local.code).toBe(0);
    expect(local.stdout).toStartWith(`Verified ${ref} (${digest}) in local storage:\n  signed for ${reg.host}/sign/model by cosign.pub (sha256:`);

    expect((await env.run(["push", ref, "--plain-http"])).code).toBe(0);
    expect((await env.run(["remove", ref])).code).toBe(0);
    const remote = await env.run(["verify", ref, "--key", "cosign.pub", "--plain-http"]);
    expect(remote.stderr).toBe("");
    expect(remote.stdout).toContain(`Verified ${ref} (${digest}) in ${reg.host}:\n`);

    // Signing in the registry appends a second signature layer.
    const second = await env.run(["sign", ref, "--key", "second.key", "--plain-http"]);
    expect(second.stdout).toContain(`in ${reg.host}: signature stored under sha256-${hex(digest)}.sig`);
    const sig = await getManifest("sign/model", `sha256-${hex(digest)}.sig`);
    expect(sig.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      "application/vnd.dev.cosign.simplesigning.v1+json",
      "application/vnd.dev.cosign.simplesigning.v1+json",
    ]);
    const both = await env.run(["verify", ref, "--key", "second.pub", "--key", "cosign.pub", "--plain-http"]);
    expect(both.stdout.match(/signed for /g)).toHaveLength(2);

    // The wrong key: exit 1 with the reason.
    const wrong = await env.run(["key", "generate", "--output-key-prefix", "wrong"]);
    expect(wrong.code).toBe(0);
    const bad = await env.run(["verify", ref, "--key", "wrong.pub", "--plain-http"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`No valid signature for ${reg.host}/sign/model@${digest}: signature 1 of 2`);
    expect(bad.stderr).toContain("does not verify with wrong.pub");
  }, TIMEOUT);

  test("unsigned, a changed payload byte, a signature re-tagged to another digest", async () => {
    const env = makeEnv();
    expect((await env.run(["key", "generate"])).code).toBe(0);
    const a = `${reg.host}/tamper/model:a`;
    const b = `${reg.host}/tamper/model:b`;
    const da = await pack(env, a, "a");
    const db = await pack(env, b, "b");
    for (const r of [a, b]) expect((await env.run(["push", r, "--plain-http"])).code).toBe(0);
    for (const r of [a, b]) expect((await env.run(["remove", r])).code).toBe(0);

    const unsigned = await env.run(["verify", a, "--key", "cosign.pub", "--plain-http"]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain(`${reg.host}/tamper/model@${da} is not signed: no signatures (tag sha256-${hex(da)}.sig)`);

    expect((await env.run(["sign", a, "--key", "cosign.key", "--plain-http"])).code).toBe(0);
    expect((await env.run(["verify", a, "--key", "cosign.pub", "--plain-http"])).code).toBe(0);

    // Re-tag A's signature manifest as B's.
    const sigA = await getManifest("tamper/model", `sha256-${hex(da)}.sig`);
    await putManifest("tamper/model", `sha256-${hex(db)}.sig`, sigA);
    const retagged = await env.run(["verify", b, "--key", "cosign.pub", "--plain-http"]);
    expect(retagged.code).toBe(1);
    expect(retagged.stderr).toContain(`it signs ${da}, not ${db}`);

    // One changed byte of A's payload, under the same signature annotation.
    const layer = sigA.layers[0];
    const payload = new Uint8Array(await (await api("GET", `tamper/model/blobs/${layer.digest}`)).arrayBuffer());
    const changed = Uint8Array.from(payload);
    changed[changed.length - 2] = changed[changed.length - 2] === 0x6c ? 0x4c : 0x6c; // in "null" / the closing object
    const digest = await putBlob("tamper/model", changed);
    await putManifest("tamper/model", `sha256-${hex(da)}.sig`, { ...sigA, layers: [{ ...layer, digest, size: changed.length }] });
    const tampered = await env.run(["verify", a, "--key", "cosign.pub", "--plain-http"]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain("the signature does not verify with cosign.pub (another key signed it, or the payload or signature was changed)");
  }, TIMEOUT);

  test("--verify-key on pull and unpack: an unsigned or badly signed kit is refused before anything is written", async () => {
    const env = makeEnv();
    expect((await env.run(["key", "generate"])).code).toBe(0);
    expect((await env.run(["key", "generate", "--output-key-prefix", "other"])).code).toBe(0);
    const signed = `${reg.host}/policy/signed:v1`;
    const unsigned = `${reg.host}/policy/unsigned:v1`;
    const ds = await pack(env, signed, "signed");
    await pack(env, unsigned, "unsigned");
    expect((await env.run(["sign", signed, "--key", "cosign.key"])).code).toBe(0);
    for (const r of [signed, unsigned]) expect((await env.run(["push", r, "--plain-http"])).code).toBe(0);

    const consumer = makeEnv();
    const pull = await consumer.run(["pull", unsigned, "--plain-http", "--verify-key", path.join(env.cwd, "cosign.pub")]);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(`refusing ${unsigned}: ${reg.host}/policy/unsigned@sha256:`);
    expect(pull.stderr).toContain("is not signed");
    expect(blobCount(consumer.home)).toBe(0);

    const wrongKey = await consumer.run(["pull", signed, "--plain-http"], { KIT_VERIFY_KEY: path.join(env.cwd, "other.pub") });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain("does not verify with");
    expect(blobCount(consumer.home)).toBe(0);

    const out = path.join(consumer.cwd, "out");
    for (const [ref, key] of [[unsigned, "cosign.pub"], [signed, "other.pub"]] as const) {
      const unpack = await consumer.run(["unpack", ref, "-d", out, "--plain-http", "--verify-key", path.join(env.cwd, key)]);
      expect(unpack.code).toBe(1);
      expect(unpack.stderr).toContain(`refusing ${ref}`);
      expect(existsSync(path.join(out, "model.bin"))).toBe(false);
      expect(existsSync(path.join(out, "Kitfile"))).toBe(false);
    }

    const ok = await consumer.run(["pull", signed, "--plain-http"], { KIT_VERIFY_KEY: `${path.join(env.cwd, "other.pub")},${path.join(env.cwd, "cosign.pub")}` });
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toContain(`Verified signature of ${signed} (${ds}) with `);
    expect(ok.code).toBe(0);
    const unpack = await consumer.run(["unpack", signed, "-d", out, "--plain-http", "--verify-key", path.join(env.cwd, "cosign.pub")]);
    expect(unpack.code).toBe(0);
    expect(existsSync(path.join(out, "model.bin"))).toBe(true);
  }, TIMEOUT);

  test("attest and verify-attestation in the registry", async () => {
    const env = makeEnv();
    expect((await env.run(["key", "generate"])).code).toBe(0);
    const ref = `${reg.host}/attest/model:v1`;
    const digest = await pack(env, ref, "attested");
    expect((await env.run(["push", ref, "--plain-http"])).code).toBe(0);
    writeFileSync(path.join(env.cwd, "provenance.json"), JSON.stringify({ buildDefinition: { buildType: "https://kitops.org/import/v1", externalParameters: {} }, runDetails: { builder: { id: "https://kitops.org" } } }));
    const attest = await env.run(["attest", ref, "--predicate", "provenance.json", "--type", "slsaprovenance1", "--key", "cosign.key", "--plain-http"]);
    expect(attest.stderr).toBe("");
    expect(attest.stdout).toContain(`Attached https://slsa.dev/provenance/v1 attestation to ${ref} (${digest})`);
    // The local copy was pushed, so it is signed there (local storage comes first).
    expect(attest.stdout).toContain("in local storage");
    expect((await env.run(["push", ref, "--plain-http"])).code).toBe(0);
    expect((await env.run(["remove", ref])).code).toBe(0);
    const att = await getManifest("attest/model", `sha256-${hex(digest)}.att`);
    expect(att.layers[0].mediaType).toBe("application/vnd.dsse.envelope.v1+json");
    expect(att.layers[0].annotations.predicateType).toBe("https://slsa.dev/provenance/v1");

    const v = await env.run(["verify-attestation", ref, "--key", "cosign.pub", "--type", "slsaprovenance1", "--plain-http"]);
    expect(v.stderr).toBe("");
    expect(v.stdout).toContain("  https://slsa.dev/provenance/v1, signed by cosign.pub (sha256:");
    const json = await env.run(["verify-attestation", ref, "--key", "cosign.pub", "--output-predicates", "--plain-http"]);
    expect(JSON.parse(json.stdout).subject).toEqual([{ name: `${reg.host}/attest/model`, digest: { sha256: hex(digest) } }]);
    const other = await env.run(["verify-attestation", ref, "--key", "cosign.pub", "--type", "cyclonedx", "--plain-http"]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("predicate type https://slsa.dev/provenance/v1, not https://cyclonedx.org/bom");
  }, TIMEOUT);
});
