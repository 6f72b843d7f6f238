/**
 * push, pull, login, logout and remote unpack run in process against the fake registry served
 * on 127.0.0.1: kit's messages, argument errors and the remote paths of unpack.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { KIT_CONFIG, OCI_INDEX, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { kitEnv, type RunOptions } from "../helpers/kit.ts";
import { type FakeRegistry, type ServedFake, serveFake } from "./fake-registry.ts";

const env = () => kitEnv("kit-cmd-", { SOURCE_DATE_EPOCH: "0" });

function context(dir: string, model = "model.bin") {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "Kitfile"), `manifestVersion: 1.0.0\npackage:\n  name: cmd\nmodel:\n  path: ${model}\n`);
  if (!model.includes(":")) writeFileSync(path.join(dir, model), "weights".repeat(1000));
}

/** A ModelKit written straight into the fake: config with `model.path`, one empty tar layer. */
function kitInFake(fake: FakeRegistry, repo: string, tag: string, modelPath: string, configType = KIT_CONFIG): string {
  const config = new TextEncoder().encode(JSON.stringify({ manifestVersion: "1.0.0", package: { name: repo }, model: { path: modelPath } }));
  const layer = new Uint8Array(1024);
  const cdesc = descriptorFromBytes(configType, config);
  const ldesc = descriptorFromBytes("application/vnd.kitops.modelkit.code.v1.tar", layer);
  fake.putBlob(config);
  fake.putBlob(layer);
  const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: cdesc, layers: [ldesc] }));
  return fake.putManifest(repo, OCI_MANIFEST, manifest, tag);
}

let reg: ServedFake;
beforeAll(async () => {
  reg = serveFake();
});
afterAll(async () => {
  await reg.stop();
});

