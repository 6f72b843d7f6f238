/**
 * oci: and oci-archive: locations through the commands, in process, on local storage only (the
 * registry, skopeo and unshare -n cases are in test/integration/airgap.test.ts): push into a
 * layout, list, info, inspect, diff and unpack straight from it, pull it into a fresh home under
 * its recorded reference, and the bad-input cases, each leaving nothing stored.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tarOf } from "../helpers/tar.ts";
import { kitEnv, tempDir } from "../helpers/kit.ts";

const KITFILE = (name: string) => `manifestVersion: 1.0.0\npackage:\n  name: ${name}\n  authors: [Ada]\nmodel:\n  path: model.bin\ndatasets:\n  - name: train\n    path: data/train.csv\n`;

type Env = ReturnType<typeof kitEnv>;

/** Packs a small project named `name` as `tag` into `env`'s home; returns the manifest digest. */
async function packInto(env: Env, name: string, tag: string): Promise<string> {
  const dir = path.join(env.root, `project-${name}`);
  mkdirSync(path.join(dir, "data"), { recursive: true });
  writeFileSync(path.join(dir, "Kitfile"), KITFILE(name));
  writeFileSync(path.join(dir, "model.bin"), `weights of ${name}\n`.repeat(1000));
  writeFileSync(path.join(dir, "data", "train.csv"), "a,b\n1,2\n");
  const r = await env.run(["pack", dir, "-t", tag]);
  expect(r.code).toBe(0);
  return /Model saved: (sha256:[0-9a-f]{64})/.exec(r.stdout + r.stderr)![1]!;
}

/** A kit home with `registry.example.com/team/<name>:v1` packed from a small project. */
async function packed(name = "model") {
  const env = kitEnv("kit-airgap-");
  return { ...env, digest: await packInto(env, name, `registry.example.com/team/${name}:v1`) };
}

const output = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;

/** The manifest digest `ref` has in `env`'s local storage. */
const packedDigest = async (env: Env, ref: string) => JSON.parse((await env.run(["inspect", ref])).stdout).digest as string;

const list = async (env: { run: (a: string[]) => Promise<{ stdout: string }> }, ...args: string[]) =>
  (await env.run(["list", ...args, "--format", "{{ .Repo }} {{ .Tags }} {{ .Digest }} {{ .ModelName }} {{ .Size }} {{ .Author }}"])).stdout;

