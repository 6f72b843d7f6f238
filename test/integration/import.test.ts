/**
 * kit import with the compiled binary: from the fake Hub (test/helpers/fake-hub.ts: API, a CDN
 * on another port, tokens, faults) and from a local bare git repository. Needs `dist/kit`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startFakeHub, type FakeHub } from "../helpers/fake-hub.ts";
import { hashTree, listTree } from "../helpers/files.ts";
import { kitBinary, runKit, tempDir, type RunResult } from "../helpers/kit.ts";
import { createHash } from "node:crypto";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const pseudo = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * seed + (i >> 9)) % 251);

const nested = {
  "model.safetensors": pseudo(3_000_000, 7),
  "config.json": '{"hidden_size": 16}',
  "tokenizer/tokenizer.json": '{"vocab": {}}',
  "tokenizer/merges.txt": "a b\n",
  "onnx/model.onnx": pseudo(300_000, 3),
  "onnx/quantized/model_q4.onnx": pseudo(100_000, 5),
  "src/infer.py": "print('hi')\n",
  "src/utils/io.py": "# io\n",
  "README.md": "# nested\n",
  ".gitattributes": "*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
};
const visible = Object.keys(nested).filter((p) => !p.startsWith("."));

let hub: FakeHub;
beforeAll(async () => {
  hub = await startFakeHub({ pageSize: 4 });
  hub.addRepo("acme/nested", { files: nested, refs: ["v1"] });
  hub.addRepo("acme/private", { files: { "model.gguf": pseudo(200_000, 11), "README.md": "# private\n" }, private: true });
  hub.allowToken("hf_SECRETtoken123", "acme/private");
});
afterAll(() => hub.close());

function makeEnv() {
  const root = tempDir("kit-import-e2e-");
  const home = path.join(root, "home");
  const run = (args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<RunResult> =>
    runKit([...args, "--progress", "none"], { cwd: root, stdin: opts.stdin, env: { KITOPS_HOME: home, HF_ENDPOINT: hub.endpoint, ...opts.env } });
  return { root, home, run };
}

const tagsOf = (home: string) => readdirSync(path.join(home, "storage")).filter((n) => n.endsWith("-tags.json"));

describe.skipIf(!existsSync(kitBinary))("kit import from the Hub (compiled binary)", () => {
  test("import, unpack: the files are byte-identical; the layers are what kit pack makes of them", async () => {
    const k = makeEnv();
    const r = await k.run(["import", "acme/nested", "--ref", "v1", "-t", "local/nested:v1", "--concurrency", "3"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = path.join(k.root, "out");
    const u = await k.run(["unpack", "local/nested:v1", "-d", out]);
    expect(u.code).toBe(0);
    const want = Object.fromEntries(visible.sort().map((p) => [p, sha(nested[p as keyof typeof nested])]));
    expect(hashTree(out, ["Kitfile"])).toEqual(want);

    // Packing the unpacked files again (modes as import writes them) gives the same layers.
    for (const rel of listTree(out)) chmodSync(path.join(out, rel), statSync(path.join(out, rel)).isDirectory() ? 0o755 : 0o644);
    expect((await k.run(["pack", out, "-t", "local/repacked:v1"])).code).toBe(0);
    const layers = async (ref: string) => JSON.parse((await k.run(["inspect", ref])).stdout).manifest.layers.map((l: { digest: string }) => l.digest);
    expect(await layers("local/repacked:v1")).toEqual(await layers("local/nested:v1"));
  }, 120_000);

  test("a file of 32 MiB or more is hashed on a worker thread in the binary too", async () => {
    const weights = pseudo(33 * 1024 * 1024, 23);
    hub.addRepo("acme/big", { files: { "model.safetensors": weights } });
    const k = makeEnv();
    const r = await k.run(["import", "acme/big", "-t", "local/big:v1", "-v"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[DEBUG] Hashing model.safetensors on a worker thread\n");
    const out = path.join(k.root, "out");
    await k.run(["unpack", "local/big:v1", "-d", out]);
    expect(sha(readFileSync(path.join(out, "model.safetensors")))).toBe(sha(weights));
  }, 120_000);

  test("a connection cut mid-file resumes with Range; an interrupted import continues where it stopped", async () => {
    const k = makeEnv();
    const big = sha(nested["model.safetensors"]);
    hub.addFault({ server: "cdn", path: new RegExp(big), fault: { kind: "cut", afterBytes: 1_000_000 }, times: 1 });
    hub.addFault({ server: "cdn", path: new RegExp(big), fault: { kind: "stall", afterBytes: 1_000_000 }, times: 1 });
    const before = hub.requests.length;
    const child = spawn(kitBinary, ["import", "acme/nested", "-t", "local/resumed:v1", "--progress", "none"], {
      env: { PATH: process.env.PATH, KITOPS_HOME: k.home, HF_ENDPOINT: hub.endpoint },
      stdio: "ignore",
    });
    const closed = new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    await hub.stalled();
    // The other files finish while the big one hangs; then Ctrl-C.
    for (let i = 0; i < 200 && hub.requests.slice(before).filter((q) => q.status === 200 && q.server === "hub").length < 5; i++) await Bun.sleep(25);
    await Bun.sleep(200);
    child.kill("SIGINT");
    expect(await closed).toBe(130);
    expect(tagsOf(k.home)).toEqual([]);
    const firstRun = hub.requests.slice(before);
    const bigRanges = firstRun.filter((q) => q.server === "cdn" && q.path.includes(big)).map((q) => q.range);
    // The cut is resumed at once from the last byte kit received (a closing connection may drop what was still buffered).
    expect(bigRanges).toHaveLength(2);
    expect(bigRanges[0]).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(bigRanges[1]!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(1_000_000);

    const mid = hub.requests.length;
    const again = await k.run(["import", "acme/nested", "-t", "local/resumed:v1"]);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    const second = hub.requests.slice(mid).filter((q) => q.path.includes("/resolve/") || q.server === "cdn");
    // Only the interrupted file is fetched, from where the first run stopped.
    expect(second.filter((q) => q.server === "hub").map((q) => q.path.replace(/^.*\/resolve\/[0-9a-f]+\//, ""))).toEqual(["model.safetensors"]);
    const range = second.find((q) => q.server === "cdn")!.range!;
    expect(Number(/^bytes=(\d+)-$/.exec(range)![1])).toBeGreaterThan(resumedAt);
    const out = path.join(k.root, "out");
    await k.run(["unpack", "local/resumed:v1", "-d", out, "--filter", "model"]);
    expect(sha(readFileSync(path.join(out, "model.safetensors")))).toBe(big);
  }, 120_000);

  test("content that does not match the listing's sha256 is refused and nothing is tagged", async () => {
    const k = makeEnv();
    hub.corrupt("onnx/model.onnx");
    try {
      const r = await k.run(["import", "acme/nested", "-t", "local/bad:v1"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toStartWith("[ERROR] Downloaded file onnx/model.onnx does not match the repository listing: sha256 ");
      expect(tagsOf(k.home)).toEqual([]);
      expect((await k.run(["list"])).stdout.trim().split("\n")).toHaveLength(1);
    } finally {
      hub.corrupt("onnx/model.onnx", false);
    }
  }, 60_000);

  test("a private repository needs a token; the token never shows at -vvv and never reaches the CDN", async () => {
    const k = makeEnv();
    const no = await k.run(["import", "acme/private", "-t", "local/p:1"]);
    expect(no.code).toBe(1);
    expect(no.stderr).toBe(`[ERROR] Repository acme/private not found on ${hub.endpoint}; if it is private, pass a Hugging Face access token with --token or set HF_TOKEN\n`);

    const secret = "hf_SECRETtoken123";
    for (const how of [["--token", secret], []]) {
      const before = hub.requests.length;
      const r = await k.run(["import", "acme/private", "-t", "local/p:1", "-vvv", ...how], { env: how.length ? {} : { HF_TOKEN: secret } });
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(r.stdout + r.stderr).not.toContain("SECRET");
      const seen = hub.requests.slice(before);
      expect(seen.filter((q) => q.server === "hub").every((q) => q.authorization === `Bearer ${secret}`)).toBe(true);
      const cdn = seen.filter((q) => q.server === "cdn");
      expect(cdn.length).toBeGreaterThan(0);
      expect(cdn.map((q) => q.authorization)).toEqual(cdn.map(() => undefined));
    }
  }, 60_000);

  test("KitOps' Python SDK call: kit import REPO --tag T --token X with 'n' on standard input", async () => {
    const k = makeEnv();
    const r = await k.run(["import", "acme/private", "--tag", "sdk/model:v1", "--token", "hf_SECRETtoken123"], { stdin: "n\n" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("Would you like to edit");
    expect(r.stdout).toEndWith("Model is packed as sdk/model:v1\n");
    expect((await k.run(["list"])).stdout).toContain("sdk/model");
  }, 60_000);

  test("--attestation-output: an in-toto statement with SLSA provenance of source, ref, commit and files", async () => {
    const k = makeEnv();
    const file = path.join(k.root, "prov.json");
    const r = await k.run(["import", "acme/nested", "--ref", "v1", "-t", "local/att:v1", "--attestation-output", file]);
    expect(r.code).toBe(0);
    const st = JSON.parse(readFileSync(file, "utf8"));
    const manifest = JSON.parse((await k.run(["inspect", "local/att:v1"])).stdout);
    const digest = (await k.run(["list", "--format", "{{.Digest}}"])).stdout.trim();
    expect(st._type).toBe("https://in-toto.io/Statement/v1");
    expect(st.predicateType).toBe("https://slsa.dev/provenance/v1");
    expect(st.subject).toEqual([{ name: "local/att:v1", digest: { sha256: digest.replace("sha256:", "") } }]);
    const bd = st.predicate.buildDefinition;
    expect(bd.externalParameters.source).toEqual({ uri: `${hub.endpoint}/acme/nested`, digest: { gitCommit: hub.head("acme/nested", "v1") } });
    expect(bd.externalParameters.ref).toBe("v1");
    expect(bd.externalParameters.kitfile.digest.sha256).toBe(manifest.manifest.config.digest.replace("sha256:", ""));
    const deps = Object.fromEntries(bd.resolvedDependencies.map((d: { name: string; digest: { sha256: string } }) => [d.name, d.digest.sha256]));
    expect(deps).toEqual(Object.fromEntries(visible.map((p) => [p, sha(nested[p as keyof typeof nested])])));
    expect(bd.resolvedDependencies[0].uri).toStartWith(`${hub.endpoint}/acme/nested/resolve/${hub.head("acme/nested", "v1")}/`);

    const toStdout = await makeEnv().run(["import", "acme/nested", "-t", "local/att:v2", "--attestation-output", "-", "--log-level", "warn"]);
    expect(JSON.parse(toStdout.stdout).subject[0].name).toBe("local/att:v2");
  }, 60_000);

  test("a repository that changes during the import, 429 with Retry-After, an unknown ref", async () => {
    hub.addRepo("acme/moving", { files: { "model.gguf": pseudo(100_000, 13), "config.json": "{}" } });
    const k = makeEnv();
    hub.onFirstDownload(() => hub.commit("acme/moving", { "model.gguf": pseudo(100_000, 17) }, { dropOld: true }));
    const r = await k.run(["import", "acme/moving", "-t", "local/moving:v1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^\[ERROR\] Repository acme\/moving changed during the import: (model\.gguf|config\.json) is no longer available at that commit \(the listing was made at commit [0-9a-f]{40} for main\)\n$/);
    expect(tagsOf(k.home)).toEqual([]);

    hub.addFault({ server: "hub", path: /\/tree\//, fault: { kind: "status", status: 429, retryAfter: 1 }, times: 1 });
    const t0 = performance.now();
    const ok = await k.run(["import", "acme/moving", "-t", "local/moving:v1"]);
    expect(ok.code).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1000);

    const bad = await k.run(["import", "acme/moving", "--ref", "nope", "-t", "local/moving:v1"]);
    expect(bad.stderr).toBe("[ERROR] Reference 'nope' not found in repository acme/moving\n");
  }, 60_000);
});

describe.skipIf(!existsSync(kitBinary))("kit import from git (compiled binary)", () => {
  let bare = "";
  beforeAll(() => {
    const root = tempDir("kit-import-git-");
    const src = path.join(root, "src");
    mkdirSync(src);
    const git = (...a: string[]) => {
      const r = spawnSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...a], { cwd: src, encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
    };
    git("init", "-q", "-b", "main");
    writeFileSync(path.join(src, "model.gguf"), pseudo(50_000, 19));
    writeFileSync(path.join(src, "README.md"), "# main\n");
    git("add", ".");
    git("commit", "-qm", "main");
    git("checkout", "-qb", "dev");
    writeFileSync(path.join(src, "README.md"), "# dev\n");
    mkdirSync(path.join(src, "data"));
    writeFileSync(path.join(src, "data", "train.csv"), "a,b\n1,2\n");
    git("add", ".");
    git("commit", "-qm", "dev");
    bare = path.join(root, "models", "tiny.git");
    const c = spawnSync("git", ["clone", "-q", "--bare", src, bare]);
    expect(c.status).toBe(0);
  });

  test("a path URL with a non-default --ref: the branch's files, without .git", async () => {
    const k = makeEnv();
    const r = await k.run(["import", bare, "--ref", "dev", "-t", "local/git:dev", "--attestation-output", path.join(k.root, "p.json")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = path.join(k.root, "out");
    expect((await k.run(["unpack", "local/git:dev", "-d", out])).code).toBe(0);
    expect(listTree(out, { dirs: false }).sort()).toEqual(["Kitfile", "README.md", "data/train.csv", "model.gguf"]);
    expect(readFileSync(path.join(out, "README.md"), "utf8")).toBe("# dev\n");
    const st = JSON.parse(readFileSync(path.join(k.root, "p.json"), "utf8"));
    const head = spawnSync("git", ["--git-dir", bare, "rev-parse", "dev"], { encoding: "utf8" }).stdout.trim();
    expect(st.predicate.buildDefinition.externalParameters.source).toEqual({ uri: `git+file://${bare}`, digest: { gitCommit: head } });
    expect(readdirSync(path.join(k.home, "cache", "import"))).toEqual([]);
  }, 60_000);

  test("a file:// URL of the default branch", async () => {
    const k = makeEnv();
    const r = await k.run(["import", `file://${bare}`, "-t", "local/git:main"]);
    expect(r.code).toBe(0);
    const out = path.join(k.root, "out");
    await k.run(["unpack", "local/git:main", "-d", out]);
    expect(readFileSync(path.join(out, "README.md"), "utf8")).toBe("# main\n");
    expect(existsSync(path.join(out, "data"))).toBe(false);
  }, 60_000);

  test("an unknown ref and a missing git are clear errors", async () => {
    const k = makeEnv();
    const r = await k.run(["import", bare, "--ref", "nope", "-t", "local/git:x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(`[ERROR] Cloning nope of file://${bare} failed: `);
    const nogit = await k.run(["import", bare, "-t", "local/git:x"], { env: { PATH: "/nonexistent" } });
    expect(nogit.stderr).toBe("[ERROR] Git was not found: importing a git repository needs git on PATH\n");
  }, 60_000);
});
