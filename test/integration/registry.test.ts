/**
 * The compiled binary against a real registry (Debian's docker-registry, CNCF distribution 2.8)
 * in its three setups — no auth, htpasswd, token auth — plus skopeo as an independent client and a
 * fault-injecting proxy for broken connections and 503s. Needs `dist/kit` (`bun scripts/build.ts`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashTree, sha256File, writeLargeFile } from "../helpers/files.ts";
import { digestFrom, kitBinary, runKit, tempDir, type RunResult } from "../helpers/kit.ts";
import { hasDockerRegistry, hasSkopeo, startRegistry, type RegistryAuth, type TestRegistry } from "../helpers/registry.ts";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.ts";

/** Size of the large layer in the fault tests (MiB); KIT_TEST_LARGE_MB overrides. */
const LARGE_MB = Number(process.env.KIT_TEST_LARGE_MB ?? 256);
const EPOCH = "1700000000";
const TIMEOUT = 240_000;

const ready = hasDockerRegistry() && existsSync(kitBinary);
const registries = new Map<RegistryAuth, TestRegistry>();

function b64(s: string) {
  return Buffer.from(s).toString("base64");
}

interface Env {
  home: string;
  cwd: string;
  run(args: string[], opts?: { stdin?: string; env?: Record<string, string> }): Promise<RunResult>;
}

function makeEnv(): Env {
  const root = tempDir("kit-reg-e2e-");
  const home = path.join(root, "home");
  const cwd = path.join(root, "work");
  mkdirSync(cwd, { recursive: true });
  return {
    home,
    cwd,
    run: (args, opts = {}) =>
      runKit(args, {
        cwd,
        stdin: opts.stdin,
        env: { KITOPS_HOME: home, SOURCE_DATE_EPOCH: EPOCH, DOCKER_CONFIG: path.join(root, "docker"), ...opts.env },
        timeoutMs: 240_000,
      }),
  };
}

/** A small context: a model file, a dataset directory and a README. */
function makeContext(dir: string, name: string) {
  mkdirSync(path.join(dir, "data"), { recursive: true });
  writeFileSync(path.join(dir, "Kitfile"), `manifestVersion: 1.0.0\npackage:\n  name: ${name}\nmodel:\n  path: model.bin\ndatasets:\n  - name: train\n    path: data\ndocs:\n  - path: README.md\n`);
  const model = Buffer.alloc(300_000);
  for (let i = 0; i < model.length; i++) model[i] = (i * 7919 + name.length) & 0xff;
  writeFileSync(path.join(dir, "model.bin"), model);
  writeFileSync(path.join(dir, "data", "a.csv"), "x,y\n1,2\n");
  writeFileSync(path.join(dir, "data", "b.csv"), "x,y\n3,4\n");
  writeFileSync(path.join(dir, "README.md"), `# ${name}\n`);
}


function blobCount(home: string): number {
  const d = path.join(home, "storage", "blobs", "sha256");
  return existsSync(d) ? readdirSync(d).length : 0;
}

