/**
 * Registry authentication as a decorator around the transport (oras `auth.Client`): on a 401 the
 * `WWW-Authenticate` challenge is parsed, a Basic header or a Bearer token for the scopes of the
 * operation is obtained (token cache per host and scope set; refresh/identity tokens through the
 * OAuth2 POST form), and the request is sent once more. Credentials are only ever attached to
 * requests for the registry they belong to, over the scheme the registry was reached with, and to
 * a token realm that `realm-policy.ts` allows; they never appear in logs or error messages. A
 * final 401 or 403 carries a hint naming the registry and the `kit login` command to run.
 * @module
 */
import { decodeBase64, encodeBase64 } from "../util/base64.ts";
import { KitError } from "../util/errors.ts";
import { readAll } from "../util/streams.ts";
import { discardBody, expectStatus, hintResponse, RegistryError, redactUrl, responseError } from "./http.ts";
import { judgeRealm } from "./realm-policy.ts";
import { type HttpRequest, isReplayable, type Transport } from "./transport.ts";

/** Most of a token response read into memory (oras-go's limit for auth responses). */
export const MAX_TOKEN_RESPONSE_BYTES = 128 * 1024;

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


/** `Basic base64(user:pass)`. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${encodeBase64(`${username}:${password}`)}`;
}

interface OriginState {
  scheme?: "basic" | "bearer";
  basic?: string;
  /** Bearer tokens by scope key (sorted scopes joined by a space). */
  tokens: Map<string, Promise<string>>;
  /** The credential for this origin, looked up once. */
  credential?: Promise<Credential>;
}

export interface AuthClientOptions {
  transport: Transport;
  credential: CredentialFn;
  /** OAuth2 `client_id` for the refresh-token flow (oras: `oras-go`). */
  clientId?: string;
  /** `--allow-cross-site-auth`: credentials may go to a token realm on an unrelated site. */
  allowCrossSiteAuth?: boolean;
  /** Hints saying which `kit login` to run on a 401/403 (default true; off while `kit login` checks a credential). */
  loginHints?: boolean;
}

/** A failure to get a token from the realm. */
export class TokenError extends KitError {
  override name = "TokenError";
}

/** Credentials withheld from a token realm that `realm-policy.ts` does not allow. */
export class CredentialPolicyError extends KitError {
  override name = "CredentialPolicyError";
}

const truthy = (v: string | undefined) => /^(1|t|true|yes|on)$/i.test(v?.trim() ?? "");

/** `KITOPS_ALLOW_CROSS_SITE_AUTH` read as a boolean (1, true, yes, on). */
export function allowCrossSiteFromEnv(env: Record<string, string | undefined>): boolean {
  return truthy(env.KITOPS_ALLOW_CROSS_SITE_AUTH);
}

/** Sends requests with authentication; one per command, shared by every repository it opens. */
export class AuthClient {
  readonly transport: Transport;
  readonly #credential: CredentialFn;
  readonly #clientId: string;
  readonly #allowCrossSite: boolean;
  readonly #loginHints: boolean;
  /** Per origin (`scheme://host[:port]`): an http and an https origin never share anything. */
  readonly #origins = new Map<string, OriginState>();
  /** Origin → registry name (`reg.io:443` is sent to `https://reg.io`, Docker Hub's API is `registry-1.docker.io`). */
  readonly #aliases = new Map<string, string>();

  constructor(opts: AuthClientOptions) {
    this.transport = opts.transport;
    this.#credential = opts.credential;
    this.#clientId = opts.clientId ?? "oras-go";
    this.#allowCrossSite = opts.allowCrossSiteAuth ?? false;
    this.#loginHints = opts.loginHints ?? true;
  }

  /**
   * Says that requests to `base`'s origin are for registry `registry`: its credential is looked
   * up under the registry's name. Other origins (a blob redirect, an upload location elsewhere)
   * get the credential stored for their own host, and only over HTTPS.
   */
  alias(base: URL, registry: string): void {
    this.#aliases.set(base.origin, registry);
  }

