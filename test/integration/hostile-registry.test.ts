/**
 * The compiled binary against a hostile registry (test/helpers/hostile-registry.ts): bounded
 * memory whatever a registry streams (peak RSS measured with /usr/bin/time -v), credentials never
 * seen by another site or sent over a downgrade, pagination loops detected, clear errors with no
 * escape byte reaching the terminal.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GIB, type HostileRegistry, startHostileRegistry } from "../helpers/hostile-registry.ts";
import { kitBinary, runKit, type RunResult, tempDir } from "../helpers/kit.ts";

const TIMEOUT = 120_000;
/** Peak RSS allowed for a kit process fed a 1 GiB body (kit itself starts at about 70 MB). */
const MAX_RSS_BYTES = 200 * 1024 * 1024;
const USER = "alice";
const PASSWORD = "hunter2-secret";
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;

let reg: HostileRegistry;
beforeAll(async () => {
  reg = await startHostileRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

/** A kit home with the test user's credentials stored for `hosts`. */
function home(...hosts: string[]): Record<string, string> {
  const root = tempDir("kit-hostile-home-");
  const h = path.join(root, "home");
  mkdirSync(h, { recursive: true });
  const auths = Object.fromEntries(hosts.map((host) => [host, { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") }]));
  writeFileSync(path.join(h, "credentials.json"), JSON.stringify({ auths }), { mode: 0o600 });
  return { KITOPS_HOME: h, DOCKER_CONFIG: path.join(root, "docker") };
}

/** Runs dist/kit under /usr/bin/time -v: its result and its peak RSS in bytes (time's report goes to a file). */
async function measured(args: string[], env: Record<string, string>): Promise<RunResult & { rss: number }> {
  const report = path.join(tempDir("kit-hostile-time-"), "time.txt");
  const r = await runKit(["-v", "-o", report, kitBinary, ...args], { bin: "/usr/bin/time", env, timeoutMs: 60_000 });
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(report, "utf8"));
  if (!kb) throw new Error(`no /usr/bin/time report: ${readFileSync(report, "utf8")}`);
  return { ...r, rss: Number(kb[1]) * 1024 };
}

const ESC = /[\u001b\u0007\u009b]/;

describe("bounded reads: a registry streaming 1 GiB costs kit little memory and gets a clear error", () => {
  const cases: Array<[string, (h: HostileRegistry) => string[], (h: HostileRegistry) => string]> = [
    ["huge-token", (h) => ["pull", `${h.host}/huge-token/m:v1`, "--plain-http"],
      (h) => `[ERROR] Failed to pull: The token server http://${h.host}/token/huge sent more than 128 KiB\n`],
    ["huge-tags", (h) => ["list", `${h.host}/huge-tags/m`, "--plain-http"],
      (h) => `[ERROR] Failed to list tags on repository ${h.host}/huge-tags/m: The tag list of ${h.host}/huge-tags/m from the registry has a page larger than 4 MiB\n`],
    ["huge-manifest", (h) => ["pull", `${h.host}/huge-manifest/m:v1`, "--plain-http"],
      () => "[ERROR] Failed to pull: The manifest v1 from the registry is larger than 4 MiB\n"],
  ];
  for (const [attack, args, error] of cases) {
    test(attack, async () => {
      const r = await measured(args(reg), home(reg.host));
      expect(r.stderr).toBe(error(reg));
      expect(r.code).toBe(1);
      expect(r.rss).toBeLessThan(MAX_RSS_BYTES);
      // kit stopped reading long before the end of the 1 GiB
      expect(reg.streamed[attack]!).toBeLessThan(GIB / 8);
      console.log(`${attack}: peak RSS ${(r.rss / 1048576).toFixed(1)} MiB, ${(reg.streamed[attack]! / 1048576).toFixed(1)} MiB produced by the server`);
    }, TIMEOUT);
  }

  test("huge-error: a 1 GiB error body is quoted up to 8 KiB", async () => {
    const r = await measured(["pull", `${reg.host}/huge-error/m:v1`, "--plain-http"], home());
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`[ERROR] Failed to pull: Bad Request (additional info: ${"x".repeat(8192)})\n`);
    expect(r.rss).toBeLessThan(MAX_RSS_BYTES);
    expect(reg.streamed["huge-error"]!).toBeLessThan(GIB / 8);
    console.log(`huge-error: peak RSS ${(r.rss / 1048576).toFixed(1)} MiB`);
  }, TIMEOUT);
});

describe("credentials only where they belong", () => {
  const tokenRequests = (server: string) => reg.seen.filter((s) => s.server === server && s.path.startsWith("/token"));

  test("a realm on an unrelated site gets nothing; the error names both hosts and the opt-in", async () => {
    const before = tokenRequests("other").length;
    const r = await runKit(["pull", `${reg.host}/cross-site/m:v1`, "--plain-http"], { env: home(reg.host) });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`[ERROR] Failed to pull: Refusing to send the credentials for ${reg.host} to ${reg.otherHost}: the registry named a token server on an unrelated site\n`);
    expect(r.stdout).toBe(
      `Pulling ${reg.host}/cross-site/m:v1\nIf you trust ${reg.otherHost} with your credentials for ${reg.host}, pass --allow-cross-site-auth or set KITOPS_ALLOW_CROSS_SITE_AUTH=1\n`,
    );
    expect(tokenRequests("other").length).toBe(before);
    expect(reg.seen.filter((s) => s.server === "other").every((s) => s.authorization === null)).toBe(true);
  }, TIMEOUT);

  test("with --allow-cross-site-auth (or KITOPS_ALLOW_CROSS_SITE_AUTH=1) the user's choice is honoured", async () => {
    for (const [flags, env] of [[["--allow-cross-site-auth"], {}], [[], { KITOPS_ALLOW_CROSS_SITE_AUTH: "1" }]] as const) {
      const before = tokenRequests("other").length;
      const r = await runKit(["pull", `${reg.host}/cross-site/m:v1`, "--plain-http", ...flags], { env: { ...home(reg.host), ...env } });
      expect(r.stderr).toBe(`[ERROR] Failed to pull: ${reg.host}/cross-site/m:v1: not found\n`);
      expect(tokenRequests("other").slice(before).map((s) => s.authorization)).toEqual([BASIC]);
    }
  }, TIMEOUT);

  test("a realm over plain HTTP for an HTTPS registry never gets credentials, opt-in or not", async () => {
    const start = reg.seen.length;
    for (const extra of [[], ["--allow-cross-site-auth"]]) {
      const before = tokenRequests("registry").length;
      const r = await runKit(["pull", `${reg.tlsHost}/downgrade/m:v1`, "--tls-verify=false", ...extra], { env: home(reg.tlsHost) });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `[ERROR] Failed to pull: Refusing to send the credentials for ${reg.tlsHost} to its token server ${reg.host} over plain HTTP (the registry uses HTTPS)\n`,
      );
      expect(tokenRequests("registry").length).toBe(before);
    }
    expect(reg.seen.slice(start).filter((s) => s.server === "registry").map((s) => s.authorization)).not.toContain(BASIC);
  }, TIMEOUT);
});

describe("pagination", () => {
  for (const [attack, from, to] of [["loop-self", "", ""], ["loop-cycle", "?last=a", "?last=b"]] as const) {
    test(`${attack}: a Link that loops is an error, after a few requests`, async () => {
      const before = reg.seen.length;
      const r = await runKit(["list", `${reg.host}/${attack}/m`, "--plain-http"], { env: home() });
      expect(r.code).toBe(1);
      const page = (q: string) => `http://${reg.host}/v2/${attack}/m/tags/list${q}`;
      const first = attack === "loop-self" ? page("") : page(to);
      expect(r.stderr).toBe(
        `[ERROR] Failed to list tags on repository ${reg.host}/${attack}/m: The tag list of ${reg.host}/${attack}/m from the registry loops: page ${attack === "loop-self" ? page("") : page(from)} links back to ${first}\n`,
      );
      expect(reg.seen.length - before).toBeLessThan(5);
    }, TIMEOUT);
  }
});

describe("no escape byte from a registry reaches the terminal", () => {
  const cases: Array<[string, string[], string]> = [
    ["JSON error body", ["pull", "escape/m:v1"], "[ERROR] Failed to pull: denied: you are \\u001b[2J\\u001b[31mHACKED\\u001b]0;owned\\u0007\\u009b31m\n"],
    ["plain-text error body", ["list", "escape/m"], "HACKED"],
    // the runtime refuses a header with control characters: one attempt, a clear line
    ["Docker-Content-Digest header", ["pull", "escape-header/m:v1"], "failed: the server sent a malformed HTTP response\n"],
  ];
  for (const [what, [cmd, repo], shown] of cases) {
    test(what, async () => {
      const r = await runKit([cmd!, `${reg.host}/${repo}`, "--plain-http"], { env: home() });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).not.toMatch(ESC);
      expect(r.stderr).toContain(shown);
    }, TIMEOUT);
  }
});

describe("hostile ModelKits: refused before anything is stored, nothing written outside the target", () => {
  const fresh = () => home();
  const storageFiles = (env: Record<string, string>) => {
    const dir = path.join(env.KITOPS_HOME!, "storage");
    return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".json")).sort().map((n) => `${n}:${readFileSync(path.join(dir, n), "utf8")}`) : [];
  };

  test("a kit whose config or layers cannot be read is refused; nothing is tagged; kit list lists the good kits", async () => {
    const env = fresh();
    expect((await runKit(["pull", `${reg.host}/good/m:v1`, "--plain-http"], { env })).code).toBe(0);
    const before = storageFiles(env);
    for (const attack of ["bad-config", "bad-types", "modelpack-nopath"]) {
      const r = await runKit(["pull", `${reg.host}/${attack}/m:v1`, "--plain-http"], { env });
      expect({ attack, code: r.code }).toEqual({ attack, code: 1 });
      expect(r.stderr).toContain("[ERROR] Failed to pull: ");
      expect(storageFiles(env)).toEqual(before);
    }
    const list = await runKit(["list"], { env });
    expect(list.code).toBe(0);
    expect(list.stderr).toBe("");
    expect(list.stdout).toContain(`${reg.host}/good/m`);
    // and the remote listing of a bad kit names it and lists nothing else
    const remote = await runKit(["list", `${reg.host}/bad-config/m`, "--plain-http"], { env });
    expect(remote.code).toBe(0);
    expect(remote.stderr).toContain("which cannot be read");
  }, TIMEOUT);

  test("a layer with ../ and absolute names writes nothing outside the target, as root too", async () => {
    const env = fresh();
    const root = tempDir("kit-hostile-unpack-");
    const target = path.join(root, "a", "b", "target");
    const r = await runKit(["unpack", `${reg.host}/traversal/m:v1`, "--plain-http", "-d", target], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[ERROR] Failed to unpack");
    expect(existsSync(path.join(root, "a", "escaped.txt"))).toBe(false);
    expect(existsSync(path.join(root, "escaped.txt"))).toBe(false);
    expect(existsSync("/tmp/kit-hostile-absolute.txt")).toBe(false);
    // the kit is not stored either: unpack from a registry streams it
    expect(storageFiles(env).filter((f) => f.includes("traversal"))).toEqual([]);
  }, TIMEOUT);

  test("setuid, setgid and sticky bits from a stranger's layer are never set", async () => {
    const env = fresh();
    const target = path.join(tempDir("kit-hostile-mode-"), "t");
    const r = await runKit(["unpack", `${reg.host}/setuid/m:v1`, "--plain-http", "-d", target], { env });
    expect(r.code).toBe(0);
    expect(statSync(path.join(target, "src", "run.sh")).mode & 0o7777).toBe(0o755 & ~process.umask());
    expect(statSync(path.join(target, "src")).mode & 0o7000).toBe(0);
  }, TIMEOUT);
});
