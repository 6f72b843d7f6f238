import { describe, expect, test } from "bun:test";
import { AuthClient, basicAuthorization, cleanScopes, type Credential, CredentialPolicyError, parseChallenge, repositoryScope, TokenError } from "../../src/registry/auth.ts";
import { RegistryError, responseError } from "../../src/registry/http.ts";
import { Transport } from "../../src/registry/transport.ts";
import { FakeRegistry } from "./fake-registry.ts";

describe("parseChallenge", () => {
  test("Bearer with quoted parameters", () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"')).toEqual({
      scheme: "bearer",
      params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:samalba/my-app:pull,push" },
    });
  });
  test("Basic, unquoted values, escapes, spaces, upper-case names", () => {
    expect(parseChallenge('Basic realm="kit-test"')).toEqual({ scheme: "basic", params: { realm: "kit-test" } });
    expect(parseChallenge("BEARER Realm=https://t/x , Service=s")).toEqual({ scheme: "bearer", params: { realm: "https://t/x", service: "s" } });
    expect(parseChallenge('Bearer realm="a\\"b"')?.params.realm).toBe('a"b');
  });
  test("only the first of several challenges; junk is undefined", () => {
    expect(parseChallenge('Bearer realm="https://a/t", Basic realm="b"')).toEqual({ scheme: "bearer", params: { realm: "https://a/t" } });
    expect(parseChallenge(null)).toBeUndefined();
    expect(parseChallenge("  ")).toBeUndefined();
  });
});

test("cleanScopes merges actions per resource and sorts", () => {
  expect(cleanScopes(["repository:a/b:push", "repository:a/b:pull", "repository:c:pull registry:catalog:*", "repository:a/b:pull,push"])).toEqual([
    "registry:catalog:*",
    "repository:a/b:pull,push",
    "repository:c:pull",
  ]);
  expect(cleanScopes(["repository:x:*,pull"])).toEqual(["repository:x:*"]);
  expect(repositoryScope("org/m", "pull", "push")).toBe("repository:org/m:pull,push");
});

const REG = "http://reg.test";

/** An auth client whose credential store knows `cred` for reg.test only (a plain-HTTP registry, as with --plain-http). */
function client(fake: FakeRegistry, cred: Credential = {}) {
  const transport = new Transport({ userAgent: "kitops-cli/t", fetch: fake.fetch, sleep: async () => {} });
  const c = new AuthClient({ transport, credential: async (host) => (host === "reg.test" ? cred : {}) });
  c.alias(new URL(REG), "reg.test");
  return c;
}
const get = (path: string) => ({ method: "GET", url: new URL(REG + path) });

describe("Basic", () => {
  test("answers the challenge once, then sends the cached header directly", async () => {
    const fake = new FakeRegistry({ auth: { kind: "basic", users: { alice: "pw" } } });
    fake.putManifest("a/b", "application/vnd.oci.image.manifest.v1+json", new TextEncoder().encode("{}"), "v1");
    const c = client(fake, { username: "alice", password: "pw" });
    expect((await c.send(get("/v2/"))).status).toBe(200);
    expect((await c.send(get("/v2/a/b/manifests/v1"))).status).toBe(200);
    expect(fake.log.map((r) => [r.url.pathname, r.headers.get("authorization")])).toEqual([
      ["/v2/", null],
      ["/v2/", basicAuthorization("alice", "pw")],
      ["/v2/a/b/manifests/v1", basicAuthorization("alice", "pw")],
    ]);
  });

  test("no credential: the 401 becomes a RegistryError", async () => {
    const fake = new FakeRegistry({ auth: { kind: "basic", users: { alice: "pw" } } });
    const e = await client(fake).send(get("/v2/")).catch((x) => x);
    expect(e).toBeInstanceOf(RegistryError);
    expect([e.status, e.message]).toEqual([401, "unauthorized: authentication required"]);
  });

  test("wrong password: the retried request's 401 is returned", async () => {
    const fake = new FakeRegistry({ auth: { kind: "basic", users: { alice: "pw" } } });
    expect((await client(fake, { username: "alice", password: "nope" }).send(get("/v2/"))).status).toBe(401);
  });

  test("the registry's credential never goes to another host", async () => {
    const fake = new FakeRegistry({ auth: { kind: "basic", users: { alice: "pw" } } });
    const c = client(fake, { username: "alice", password: "pw" });
    await c.send(get("/v2/"));
    const e = await c.send({ method: "GET", url: new URL("http://elsewhere.test/v2/") }).catch((x) => x);
    expect(e).toBeInstanceOf(RegistryError);
    const other = fake.log.filter((r) => r.url.host === "elsewhere.test");
    expect(other.map((r) => r.headers.get("authorization"))).toEqual([null]);
  });
});