describe("push", () => {
  test("argument errors", async () => {
    const e = env();
    const cases: Array<[string[], string]> = [
      [["push", "a:b,c"], "[ERROR] Invalid arguments: reference cannot include multiple tags\n"],
      [["push", "reg.io/a:b", "reg.io/x:v1,y"], "[ERROR] Invalid arguments: target reference cannot include multiple tags\n"],
      [["push", "mymodel:v1"], "[ERROR] Invalid arguments: registry is required when pushing\n"],
      [["push", "reg.io/a:v1", "other:v1"], "[ERROR] Invalid arguments: registry is required when pushing\n"],
      [["push", "reg.io/a:v1", "--concurrency", "0"], "[ERROR] Invalid arguments: invalid argument for concurrency (0): must be at least 1\n"],
      [["push", "reg.io/A:v1"], "[ERROR] Invalid arguments: failed to parse reference reg.io/A:v1: repository (A) name must be lowercase\n"],
      [["push", "reg.io/a:v1"], "[ERROR] Failed to push: model reg.io/a:v1 not found.\n"],
    ];
    for (const [args, stderr] of cases) {
      const r = await e.run(args);
      expect([args.join(" "), r.stderr, r.code]).toEqual([args.join(" "), stderr, 1]);
    }
  });

  test("from a layout to a registry reference without a tag: the line names the tag written (the source's)", async () => {
    const e = env();
    context(path.join(e.root, "ctx"));
    expect((await e.run(["pack", "ctx", "-t", "mymodel:v7"])).code).toBe(0);
    const file = path.join(e.root, "m.tar");
    expect((await e.run(["push", "mymodel:v7", `oci-archive:${file}`])).code).toBe(0);
    const r = await e.run(["push", `oci-archive:${file}`, `${reg.host}/team/fromlayout`, "--plain-http"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^Pushing oci-archive:${file} to ${reg.host}/team/fromlayout:v7\nPushed sha256:[0-9a-f]{64}\n$`));
    expect([...(reg.fake.tags.get("team/fromlayout")?.keys() ?? [])]).toEqual(["v7"]);
  });

  test("prints kit's lines, pushes to another name, and pull brings it back into its own repository", async () => {
    const e = env();
    context(path.join(e.root, "ctx"));
    expect((await e.run(["pack", "ctx", "-t", "mymodel:v1"])).code).toBe(0);
    const dst = `${reg.host}/team/mymodel:v1`;
    const r = await e.run(["push", "mymodel:v1", dst, "--plain-http"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^Pushing localhost/mymodel:v1 to ${dst}\\nPushed sha256:[0-9a-f]{64}\\n$`));
    const digest = r.stdout.trim().split(" ").at(-1)!;
    expect(reg.fake.tags.get("team/mymodel")?.get("v1")).toBe(digest);

    const p = await e.run(["pull", dst, "--plain-http"]);
    expect(p.stdout).toBe(`Pulling ${dst}\nPulled ${digest}\n`);
    const list = await e.run(["list"]);
    expect(list.stdout).toContain(`${reg.host}/team/mymodel   v1`);
  });

  test("a registry answer other than 401 is reported with its status and what it said", async () => {
    const e = env();
    context(path.join(e.root, "ctx"));
    const ref = `${reg.host}/team/denied:v1`;
    expect((await e.run(["pack", "ctx", "-t", ref])).code).toBe(0);
    reg.fake.intercept((req) => (req.method === "PUT" && req.url.includes("/manifests/") ? Response.json({ errors: [{ code: "MANIFEST_INVALID", message: "manifest invalid" }] }, { status: 400 }) : undefined));
    const r = await e.run(["push", ref, "--plain-http"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to push: got response 400 (Bad Request) from remote\n");
    expect(r.stdout).toContain("The registry said: manifest_invalid: manifest invalid\n");
  });

  test("--proxy sends every request through the proxy", async () => {
    const e = env();
    context(path.join(e.root, "ctx"));
    const ref = `${reg.host}/team/proxied:v1`;
    expect((await e.run(["pack", "ctx", "-t", ref])).code).toBe(0);
    const seen: string[] = [];
    const proxy = http.createServer(async (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "proxy-connection"].includes(k))) as Record<string, string>;
      const up = await fetch(req.url!, { method: req.method, headers, body, redirect: "manual" });
      res.writeHead(up.status, Object.fromEntries(up.headers));
      res.end(Buffer.from(await up.arrayBuffer()));
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const port = (proxy.address() as AddressInfo).port;
    const r = await e.run(["push", ref, "--plain-http", "--proxy", `http://127.0.0.1:${port}`]);
    proxy.close();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(seen).toContain(`HEAD http://${reg.host}/v2/team/proxied/manifests/${r.stdout.trim().split(" ").at(-1)}`);
    expect(seen.some((s) => s.startsWith(`PUT http://${reg.host}/v2/team/proxied/manifests/`))).toBe(true);
  });
});

describe("pull", () => {
  test("a kit whose config or layers kit cannot read is refused before anything is stored; kit list still lists the rest", async () => {
    const e = env();
    kitInFake(reg.fake, "good/kit", "v1", "weights.bin");
    expect((await e.run(["pull", `${reg.host}/good/kit:v1`, "--plain-http"])).code).toBe(0);
    const storage = path.join(e.home, "storage");
    const snapshot = () => readdirSync(storage).filter((n) => n.endsWith(".json")).sort().map((n) => [n, readFileSync(path.join(storage, n), "utf8")]);
    const before = snapshot();
    const put = (repo: string, configBytes: string, layers: object[], configType = KIT_CONFIG, artifactType?: string) => {
      const config = new TextEncoder().encode(configBytes);
      const cdesc = descriptorFromBytes(configType, config);
      reg.fake.putBlob(config);
      const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, ...(artifactType ? { artifactType } : {}), config: cdesc, layers }));
      reg.fake.putManifest(repo, OCI_MANIFEST, manifest, "v1");
    };
    const layer = new Uint8Array(64).fill(3);
    reg.fake.putBlob(layer);
    const ldesc = descriptorFromBytes("application/vnd.kitops.modelkit.code.v1.tar", layer);
    put("bad/notjson", "{not json", [ldesc]);
    put("bad/types", '{"manifestVersion":"1.0.0","package":{"name":["x"]}}', [ldesc]);
    const mpLayer = { ...descriptorFromBytes("application/vnd.cncf.model.weight.v1.tar", layer) }; // no org.cncf.model.filepath
    put("bad/modelpack", "{}", [mpLayer], "application/vnd.cncf.model.config.v1+json", "application/vnd.cncf.model.manifest.v1+json");
    for (const repo of ["bad/notjson", "bad/types", "bad/modelpack"]) {
      const r = await e.run(["pull", `${reg.host}/${repo}:v1`, "--plain-http"]);
      expect({ repo, code: r.code }).toEqual({ repo, code: 1 });
      expect(r.stderr).toContain("[ERROR] Failed to pull: ");
      // nothing recorded: no index, no tags, no new repository files
      expect(snapshot()).toEqual(before);
    }
    const list = await e.run(["list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${reg.host}/good/kit`);
  });

  test("argument and reference errors", async () => {
    const e = env();
    const cases: Array<[string[], string]> = [
      [["pull", "mymodel:v1"], "[ERROR] Invalid arguments: registry is required when pulling\n"],
      [["pull", `${reg.host}/a:v1,v2`], "[ERROR] Invalid arguments: reference cannot include multiple tags\n"],
      [["pull", `${reg.host}/none/here:v9`, "--plain-http"], `[ERROR] Failed to pull: ${reg.host}/none/here:v9: not found\n`],
    ];
    for (const [args, stderr] of cases) {
      const r = await e.run(args);
      expect([args.join(" "), r.stderr, r.code]).toEqual([args.join(" "), stderr, 1]);
    }
  });

  test("only ModelKits: not an image manifest, not a model", async () => {
    const e = env();
    reg.fake.putManifest("odd/index", OCI_INDEX, new TextEncoder().encode('{"schemaVersion":2,"manifests":[]}'), "v1");
    kitInFake(reg.fake, "odd/image", "v1", "x", "application/vnd.oci.image.config.v1+json");
    const a = await e.run(["pull", `${reg.host}/odd/index:v1`, "--plain-http"]);
    expect(a.stderr).toBe(`[ERROR] Failed to pull: reference ${reg.host}/odd/index:v1 is not an image manifest\n`);
    const b = await e.run(["pull", `${reg.host}/odd/image:v1`, "--plain-http"]);
    expect(b.stderr).toBe(`[ERROR] Failed to pull: reference ${reg.host}/odd/image:v1 does not refer to a model\n`);
  });

  test("parents named by model.path are pulled into their own repositories; cycles are refused", async () => {
    const e = env();
    const base = kitInFake(reg.fake, "chain/base", "v1", "weights.bin");
    const child = kitInFake(reg.fake, "chain/child", "v1", `${reg.host}/chain/base:v1`);
    const r = await e.run(["pull", `${reg.host}/chain/child:v1`, "--plain-http"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`Pulling ${reg.host}/chain/child:v1\nPulling referenced image ${reg.host}/chain/base:v1\nPulled ${child}\n`);
    const list = (await e.run(["list", "--format", "{{.Repo}} {{.Tags}} {{.Digest}}"])).stdout;
    expect(list).toContain(`${reg.host}/chain/base [v1] ${base}`);
    expect(list).toContain(`${reg.host}/chain/child [v1] ${child}`);

    kitInFake(reg.fake, "loop/a", "v1", `${reg.host}/loop/b:v1`);
    kitInFake(reg.fake, "loop/b", "v1", `${reg.host}/loop/a:v1`);
    const c = await e.run(["pull", `${reg.host}/loop/a:v1`, "--plain-http"]);
    expect(c.stderr).toBe(
      `[ERROR] Failed to pull: failed to pull referenced modelkits: found cycle in modelkit references: [${reg.host}/loop/a:v1=>${reg.host}/loop/b:v1=>${reg.host}/loop/a:v1]\n`,
    );
  });
});

test("pull: up to 10 ancestors, as pack and unpack allow; an 11th is refused", async () => {
  const e = env();
  const name = (i: number) => `depth/k${i}`;
  kitInFake(reg.fake, name(11), "v1", "weights.bin");
  for (let i = 10; i >= 0; i--) kitInFake(reg.fake, name(i), "v1", `${reg.host}/${name(i + 1)}:v1`);
  const ok = await e.run(["pull", `${reg.host}/${name(1)}:v1`, "--plain-http"]);
  expect(ok.stderr).toBe("");
  expect(ok.stdout.match(/Pulling referenced image/g)?.length).toBe(10);
  const r = await e.run(["pull", `${reg.host}/${name(0)}:v1`, "--plain-http"]);
  const chain = Array.from({ length: 12 }, (_, i) => `${reg.host}/${name(i)}:v1`).join("=>");
  expect(r.stderr).toBe(`[ERROR] Failed to pull: failed to pull referenced modelkits: reached maximum number of model references: [${chain}]\n`);
});

describe("unpack from a registry", () => {
  test("a kit that is not local is read from its registry and nothing is stored", async () => {
    const e = env();
    context(path.join(e.root, "ctx"));
    const ref = `${reg.host}/remote/unpack:v1`;
    expect((await e.run(["pack", "ctx", "-t", ref])).code).toBe(0);
    expect((await e.run(["push", ref, "--plain-http"])).code).toBe(0);
    expect((await e.run(["remove", ref])).code).toBe(0);
    const r = await e.run(["unpack", ref, "-d", "out", "--plain-http"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`Unpacking to ${path.join(e.root, "out")}\nUnpacking config to ${path.join(e.root, "out", "Kitfile")}\nUnpacking model to model.bin\n`);
    expect(readFileSync(path.join(e.root, "out", "model.bin"), "utf8")).toBe("weights".repeat(1000));
    const blobs = path.join(e.home, "storage", "blobs", "sha256");
    expect(existsSync(blobs) ? readdirSync(blobs) : []).toEqual([]);

    const missing = await e.run(["unpack", `${reg.host}/remote/none:v1`, "-d", "out2", "--plain-http"]);
    expect(missing.stderr).toBe(`[ERROR] Failed to unpack: reference ${reg.host}/remote/none:v1 is not present in local storage and could not be found in remote\n`);
  });
});

describe("login and logout", () => {
  test("argument errors", async () => {
    const e = env();
    const cases: Array<[string[], RunOptions, string]> = [
      [["login", "https://reg.io"], {}, '[ERROR] Invalid reference: invalid registry "https://reg.io"\n'],
      [["login", "reg.io", "-p", "x", "--password-stdin"], { stdin: "y" }, "[ERROR] Invalid arguments: cannot use both --password and --password-stdin\n"],
      [["login", "reg.io", "-u", "a"], {}, "[ERROR] Invalid arguments: attempting to read input from non-terminal\n"],
      [["login", "reg.io", "--password-stdin"], { stdin: "  \n" }, "[ERROR] Invalid arguments: failed to read password from stdin: got empty string\n"],
      [["login", "reg.io", "-u", "a:b", "-p", "x"], {}, "[ERROR] Invalid username: it cannot contain ':'\n"],
      [["login", "reg.io", "--concurrency", "-1"], {}, "[ERROR] Invalid arguments: invalid argument for concurrency (-1): must be at least 1\n"],
    ];
    for (const [args, opts, stderr] of cases) {
      const r = await e.run(args, opts);
      expect([args.join(" "), r.stderr, r.code]).toEqual([args.join(" "), stderr, 1]);
    }
    expect(existsSync(path.join(e.home, "credentials.json"))).toBe(false);
  });

  test("prompts on a terminal, validates, stores; logout removes", async () => {
    const basic = serveFake({ auth: { kind: "basic", users: { alice: "pw" } } });
    const e = env();
    const r = await e.run(["login", basic.host, "--plain-http"], { stdinIsTTY: true, answers: ["alice", "pw"] });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Username: Password: Log in successful\n");
    const file = path.join(e.home, "credentials.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: { [basic.host]: { auth: btoa("alice:pw") } } });
    const bad = await e.run(["login", basic.host, "--plain-http"], { stdinIsTTY: true, answers: ["alice", "nope"] });
    expect(bad.stderr).toBe(`[ERROR] Failed to validate the credentials for ${basic.host}: unauthorized: authentication required\n`);
    expect(JSON.parse(readFileSync(file, "utf8")).auths[basic.host]).toEqual({ auth: btoa("alice:pw") });
    const out = await e.run(["logout", basic.host]);
    expect(out.stdout).toBe(`Successfully logged out from ${basic.host}\n`);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: {} });
    expect((await e.run(["logout", "never.io"])).stdout).toBe("Successfully logged out from never.io\n");
    await basic.stop();
  });

  test("a password without a username is an identity token (OAuth2 refresh flow)", async () => {
    const bearer = serveFake({ auth: { kind: "bearer", users: {}, refreshTokens: { "refresh-abc": "bob" } } });
    const e = env();
    const r = await e.run(["login", bearer.host, "--password-stdin", "--plain-http"], { stdin: "refresh-abc\n" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Log in successful\n");
    expect(JSON.parse(readFileSync(path.join(e.home, "credentials.json"), "utf8"))).toEqual({ auths: { [bearer.host]: { identitytoken: "refresh-abc" } } });
    expect(bearer.fake.tokensIssued).toEqual([{ user: "bob", scopes: [], via: "POST" }]);
    await bearer.stop();
  });
});