async function skopeo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(["skopeo", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

const uploads = (reg: TestRegistry) => reg.requests().filter((r) => r.method === "POST" && r.path.includes("/blobs/uploads/")).length;

describe.skipIf(!ready)("kit against a real registry", () => {
  beforeAll(async () => {
    for (const auth of ["none", "htpasswd", "token"] as const) registries.set(auth, await startRegistry(auth));
  }, 60_000);
  afterAll(async () => {
    for (const r of registries.values()) await r.stop();
  });

  for (const auth of ["none", "htpasswd", "token"] as const) {
    test(`${auth}: pack → push → remove → pull → unpack round trip, re-push uploads nothing`, async () => {
      const reg = registries.get(auth)!;
      const env = makeEnv();
      const ctxDir = path.join(env.cwd, "ctx");
      makeContext(ctxDir, `rt-${auth}`);
      const ref = `${reg.host}/e2e/roundtrip:v1`;

      if (auth !== "none") {
        const login = await env.run(["login", reg.host, "-u", reg.username, "--password-stdin", "--plain-http"], { stdin: reg.password + "\n" });
        expect(login.stderr).toBe("");
        expect(login.stdout).toBe("Log in successful\n");
        expect(login.code).toBe(0);
      }
      const pack = await env.run(["pack", ctxDir, "-t", ref]);
      expect(pack.code).toBe(0);
      const digest = digestFrom(pack.stdout, "Model saved:");

      const push = await env.run(["push", ref, "--plain-http"]);
      expect(push.stderr).toBe("");
      expect(push.stdout).toBe(`Pushing ${ref}\nPushed ${digest}\n`);
      expect(push.code).toBe(0);

      const before = uploads(reg);
      const again = await env.run(["push", ref, "--plain-http"]);
      expect(again.code).toBe(0);
      expect(again.stdout).toBe(`Pushing ${ref}\nPushed ${digest}\n`);
      expect(uploads(reg)).toBe(before);

      expect((await env.run(["remove", ref])).code).toBe(0);
      expect(blobCount(env.home)).toBe(0);
      const pull = await env.run(["pull", ref, "--plain-http"]);
      expect(pull.stderr).toBe("");
      expect(pull.stdout).toBe(`Pulling ${ref}\nPulled ${digest}\n`);
      expect(pull.code).toBe(0);
      const inspect = await env.run(["inspect", ref]);
      expect(JSON.parse(inspect.stdout).digest).toBe(digest);

      const out = path.join(env.cwd, "out");
      const unpack = await env.run(["unpack", ref, "-d", out]);
      expect(unpack.code).toBe(0);
      const want = hashTree(ctxDir);
      const got = hashTree(out);
      for (const f of ["model.bin", "data/a.csv", "data/b.csv", "README.md"]) expect(got[f]).toBe(want[f]!);
      expect(Object.keys(got).sort()).toEqual(["Kitfile", "README.md", "data/a.csv", "data/b.csv", "model.bin"]);

      // Straight from the registry: nothing is stored locally.
      expect((await env.run(["remove", ref])).code).toBe(0);
      const out2 = path.join(env.cwd, "out2");
      const remote = await env.run(["unpack", ref, "-d", out2, "--plain-http"]);
      expect(remote.stderr).toBe("");
      expect(remote.code).toBe(0);
      expect(hashTree(out2)).toEqual(got);
      expect(blobCount(env.home)).toBe(0);
    }, TIMEOUT);
  }

  test("pushing to another repository of the same registry mounts the blobs instead of uploading", async () => {
    const reg = registries.get("none")!;
    const env = makeEnv();
    makeContext(path.join(env.cwd, "ctx"), "mount");
    const src = `${reg.host}/e2e/mount-src:v1`;
    const dst = `${reg.host}/e2e/mount-dst:v1`;
    expect((await env.run(["pack", "ctx", "-t", src])).code).toBe(0);
    expect((await env.run(["push", src, "--plain-http"])).code).toBe(0);
    const before = reg.requests().length;
    const r = await env.run(["push", src, dst, "--plain-http"]);
    expect(r.stdout).toContain(`Pushing ${src} to ${dst}\nPushed sha256:`);
    const after = reg.requests().slice(before);
    const posts = after.filter((q) => q.method === "POST");
    expect(posts.length).toBe(4); // config, three layers
    expect(posts.every((q) => q.path.includes("mount=") && q.status === 201)).toBe(true);
    expect(after.some((q) => q.method === "PUT" && q.path.includes("/blobs/uploads/"))).toBe(false);
  }, TIMEOUT);

  test.skipIf(!hasSkopeo())("skopeo copies what kit pushed with the same digest, and kit pulls what skopeo pushed", async () => {
    const reg = registries.get("token")!;
    const env = makeEnv();
    makeContext(path.join(env.cwd, "ctx"), "skopeo");
    const ref = `${reg.host}/e2e/skopeo:v1`;
    const creds = `${reg.username}:${reg.password}`;
    expect((await env.run(["login", reg.host, "-u", reg.username, "-p", reg.password, "--plain-http"])).code).toBe(0);
    const pack = await env.run(["pack", "ctx", "-t", ref]);
    const digest = digestFrom(pack.stdout, "Model saved:");
    expect((await env.run(["push", ref, "--plain-http"])).code).toBe(0);

    const layout = path.join(env.cwd, "oci-layout");
    // Async: the token server answers from this process, so a blocking spawn would deadlock.
    const copyOut = await skopeo(["copy", "--insecure-policy", "--src-tls-verify=false", "--src-creds", creds, `docker://${ref}`, `oci:${layout}:v1`]);
    expect(copyOut.stderr).toBe("");
    expect(copyOut.code).toBe(0);
    const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8"));
    expect(index.manifests[0].digest).toBe(digest);

    const back = `${reg.host}/e2e/from-skopeo:v2`;
    const copyIn = await skopeo(["copy", "--insecure-policy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout}:v1`, `docker://${back}`]);
    expect(copyIn.stderr).toBe("");
    expect(copyIn.code).toBe(0);
    const pull = await env.run(["pull", back, "--plain-http"]);
    expect(pull.stdout).toBe(`Pulling ${back}\nPulled ${digest}\n`);
    const out = path.join(env.cwd, "out");
    expect((await env.run(["unpack", back, "-d", out])).code).toBe(0);
    expect(hashTree(out)["model.bin"]).toBe(hashTree(path.join(env.cwd, "ctx"))["model.bin"]!);
  }, TIMEOUT);

  test("token auth: a push without credentials is refused with kit's hint; logout removes the credential", async () => {
    const reg = registries.get("token")!;
    const env = makeEnv();
    makeContext(path.join(env.cwd, "ctx"), "anon");
    const ref = `${reg.host}/e2e/anon:v1`;
    expect((await env.run(["pack", "ctx", "-t", ref])).code).toBe(0);
    const r = await env.run(["push", ref, "--plain-http"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to push: got response 401 (Unauthorized) from remote. Ensure the repository exists and you have push access to it.\n");

    expect((await env.run(["login", reg.host, "-u", reg.username, "-p", reg.password, "--plain-http"])).code).toBe(0);
    expect(readFileSync(path.join(env.home, "credentials.json"), "utf8")).toContain(`"${reg.host}"`);
    const out = await env.run(["logout", reg.host]);
    expect(out.stdout).toBe(`Successfully logged out from ${reg.host}\n`);
    expect(JSON.parse(readFileSync(path.join(env.home, "credentials.json"), "utf8"))).toEqual({ auths: {} });
  }, TIMEOUT);

  for (const auth of ["htpasswd", "token"] as const) {
    test(`${auth}: a wrong password fails clearly and stores nothing; a right one is stored 0600 in Docker's format`, async () => {
      const reg = registries.get(auth)!;
      const env = makeEnv();
      const bad = await env.run(["login", reg.host, "-u", reg.username, "--password-stdin", "--plain-http"], { stdin: "wrong-password" });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toBe("");
      expect(bad.stderr).toStartWith(`[ERROR] Failed to validate the credentials for ${reg.host}: `);
      expect(bad.stderr).not.toContain("wrong-password");
      expect(existsSync(path.join(env.home, "credentials.json"))).toBe(false);

      const good = await env.run(["login", reg.host, "-u", reg.username, "-p", reg.password, "--plain-http"]);
      expect(good.stdout).toBe("Warning: Using --password via CLI is insecure. Consider using --password-stdin instead\nLog in successful\n");
      const file = path.join(env.home, "credentials.json");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, "utf8")).toBe(
        `{\n\t"auths": {\n\t\t"${reg.host}": {\n\t\t\t"auth": "${b64(`${reg.username}:${reg.password}`)}"\n\t\t}\n\t}\n}`,
      );
    }, TIMEOUT);
  }

  test("-vvv traces every request and never prints a secret", async () => {
    const secrets = (reg: TestRegistry) => [reg.password, b64(`${reg.username}:${reg.password}`), "Basic ", "Bearer ", "eyJ"];
    for (const auth of ["htpasswd", "token"] as const) {
      const reg = registries.get(auth)!;
      const env = makeEnv();
      makeContext(path.join(env.cwd, "ctx"), `trace-${auth}`);
      const ref = `${reg.host}/e2e/trace:v1`;
      const outputs: string[] = [];
      const login = await env.run(["login", reg.host, "-u", reg.username, "--password-stdin", "--plain-http", "-vvv"], { stdin: reg.password });
      expect(login.code).toBe(0);
      outputs.push(login.stdout + login.stderr);
      expect((await env.run(["pack", "ctx", "-t", ref])).code).toBe(0);
      for (const args of [["push", ref], ["remove", ref], ["pull", ref], ["unpack", ref, "-d", "out"]]) {
        const r = await env.run([...args, "--plain-http", "-vvv"].filter((a) => !(args[0] === "remove" && a === "--plain-http")));
        expect(r.code).toBe(0);
        outputs.push(r.stdout + r.stderr);
      }
      const all = outputs.join("\n");
      expect(all).toContain(`[TRACE] GET http://${reg.host}/v2/ -> 401 -- duration `);
      expect(all).toMatch(new RegExp(`\\[TRACE\\] PUT http://${reg.host.replace(".", "\\.")}/v2/e2e/trace/blobs/uploads/\\S+ -> 201 -- duration \\d+\\.\\d\\d ms`));
      for (const s of secrets(reg)) expect(all).not.toContain(s);
    }
  }, TIMEOUT);

  test("TLS: --tls-cert trusts a private CA, --tls-verify=false skips the check, client certificates from flags or env", async () => {
    const reg = await startRegistry("none", { tls: "mtls" });
    try {
      const f = reg.tlsFiles!;
      const env = makeEnv();
      makeContext(path.join(env.cwd, "ctx"), "tls");
      const ref = `${reg.host}/e2e/tls:v1`;
      const pack = await env.run(["pack", "ctx", "-t", ref]);
      const digest = digestFrom(pack.stdout, "Model saved:");

      const untrusted = await env.run(["push", ref]);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toContain("unable to verify the first certificate");
      expect(untrusted.stdout).toBe(`Pushing ${ref}\nThe registry's certificate is not trusted: pass its CA with --tls-cert <file>, or skip verification with --tls-verify=false\n`);
      const noClientCert = await env.run(["push", ref, "--tls-cert", f.ca]);
      expect(noClientCert.code).toBe(1);
      expect(noClientCert.stderr).toContain("TLS handshake failed");
      const ok = await env.run(["push", ref, "--tls-cert", f.ca, "--cert", f.clientCert, "--key", f.clientKey]);
      expect(ok.stderr).toBe("");
      expect(ok.stdout).toBe(`Pushing ${ref}\nPushed ${digest}\n`);

      expect((await env.run(["remove", ref])).code).toBe(0);
      const pull = await env.run(["pull", ref, "--tls-verify=false", "--cert", "/nonexistent.crt", "--key", "/nonexistent.key"], {
        env: { KITOPS_CLIENT_CERT: f.clientCert, KITOPS_CLIENT_KEY: f.clientKey },
      });
      expect(pull.stderr).toBe("");
      expect(pull.stdout).toBe(`Pulling ${ref}\nPulled ${digest}\n`);
    } finally {
      await reg.stop();
    }
  }, TIMEOUT);

  describe("through a misbehaving connection", () => {
    let proxy: FaultProxy;
    let env: Env;
    let big: string;
    let bigDigest: string;
    let layerDigest: string;
    let modelSha: string;
    beforeAll(async () => {
      const reg = registries.get("none")!;
      proxy = await startFaultProxy({ host: "127.0.0.1", port: reg.port });
      env = makeEnv();
      const ctxDir = path.join(env.cwd, "big");
      mkdirSync(ctxDir);
      writeFileSync(path.join(ctxDir, "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: big\nmodel:\n  path: model.bin\n");
      writeLargeFile(path.join(ctxDir, "model.bin"), LARGE_MB);
      modelSha = sha256File(path.join(ctxDir, "model.bin"));
      big = `${proxy.host}/e2e/big:v1`;
      const pack = await env.run(["pack", ctxDir, "-t", big]);
      expect(pack.code).toBe(0);
      bigDigest = digestFrom(pack.stdout, "Model saved:");
      layerDigest = digestFrom(pack.stdout, "Saved model layer:");
      const push = await env.run(["push", big, "--plain-http"]);
      expect(push.code).toBe(0);
    }, TIMEOUT);
    afterAll(async () => {
      await proxy?.close();
    });

    test("push survives 503s and a connection reset in the middle of the layer upload", async () => {
      proxy.addRule({ method: "POST", path: /\/blobs\/uploads\//, action: { kind: "status", status: 503 }, times: 2 });
      proxy.addRule({ method: "PATCH", action: { kind: "cut", afterBytes: 30 << 20, direction: "up" }, times: 1 });
      proxy.addRule({ method: "PUT", path: /\/manifests\//, action: { kind: "status", status: 503 }, times: 1 });
      // Another name for the same proxy, so the blobs are uploaded rather than mounted from e2e/big.
      const target = `localhost:${proxy.port}/e2e/big-faults:v1`;
      const r = await env.run(["push", big, target, "--plain-http", "-v"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`[INFO ] Pushed ${bigDigest}\n`);
      expect(r.stdout).toContain(`[DEBUG] Upload of ${layerDigest} failed`);
      expect(proxy.pending()).toEqual([]);
      // The registry really has it: pull it back directly (not through the proxy) in a fresh home.
      const check = makeEnv();
      const reg = registries.get("none")!;
      const direct = `${reg.host}/e2e/big-faults:v1`;
      const pull = await check.run(["pull", direct, "--plain-http"]);
      expect(pull.stdout).toBe(`Pulling ${direct}\nPulled ${bigDigest}\n`);
    }, TIMEOUT);

    test("pull survives three cuts during the large layer and downloads < 10% extra", async () => {
      const fresh = makeEnv();
      const layerPath = new RegExp(`/blobs/${layerDigest}$`);
      // One reset (what a dropped link looks like; data in flight is lost) and two clean closes mid-body,
      // early enough in a request to hit whichever of the parallel parts (at least 8 MiB each) comes first.
      const afterBytes = 2 << 20;
      proxy.addRule({ method: "GET", path: layerPath, action: { kind: "cut", afterBytes, mode: "reset" }, times: 1 });
      proxy.addRule({ method: "GET", path: layerPath, action: { kind: "cut", afterBytes, mode: "close" }, times: 2 });
      const before = proxy.requests.length;
      const r = await fresh.run(["pull", big, "--plain-http", "-v"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`[INFO ] Pulled ${bigDigest}\n`);
      expect(r.stdout.match(/Connection lost while downloading/g)?.length).toBe(3);
      const gets = proxy.requests.slice(before).filter((q) => q.method === "GET" && layerPath.test(q.path));
      expect(gets.filter((q) => q.fault === "cut").length).toBe(3);
      const down = gets.reduce((n, q) => n + q.bytesDown, 0);
      expect(down).toBeLessThan(LARGE_MB * 1.1 * (1 << 20));
      const out = path.join(fresh.cwd, "out");
      expect((await fresh.run(["unpack", big, "-d", out])).code).toBe(0);
      expect(sha256File(path.join(out, "model.bin"))).toBe(modelSha);
    }, TIMEOUT);

    test("a pull that fails part-way resumes from the partial file on the next run", async () => {
      const fresh = makeEnv();
      const layerPath = new RegExp(`/blobs/${layerDigest}$`);
      // Early enough to fall into the first request whatever the size of the parts' requests.
      const cutAt = 8 << 20;
      proxy.addRule({ method: "GET", path: layerPath, action: { kind: "cut", afterBytes: cutAt }, times: 1 });
      proxy.addRule({ method: "GET", path: layerPath, action: { kind: "status", status: 404 }, times: 1 });
      const failed = await fresh.run(["pull", big, "--plain-http"]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toStartWith("[ERROR] Failed to pull: ");
      const ingest = path.join(fresh.home, "storage", "ingest", layerDigest.slice(7));
      expect(statSync(ingest).size).toBeGreaterThan(0);
      // What was received: the journal's regions when parts ran in parallel, else the file (a prefix).
      const journal = `${ingest}.regions`;
      const kept = existsSync(journal)
        ? (JSON.parse(readFileSync(journal, "utf8")).regions as number[][]).reduce((n, [a, b]) => n + b! - a!, 0)
        : statSync(ingest).size;
      expect(kept).toBeGreaterThan(0);

      const before = proxy.requests.length;
      const r = await fresh.run(["pull", big, "--plain-http", "-v"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`[DEBUG] Resuming download of ${layerDigest} `);
      const gets = proxy.requests.slice(before).filter((q) => q.method === "GET" && layerPath.test(q.path));
      // Parallel parts cost a little extra: what was in flight past the middle of a part another connection took over.
      expect(gets.reduce((n, q) => n + q.bytesDown, 0)).toBeLessThan(LARGE_MB * (1 << 20) * 1.1 - kept);
      expect(existsSync(ingest)).toBe(false);
      const out = path.join(fresh.cwd, "out");
      expect((await fresh.run(["unpack", big, "-d", out])).code).toBe(0);
      expect(sha256File(path.join(out, "model.bin"))).toBe(modelSha);
    }, TIMEOUT);
  });
});

