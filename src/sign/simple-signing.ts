/**
 * The payload a cosign signature signs (sigstore's `payload.Cosign`, the "simple signing" format
 * of containers/image): which repository and which manifest digest, plus optional annotations.
 * Written byte for byte as Go's `json.Marshal` writes it.
 * @module
 */
import { goJson, GoMap } from "../util/go-json.ts";
import { KitError } from "../util/errors.ts";
import { parseJsonBytes } from "./keys.ts";

export const SIMPLE_SIGNING_TYPE = "cosign container image signature";

const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/**
 * The repository name a signature binds to (go-containerregistry's `Repository.Name()`):
 * `<registry>/<repository>`, Docker Hub as `index.docker.io` with `library/` for single names.
 * Local-only kits are `localhost/<repository>`.
 */
export function dockerReference(registry: string, repository: string): string {
  if (DOCKER_HUB_ALIASES.has(registry)) {
    return `index.docker.io/${repository.includes("/") ? repository : `library/${repository}`}`;
  }
  return `${registry}/${repository}`;
}

/** `name` in the form {@link dockerReference} gives, so two spellings of a repository compare equal. */
export function normalizeIdentity(name: string): string {
  const slash = name.indexOf("/");
  if (slash < 0) return name;
  return dockerReference(name.slice(0, slash), name.slice(slash + 1));
}

/** The payload bytes for `identity` and `digest`; `annotations` become `optional` (`null` when none). */
export function simpleSigningPayload(identity: string, digest: string, annotations: Record<string, string> = {}): Uint8Array {
  const optional = Object.keys(annotations).length > 0 ? new GoMap(annotations) : null;
  return new TextEncoder().encode(goJson({
    critical: {
      identity: { "docker-reference": identity },
      image: { "docker-manifest-digest": digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional,
  }));
}

/** What a payload claims. */
export interface SimpleSigningClaims {
  identity: string;
  digest: string;
  /** The `optional` object (`{}` when null). */
  annotations: Record<string, unknown>;
}

/** Parses a payload (already verified as signed); throws KitError when it is not a cosign image signature. */
export function parseSimpleSigning(payload: Uint8Array): SimpleSigningClaims {
  const v = parseJsonBytes(payload, "payload");
  const o = v as { critical?: { identity?: { "docker-reference"?: unknown }; image?: { "docker-manifest-digest"?: unknown }; type?: unknown }; optional?: unknown } | null;
  if (!o || typeof o !== "object" || Array.isArray(o)) throw new KitError("payload is not a JSON object");
  const c = o.critical;
  if (!c || typeof c !== "object") throw new KitError("payload has no critical section");
  if (c.type !== SIMPLE_SIGNING_TYPE) throw new KitError(`payload is of an unknown type ${JSON.stringify(c.type)}`);
  const identity = c.identity?.["docker-reference"];
  const digest = c.image?.["docker-manifest-digest"];
  if (typeof identity !== "string" || typeof digest !== "string") throw new KitError("payload lacks its docker-reference or docker-manifest-digest");
  const opt = o.optional;
  if (opt !== undefined && opt !== null && (typeof opt !== "object" || Array.isArray(opt))) throw new KitError("payload's optional section is not an object");
  return { identity, digest, annotations: (opt ?? {}) as Record<string, unknown> };
}
