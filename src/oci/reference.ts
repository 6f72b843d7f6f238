/**
 * ModelKit references: kit's own parser (`ParseReference`, docs/format.md#references), the plain
 * oras parser that `kit diff` uses (docs/format.md#diff-references), and the string/display forms.
 * Error messages are kit's (oras') wording.
 * @module
 */
import { KitError } from "../util/errors.ts";
import { digestProblem } from "./digest.ts";

/** A repository on a registry: `registry/repository`, both validated. */
export interface RepositoryRef {
  readonly registry: string;
  readonly repository: string;
}

/** A repository and a tag (validated against the tag grammar). */
export interface TagRef extends RepositoryRef {
  readonly tag: string;
  readonly digest?: undefined;
}

/** A repository and a digest (validated by go-digest's rules; any of sha256/384/512). */
export interface DigestRef extends RepositoryRef {
  readonly digest: string;
  readonly tag?: undefined;
}

/**
 * A parsed ModelKit reference: a repository plus either a tag or a digest, validated once when
 * parsed. Callers never re-check strings: `ref.digest !== undefined` says which it is.
 */
export type ModelRef = TagRef | DigestRef;

/** The registry used for local-only references. */
export const LOCAL_REGISTRY = "localhost";
/** The repository of untagged local kits (`pack` without `-t`, bare digests). */
export const UNNAMED_REPOSITORY = "_";
export const DEFAULT_TAG = "latest";

const REPOSITORY_RE =
  /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** True when `s` is a tag by the distribution grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

/** Kit's start/end check, unanchored as in kit (it only needs one lower-case letter or digit). */
const START_END_RE = /[a-z0-9](.*[a-z0-9])?/;

/** Go `url.ParseRequestURI("dummy://" + reg)` followed by `uri.Host == reg` (oras `ValidateRegistry`). */
function isValidRegistry(reg: string): boolean {
  if (reg === "") return false;
  for (let i = 0; i < reg.length; i++) {
    const c = reg.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false; // Go rejects control bytes in URLs
  }
  // `?` starts the query, `/` ends the authority, `@` separates user info: any of them makes host != reg.
  if (/[?/@]/.test(reg)) return false;
  let hostPart = reg;
  let port: string;
  if (reg.startsWith("[")) {
    const close = reg.lastIndexOf("]");
    if (close < 0) return false;
    port = reg.slice(close + 1);
    hostPart = reg.slice(0, close + 1);
  } else {
    const colon = reg.lastIndexOf(":");
    port = colon < 0 ? "" : reg.slice(colon);
    hostPart = colon < 0 ? reg : reg.slice(0, colon);
  }
  if (port !== "" && !/^:[0-9]*$/.test(port)) return false;
  // Percent escapes unescape to something else (host != reg); other bytes must be legal in a host.
  for (const ch of hostPart) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80) continue;
    if (/[A-Za-z0-9\-_.~!$&'()*+,;=:\[\]<>"]/.test(ch)) continue;
    return false;
  }
  return true;
}

function invalid(what: string): KitError {
  return new KitError(`invalid reference: ${what}`);
}

/** Splits `repo[:tag|@digest]` the oras way; returns the tag flag for validation. */
function splitRepoAndReference(path: string): {
  repository: string;
  reference: string;
  isTag: boolean;
  hasSeparator: boolean;
} {
  const at = path.indexOf("@");
  if (at >= 0) {
    let repository = path.slice(0, at);
    const colon = repository.indexOf(":");
    if (colon >= 0) repository = repository.slice(0, colon); // a tag before a digest is dropped
    return { repository, reference: path.slice(at + 1), isTag: false, hasSeparator: true };
  }
  const colon = path.indexOf(":");
  if (colon >= 0) {
    return { repository: path.slice(0, colon), reference: path.slice(colon + 1), isTag: true, hasSeparator: true };
  }
  return { repository: path, reference: "", isTag: true, hasSeparator: false };
}

function validateReference(reference: string, isTag: boolean): void {
  if (isTag) {
    if (!TAG_RE.test(reference)) throw invalid(`invalid tag ${goQuoteSimple(reference)}`);
  } else {
    const why = digestProblem(reference);
    if (why) throw invalid(`invalid digest ${goQuoteSimple(reference)}: ${why}`);
  }
}

/**
 * kit's `ParseReference` (docs/format.md#references) of one reference. A bare digest means `localhost/_@<digest>`;
 * a first path segment without `.` or `:` is not a registry (registry `localhost`); no tag means
 * `latest`. Comma-separated extra tags (`repo:a,b`) are the command line's business: split them
 * off first.
 */