/** Everything under `dir` (names only), for "nothing stored" checks. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

describe("kit push into a layout and back", () => {
  test("oci-archive: carries the kit with its reference; a fresh home pulls it under that reference", async () => {
    const src = await packed();
    const file = path.join(src.root, "m.tar");
    const pushed = await src.run(["push", "registry.example.com/team/model:v1", `oci-archive:${file}`]);
    expect(pushed.code).toBe(0);
    expect(output(pushed)).toContain(`Pushed ${src.digest}`);
    const row = await list(src);
    expect(row).toContain(`registry.example.com/team/model [v1] ${src.digest} model`);
    expect(await list(src, `oci-archive:${file}`)).toBe(row);

    const far = kitEnv("kit-airgap-far-");
    const pulled = await far.run(["pull", `oci-archive:${file}`]);
    expect(pulled.code).toBe(0);
    expect(output(pulled)).toContain(`Pulled ${src.digest} as registry.example.com/team/model:v1`);
    expect(await list(far)).toBe(row);
  });

  test("a local kit comes back under its own name (localhost/<name> is recorded, <name> restored)", async () => {
    const env = kitEnv("kit-airgap-local-");
    const digest = await packInto(env, "mine", "team/mine:v3");
    const file = path.join(env.root, "mine.tar");
    expect((await env.run(["push", "team/mine:v3", `oci-archive:${file}`])).code).toBe(0);
    const row = await list(env);
    expect(row).toBe(`team/mine [v3] ${digest} mine 20.0 KiB Ada\n`);
    expect(await list(env, `oci-archive:${file}`)).toBe(row);
    const far = kitEnv("kit-airgap-far-");
    const pulled = await far.run(["pull", `oci-archive:${file}`]);
    expect(output(pulled)).toContain(`Pulled ${digest} as team/mine:v3`);
    expect(await list(far)).toBe(row);
    expect((await far.run(["inspect", "team/mine:v3"])).code).toBe(0);
  });

  test("one kit pushed under two names lists as two rows, each what pull of it stores; a tag added by another tool goes by the kit's name", async () => {
    const env = kitEnv("kit-airgap-names-");
    const digest = await packInto(env, "same", "mymodel:v1");
    expect((await env.run(["tag", "mymodel:v1", "team/m:v1"])).code).toBe(0);
    const file = path.join(env.root, "b.tar");
    expect((await env.run(["push", "mymodel:v1", `oci-archive:${file}:t1`])).code).toBe(0);
    expect((await env.run(["push", "team/m:v1", `oci-archive:${file}:t2`])).code).toBe(0);
    const rows = (await list(env, `oci-archive:${file}`)).trim().split("\n");
    expect(rows).toEqual([`mymodel [t1] ${digest} same 20.0 KiB Ada`, `team/m [t2] ${digest} same 20.0 KiB Ada`]);
    expect((await list(env, `oci-archive:${file}:t2`)).trim()).toBe(rows[1]!);
    const far = kitEnv("kit-airgap-far-");
    expect(output(await far.run(["pull", `oci-archive:${file}:t2`]))).toContain(`Pulled ${digest} as team/m:v1`);

    // An entry recording no name (a tag skopeo or oras added) goes by the name the kit's entries record.
    const dir = path.join(env.root, "layout");
    expect((await env.run(["push", "team/m:v1", `oci:${dir}`])).code).toBe(0);
    const indexFile = path.join(dir, "index.json");
    const index = JSON.parse(readFileSync(indexFile, "utf8"));
    index.manifests.push({ ...index.manifests[0], annotations: { "org.opencontainers.image.ref.name": "prod" } });
    writeFileSync(indexFile, JSON.stringify(index));
    expect(await list(env, `oci:${dir}`)).toBe(`team/m [prod v1] ${digest} same 20.0 KiB Ada\n`);
    expect(output(await far.run(["pull", `oci:${dir}:prod`]))).toContain(`Pulled ${digest} as team/m:v1`);
  });

  test("an oci: directory holds several kits; without a TAG the source's tag is used; a kit named by tag or digest is read in place", async () => {
    const env = await packed("alpha");
    await packInto(env, "beta", "registry.example.com/team/beta:v2");
    const dir = path.join(env.root, "layout");
    expect((await env.run(["push", "registry.example.com/team/alpha:v1", `oci:${dir}`])).code).toBe(0);
    expect((await env.run(["push", "registry.example.com/team/beta:v2", `oci:${dir}:prod`])).code).toBe(0);
    const index = JSON.parse(readFileSync(path.join(dir, "index.json"), "utf8"));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations)).toEqual([
      { "io.kitops.modelkit.reference": "registry.example.com/team/alpha:v1", "org.opencontainers.image.ref.name": "v1" },
      { "io.kitops.modelkit.reference": "registry.example.com/team/beta:v2", "org.opencontainers.image.ref.name": "prod" },
    ]);
    const rows = (await list(env, `oci:${dir}`)).trim().split("\n");
    expect(rows.map((r) => r.split(" ").slice(0, 2).join(" "))).toEqual(["registry.example.com/team/alpha [v1]", "registry.example.com/team/beta [prod]"]);

    // several kits and no TAG: refused, naming each
    const none = await env.run(["unpack", `oci:${dir}`, "-d", path.join(env.root, "out0")]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`oci:${dir} holds 2 ModelKits; name one with :TAG or @DIGEST: oci:${dir}:v1 (registry.example.com/team/alpha:v1), oci:${dir}:prod (registry.example.com/team/beta:v2)`);
    expect(existsSync(path.join(env.root, "out0"))).toBe(false);

    const out = path.join(env.root, "out");
    expect((await env.run(["unpack", `oci:${dir}:prod`, "-d", out])).code).toBe(0);
    expect(readFileSync(path.join(out, "data", "train.csv"), "utf8")).toBe("a,b\n1,2\n");
    const info = await env.run(["info", `oci:${dir}:v1`, "--filter", ".package.name"]);
    expect(info.stdout.trim()).toBe("alpha");
    const inspect = JSON.parse((await env.run(["inspect", `oci:${dir}:v1`])).stdout);
    expect(inspect.digest).toBe(env.digest);
    expect((await env.run(["inspect", `oci:${dir}@${env.digest}`])).stdout).toContain(env.digest);
    const diff = await env.run(["diff", "local://registry.example.com/team/alpha:v1", `oci:${dir}:v1`]);
    expect(diff.code).toBe(0);
    expect(output(diff)).toContain("ModelKits are identical");
    const same = await env.run(["diff", `oci:${dir}:v1`, `oci:${dir}@${env.digest}`]);
    expect(output(same)).toContain("ModelKits are identical");

    // layout → layout keeps the recorded reference; layout → local under a new name
    const file = path.join(env.root, "beta.tar");
    expect((await env.run(["push", `oci:${dir}:prod`, `oci-archive:${file}`])).code).toBe(0);
    const far = kitEnv("kit-airgap-far-");
    const p = await far.run(["pull", `oci-archive:${file}`]);
    expect(output(p)).toContain("as registry.example.com/team/beta:v2");
    const renamed = await far.run(["pull", `oci-archive:${file}:prod`, "internal/beta:stable"]);
    expect(output(renamed)).toContain("as internal/beta:stable");
    expect(await list(far)).toContain("internal/beta [stable]");
  });

  test("pushing into an existing archive keeps the ModelKits it had", async () => {
    const env = await packed("one");
    await packInto(env, "two", "two:v1");
    const file = path.join(env.root, "both.tar");
    expect((await env.run(["push", "registry.example.com/team/one:v1", `oci-archive:${file}`])).code).toBe(0);
    expect((await env.run(["push", "two:v1", `oci-archive:${file}:second`])).code).toBe(0);
    const rows = await list(env, `oci-archive:${file}`);
    expect(rows).toContain("registry.example.com/team/one [v1]");
    expect(rows.split("\n")).toContain(`two [second] ${await packedDigest(env, "two:v1")} two 19.0 KiB Ada`);
    expect(readdirSync(env.root).filter((n) => n.includes("both.tar"))).toEqual(["both.tar"]);
  });

  test("a layout as pull's DESTINATION is refused with the push that writes one, and nothing is stored", async () => {
    const env = await packed();
    const file = path.join(env.root, "m.tar");
    expect((await env.run(["push", "registry.example.com/team/model:v1", `oci-archive:${file}`])).code).toBe(0);
    const far = kitEnv("kit-airgap-far-");
    const r = await far.run(["pull", `oci-archive:${file}`, "oci:foo"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Invalid arguments: oci:foo is a layout; pull stores into local storage under a name such as team/model:v1\n");
    expect(r.stdout).toContain(`kit push oci-archive:${file} oci:foo`);
    expect(await list(far)).toBe("");
    expect(existsSync(path.join(far.root, "foo"))).toBe(false);
  });

  test("reading a layout never touches local storage", async () => {
    const env = await packed();
    const file = path.join(env.root, "m.tar");
    await env.run(["push", "registry.example.com/team/model:v1", `oci-archive:${file}`]);
    const fresh = kitEnv("kit-airgap-read-");
    for (const args of [["list", `oci-archive:${file}`], ["info", `oci-archive:${file}`], ["inspect", `oci-archive:${file}:v1`], ["unpack", `oci-archive:${file}`, "-d", path.join(fresh.root, "o")]]) {
      const r = await fresh.run(args);
      expect({ args, code: r.code, err: r.stderr }).toMatchObject({ args, code: 0 });
    }
    expect(existsSync(path.join(fresh.home, "storage"))).toBe(false);
  });
});

describe("bad input: a clear error and nothing stored", () => {
  async function pullFails(file: string, arg = `oci-archive:${file}`) {
    const far = kitEnv("kit-airgap-bad-");
    const r = await far.run(["pull", arg]);
    expect(r.code).toBe(1);
    const stored = tree(path.join(far.home, "storage")).filter((n) => n.startsWith("blobs/sha256/") || n.endsWith("-index.json") || n.endsWith("-tags.json"));
    expect(stored.filter((n) => n.endsWith("-index.json") || n.endsWith("-tags.json"))).toEqual([]);
    expect((await list(far)).trim()).toBe("");
    return { ...r, stored };
  }

  async function archive() {
    const env = await packed();
    const file = path.join(env.root, "m.tar");
    await env.run(["push", "registry.example.com/team/model:v1", `oci-archive:${file}`]);
    return { env, file, bytes: readFileSync(file) };
  }

  test("a truncated archive", async () => {
    const { file, bytes } = await archive();
    writeFileSync(file, bytes.subarray(0, bytes.length - 3000));
    const r = await pullFails(file);
    expect(r.stderr).toContain("the archive is truncated or damaged");
    expect(r.stored).toEqual([]);
  });

  test("a blob missing from the archive", async () => {
    const { env, file } = await archive();
    // rewrite the archive without the model layer
    const x = path.join(env.root, "x");
    mkdirSync(x);
    Bun.spawnSync(["tar", "xf", file, "-C", x]);
    const manifest = JSON.parse(readFileSync(path.join(x, "blobs", "sha256", env.digest.slice(7)), "utf8"));
    const layer = manifest.layers[0].digest.slice(7);
    rmSync(path.join(x, "blobs", "sha256", layer));
    Bun.spawnSync(["tar", "cf", file, "-C", x, "oci-layout", "index.json", "blobs"]);
    const r = await pullFails(file);
    expect(r.stderr).toContain(`blob sha256:${layer}`);
    expect(r.stderr).toContain("is missing");
    expect(r.stored).toEqual([]);
  });

  test("a blob with the wrong digest", async () => {
    const { file, bytes } = await archive();
    const at = bytes.indexOf(Buffer.from("weights of model"));
    bytes[at] = "W".charCodeAt(0);
    writeFileSync(file, bytes);
    const r = await pullFails(file);
    expect(r.stderr).toContain("does not match its digest");
  });

  test("a failed push into a new oci: directory leaves no directory; into an existing layout it keeps what was there", async () => {
    const { env, file, bytes } = await archive();
    const at = bytes.indexOf(Buffer.from("weights of model"));
    bytes[at] = "W".charCodeAt(0);
    writeFileSync(file, bytes);
    const fresh = path.join(env.root, "newdir");
    const r = await env.run(["push", `oci-archive:${file}:v1`, `oci:${fresh}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("does not match its digest");
    expect(existsSync(fresh)).toBe(false);
    const kept = path.join(env.root, "kept");
    await packInto(env, "other", "other:v1");
    expect((await env.run(["push", "other:v1", `oci:${kept}`])).code).toBe(0);
    expect((await env.run(["push", `oci-archive:${file}:v1`, `oci:${kept}:again`])).code).toBe(1);
    expect((await list(env, `oci:${kept}`)).split(" ").slice(0, 2).join(" ")).toBe("other [v1]");
  });

  test("'..', absolute, symlink and hardlink entries", async () => {
    const dir = tempDir("kit-airgap-hostile-");
    for (const [name, bytes] of [
      ["dotdot", tarOf([["oci-layout", '{"imageLayoutVersion":"1.0.0"}'], ["../evil", "x"]])],
      ["absolute", tarOf([["oci-layout", '{"imageLayoutVersion":"1.0.0"}'], ["/tmp/evil", "x"]])],
    ] as const) {
      const file = path.join(dir, `${name}.tar`);
      writeFileSync(file, bytes);
      const r = await pullFails(file);
      expect(r.stderr).toContain("refusing the archive");
    }
    for (const [flag, kind] of [["2", "symlink"], ["1", "hardlink"]] as const) {
      const file = path.join(dir, `${kind}.tar`);
      const x = path.join(dir, kind);
      mkdirSync(path.join(x, "blobs", "sha256"), { recursive: true });
      writeFileSync(path.join(x, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
      writeFileSync(path.join(x, "index.json"), '{"schemaVersion":2,"manifests":[]}');
      writeFileSync(path.join(x, "target"), "t");
      Bun.spawnSync(["sh", "-c", flag === "2" ? "ln -s /etc/passwd blobs/sha256/aa" : "ln target blobs/sha256/aa"], { cwd: x });
      Bun.spawnSync(["tar", "cf", file, "-C", x, "oci-layout", "index.json", "target", "blobs"]);
      const r = await pullFails(file);
      expect(r.stderr).toContain(`is a ${kind} to`);
    }
  });

  test("index.json naming a missing manifest", async () => {
    const { env, file } = await archive();
    const x = path.join(env.root, "x");
    mkdirSync(x);
    Bun.spawnSync(["tar", "xf", file, "-C", x]);
    rmSync(path.join(x, "blobs", "sha256", env.digest.slice(7)));
    const r = await pullFails(x, `oci:${x}`);
    expect(r.stderr).toContain(`index.json names manifest ${env.digest}, which the layout does not hold`);
  });

  test("a directory that is not a layout", async () => {
    const dir = tempDir("kit-airgap-notlayout-");
    writeFileSync(path.join(dir, "model.bin"), "x");
    const r = await pullFails(dir, `oci:${dir}`);
    expect(r.stderr).toContain(`oci:${dir} is not an OCI image layout: it has no oci-layout file`);
  });

  test("a non-ModelKit image says what it is", async () => {
    const dir = tempDir("kit-airgap-image-");
    const config = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}';
    const c = new Bun.CryptoHasher("sha256").update(config).digest("hex");
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${c}`, size: config.length }, layers: [] });
    const m = new Bun.CryptoHasher("sha256").update(manifest).digest("hex");
    mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
    writeFileSync(path.join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(path.join(dir, "blobs", "sha256", c), config);
    writeFileSync(path.join(dir, "blobs", "sha256", m), manifest);
    writeFileSync(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${m}`, size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }));
    const r = await pullFails(dir, `oci:${dir}`);
    expect(r.stderr).toContain(`oci:${dir} holds no ModelKit: oci:${dir}:latest is a container image`);
    const tagged = await pullFails(dir, `oci:${dir}:latest`);
    expect(tagged.stderr).toContain(`oci:${dir}:latest is not a ModelKit: it is a container image`);
  });

  test("an unknown tag lists the tags there are", async () => {
    const { file } = await archive();
    const r = await pullFails(file, `oci-archive:${file}:v9`);
    expect(r.stderr).toContain(`oci-archive:${file}:v9: not found in the layout`);
    expect(r.stdout).toContain("Its tags: v1");
  });
});

describe("signatures in layouts", () => {
  test("sign in an oci-archive: and an oci: directory, verify there and after the journey; a wrong key is refused", async () => {
    const env = await packed();
    const ref = "registry.example.com/team/model:v1";
    expect((await env.run(["key", "generate"], { env: { KIT_PASSWORD: "" } })).code).toBe(0);
    expect((await env.run(["key", "generate", "--output-key-prefix", "other"], { env: { KIT_PASSWORD: "" } })).code).toBe(0);
    const file = path.join(env.root, "m.tar");
    const dir = path.join(env.root, "layout");
    for (const loc of [`oci-archive:${file}`, `oci:${dir}`]) {
      expect((await env.run(["push", ref, loc])).code).toBe(0);
      const unsigned = await env.run(["verify", loc, "--key", "cosign.pub"]);
      expect(unsigned.code).toBe(1);
      expect(unsigned.stderr).toContain("is not signed");
      const signed = await env.run(["sign", loc, "--key", "cosign.key"], { env: { KIT_PASSWORD: "" } });
      expect(output(signed)).toContain(`Signed ${ref} (${env.digest}) in ${loc}: signature stored under sha256-${env.digest.slice(7)}.sig`);
      const verified = await env.run(["verify", loc, "--key", "cosign.pub"]);
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain(`signed for registry.example.com/team/model by cosign.pub`);
      expect((await env.run(["verify", loc, "--key", "other.pub"])).code).toBe(1);
      // still one ModelKit to read; the signature is not listed
      expect((await list(env, loc)).trim().split("\n")).toHaveLength(1);
      const out = path.join(env.root, `out-${loc.split(":")[0]}`);
      const unpacked = await env.run(["unpack", loc, "-d", out, "--verify-key", "cosign.pub"]);
      expect(output(unpacked)).toContain(`Verified signature of registry.example.com/team/model@${env.digest}`);
      const refused = await env.run(["unpack", loc, "-d", `${out}-2`, "--verify-key", "other.pub"]);
      expect(refused.code).toBe(1);
      expect(existsSync(`${out}-2`)).toBe(false);
    }
    // The archive's signature travels on: into a fresh home and out to another layout.
    const far = kitEnv("kit-airgap-far-");
    const pulled = await far.run(["pull", `oci-archive:${file}`, "--verify-key", path.join(env.root, "cosign.pub")]);
    expect(output(pulled)).toContain(`Verified signature of ${ref} (${env.digest})`);
    expect((await far.run(["verify", ref, "--key", path.join(env.root, "cosign.pub")])).code).toBe(0);
    const again = path.join(far.root, "again.tar");
    expect((await far.run(["push", ref, `oci-archive:${again}`])).code).toBe(0);
    expect((await far.run(["verify", `oci-archive:${again}`, "--key", path.join(env.root, "cosign.pub")])).code).toBe(0);
  });
});

test("argument errors: a layout destination with a digest, a layout source without a destination, a malformed location", async () => {
  const env = kitEnv("kit-airgap-args-");
  const D = `sha256:${"ab".repeat(32)}`;
  const digestDest = await env.run(["push", "model:v1", `oci:./l@${D}`]);
  expect(digestDest.stderr).toBe(`[ERROR] Invalid arguments: oci:${path.join(env.root, "l")}@${D}: a destination takes a :TAG, not a digest\n`);
  expect((await env.run(["push", "oci-archive:m.tar"])).stderr).toBe("[ERROR] Invalid arguments: a DESTINATION is required when pushing from a layout\n");
  const bad = await env.run(["unpack", "oci-archive:m.tar:bad tag"]);
  expect(bad.stderr).toBe('[ERROR] Invalid arguments: invalid oci-archive: reference "oci-archive:m.tar:bad tag": invalid tag "bad tag"\n');
  expect(bad.stdout).toContain("PATH ends at its first ':'");
  expect((await env.run(["info", "--remote", "oci:x"])).stderr).toBe(`[ERROR] Invalid arguments: --remote does not apply to oci:${path.join(env.root, "x")}\n`);
  expect(existsSync(path.join(env.root, "l"))).toBe(false);
});

test("a ModelKit whose model refers to another is pulled and unpacked with its parent from the same archive", async () => {
  const env = await packed("base");
  const child = path.join(env.root, "project-child");
  mkdirSync(child, { recursive: true });
  writeFileSync(path.join(child, "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: child\nmodel:\n  path: registry.example.com/team/base:v1\ncode:\n  - path: app.py\n");
  writeFileSync(path.join(child, "app.py"), "print('hi')\n");
  expect((await env.run(["pack", child, "-t", "registry.example.com/team/child:v2"])).code).toBe(0);
  const file = path.join(env.root, "family.tar");
  for (const ref of ["registry.example.com/team/base:v1", "registry.example.com/team/child:v2"]) expect((await env.run(["push", ref, `oci-archive:${file}`])).code).toBe(0);

  const far = kitEnv("kit-airgap-family-");
  const out = path.join(far.root, "out");
  const unpacked = await far.run(["unpack", `oci-archive:${file}:v2`, "-d", out]);
  expect(unpacked.code).toBe(0);
  expect(readFileSync(path.join(out, "model.bin"), "utf8")).toStartWith("weights of base");
  expect(readFileSync(path.join(out, "app.py"), "utf8")).toBe("print('hi')\n");
  expect(existsSync(path.join(far.home, "storage"))).toBe(false);

  const pulled = await far.run(["pull", `oci-archive:${file}:v2`]);
  expect(pulled.code).toBe(0);
  expect(output(pulled)).toContain("Pulling referenced image registry.example.com/team/base:v1");
  const rows = await list(far);
  expect(rows).toContain("registry.example.com/team/base [v1]");
  expect(rows).toContain("registry.example.com/team/child [v2]");
});
