/**
 * The runtime adapter: the ONLY module that touches Bun-specific (or Deno-specific) globals.
 * Everything else uses web standards and `node:` APIs, so `deno run -A src/main.ts` works.
 * @module
 */
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const bun = g.Bun as undefined | {
  CryptoHasher: new (alg: string) => { update(d: Uint8Array): unknown; digest(enc: "hex"): string };
  serve(opts: unknown): { port: number; hostname: string; stop(force?: boolean): Promise<void> | void };
  embeddedFiles: Blob[];
  isStandaloneExecutable?: boolean;
};

/** Which JavaScript runtime is executing us. */
export const runtimeName: "bun" | "deno" | "node" = bun ? "bun" : g.Deno ? "deno" : "node";

/** The runtime's own version string, e.g. `1.4.5`. */
export function runtimeVersion(): string {
  if (bun) return (g.Bun as { version: string }).version;
  if (g.Deno) return (g.Deno.version as { deno: string }).deno;
  return process.versions.node;
}

/** True inside a `bun build --compile` binary. */
export const isStandalone: boolean = Boolean(bun?.isStandaloneExecutable);

/** An incremental SHA-256. Bun's hasher uses the CPU's SHA extensions and is the fastest here. */
export interface Sha256 {
  update(data: Uint8Array): void;
  /** Lower-case hex digest; the hasher must not be used afterwards. */
  hex(): string;
}

export function sha256(): Sha256 {
  if (bun) {
    const h = new bun.CryptoHasher("sha256");
    return { update: (d) => void h.update(d), hex: () => h.digest("hex") };
  }
  // Loaded here, not at start-up: node:crypto is not needed by every command.
  const { createHash } = g.process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
  const h = createHash("sha256");
  return { update: (d) => void h.update(d), hex: () => h.digest("hex") };
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: (req: Request) => Response | Promise<Response>;
  signal?: AbortSignal;
}
export interface Server {
  hostname: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts an HTTP server. Long-lived responses (SSE) must not be cut by an idle timeout. */
export async function serve(opts: ServeOptions): Promise<Server> {
  if (bun) {
    const s = bun.serve({ hostname: opts.hostname, port: opts.port, fetch: opts.fetch, idleTimeout: 0 });
    const stop = async () => void (await s.stop(true));
    opts.signal?.addEventListener("abort", () => void stop(), { once: true });
    return { hostname: s.hostname, port: s.port, stop };
  }
  if (g.Deno) {
    const ready = Promise.withResolvers<{ hostname: string; port: number }>();
    const s = g.Deno.serve({
      hostname: opts.hostname,
      port: opts.port,
      signal: opts.signal,
      onListen: (a: { hostname: string; port: number }) => ready.resolve(a),
    }, opts.fetch);
    const a = await ready.promise;
    return { hostname: a.hostname, port: a.port, stop: () => s.shutdown() };
  }
  throw new Error(`Serving HTTP is not supported on ${runtimeName}: run kit under Bun or Deno`);
}

/** Files embedded into the compiled binary with `--asset`, by their relative name. */
export function embeddedFiles(): Array<Blob & { name: string }> {
  return (bun?.embeddedFiles ?? []) as Array<Blob & { name: string }>;
}

/** TLS and proxy settings for {@link fetchWith}. File contents, not paths: reading files is the caller's job. */
export interface FetchTransportOptions {
  /** False disables certificate verification (`--tls-verify=false`). */
  verify?: boolean;
  /** Extra trusted CA certificates (PEM), added to the default trust store. */
  extraCAs?: string[];
  /** Client certificate and key (PEM) for mutual TLS; used only when both are set. */
  clientCert?: string;
  clientKey?: string;
  /** Proxy URL for this request; `null` means "connect directly" even if the environment names a proxy. */
  proxy?: string | null;
}

let defaultCAs: string[] | undefined;
/** The runtime's default trust store: bundled roots plus the system's (what extra CAs are added to). */
function defaultTrustStore(): string[] {
  if (defaultCAs) return defaultCAs;
  // deno-lint-ignore no-explicit-any
  const tls = (g.process?.getBuiltinModule?.("node:tls") ?? undefined) as any;
  const roots: string[] = [];
  try {
    if (tls?.getCACertificates) {
      roots.push(...(tls.getCACertificates("default") as string[]));
      roots.push(...(tls.getCACertificates("system") as string[]));
    } else if (tls?.rootCertificates) {
      roots.push(...(tls.rootCertificates as string[]));
    }
  } catch {
    // No system store readable: the bundled roots remain.
  }
  defaultCAs = [...new Set(roots)];
  return defaultCAs;
}

// deno-lint-ignore no-explicit-any
const denoClients = new Map<string, any>();

/**
 * `fetch` with TLS and proxy settings. Bun takes them as `tls`/`proxy` fetch options; Deno through
 * `Deno.createHttpClient`. Everything else about the request is plain web `fetch`.
 */
export function fetchWith(url: string | URL, init: RequestInit, opts: FetchTransportOptions = {}): Promise<Response> {
  const extra: Record<string, unknown> = {};
  const tlsWanted = opts.verify === false || (opts.extraCAs?.length ?? 0) > 0 || Boolean(opts.clientCert && opts.clientKey);
  if (bun) {
    if (tlsWanted) {
      const tls: Record<string, unknown> = {};
      if (opts.verify === false) tls.rejectUnauthorized = false;
      if (opts.extraCAs?.length) tls.ca = [...defaultTrustStore(), ...opts.extraCAs];
      if (opts.clientCert && opts.clientKey) {
        tls.cert = opts.clientCert;
        tls.key = opts.clientKey;
      }
      extra.tls = tls;
    }
    if (opts.proxy) extra.proxy = opts.proxy;
    else if (opts.proxy === null) extra.proxy = false; // Bun: ignore HTTP(S)_PROXY for this request
    return fetch(url, { ...init, ...extra } as RequestInit);
  }
  if (g.Deno && (tlsWanted || opts.proxy)) {
    if (opts.verify === false) {
      throw new Error("Disabling TLS verification is not supported under Deno: run with --unsafely-ignore-certificate-errors instead");
    }
    const key = JSON.stringify([opts.extraCAs ?? [], opts.clientCert ?? "", opts.clientKey ?? "", opts.proxy ?? ""]);
    let client = denoClients.get(key);
    if (!client) {
      const o: Record<string, unknown> = {};
      if (opts.extraCAs?.length) o.caCerts = [...defaultTrustStore(), ...opts.extraCAs];
      if (opts.clientCert && opts.clientKey) {
        o.cert = opts.clientCert;
        o.key = opts.clientKey;
      }
      if (opts.proxy) o.proxy = { url: opts.proxy };
      client = g.Deno.createHttpClient(o);
      denoClients.set(key, client);
    }
    return fetch(url, { ...init, client } as RequestInit);
  }
  return fetch(url, init);
}
