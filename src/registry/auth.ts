/**
 * Registry authentication as a decorator around the transport (oras `auth.Client`): on a 401 the
 * `WWW-Authenticate` challenge is parsed, a Basic header or a Bearer token for the scopes of the
 * operation is obtained (token cache per host and scope set; refresh/identity tokens through the
 * OAuth2 POST form), and the request is sent once more. Credentials are only ever attached to
 * requests for the host they belong to (and, as the token protocol requires, to that host's token
 * realm); they never appear in logs or error messages.
 * @module
 */
import { KitError } from "../util/errors.ts";
import { expectStatus, RegistryError, redactUrl, responseError } from "./http.ts";
import { type HttpRequest, isReplayable, type Transport } from "./transport.ts";

/** What a credential store holds for one registry. */
export interface Credential {
  username?: string;
  password?: string;
  /** An identity (refresh) token: exchanged for access tokens with the OAuth2 POST flow. */
  refreshToken?: string;
  /** A ready access token (`registrytoken`), sent as is. */
  accessToken?: string;
}

export const EMPTY_CREDENTIAL: Credential = {};

export function isEmptyCredential(c: Credential): boolean {
  return !c.username && !c.password && !c.refreshToken && !c.accessToken;
}

/** Looks up the credential for `host[:port]` (empty when there is none). */
export type CredentialFn = (hostport: string) => Promise<Credential>;

export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`, or whatever the server said. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses the first challenge of a `WWW-Authenticate` header: `Scheme k="v", k2=v2`. Parameter
 * names are lower-cased; quoted values may contain commas and backslash escapes.
 */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const s = header.trim();
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*/.exec(s);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const params: Record<string, string> = {};
  let i = m[0].length;
  while (i < s.length) {
    while (i < s.length && (s[i] === " " || s[i] === ",")) i++;
    const km = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(s.slice(i));
    if (!km) break;
    const key = km[1]!.toLowerCase();
    i += km[0].length;
    let value = "";
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
      i++; // closing quote
    } else {
      const vm = /^[^,\s]*/.exec(s.slice(i))!;
      value = vm[0];
      i += vm[0].length;
    }
    if (!(key in params)) params[key] = value;
    // A second challenge starts with a scheme followed by a space (`, Basic realm=...`): stop there.
    const rest = s.slice(i);
    if (/^\s*,\s*[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*\s+[A-Za-z0-9!#$%&'*+.^_`|~-]+\s*=/.test(rest)) break;
  }
  return { scheme, params };
}

/** `repository:<name>:<actions>` for a repository and actions (`pull`, `push`, `delete`). */
export function repositoryScope(repository: string, ...actions: string[]): string {
  return `repository:${repository}:${actions.join(",")}`;
}

/**
 * Merges scope strings: actions of the same `type:name` are united and sorted, duplicates dropped,
 * the result sorted (oras `CleanScopes`). A `*` action stands for everything.
 */
export function cleanScopes(scopes: string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  const others = new Set<string>();
  for (const scope of scopes) {
    for (const sc of scope.split(" ")) {
      if (!sc) continue;
      const last = sc.lastIndexOf(":");
      const first = sc.indexOf(":");
      if (first < 0 || last === first) {
        others.add(sc);
        continue;
      }
      const resource = sc.slice(0, last);
      const actions = sc.slice(last + 1).split(",").filter(Boolean);
      if (actions.length === 0) continue;
      let set = byResource.get(resource);
      if (!set) byResource.set(resource, (set = new Set()));
      for (const a of actions) set.add(a);
    }
  }
  const out = [...others];
  for (const [resource, actions] of byResource) {
    const list = actions.has("*") ? ["*"] : [...actions].sort();
    out.push(`${resource}:${list.join(",")}`);
  }
  return out.sort();
}