export function parseReference(s: string): ModelRef {
  if (digestProblem(s) === undefined) return { registry: LOCAL_REGISTRY, repository: UNNAMED_REPOSITORY, digest: s };
  let registry = LOCAL_REGISTRY;
  let rest = s;
  const slash = s.indexOf("/");
  if (slash >= 0) {
    const head = s.slice(0, slash);
    if (head.includes(".") || head.includes(":")) {
      registry = head;
      rest = s.slice(slash + 1);
    }
  }
  const { repository, reference, isTag, hasSeparator } = splitRepoAndReference(rest);
  if (repository.toLowerCase() !== repository) {
    throw new KitError(`repository (${repository}) name must be lowercase`);
  }
  if (!START_END_RE.test(repository)) {
    throw new KitError(`repository (${repository}) must start and end with a letter or number`);
  }
  if (!isValidRegistry(registry)) throw invalid(`invalid registry ${goQuoteSimple(registry)}`);
  if (!REPOSITORY_RE.test(repository)) throw invalid(`invalid repository ${goQuoteSimple(repository)}`);
  // A `:` or `@` always introduces a reference that must be valid (`repo:` is an invalid tag).
  if (hasSeparator) validateReference(reference, isTag);
  if (!hasSeparator) return { registry, repository, tag: DEFAULT_TAG };
  return isTag ? { registry, repository, tag: reference } : { registry, repository, digest: reference };
}

/**
 * The oras parser used by `kit diff` (docs/format.md#diff-references): `registry/path[:tag|@digest]`, the first segment is
 * always the registry, and the reference may be empty.
 */
export function parseOrasReference(s: string): ModelRef | RepositoryRef {
  const slash = s.indexOf("/");
  if (slash < 0) throw invalid("missing registry or repository");
  const registry = s.slice(0, slash);
  const { repository, reference, isTag } = splitRepoAndReference(s.slice(slash + 1));
  if (!isValidRegistry(registry)) throw invalid(`invalid registry ${goQuoteSimple(registry)}`);
  if (!REPOSITORY_RE.test(repository)) throw invalid(`invalid repository ${goQuoteSimple(repository)}`);
  if (reference === "") return { registry, repository };
  validateReference(reference, isTag);
  return isTag ? { registry, repository, tag: reference } : { registry, repository, digest: reference };
}

/** True when the reference text names a tag or digest (otherwise {@link parseReference} adds `latest`). */
export function namesTagOrDigest(s: string): boolean {
  return s.includes("@") || s.slice(s.lastIndexOf("/") + 1).includes(":");
}

/** True for a reference that names a tag or a digest (not only a repository). */
export function isModelRef(r: ModelRef | RepositoryRef): r is ModelRef {
  return (r as ModelRef).tag !== undefined || (r as ModelRef).digest !== undefined;
}

/** What a store resolves for `r`: its tag or its digest. */
export function tagOrDigest(r: ModelRef): string {
  return r.digest ?? r.tag;
}

/** `r`'s repository with tag `tag`. */
export function withTag(r: RepositoryRef, tag: string): TagRef {
  return { registry: r.registry, repository: r.repository, tag };
}

/** `r`'s repository with digest `digest`. */
export function withDigest(r: RepositoryRef, digest: string): DigestRef {
  return { registry: r.registry, repository: r.repository, digest };
}

/** oras `Reference.String()`: `reg/repo:tag`, `reg/repo@digest`, or `reg/repo` without a reference. */
export function refToString(r: ModelRef | RepositoryRef): string {
  if (r.repository === "") return r.registry;
  const base = `${r.registry}/${r.repository}`;
  const m = r as Partial<ModelRef>;
  if (m.digest !== undefined) return `${base}@${m.digest}`;
  return m.tag !== undefined ? `${base}:${m.tag}` : base;
}

/** The local storage key of a reference: `<registry>/<repository>`. */
export function repoKey(r: RepositoryRef): string {
  return `${r.registry}/${r.repository}`;
}

/** kit's `FormatRepositoryForDisplay`: drops a leading `localhost/`, then `_`, then `@`. */
export function displayRef(s: string): string {
  let out = s.startsWith("localhost/") ? s.slice("localhost/".length) : s;
  if (out.startsWith("_")) out = out.slice(1);
  if (out.startsWith("@")) out = out.slice(1);
  return out;
}

/** Go `%q` for the strings that appear in reference errors (printable ASCII is the common case). */
function goQuoteSimple(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (c === 0x07) out += "\\a";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x0b) out += "\\v";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + '"';
}
