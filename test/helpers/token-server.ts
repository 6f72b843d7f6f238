/**
 * A small Docker/OCI token server for distribution's `auth: token` (tests only, Bun only):
 * RS256 JWTs whose `x5c` header carries a self-signed certificate made with openssl at test time;
 * the registry trusts it through `rootcertbundle`. Known users get what they ask for, anonymous
 * callers get `pull` only, wrong passwords get 401. The OAuth2 POST form (`grant_type=password`
 * or `refresh_token`) is supported too, so identity tokens can be tested.
 */
import { execFileSync } from "node:child_process";
import { createSign, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

export interface TokenServer {
  /** The realm URL (`http://127.0.0.1:<port>/token`). */
  realm: string;
  service: string;
  issuer: string;
  /** The certificate to put in the registry's `rootcertbundle`. */
  certPath: string;
  /** Refresh tokens handed out or accepted (token → user). */
  refreshTokens: Map<string, string>;
  /** Every token request seen: method, user ("" = anonymous), scopes, and whether it was granted. */
  requests: Array<{ method: string; user: string; scopes: string[]; granted: boolean }>;
  stop(): Promise<void>;
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Makes an RSA key and a self-signed certificate in `dir` with openssl. */
export function makeSigningCert(dir: string): { keyPath: string; certPath: string } {
  const keyPath = path.join(dir, "token.key");
  const certPath = path.join(dir, "token.crt");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath,
    "-days", "2", "-subj", "/CN=kit-test-token-issuer",
  ], { stdio: "ignore" });
  return { keyPath, certPath };
}

export async function startTokenServer(opts: { dir: string; users: Record<string, string>; service?: string; issuer?: string }): Promise<TokenServer> {
  const { keyPath, certPath } = makeSigningCert(opts.dir);
  const key = readFileSync(keyPath, "utf8");
  const certDer = new X509Certificate(readFileSync(certPath)).raw.toString("base64");
  const service = opts.service ?? "kit-test-registry";
  const issuer = opts.issuer ?? "kit-test-issuer";
  const refreshTokens = new Map<string, string>();
  const requests: TokenServer["requests"] = [];

  const sign = (sub: string, scopes: string[], aud: string) => {
    const access = scopes.flatMap((s) => {
      const parts = s.split(":");
      if (parts.length < 3) return [];
      const type = parts[0]!;
      const actions = parts.at(-1)!.split(",");
      const name = parts.slice(1, -1).join(":");
      const granted = sub ? actions : actions.filter((a) => a === "pull");
      return [{ type, name, actions: granted }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", x5c: [certDer] };
    const claims = { iss: issuer, sub, aud, exp: now + 600, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    return `${input}.${b64u(createSign("RSA-SHA256").update(input).sign(key))}`;
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const u = new URL(req.url);
      if (u.pathname !== "/token") return new Response("not found", { status: 404 });
      let user = "";
      let scopes: string[] = [];
      let aud = service;
      let refresh: string | undefined;
      if (req.method === "POST") {
        const form = new URLSearchParams(await req.text());
        aud = form.get("service") || service;
        scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
        const grant = form.get("grant_type");
        if (grant === "refresh_token") {
          user = refreshTokens.get(form.get("refresh_token") ?? "") ?? "";
          if (!user) {
            requests.push({ method: "POST", user: "", scopes, granted: false });
            return Response.json({ error: "invalid_grant" }, { status: 401 });
          }
        } else if (grant === "password") {
          const name = form.get("username") ?? "";
          if (opts.users[name] === undefined || opts.users[name] !== form.get("password")) {
            requests.push({ method: "POST", user: name, scopes, granted: false });
            return Response.json({ error: "invalid_grant" }, { status: 401 });
          }
          user = name;
          refresh = crypto.randomUUID();
          refreshTokens.set(refresh, user);
        } else {
          return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
        }
        requests.push({ method: "POST", user, scopes, granted: true });
        const token = sign(user, scopes, aud);
        return Response.json({ access_token: token, expires_in: 600, ...(refresh ? { refresh_token: refresh } : {}) });
      }
      scopes = u.searchParams.getAll("scope");
      aud = u.searchParams.get("service") || service;
      const auth = req.headers.get("authorization");
      if (auth?.startsWith("Basic ")) {
        const text = Buffer.from(auth.slice(6), "base64").toString();
        const i = text.indexOf(":");
        const name = text.slice(0, i);
        if (i < 0 || opts.users[name] === undefined || opts.users[name] !== text.slice(i + 1)) {
          requests.push({ method: "GET", user: name, scopes, granted: false });
          return new Response("invalid username or password", { status: 401 });
        }
        user = name;
      }
      requests.push({ method: "GET", user, scopes, granted: true });
      const token = sign(user, scopes, aud);
      return Response.json({ token, access_token: token, expires_in: 600, issued_at: new Date().toISOString() });
    },
  });
  return {
    realm: `http://127.0.0.1:${server.port}/token`,
    service,
    issuer,
    certPath,
    refreshTokens,
    requests,
    stop: async () => void (await server.stop(true)),
  };
}
