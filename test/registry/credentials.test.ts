import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CredentialStore, DOCKER_HUB_KEY, encodeConfig, keyHostname, serverAddressKey } from "../../src/registry/credentials.ts";
import { KitError } from "../../src/util/errors.ts";

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kit-creds-"));
  const home = path.join(dir, "home");
  const file = path.join(home, "credentials.json");
  const docker = path.join(dir, "docker");
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  const env = { PATH: bin, HOME: dir, DOCKER_CONFIG: docker };
  const store = (extra: Record<string, string> = {}) => new CredentialStore({ file, env: { ...env, ...extra }, platform: "linux" });
  return { dir, home, file, docker, bin, env, store, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A `docker-credential-<name>` that records its stdin per action and answers `get` from secret.json. */
function fakeHelper(bin: string, name: string) {
  const p = path.join(bin, `docker-credential-${name}`);
  writeFileSync(p, `#!/bin/sh
d="\${0%/*}/${name}.d"
/bin/mkdir -p "$d"
/bin/cat > "$d/$1.in"
if [ "$1" = get ]; then
  if [ -f "$d/secret.json" ]; then /bin/cat "$d/secret.json"; else echo "credentials not found in native keychain"; exit 1; fi
fi
`);
  chmodSync(p, 0o755);
  const dir = path.join(bin, `${name}.d`);
  return {
    input: (action: string) => readFileSync(path.join(dir, `${action}.in`), "utf8"),
    answer: (json: unknown) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "secret.json"), JSON.stringify(json));
    },
  };
}

test("serverAddressKey / keyHostname", () => {
  expect(serverAddressKey("docker.io")).toBe(DOCKER_HUB_KEY);
  expect(serverAddressKey("registry-1.docker.io")).toBe(DOCKER_HUB_KEY);
  expect(serverAddressKey("ghcr.io")).toBe("ghcr.io");
  expect(serverAddressKey("localhost:5000")).toBe("localhost:5000");
  expect(keyHostname("https://index.docker.io/v1/")).toBe("index.docker.io");
  expect(keyHostname("reg.example.com:5000")).toBe("reg.example.com:5000");
});

describe("credentials.json", () => {
  test("written as kit writes it: tabs, no trailing newline, mode 0600, home created 0700", async () => {
    const s = setup();
    await s.store().put("reg.example.com:5000", { username: "alice", password: "p:w<>" });
    expect(readFileSync(s.file, "utf8")).toBe(
      `{\n\t"auths": {\n\t\t"reg.example.com:5000": {\n\t\t\t"auth": "${btoa("alice:p:w<>")}"\n\t\t}\n\t}\n}`,
    );
    expect(statSync(s.file).mode & 0o777).toBe(0o600);
    expect(statSync(s.home).mode & 0o777).toBe(0o700);
    expect(await s.store().get("reg.example.com:5000")).toEqual({ username: "alice", password: "p:w<>" });
    s.cleanup();
  });

  test("other keys and entries are kept; keys sorted as Go maps; Go escaping", async () => {
    const s = setup();
    mkdirSync(s.home);
    writeFileSync(s.file, JSON.stringify({ zzz: { b: 1, a: "<x>" }, auths: { "b.io": { auth: btoa("b:b"), email: "e" } }, HttpHeaders: { "X-A": "1" } }));
    await s.store().put("a.io", { refreshToken: "refresh&1" });
    expect(readFileSync(s.file, "utf8")).toBe([
      "{",
      '\t"HttpHeaders": {',
      '\t\t"X-A": "1"',
      "\t},",
      '\t"auths": {',
      '\t\t"a.io": {',
      '\t\t\t"identitytoken": "refresh\\u00261"',
      "\t\t},",
      '\t\t"b.io": {',
      `\t\t\t"auth": "${btoa("b:b")}",`,
      '\t\t\t"email": "e"',
      "\t\t}",
      "\t},",
      '\t"zzz": {',
      '\t\t"b": 1,',
      '\t\t"a": "\\u003cx\\u003e"',
      "\t}",
      "}",
    ].join("\n"));
    expect(await s.store().get("a.io")).toEqual({ refreshToken: "refresh&1" });
    s.cleanup();
  });

  test("Docker Hub is stored under its legacy key; lookups also match a key by host", async () => {
    const s = setup();
    await s.store().put("docker.io", { username: "u", password: "p" });
    expect(Object.keys(JSON.parse(readFileSync(s.file, "utf8")).auths)).toEqual([DOCKER_HUB_KEY]);
    expect(await s.store().get("registry-1.docker.io")).toEqual({ username: "u", password: "p" });
    writeFileSync(s.file, JSON.stringify({ auths: { "https://reg.example.com/v1/": { username: "legacy", password: "pw", registrytoken: "at" } } }));
    expect(await s.store().get("reg.example.com")).toEqual({ username: "legacy", password: "pw", accessToken: "at" });
    s.cleanup();
  });

  test("delete removes the entry (and host variants); deleting nothing is fine", async () => {
    const s = setup();
    await s.store().delete("nothing.io");
    expect(existsSync(s.file)).toBe(false);
    await s.store().put("a.io", { username: "u", password: "p" });
    await s.store().put("b.io", { username: "u", password: "p" });
    await s.store().delete("a.io");
    expect(Object.keys(JSON.parse(readFileSync(s.file, "utf8")).auths)).toEqual(["b.io"]);
    expect(await s.store().get("a.io")).toEqual({});
    s.cleanup();
  });

  test("falls back to Docker's config for reading, never writes it", async () => {
    const s = setup();
    mkdirSync(s.docker);
    const dockerFile = path.join(s.docker, "config.json");
    const dockerText = JSON.stringify({ auths: { "ghcr.io": { auth: btoa("dock:er") } } });
    writeFileSync(dockerFile, dockerText);
    expect(await s.store().get("ghcr.io")).toEqual({ username: "dock", password: "er" });
    await s.store().put("ghcr.io", { username: "kit", password: "own" });
    expect(await s.store().get("ghcr.io")).toEqual({ username: "kit", password: "own" });
    await s.store().delete("ghcr.io");
    expect(readFileSync(dockerFile, "utf8")).toBe(dockerText);
    expect(await s.store().get("ghcr.io")).toEqual({ username: "dock", password: "er" });
    s.cleanup();
  });

  test("a broken file is a clear error", async () => {
    const s = setup();
    mkdirSync(s.home);
    writeFileSync(s.file, "{nope");
    const e = await s.store().get("a.io").catch((x) => x);
    expect(e).toBeInstanceOf(KitError);
    expect(e.message).toStartWith(`failed to decode config file ${s.file}: `);
    s.cleanup();
  });
});

