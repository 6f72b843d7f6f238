/**
 * Where a registry's credentials may go (issue: a registry answering
 * `WWW-Authenticate: Bearer realm="http://elsewhere/token"` must not receive the user's password
 * for another site, nor send it in cleartext). The token realm may be:
 *
 * - on the registry's own host, any port (distribution's own token servers, our test setups);
 * - on a sibling host of the same registrable domain — `registry-1.docker.io` → `auth.docker.io`,
 *   `registry.gitlab.com` → `gitlab.com` — decided with the Public Suffix List (`tldts`, private
 *   suffixes included, so `a.github.io` and `b.github.io` are different sites);
 * - anywhere else only when the user allowed it (`--allow-cross-site-auth`).
 *
 * IP addresses and single-label names such as `localhost` only match themselves. A realm over
 * plain HTTP for a registry reached over HTTPS is a downgrade: credentials never go there.
 * @module
 */
import { getDomain } from "tldts";

export type RealmVerdict = "allowed" | "downgrade" | "cross-site";

function hostname(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
}

/** The registrable domain (eTLD+1) of a host name, or undefined for IPs, `localhost` and the like. */
export function registrableDomain(host: string): string | undefined {
  return getDomain(host, { allowPrivateDomains: true, validateHostname: true }) ?? undefined;
}

/** Whether credentials for the registry at `registry` may be sent to the token realm `realm`. */
export function judgeRealm(registry: URL, realm: URL, allowCrossSite: boolean): RealmVerdict {
  if (registry.protocol === "https:" && realm.protocol !== "https:") return "downgrade";
  const a = hostname(registry);
  const b = hostname(realm);
  if (a === b) return "allowed";
  const site = registrableDomain(a);
  if (site !== undefined && site === registrableDomain(b)) return "allowed";
  return allowCrossSite ? "allowed" : "cross-site";
}
