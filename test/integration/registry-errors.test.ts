/**
 * Errors that say what to do next, exact texts from dist/kit: 401/403 with missing or stale
 * credentials name the registry and the `kit login` to run (real docker-registry with htpasswd;
 * the hostile registry for 403); unreachable registries are `could not connect to HOST: …` lines
 * with no internal operation names; `kit login` to a plain-HTTP registry without --plain-http
 * gives the --plain-http hint before any prompt.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type HostileRegistry, startHostileRegistry } from "../helpers/hostile-registry.ts";
import { kitBinary, runKit, tempDir } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const TIMEOUT = 120_000;
const need = hasDockerRegistry() || process.env.CI ? describe : describe.skip;

function makeEnv(credentials?: { host: string; user: string; password: string }) {
  const root = tempDir("kit-errors-");
  const home = path.join(root, "home");
  mkdirSync(home, { recursive: true });
  if (credentials) {
    const auth = Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64");
    writeFileSync(path.join(home, "credentials.json"), JSON.stringify({ auths: { [credentials.host]: { auth } } }), { mode: 0o600 });
  }
  const env = { KITOPS_HOME: home, DOCKER_CONFIG: path.join(root, "docker") };
  return { root, env, run: (args: string[]) => runKit(args, { cwd: root, env }) };
}

function pack(env: ReturnType<typeof makeEnv>, ref: string) {
  const ctx = path.join(env.root, "ctx");
  mkdirSync(ctx, { recursive: true });
  writeFileSync(path.join(ctx, "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: errs\nmodel:\n  path: model.bin\n");
  writeFileSync(path.join(ctx, "model.bin"), "weights");
  return env.run(["pack", ctx, "-t", ref]);
}

need("401 with missing or stale credentials: the registry and `kit login HOST`", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry("htpasswd");
    // something to pull, list and inspect
    const owner = makeEnv({ host: "", user: "", password: "" });
    expect((await pack(owner, `${reg.host}/e/m:v1`)).code).toBe(0);
    expect((await owner.run(["login", reg.host, "-u", reg.username, "-p", reg.password, "--plain-http"])).code).toBe(0);
    expect((await owner.run(["push", `${reg.host}/e/m:v1`, "--plain-http"])).code).toBe(0);
  }, TIMEOUT);
  afterAll(async () => {
    await reg?.stop();
  });

  // Without a credential the 401 of a HEAD (no body) is reported; with one, the refused GET's text.
  const commands = (host: string, stale: boolean): Array<[string, string[], string]> => {
    const said = stale ? "unauthorized: authentication required" : "Unauthorized";
    return [
      ["push", ["push", `${host}/e/m:v1`], "Failed to push: got response 401 (Unauthorized) from remote. Ensure the repository exists and you have push access to it."],
      ["pull", ["pull", `${host}/e/m:v1`], `Failed to pull: ${said}`],
      ["list", ["list", `${host}/e/m`], `Failed to list tags on repository ${host}/e/m: unauthorized: authentication required`],
      ["info", ["info", "--remote", `${host}/e/m:v1`], `Error resolving modelkit: ${said}`],
      ["inspect", ["inspect", "--remote", `${host}/e/m:v1`], `Error resolving modelkit: ${said}`],
    ];
  };

  for (const stale of [false, true]) {
    test(stale ? "stale credentials" : "no credentials", async () => {
      const hint = stale
        ? `${reg.host} refused the stored credentials (out of date, or without access to this repository): log in again with kit login ${reg.host} --plain-http`
        : `${reg.host} needs you to log in: kit login ${reg.host} --plain-http`;
      for (const [name, args, error] of commands(reg.host, stale)) {
        const env = makeEnv(stale ? { host: reg.host, user: reg.username, password: "an-old-password" } : undefined);
        if (name === "push") expect((await pack(env, `${reg.host}/e/m:v1`)).code).toBe(0);
        const r = await env.run([...args, "--plain-http"]);
        expect([name, r.code, r.stderr]).toEqual([name, 1, `[ERROR] ${error}\n`]);
        expect(r.stdout.split("\n").filter((l) => l && !/^(Pulling|Pushing) /.test(l))).toEqual([hint]);
        expect(r.stdout + r.stderr).not.toContain("an-old-password");
      }
    }, TIMEOUT);
  }
});

describe("403, connection failures, login over the wrong scheme", () => {
  let hostile: HostileRegistry;
  beforeAll(async () => {
    hostile = await startHostileRegistry();
  });
  afterAll(async () => {
    await hostile?.stop();
  });

  test("403 without and with credentials", async () => {
    const anon = await makeEnv().run(["pull", `${hostile.host}/forbidden/m:v1`, "--plain-http"]);
    expect(anon.stderr).toBe("[ERROR] Failed to pull: denied: requested access to the resource is denied\n");
    expect(anon.stdout).toBe(
      `Pulling ${hostile.host}/forbidden/m:v1\n${hostile.host} does not allow anonymous access to this: log in with kit login ${hostile.host} --plain-http\n`,
    );
    const user = await makeEnv({ host: hostile.host, user: "u", password: "p" }).run(["list", `${hostile.host}/forbidden/m`, "--plain-http"]);
    expect(user.stderr).toBe(`[ERROR] Failed to list tags on repository ${hostile.host}/forbidden/m: denied: requested access to the resource is denied\n`);
    expect(user.stdout).toBe(
      `The credentials stored for ${hostile.host} do not give access to this repository: check its name, or log in as another user with kit login ${hostile.host} --plain-http\n`,
    );
  }, TIMEOUT);

  test("connection refused and DNS failure: one line naming the host, no internal operation names", async () => {
    const env = makeEnv();
    const refused = "127.0.0.1:1";
    expect((await pack(env, `${refused}/e/m:v1`)).code).toBe(0);
    const cases: Array<[string[], string]> = [
      [["push", `${refused}/e/m:v1`], `Failed to push: could not connect to ${refused}: connection refused.`],
      [["pull", `${refused}/e/m:v1`], `Failed to pull: could not connect to ${refused}: connection refused`],
      [["list", `${refused}/e/m`], `Failed to list tags on repository ${refused}/e/m: could not connect to ${refused}: connection refused`],
      [["info", "--remote", `${refused}/e/m:v1`], `Error resolving modelkit: could not connect to ${refused}: connection refused`],
      [["inspect", "--remote", `${refused}/e/m:v1`], `Error resolving modelkit: could not connect to ${refused}: connection refused`],
      [["login", refused, "-u", "u", "--password-stdin"], `Failed to validate the credentials for ${refused}: could not connect to ${refused}: connection refused`],
      [["pull", "registry.invalid/e/m:v1"], "Failed to pull: could not connect to registry.invalid: no such host"],
    ];
    for (const [args, line] of cases) {
      const r = await runKit(args, { cwd: env.root, env: env.env, stdin: "p" });
      expect([args[0], r.code, r.stderr]).toEqual([args[0], 1, `[ERROR] ${line}\n`]);
      expect(r.stdout + r.stderr).not.toMatch(/failed to perform|Is the computer able|ECONNREFUSED|ENOTFOUND/);
    }
  }, TIMEOUT);

  const hasScript = existsSync("/usr/bin/script");
  test.if(hasScript)("kit login over TLS to a plain-HTTP registry: the --plain-http hint before any prompt (on a terminal)", async () => {
    const env = makeEnv();
    // `script` gives kit a terminal, so it would prompt for the username if it got that far
    const r = await runKit(["-qec", `${kitBinary} login ${hostile.host}`, "/dev/null"], { bin: "/usr/bin/script", env: env.env, timeoutMs: 60_000 });
    const out = r.stdout.replace(/\r/g, "").replace(/\u001b\[[0-9;]*m/g, "");
    expect(out).toBe(
      `[ERROR] Failed to validate the credentials for ${hostile.host}: could not connect to ${hostile.host}: TLS handshake failed\n` +
        "If the registry serves plain HTTP, use --plain-http; if it requires a client certificate, use --cert and --key\n",
    );
    expect(out).not.toContain("Username");
    expect(r.code).toBe(1);
  }, TIMEOUT);
});