describe("Bearer", () => {
  const fakeBearer = () => {
    const fake = new FakeRegistry({ auth: { kind: "bearer", users: { alice: "pw" }, refreshTokens: { "refresh-123": "alice" } } });
    fake.putManifest("a/b", "application/vnd.oci.image.manifest.v1+json", new TextEncoder().encode("{}"), "v1");
    fake.putManifest("c/d", "application/vnd.oci.image.manifest.v1+json", new TextEncoder().encode("{}"), "v1");
    return fake;
  };

  test("fetches a token for the operation's scopes plus the challenge's, with Basic credentials, and caches it per scope set", async () => {
    const fake = fakeBearer();
    const c = client(fake, { username: "alice", password: "pw" });
    const push = ["repository:a/b:pull,push"];
    expect((await c.send(get("/v2/a/b/manifests/v1"), push)).status).toBe(200);
    expect((await c.send({ method: "HEAD", url: new URL(REG + "/v2/a/b/manifests/v1") }, push)).status).toBe(200);
    expect(fake.tokensIssued).toEqual([{ user: "alice", scopes: ["repository:a/b:pull,push"], via: "GET" }]);
    const tokenReq = fake.log.find((r) => r.url.pathname === "/token")!;
    expect(tokenReq.url.search).toBe("?service=fake-registry&scope=repository%3Aa%2Fb%3Apull%2Cpush");
    expect(tokenReq.headers.get("authorization")).toBe(basicAuthorization("alice", "pw"));
    // Another repository: another scope set, another token.
    expect((await c.send(get("/v2/c/d/manifests/v1"), ["repository:c/d:pull"])).status).toBe(200);
    expect(fake.tokensIssued.length).toBe(2);
  });

  test("anonymous: no Authorization on the token request; push is refused with 401", async () => {
    const fake = fakeBearer();
    const c = client(fake);
    expect((await c.send(get("/v2/a/b/manifests/v1"), ["repository:a/b:pull"])).status).toBe(200);
    expect(fake.log.find((r) => r.url.pathname === "/token")!.headers.get("authorization")).toBeNull();
    const put = await c.send({ method: "PUT", url: new URL(REG + "/v2/a/b/manifests/v2"), body: new Uint8Array(2) }, ["repository:a/b:pull,push"]);
    expect(put.status).toBe(401);
  });

  test("an identity token is exchanged with the OAuth2 POST form", async () => {
    const fake = fakeBearer();
    const c = client(fake, { refreshToken: "refresh-123" });
    expect((await c.send(get("/v2/a/b/manifests/v1"), ["repository:a/b:pull"])).status).toBe(200);
    const post = fake.log.find((r) => r.url.pathname === "/token")!;
    expect(post.method).toBe("POST");
    expect(post.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(fake.tokensIssued).toEqual([{ user: "alice", scopes: ["repository:a/b:pull"], via: "POST" }]);
  });

  test("an access token is sent as it is", async () => {
    const fake = fakeBearer();
    const anon = client(fake);
    await anon.send(get("/v2/a/b/manifests/v1"), ["repository:a/b:pull"]);
    const issued = (await anon.cachedAuthorization(new URL(REG), ["repository:a/b:pull"]))!.slice("Bearer ".length);
    const c = client(fake, { accessToken: issued });
    const before = fake.tokensIssued.length;
    expect((await c.send(get("/v2/a/b/manifests/v1"), ["repository:a/b:pull"])).status).toBe(200);
    expect(fake.tokensIssued.length).toBe(before);
  });

  test("a refused token request names the realm and the server's answer, without the password", async () => {
    const fake = fakeBearer();
    const e = await client(fake, { username: "alice", password: "wrong-pw" }).send(get("/v2/")).catch((x) => x);
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.message).toBe("failed to fetch an auth token from http://reg.test/token: Unauthorized (additional info: invalid credentials)");
    expect(e.message).not.toContain("wrong-pw");
  });

  test("a streamed request that meets a 401 is not sent again", async () => {
    const fake = fakeBearer();
    const body = new ReadableStream<Uint8Array>({ start: (ctl) => (ctl.enqueue(new Uint8Array(4)), ctl.close()) });
    const res = await client(fake, { username: "alice", password: "pw" }).send({ method: "PATCH", url: new URL(REG + "/v2/a/b/blobs/uploads/x"), body });
    expect(res.status).toBe(401);
    expect(fake.log.filter((r) => r.url.pathname !== "/token").length).toBe(1);
  });
});

