/**
 * Kitfile path helpers with Go's semantics: `filepath.Clean`, `filepath.IsLocal`, `filepath.Rel`
 * (POSIX), and kit's `GetPathType` classification (ModelKit reference, S3 URL, HTTP URL, other
 * URL, local path) built on a port of the relevant part of Go's `net/url.Parse`.
 * @module
 */
import { type ModelRef, parseReference } from "../oci/reference.ts";

/** Go `filepath.Clean` for `/`-separated paths: `./a/` → `a`, `a/../..` → `..`, `""` → `.`. */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  let dotdot = 0;
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > dotdot) out.pop();
      else if (!rooted) {
        out.push("..");
        dotdot = out.length;
      }
      continue;
    }
    out.push(seg);
  }
  const s = (rooted ? "/" : "") + out.join("/");
  return s === "" ? "." : s;
}

/** Go `filepath.IsAbs` (POSIX). */
export function isAbsPath(p: string): boolean {
  return p.startsWith("/");
}

/** Go `filepath.IsLocal` (POSIX): relative, non-empty, and not escaping through `..`. */
export function isLocalPath(p: string): boolean {
  if (p === "" || isAbsPath(p)) return false;
  const c = cleanPath(p);
  return c !== ".." && !c.startsWith("../");
}

/** Go `filepath.Rel` (POSIX); a string result, or `{ error }` with Go's message. */
export function relPath(basepath: string, targpath: string): string | { error: string } {
  let base = cleanPath(basepath);
  const targ = cleanPath(targpath);
  if (targ === base) return ".";
  if (base === ".") base = "";
  const fail = { error: `Rel: can't make ${targpath} relative to ${basepath}` };
  if (base.startsWith("/") !== targ.startsWith("/")) return fail;
  const bl = base.length, tl = targ.length;
  let b0 = 0, bi = 0, t0 = 0, ti = 0;
  for (;;) {
    while (bi < bl && base[bi] !== "/") bi++;
    while (ti < tl && targ[ti] !== "/") ti++;
    if (targ.slice(t0, ti) !== base.slice(b0, bi)) break;
    if (bi < bl) bi++;
    if (ti < tl) ti++;
    b0 = bi;
    t0 = ti;
  }
  if (base.slice(b0, bi) === "..") return fail;
  if (b0 !== bl) {
    const seps = base.slice(b0).split("/").length - 1;
    let s = ".." + "/..".repeat(seps);
    if (t0 !== tl) s += "/" + targ.slice(t0);
    return s;
  }
  return targ.slice(t0);
}

/** What a Kitfile path refers to (kit `GetPathType`). */
export type PathKind = "local" | "reference" | "s3" | "unknown";

/**
 * kit `IsModelKitReference`: a path names a ModelKit iff it contains `:` or `@` and parses as a
 * reference. Returns the parsed reference, or undefined for any other path.
 */
export function modelReference(p: string | undefined): ModelRef | undefined {
  if (!p || !(p.includes(":") || p.includes("@"))) return undefined;
  try {
    return parseReference(p);
  } catch {
    return undefined;
  }
}

/**
 * kit `GetPathType`: a ModelKit reference; else, by Go's URL parser, a local path (no scheme and
 * no host, or not a URL at all), an S3 URL, or an error for HTTP and other URLs.
 */
export function pathKind(p: string): { kind: PathKind; error?: string } {
  if (p.includes("\0")) return { kind: "local", error: `a path cannot contain a NUL byte (${p})` };
  if (modelReference(p)) return { kind: "reference" };
  const u = goUrlParse(p);
  if (u === undefined || (u.scheme === "" && u.host === "")) return { kind: "local" };
  if (u.scheme === "s3") return { kind: "s3" };
  if (u.scheme === "http" || u.scheme === "https") return { kind: "unknown", error: `HTTP urls are not supported in paths (${p})` };
  return { kind: "unknown", error: `unrecognized URL in path: ${p}` };
}

/**
 * The scheme (lower-cased) and host Go's `url.Parse` finds in `raw`, or undefined where it
 * returns an error (kit treats those as local paths).
 */
export function goUrlParse(raw: string): { scheme: string; host: string } | undefined {
  const hash = raw.indexOf("#");
  const u = hash >= 0 ? raw.slice(0, hash) : raw;
  if (hash >= 0 && !validEscapes(raw.slice(hash + 1))) return undefined;
  // Control bytes are rejected outright.
  if (/[\x00-\x1f\x7f]/.test(u)) return undefined;
  if (u === "" || u === "*") return { scheme: "", host: "" };
  let scheme = "";
  let rest = u;
  for (let i = 0; i < u.length; i++) {
    const c = u[i]!;
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+.-]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ":") {
      if (i === 0) return undefined; // missing protocol scheme
      scheme = u.slice(0, i).toLowerCase();
      rest = u.slice(i + 1);
    }
    break;
  }
  if (rest.endsWith("?") && rest.indexOf("?") === rest.length - 1) rest = rest.slice(0, -1);
  else if (rest.includes("?")) rest = rest.slice(0, rest.indexOf("?"));
  if (!rest.startsWith("/")) {
    if (scheme !== "") return { scheme, host: "" }; // opaque
    const segment = rest.split("/")[0]!;
    if (segment.includes(":")) return undefined; // first path segment in URL cannot contain colon
  }
  let host = "";
  if ((scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")) {
    let authority = rest.slice(2);
    const slash = authority.indexOf("/");
    rest = "";
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const h = parseAuthority(authority);
    if (h === undefined) return undefined;
    host = h;
  }
  if (!validEscapes(rest)) return undefined;
  return { scheme, host };
}

/** Every `%` starts a two-hex-digit escape. */
function validEscapes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%" && !/^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) return false;
  }
  return true;
}

function parseAuthority(authority: string): string | undefined {
  const at = authority.lastIndexOf("@");
  const host = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if (host === undefined) return undefined;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo) || !validEscapes(userinfo)) return undefined;
  }
  return host;
}

function parseHost(host: string): string | undefined {
  if (host.startsWith("[")) {
    const close = host.lastIndexOf("]");
    if (close < 0 || !validOptionalPort(host.slice(close + 1))) return undefined;
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0 && !validOptionalPort(host.slice(colon))) return undefined;
  }
  for (let i = 0; i < host.length; i++) {
    const c = host[i]!;
    if (c === "%") {
      const hex = host.slice(i + 1, i + 3);
      // Only %25 may escape an ASCII byte in a host.
      if (!/^[0-9a-fA-F]{2}$/.test(hex) || (parseInt(hex[0]!, 16) < 8 && hex !== "25")) return undefined;
      i += 2;
      continue;
    }
    if (c.charCodeAt(0) < 0x80 && !/[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"]/.test(c)) return undefined;
  }
  return host;
}

function validOptionalPort(port: string): boolean {
  return port === "" || /^:[0-9]*$/.test(port);
}
