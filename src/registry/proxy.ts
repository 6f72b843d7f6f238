/**
 * Which proxy a registry request goes through: `--proxy` for every request, else the environment
 * with Go's `http.ProxyFromEnvironment` rules (`HTTPS_PROXY` / `HTTP_PROXY`, upper case first,
 * never for localhost or loopback addresses, not for hosts matched by `NO_PROXY`).
 * @module
 */

/** A proxy URL for `url`, or `null` to connect directly. */
export type ProxyFn = (url: URL) => string | null;

/** `--proxy` when given (for every host), else {@link proxyFromEnvironment}. */
export function proxyRules(explicit: string | undefined, env: Record<string, string | undefined>): ProxyFn {
  return explicit ? () => explicit : (url) => proxyFromEnvironment(url, env);
}

function envGet(env: Record<string, string | undefined>, name: string): string {
  return env[name] || env[name.toLowerCase()] || "";
}

/**
 * Go's `http.ProxyFromEnvironment`: `HTTPS_PROXY` for https, `HTTP_PROXY` for http (upper case
 * first), never for localhost or loopback addresses, and not for hosts matched by `NO_PROXY`.
 */
export function proxyFromEnvironment(url: URL, env: Record<string, string | undefined>): string | null {
  const raw = url.protocol === "https:" ? envGet(env, "HTTPS_PROXY") : envGet(env, "HTTP_PROXY");
  if (!raw) return null;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || isLoopback(host)) return null;
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  if (noProxyMatches(host, port, envGet(env, "NO_PROXY"))) return null;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
}

function isLoopback(host: string): boolean {
  if (/^127\.\d+\.\d+\.\d+$/.test(host)) return true;
  return host === "::1" || host === "0:0:0:0:0:0:0:1";
}

function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function noProxyMatches(host: string, port: string, noProxy: string): boolean {
  for (let entry of noProxy.split(",")) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    const cidr = /^([\d.]+)\/(\d+)$/.exec(entry);
    if (cidr) {
      const net = ipv4ToInt(cidr[1]!);
      const ip = ipv4ToInt(host);
      const bits = Number(cidr[2]);
      if (net !== undefined && ip !== undefined && bits <= 32) {
        const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
        if (((net & mask) >>> 0) === ((ip & mask) >>> 0)) return true;
      }
      continue;
    }
    let entryHost = entry;
    let entryPort = "";
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !entry.startsWith("[")) {
      entryHost = m[1]!;
      entryPort = m[2]!;
    }
    entryHost = entryHost.replace(/^\[|\]$/g, "");
    if (entryPort && entryPort !== port) continue;
    if (entryHost === host) return true;
    if (entryHost.startsWith("*.")) entryHost = entryHost.slice(1);
    if (entryHost.startsWith(".")) {
      if (host.endsWith(entryHost)) return true;
    } else if (host.endsWith("." + entryHost)) {
      return true;
    }
  }
  return false;
}