describe("credentials only where they belong", () => {
  const HTTPS = "https://reg.test";
  const setup = (realmOrigin: string, cred: Credential, opts: { allowCrossSiteAuth?: boolean; registry?: string } = {}) => {
    const fake = new FakeRegistry({ auth: { kind: "bearer", users: { alice: "pw" }, refreshTokens: { "refresh-123": "alice" }, realmOrigin } });
    fake.putManifest("a/b", "application/vnd.oci.image.manifest.v1+json", new TextEncoder().encode("{}"), "v1");
    const base = new URL(opts.registry ?? HTTPS);
    const transport = new Transport({ userAgent: "kitops-cli/t", fetch: fake.fetch, sleep: async () => {} });
    const c = new AuthClient({ transport, credential: async (host) => (host === base.host ? cred : {}), allowCrossSiteAuth: opts.allowCrossSiteAuth });
    c.alias(base, base.host);
    const manifest = () => c.send({ method: "GET", url: new URL("/v2/a/b/manifests/v1", base) }, ["repository:a/b:pull"]);
    const tokenRequests = () => fake.log.filter((r) => r.url.pathname === "/token");
    return { fake, c, manifest, tokenRequests };
  };
  const password = { username: "alice", password: "pw" };

  for (const [what, cred] of [["a password", password], ["an identity token", { refreshToken: "refresh-123" }]] as const) {
    test(`${what} never goes to a realm over a downgrade to plain HTTP`, async () => {
      const { manifest, tokenRequests } = setup("http://reg.test", cred);
      const e = await manifest().catch((x) => x);
      expect(e).toBeInstanceOf(CredentialPolicyError);
      expect(e.message).toBe("Refusing to send the credentials for reg.test to its token server reg.test over plain HTTP (the registry uses HTTPS)");
      expect(tokenRequests()).toEqual([]);
    });

    test(`${what} never goes to a realm on an unrelated site without the opt-in; the error names both hosts and the opt-in`, async () => {
      const { manifest, tokenRequests } = setup("https://auth.evil.example", cred);
      const e = await manifest().catch((x) => x);
      expect(e).toBeInstanceOf(CredentialPolicyError);
      expect(e.message).toBe("Refusing to send the credentials for reg.test to auth.evil.example: the registry named a token server on an unrelated site");
      expect(e.hint).toBe("If you trust auth.evil.example with your credentials for reg.test, pass --allow-cross-site-auth or set KITOPS_ALLOW_CROSS_SITE_AUTH=1");
      expect(tokenRequests()).toEqual([]);
    });
  }

  test("with --allow-cross-site-auth the unrelated realm gets the credential (over HTTPS)", async () => {
    const { manifest, tokenRequests } = setup("https://auth.evil.example", password, { allowCrossSiteAuth: true });
    expect((await manifest()).status).toBe(200);
    expect(tokenRequests().map((r) => r.headers.get("authorization"))).toEqual([basicAuthorization("alice", "pw")]);
    // …but never over a downgrade, opt-in or not
    const down = setup("http://auth.evil.example", password, { allowCrossSiteAuth: true });
    expect(await down.manifest().catch((x) => x)).toBeInstanceOf(CredentialPolicyError);
    expect(down.tokenRequests()).toEqual([]);
  });

  test("a sibling host of the same registrable domain and another port of the same host are allowed", async () => {
    const sibling = setup("https://auth.docker.io", password, { registry: "https://registry-1.docker.io" });
    expect((await sibling.manifest()).status).toBe(200);
    expect(sibling.tokenRequests().length).toBe(1);
    const port = setup("http://127.0.0.1:5001", password, { registry: "http://127.0.0.1:5000" });
    expect((await port.manifest()).status).toBe(200);
    const ip = setup("http://127.0.0.2:5001", password, { registry: "http://127.0.0.1:5000" });
    expect(await ip.manifest().catch((x) => x)).toBeInstanceOf(CredentialPolicyError);
  });

  test("anonymous token requests may go anywhere: they carry nothing", async () => {
    const { manifest, tokenRequests } = setup("http://auth.elsewhere.example", {});
    expect((await manifest()).status).toBe(200);
    expect(tokenRequests().map((r) => r.headers.get("authorization"))).toEqual([null]);
  });

  test("an http:// URL never gets the credential of the https registry on the same host", async () => {
    const fake = new FakeRegistry({ auth: { kind: "basic", users: { alice: "pw" } } });
    const transport = new Transport({ userAgent: "kitops-cli/t", fetch: fake.fetch, sleep: async () => {} });
    const c = new AuthClient({ transport, credential: async () => password });
    c.alias(new URL(HTTPS), "reg.test");
    expect((await c.send({ method: "GET", url: new URL(`${HTTPS}/v2/`) })).status).toBe(200);
    const e = await c.send({ method: "GET", url: new URL("http://reg.test/v2/") }).catch((x) => x);
    expect(e).toBeInstanceOf(RegistryError);
    expect(fake.log.filter((r) => r.url.protocol === "http:").map((r) => r.headers.get("authorization"))).toEqual([null]);
  });

  test("a token response larger than 128 KiB is refused without reading it all", async () => {
    const { fake, manifest } = setup(HTTPS, password);
    let sent = 0;
    fake.intercept((_req, url) => url.pathname === "/token" ? new Response(new ReadableStream({
      pull(ctl) {
        sent += 64 * 1024;
        ctl.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        if (sent > 64 * 1024 * 1024) ctl.close();
      },
    }), { status: 200 }) : undefined);
    const e = await manifest().catch((x) => x);
    expect(e).toBeInstanceOf(TokenError);
    expect(e.message).toBe(`The token server ${HTTPS}/token sent more than 128 KiB`);
    expect(sent).toBeLessThan(1024 * 1024);
  });
});

