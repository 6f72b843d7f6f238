/**
 * The network flags every remote command shares (docs/format.md#network-flags), and the
 * glue from a command's context to a registry session.
 * @module
 */
import path from "node:path";
import type { FlagTable } from "./flags.ts";
import type { Context } from "./command.ts";
import { DEFAULT_NETWORK_OPTIONS, type NetworkOptions } from "../registry/network-options.ts";
import type { RemoteContext } from "../registry/remote.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";

export const networkFlags = {
  "plain-http": { type: "bool", help: "Use plain HTTP when connecting to remote registries" },
  "tls-verify": { type: "bool", default: true, help: "Require TLS and verify certificates when connecting to remote registries" },
  "tls-cert": { type: "stringSlice", help: "Path to a PEM file with extra CA certificates to trust (repeatable or comma-separated)" },
  cert: { type: "string", help: "Path to client certificate used for authentication (can also be set via environment variable KITOPS_CLIENT_CERT)" },
  key: { type: "string", help: "Path to client certificate key used for authentication (can also be set via environment variable KITOPS_CLIENT_KEY)" },
  concurrency: { type: "int", default: DEFAULT_NETWORK_OPTIONS.concurrency, help: "Maximum number of simultaneous uploads/downloads" },
  proxy: { type: "string", help: "Proxy to use for connections (overrides proxy set by environment)" },
  "allow-cross-site-auth": {
    type: "bool",
    help: "Send credentials to a token server on a site unrelated to the registry (can also be set via environment variable KITOPS_ALLOW_CROSS_SITE_AUTH)",
  },
} satisfies FlagTable;

/** The parsed values of {@link networkFlags}. */
export interface NetworkFlagValues {
  "plain-http": boolean;
  "tls-verify": boolean;
  "tls-cert": string[];
  cert: string;
  key: string;
  concurrency: number;
  proxy: string;
  "allow-cross-site-auth": boolean;
}

/**
 * Network options from the flags (relative paths resolved against the working directory).
 * `--concurrency` below 1 is kit's `Invalid arguments` error.
 */
export function networkOptions(flags: NetworkFlagValues, cwd: string): NetworkOptions {
  if (flags.concurrency < 1) {
    throw new KitError(`Invalid arguments: invalid argument for concurrency (${flags.concurrency}): must be at least 1`);
  }
  const abs = (p: string) => (p ? path.resolve(cwd, p) : p);
  return {
    plainHttp: flags["plain-http"],
    tlsVerify: flags["tls-verify"],
    tlsCerts: flags["tls-cert"].filter(Boolean).map(abs),
    clientCert: abs(flags.cert),
    clientKey: abs(flags.key),
    proxy: flags.proxy,
    concurrency: flags.concurrency,
    allowCrossSiteAuth: flags["allow-cross-site-auth"],
  };
}

/**
 * What the registry layer needs from a command. HTTP trace lines go to `log` only when no
 * progress bars are drawn (kit prints its "safe" request logs only then).
 */
export function remoteContext(ctx: Context, log: Logger = ctx.log): RemoteContext {
  const remote: RemoteContext = { home: ctx.home, env: ctx.env, version: ctx.version, logger: log };
  if (ctx.progress !== "plain" && ctx.progress !== "fancy") remote.httpLogger = log;
  return remote;
}