describe("credential helpers", () => {
  test("credsStore: store, get and erase go through docker-credential-<name>", async () => {
    const s = setup();
    const h = fakeHelper(s.bin, "fake");
    mkdirSync(s.home);
    writeFileSync(s.file, JSON.stringify({ credsStore: "fake" }));
    await s.store().put("reg.io", { username: "u", password: "secret" });
    expect(JSON.parse(h.input("store"))).toEqual({ ServerURL: "reg.io", Username: "u", Secret: "secret" });
    expect(readFileSync(s.file, "utf8")).toBe(JSON.stringify({ credsStore: "fake" }));
    expect(await s.store().get("reg.io")).toEqual({});
    h.answer({ ServerURL: "reg.io", Username: "u", Secret: "secret" });
    expect(await s.store().get("reg.io")).toEqual({ username: "u", password: "secret" });
    expect(h.input("get")).toBe("reg.io");
    h.answer({ ServerURL: "reg.io", Username: "<token>", Secret: "idtok" });
    expect(await s.store().get("reg.io")).toEqual({ refreshToken: "idtok" });
    await s.store().delete("reg.io");
    expect(h.input("erase")).toBe("reg.io");
    s.cleanup();
  });

  test("credHelpers route one registry to its helper; others stay in the file", async () => {
    const s = setup();
    const h = fakeHelper(s.bin, "ecr");
    mkdirSync(s.home);
    writeFileSync(s.file, JSON.stringify({ credHelpers: { "1.dkr.ecr.amazonaws.com": "ecr" } }));
    await s.store().put("1.dkr.ecr.amazonaws.com", { refreshToken: "t" });
    expect(JSON.parse(h.input("store"))).toEqual({ ServerURL: "1.dkr.ecr.amazonaws.com", Username: "<token>", Secret: "t" });
    await s.store().put("other.io", { username: "a", password: "b" });
    expect(JSON.parse(readFileSync(s.file, "utf8")).auths["other.io"]).toEqual({ auth: btoa("a:b") });
    s.cleanup();
  });

  test("a fresh file uses the platform helper when installed (pass needs `pass` too) and records it", async () => {
    const s = setup();
    const ss = fakeHelper(s.bin, "secretservice");
    fakeHelper(s.bin, "pass");
    await s.store().put("reg.io", { username: "u", password: "p" });
    expect(JSON.parse(ss.input("store")).Secret).toBe("p");
    expect(readFileSync(s.file, "utf8")).toBe('{\n\t"credsStore": "secretservice"\n}');
    s.cleanup();

    const t = setup();
    const pass = fakeHelper(t.bin, "pass");
    writeFileSync(path.join(t.bin, "pass"), "#!/bin/sh\n");
    chmodSync(path.join(t.bin, "pass"), 0o755);
    await t.store().put("reg.io", { username: "u", password: "p" });
    expect(JSON.parse(pass.input("store")).Username).toBe("u");
    expect(JSON.parse(readFileSync(t.file, "utf8"))).toEqual({ credsStore: "pass" });
    t.cleanup();
  });

  test("a missing helper program is an error naming it", async () => {
    const s = setup();
    mkdirSync(s.home);
    writeFileSync(s.file, JSON.stringify({ credsStore: "gone" }));
    const e = await s.store().get("reg.io").catch((x) => x);
    expect(e.message).toBe("credential helper docker-credential-gone was not found on PATH");
    s.cleanup();
  });
});

test("encodeConfig of an empty object", () => {
  expect(encodeConfig({})).toBe("{}");
});