describe("a final 401/403 names the registry and the kit login to run", () => {
  test("no credential, stale credential, plain HTTP", async () => {
    const fake = new FakeRegistry({ auth: { kind: "basic", users: { alice: "pw" } } });
    const none = await client(fake).send(get("/v2/")).catch((x) => x);
    expect(none.hint).toBe("reg.test needs you to log in: kit login reg.test --plain-http");
    const stale = await client(fake, { username: "alice", password: "old" }).send(get("/v2/"));
    const err = await responseError(stale, "GET", REG);
    expect(err.hint).toBe("reg.test refused the stored credentials (out of date, or without access to this repository): log in again with kit login reg.test --plain-http");
  });

  test("403 with and without a credential", async () => {
    const fake = new FakeRegistry();
    fake.intercept(() => new Response("denied", { status: 403 }));
    const anon = await client(fake).send(get("/v2/a/b/tags/list"));
    expect((await responseError(anon, "GET", REG)).hint).toBe("reg.test does not allow anonymous access to this: log in with kit login reg.test --plain-http");
    fake.intercept(() => new Response("denied", { status: 403 }));
    const denied = await client(fake, { username: "bob", password: "pw" }).send(get("/v2/a/b/tags/list"));
    expect((await responseError(denied, "GET", REG)).hint).toBe(
      "The credentials stored for reg.test do not give access to this repository: check its name, or log in as another user with kit login reg.test --plain-http",
    );
  });
});