  /** The registry name requests to `url` are for. */
  #registryOf(url: URL): string {
    return this.#aliases.get(url.origin) ?? url.host;
  }

  #credentialFor(url: URL): Promise<Credential> {
    const st = this.#state(url);
    if (!st.credential) {
      const registry = this.#aliases.get(url.origin);
      if (registry !== undefined) st.credential = this.#credential(registry);
      else if (url.protocol === "https:") st.credential = this.#credential(url.host);
      else st.credential = Promise.resolve(EMPTY_CREDENTIAL);
      st.credential.catch(() => {
        st.credential = undefined;
      });
    }
    return st.credential;
  }

  #state(url: URL): OriginState {
    let st = this.#origins.get(url.origin);
    if (!st) this.#origins.set(url.origin, (st = { tokens: new Map() }));
    return st;
  }

  /** The Authorization header a request to `url` with `scopes` would carry now, if any is cached. */
  async cachedAuthorization(url: URL, scopes: string[]): Promise<string | undefined> {
    const st = this.#origins.get(url.origin);
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
   * Sends `req` for an operation needing `scopes`. A cached credential for the origin is attached
   * first; on a 401 the challenge is answered and a replayable request is sent once more (a
   * streamed one returns the 401). Other statuses are returned as they are; a final 401 or 403
   * carries the `kit login` hint into the error {@link responseError} makes of it.
   */
  async send(req: HttpRequest, scopes: string[] = []): Promise<Response> {
    const headers = new Headers(req.headers);
    const callerAuth = headers.has("authorization");
    if (!callerAuth) {
      const cached = await this.cachedAuthorization(req.url, scopes);
      if (cached) headers.set("authorization", cached);
    }
    let res = await this.transport.send({ ...req, headers });
    if (callerAuth) return res;
    if (res.status === 401 && isReplayable(req)) {
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      const authorization = await this.#answer(req, challenge, scopes, res);
      headers.set("authorization", authorization);
      res = await this.transport.send({ ...req, headers });
    }
    if (res.status === 401 || res.status === 403) await this.#hint(res, req.url);
    return res;
  }

  /** Attaches to a refusal the hint naming the registry and the `kit login` to run. */
  async #hint(res: Response, url: URL): Promise<void> {
    if (!this.#loginHints) return;
    const registry = this.#registryOf(url);
    const login = `kit login ${registry}${url.protocol === "http:" ? " --plain-http" : ""}`;
    const cred = await this.#credentialFor(url).catch(() => EMPTY_CREDENTIAL);
    if (isEmptyCredential(cred)) {
      hintResponse(res, res.status === 403
        ? `${registry} does not allow anonymous access to this: log in with ${login}`
        : `${registry} needs you to log in: ${login}`);
    } else {
      hintResponse(res, res.status === 403
        ? `The credentials stored for ${registry} do not give access to this repository: check its name, or log in as another user with ${login}`
        : `${registry} refused the stored credentials (out of date, or without access to this repository): log in again with ${login}`);
    }
  }

  /** Works out the Authorization header for a challenge; throws the 401 as an error when there is no way. */
  async #answer(req: HttpRequest, ch: Challenge | undefined, scopes: string[], res: Response): Promise<string> {
    const url = req.url;
    const st = this.#state(url);
    const unauthorized = async () => {
      await this.#hint(res, url);
      return responseError(res, req.method, url);
    };
    if (!ch) throw await unauthorized();
    if (ch.scheme === "basic") {
      const cred = await this.#credentialFor(url);
      if (!cred.username && !cred.password) throw await unauthorized();
      st.scheme = "basic";
      st.basic = basicAuthorization(cred.username ?? "", cred.password ?? "");
      await discardBody(res);
      return st.basic;
    }
    if (ch.scheme !== "bearer") throw await unauthorized();
    await discardBody(res);
    const realm = ch.params.realm;
    if (!realm) throw new TokenError(`The registry ${url.host} asked for a Bearer token without naming a realm`);
    const all = cleanScopes([...scopes, ...(ch.params.scope ? [ch.params.scope] : [])]);
    const key = all.join(" ");
    st.scheme = "bearer";
    // A 401 means the token we sent (if any) is no good: always fetch a fresh one.
    const p = this.#fetchToken(url, realm, ch.params.service ?? "", all, req.signal);
    st.tokens.set(key, p);
    p.catch(() => {
      if (st.tokens.get(key) === p) st.tokens.delete(key);
    });
    return `Bearer ${await p}`;
  }

  async #fetchToken(registryUrl: URL, realm: string, service: string, scopes: string[], signal?: AbortSignal): Promise<string> {
    const host = registryUrl.host;
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new TokenError(`The registry ${host} named an invalid token realm`);
    }
    if (realmUrl.protocol !== "https:" && realmUrl.protocol !== "http:") {
      throw new TokenError(`The registry ${host} named a token realm with unsupported scheme ${realmUrl.protocol}`);
    }
    const cred = await this.#credentialFor(registryUrl);
    if (cred.accessToken) return cred.accessToken;
    if (cred.refreshToken || cred.username || cred.password) this.#checkRealm(registryUrl, realmUrl);
    if (cred.refreshToken) return this.#oauth2(registryUrl, realmUrl, service, scopes, cred.refreshToken, signal);
    const url = new URL(realmUrl);
    if (service) url.searchParams.set("service", service);
    for (const s of scopes) url.searchParams.append("scope", s);
    const headers = new Headers({ accept: "application/json" });
    if (cred.username || cred.password) headers.set("authorization", basicAuthorization(cred.username ?? "", cred.password ?? ""));
    const res = await this.transport.send({ method: "GET", url, headers, signal });
    return tokenFrom(await this.#tokenResponse(registryUrl, res, "GET", url, signal), ["token", "access_token"], url);
  }

  /** Throws unless credentials for the registry at `registryUrl` may go to `realm` (see realm-policy.ts). */
  #checkRealm(registryUrl: URL, realm: URL): void {
    const verdict = judgeRealm(registryUrl, realm, this.#allowCrossSite);
    if (verdict === "allowed") return;
    const registry = this.#registryOf(registryUrl);
    if (verdict === "downgrade") {
      throw new CredentialPolicyError(
        `Refusing to send the credentials for ${registry} to its token server ${realm.host} over plain HTTP (the registry uses HTTPS)`,
        { hint: `The registry's token realm is ${redactUrl(realm)}; credentials are never sent over a downgrade to plain HTTP` },
      );
    }
    throw new CredentialPolicyError(
      `Refusing to send the credentials for ${registry} to ${realm.host}: the registry named a token server on an unrelated site`,
      { hint: `If you trust ${realm.host} with your credentials for ${registry}, pass --allow-cross-site-auth or set KITOPS_ALLOW_CROSS_SITE_AUTH=1` },
    );
  }
  async #oauth2(registryUrl: URL, realm: URL, service: string, scopes: string[], refreshToken: string, signal?: AbortSignal): Promise<string> {
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
    return tokenFrom(await this.#tokenResponse(registryUrl, res, "POST", realm, signal), ["access_token"], realm);
  }

  /** The JSON of a token response (at most {@link MAX_TOKEN_RESPONSE_BYTES}); a refusal says which login to run. */
  async #tokenResponse(registryUrl: URL, res: Response, method: string, url: URL, signal?: AbortSignal): Promise<unknown> {
    if (res.status === 401 || res.status === 403) await this.#hint(res, registryUrl);
    try {
      await expectStatus(res, method, url, 200);
    } catch (e) {
      if (e instanceof RegistryError) {
        throw new RegistryError(`failed to fetch an auth token from ${redactUrl(url)}: ${e.message}`, {
          status: e.status,
          method,
          url: e.url,
          errors: e.errors,
          hint: e.hint,
        });
      }
      throw e;
    }
    const tooLarge = () => new TokenError(`The token server ${redactUrl(url)} sent more than ${MAX_TOKEN_RESPONSE_BYTES / 1024} KiB`);
    const bytes = res.body ? await readAll(res.body, MAX_TOKEN_RESPONSE_BYTES, signal, tooLarge) : new Uint8Array(0);
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
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