function base64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** `Basic base64(user:pass)`. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${base64(`${username}:${password}`)}`;
}

interface HostState {
  scheme?: "basic" | "bearer";
  basic?: string;
  /** Bearer tokens by scope key (sorted scopes joined by a space). */
  tokens: Map<string, Promise<string>>;
}

export interface AuthClientOptions {
  transport: Transport;
  credential: CredentialFn;
  /** OAuth2 `client_id` for the refresh-token flow (oras: `oras-go`). */
  clientId?: string;
}

/** A failure to get a token from the realm. */
export class TokenError extends KitError {
  override name = "TokenError";
}

/** Sends requests with authentication; one per command, shared by every repository it opens. */
export class AuthClient {
  readonly transport: Transport;
  readonly #credential: CredentialFn;
  readonly #clientId: string;
  readonly #hosts = new Map<string, HostState>();
  readonly #aliases = new Map<string, string>();

  constructor(opts: AuthClientOptions) {
    this.transport = opts.transport;
    this.#credential = opts.credential;
    this.#clientId = opts.clientId ?? "oras-go";
  }

  /**
   * Says that requests to URL host `urlHost` are for registry `registry` (`reg.io:443` is sent
   * to `reg.io`, Docker Hub's API is `registry-1.docker.io`): its credential is looked up under
   * the registry's name. Other hosts (a blob redirect, an upload location elsewhere) never get it.
   */
  alias(urlHost: string, registry: string): void {
    this.#aliases.set(urlHost, registry);
  }

  #credentialFor(host: string): Promise<Credential> {
    return this.#credential(this.#aliases.get(host) ?? host);
  }

  #state(host: string): HostState {
    let st = this.#hosts.get(host);
    if (!st) this.#hosts.set(host, (st = { tokens: new Map() }));
    return st;
  }

  /** The Authorization header a request for `host` with `scopes` would carry now, if any is cached. */
  async cachedAuthorization(host: string, scopes: string[]): Promise<string | undefined> {
    const st = this.#hosts.get(host);
    if (!st?.scheme) return undefined;
    if (st.scheme === "basic") return st.basic;
    const p = st.tokens.get(cleanScopes(scopes).join(" "));
    if (!p) return undefined;
    try {
      return `Bearer ${await p}`;
    } catch {
      return undefined;
    }
  }

  /**
   * Sends `req` for an operation needing `scopes`. A cached credential for the host is attached
   * first; on a 401 the challenge is answered and a replayable request is sent once more (a
   * streamed one returns the 401). Other statuses are returned as they are.
   */
  async send(req: HttpRequest, scopes: string[] = []): Promise<Response> {
    const host = req.url.host;
    const headers = new Headers(req.headers);
    const callerAuth = headers.has("authorization");
    if (!callerAuth) {
      const cached = await this.cachedAuthorization(host, scopes);
      if (cached) headers.set("authorization", cached);
    }
    const res = await this.transport.send({ ...req, headers });
    if (res.status !== 401 || callerAuth || !isReplayable(req)) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate"));
    const err = await responseError(res, req.method, req.url);
    const authorization = await this.#answer(host, challenge, scopes, err, req.signal);
    headers.set("authorization", authorization);
    return this.transport.send({ ...req, headers });
  }

  /** Works out the Authorization header for a challenge; throws `unauthorized` when there is no way. */
  async #answer(host: string, ch: Challenge | undefined, scopes: string[], unauthorized: RegistryError, signal?: AbortSignal): Promise<string> {
    const st = this.#state(host);
    if (!ch) throw unauthorized;
    if (ch.scheme === "basic") {
      const cred = await this.#credentialFor(host);
      if (!cred.username && !cred.password) throw unauthorized;
      st.scheme = "basic";
      st.basic = basicAuthorization(cred.username ?? "", cred.password ?? "");
      return st.basic;
    }
    if (ch.scheme !== "bearer") throw unauthorized;
    const realm = ch.params.realm;
    if (!realm) throw new TokenError(`The registry ${host} asked for a Bearer token without naming a realm`);
    const all = cleanScopes([...scopes, ...(ch.params.scope ? [ch.params.scope] : [])]);
    const key = all.join(" ");
    st.scheme = "bearer";
    // A 401 means the token we sent (if any) is no good: always fetch a fresh one.
    const p = this.#fetchToken(host, realm, ch.params.service ?? "", all, signal);
    st.tokens.set(key, p);
    p.catch(() => {
      if (st.tokens.get(key) === p) st.tokens.delete(key);
    });
    return `Bearer ${await p}`;
  }

  async #fetchToken(host: string, realm: string, service: string, scopes: string[], signal?: AbortSignal): Promise<string> {
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new TokenError(`The registry ${host} named an invalid token realm`);
    }
    if (realmUrl.protocol !== "https:" && realmUrl.protocol !== "http:") {
      throw new TokenError(`The registry ${host} named a token realm with unsupported scheme ${realmUrl.protocol}`);
    }
    const cred = await this.#credentialFor(host);
    if (cred.accessToken) return cred.accessToken;
    if (cred.refreshToken) return this.#oauth2(realmUrl, service, scopes, cred.refreshToken, signal);
    const url = new URL(realmUrl);
    if (service) url.searchParams.set("service", service);
    for (const s of scopes) url.searchParams.append("scope", s);
    const headers = new Headers({ accept: "application/json" });
    if (cred.username || cred.password) headers.set("authorization", basicAuthorization(cred.username ?? "", cred.password ?? ""));
    const res = await this.transport.send({ method: "GET", url, headers, signal });
    return tokenFrom(await this.#tokenResponse(res, "GET", url), ["token", "access_token"], url);
  }

  async #oauth2(realm: URL, service: string, scopes: string[], refreshToken: string, signal?: AbortSignal): Promise<string> {
    const form = new URLSearchParams();
    form.set("grant_type", "refresh_token");
    form.set("refresh_token", refreshToken);
    form.set("service", service);
    form.set("client_id", this.#clientId);
    if (scopes.length) form.set("scope", scopes.join(" "));
    const headers = new Headers({ "content-type": "application/x-www-form-urlencoded", accept: "application/json" });
    const res = await this.transport.send({
      method: "POST",
      url: realm,
      headers,
      body: new TextEncoder().encode(form.toString()),
      signal,
    });
    return tokenFrom(await this.#tokenResponse(res, "POST", realm), ["access_token"], realm);
  }

  async #tokenResponse(res: Response, method: string, url: URL): Promise<unknown> {
    try {
      await expectStatus(res, method, url, 200);
    } catch (e) {
      if (e instanceof RegistryError) {
        throw new RegistryError(`failed to fetch an auth token from ${redactUrl(url)}: ${e.message}`, {
          status: e.status,
          method,
          url: e.url,
          errors: e.errors,
        });
      }
      throw e;
    }
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new TokenError(`The token server ${redactUrl(url)} did not answer with JSON`);
    }
  }
}

function tokenFrom(body: unknown, fields: string[], url: URL): string {
  const o = (body ?? {}) as Record<string, unknown>;
  for (const f of fields) {
    const v = o[f];
    if (typeof v === "string" && v) return v;
  }
  throw new TokenError(`The token server ${redactUrl(url)} answered without a token`);
}
