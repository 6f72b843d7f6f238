/**
 * Opening registries for a command: one transport and one authenticating client per command
 * (connections and tokens are shared by every repository it touches), credentials from kit's
 * store. This is what the remote commands (`push`, `pull`, `unpack`, `login`, and the remote
 * forms of `list`, `info`, `inspect`, `remove`, `diff`) build on.
 * @module
 */
import { CopyError } from "../store/copy.ts";
import type { Logger } from "../util/log.ts";
import { homePaths } from "../util/paths.ts";
import { allowCrossSiteFromEnv, AuthClient, type AuthClientOptions, type Credential } from "./auth.ts";
import { CredentialStore } from "./credentials.ts";
import { discardBody, expectStatus } from "./http.ts";
import { apiHost, RemoteRepository, type RemoteRepositoryOptions } from "./repository.ts";
import { createTransport, type NetworkOptions } from "./network-options.ts";
import type { Transport, TransportOptions } from "./transport.ts";
import { FileUploadSessions, type UploadSessionStore } from "./upload-sessions.ts";

/** What opening a registry needs from the command. */
export interface RemoteContext {
  /** The kit home (credentials live in `<home>/credentials.json`). */
  home: string;
  env: Record<string, string | undefined>;
  /** kit's version, for the User-Agent. */
  version: string;
  /** Debug messages (resumed downloads, retried uploads, mounts). */
  logger?: Logger;
  /** Receives the trace line of every HTTP request; leave unset while progress bars are drawn. */
  httpLogger?: Logger;
  /** Extra transport settings (tests shorten the retry delays). */
  transport?: Partial<TransportOptions>;
}

/** A command's connection to registries. */
export class RegistrySession {
  readonly net: NetworkOptions;
  readonly transport: Transport;
  readonly auth: AuthClient;
  readonly credentials: CredentialStore;
  readonly logger?: Logger;
  /** Sessions of interrupted chunked uploads (the kit home's `uploads/`), continued by the next push. */
  readonly uploadSessions?: UploadSessionStore;

  constructor(
    net: NetworkOptions,
    transport: Transport,
    credentials: CredentialStore,
    logger?: Logger,
    auth: Partial<AuthClientOptions> = {},
    uploadSessions?: UploadSessionStore,
  ) {
    this.net = net;
    this.uploadSessions = uploadSessions;
    this.transport = transport;
    this.credentials = credentials;
    this.logger = logger;
    this.auth = new AuthClient({
      transport,
      credential: credentials.credentialFn(),
      allowCrossSiteAuth: net.allowCrossSiteAuth ?? false,
      ...auth,
    });
  }

  /** A repository on `registry`; options as {@link RemoteRepositoryOptions}. */
  repository(registry: string, repository: string, opts: Partial<RemoteRepositoryOptions> = {}): RemoteRepository {
    return new RemoteRepository({
      registry,
      repository,
      client: this.auth,
      plainHttp: this.net.plainHttp,
      logger: this.logger,
      uploadSessions: this.uploadSessions,
      ...opts,
    });
  }
}

/** The credential store of a kit home. */
export function credentialStore(ctx: Pick<RemoteContext, "home" | "env">): CredentialStore {
  return new CredentialStore({ file: homePaths(ctx.home).credentials, env: ctx.env });
}

/**
 * Opens a session for the network flags (reads TLS files, sets up proxies and credentials;
 * `KITOPS_ALLOW_CROSS_SITE_AUTH` in the environment counts as `--allow-cross-site-auth`).
 */
export async function openSession(net: NetworkOptions, ctx: RemoteContext, auth: Partial<AuthClientOptions> = {}): Promise<RegistrySession> {
  const transport = await createTransport(net, { version: ctx.version, env: ctx.env, logger: ctx.httpLogger }, ctx.transport);
  const options = { ...net, allowCrossSiteAuth: Boolean(net.allowCrossSiteAuth) || allowCrossSiteFromEnv(ctx.env) };
  const uploads = new FileUploadSessions(homePaths(ctx.home).uploads);
  return new RegistrySession(options, transport, credentialStore(ctx), ctx.logger, auth, uploads);
}

/**
 * Checks a credential against `GET /v2/` of `registry` (what `kit login` does before storing
 * it). Throws the registry's or the token server's error when it is refused.
 */
export async function verifyCredential(registry: string, cred: Credential, net: NetworkOptions, ctx: RemoteContext): Promise<void> {
  // The credential is only for this registry (and its token realm): never for a redirect elsewhere.
  const session = await openSession(net, ctx, { credential: async (host) => (host === registry ? cred : {}), loginHints: false });
  const url = new URL(`${net.plainHttp ? "http" : "https"}://${apiHost(registry)}/v2/`);
  session.auth.alias(url, registry);
  const res = await session.auth.send({ method: "GET", url });
  await expectStatus(res, "GET", url, 200);
  await discardBody(res);
}

/**
 * The error to report for a failed push or pull: the copy's wrapper (`failed to perform "Exists"
 * on destination: …`) names internal operations the user cannot act on, so it is unwrapped to
 * what failed underneath — a network failure, a registry's answer, a refused credential.
 */
export function remoteFailure(e: unknown): unknown {
  let c = e;
  while (c instanceof CopyError && c.cause !== undefined) c = c.cause;
  return c;
}

/**
 * Checks that `registry` answers at all (`GET /v2/`, anonymously, any status): `kit login` does
 * this before it asks for a password, so a wrong scheme or address fails before any prompt
 * (e.g. TLS to a plain-HTTP registry, with the `--plain-http` hint).
 */
export async function pingRegistry(registry: string, net: NetworkOptions, ctx: RemoteContext): Promise<void> {
  const session = await openSession(net, ctx, { credential: async () => ({}), loginHints: false });
  const res = await session.transport.send({ method: "GET", url: new URL(`${net.plainHttp ? "http" : "https"}://${apiHost(registry)}/v2/`) });
  await discardBody(res);
}
