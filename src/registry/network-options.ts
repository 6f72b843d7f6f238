/**
 * What the network flags of every remote command say (docs/compatibility.md lists them), and the
 * transport they make: CA, client certificate and key files read, `KITOPS_CLIENT_CERT` /
 * `KITOPS_CLIENT_KEY` applied, the proxy checked.
 * @module
 */
import { readFile } from "node:fs/promises";
import type { FetchTransportOptions } from "../runtime/runtime.ts";
import { KitError, errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { redactUrl } from "./http.ts";
import { Transport, type TransportOptions } from "./transport.ts";

export interface NetworkOptions {
  /** `--plain-http`: talk `http://` to the registry. */
  plainHttp: boolean;
  /** `--tls-verify` (default true). */
  tlsVerify: boolean;
  /** `--tls-cert`: PEM files of extra trusted CAs. */
  tlsCerts: string[];
  /** `--cert` / `KITOPS_CLIENT_CERT`: client certificate file (mTLS only with a key too). */
  clientCert: string;
  /** `--key` / `KITOPS_CLIENT_KEY`: client key file. */
  clientKey: string;
  /** `--proxy`: every request goes through it; empty means the environment decides. */
  proxy: string;
  /** `--concurrency`: blobs transferred at once. */
  concurrency: number;
  /**
   * `--allow-cross-site-auth` / `KITOPS_ALLOW_CROSS_SITE_AUTH`: send credentials to a token realm
   * on a site unrelated to the registry (never over a downgrade to plain HTTP).
   */
  allowCrossSiteAuth?: boolean;
}

export const DEFAULT_NETWORK_OPTIONS: NetworkOptions = {
  plainHttp: false,
  tlsVerify: true,
  tlsCerts: [],
  clientCert: "",
  clientKey: "",
  proxy: "",
  concurrency: 5,
  allowCrossSiteAuth: false,
};

/** Where `createTransport` gets its context from. */
export interface TransportContext {
  version: string;
  env: Record<string, string | undefined>;
  logger?: Logger;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new KitError(`Failed to read ${what} ${file}: ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * A transport for the network flags: reads the CA, client certificate and key files, and applies
 * `KITOPS_CLIENT_CERT`/`KITOPS_CLIENT_KEY` (they override `--cert`/`--key`, as in kit).
 */
export async function createTransport(
  net: NetworkOptions,
  ctx: TransportContext,
  extra: Partial<TransportOptions> = {},
): Promise<Transport> {
  const certPath = ctx.env.KITOPS_CLIENT_CERT || net.clientCert;
  const keyPath = ctx.env.KITOPS_CLIENT_KEY || net.clientKey;
  const tls: Omit<FetchTransportOptions, "proxy"> = {};
  if (!net.tlsVerify) tls.verify = false;
  if (net.tlsCerts.length) {
    tls.extraCAs = await Promise.all(net.tlsCerts.map((f) => readPem(f, "CA certificate")));
  }
  if (certPath && keyPath) {
    tls.clientCert = await readPem(certPath, "client certificate");
    tls.clientKey = await readPem(keyPath, "client key");
  }
  if (net.proxy) {
    let scheme: string;
    try {
      scheme = new URL(net.proxy).protocol;
    } catch {
      scheme = "";
    }
    // Never echo the proxy's password.
    if (scheme !== "http:" && scheme !== "https:") {
      throw new KitError(`Invalid proxy URL ${JSON.stringify(redactUrl(net.proxy))}${scheme ? `: unsupported scheme ${scheme.slice(0, -1)}` : ""}`, {
        hint: "Use a URL such as http://proxy.example.com:3128",
      });
    }
  }
  return new Transport({
    userAgent: `kitops-cli/${ctx.version}`,
    tls,
    proxy: net.proxy || undefined,
    env: ctx.env,
    logger: ctx.logger,
    ...extra,
  });
}
