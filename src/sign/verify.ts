/**
 * Verifying a ModelKit's cosign signatures and attestations against public keys, offline (no
 * transparency log): every signature stored for the manifest digest is checked; the result lists
 * those that verified, and a {@link SignatureError} says why none did.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import type { ReadOnlyTarget, StoreOptions } from "../store/target.ts";
import { errorMessage, KitError } from "../util/errors.ts";
import {
  collectAttachments,
  DSSE_MEDIA_TYPE,
  fetchAttachmentLayer,
  PREDICATE_TYPE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from "./attachments.ts";
import { IN_TOTO_PAYLOAD_TYPE, parseEnvelope, parseStatement, preAuthEncoding, predicateTypeFor, type Statement } from "./dsse.ts";
import { fromBase64, type VerificationKey, verifyBytes } from "./keys.ts";
import { normalizeIdentity, parseSimpleSigning } from "./simple-signing.ts";

/** Why one signature (or attestation) was rejected. */
export type RejectReason =
  /** Not a signature kit understands (media type, annotation, JSON). */
  | "malformed"
  /** No given key verifies it: a wrong key, or the payload or signature was changed. */
  | "bad-signature"
  /** It signs another manifest digest. */
  | "other-digest"
  /** It names another repository. */
  | "other-identity"
  /** Its annotations lack one that was required. */
  | "annotations"
  /** (attestations) Another predicate type than the one asked for. */
  | "other-type";

export interface Rejection {
  /** The layer's digest in the signature manifest. */
  layer: string;
  reason: RejectReason;
  message: string;
}

/**
 * No signature (or attestation) verified: `unsigned` when there is none at all, `invalid` when
 * every one was rejected (`rejections` says why, one per layer).
 */
export class SignatureError extends KitError {
  override name = "SignatureError";
  readonly reason: "unsigned" | "invalid";
  readonly rejections: Rejection[];
  constructor(message: string, reason: "unsigned" | "invalid", rejections: Rejection[], hint?: string) {
    super(message, { hint });
    this.reason = reason;
    this.rejections = rejections;
  }
}

export interface VerifyOptions extends StoreOptions {
  /** Annotations the payload must carry (cosign `verify -a`). */
  annotations?: Record<string, string>;
}

/** A signature that verified. */
export interface VerifiedSignature {
  layer: string;
  key: VerificationKey;
  /** The repository the signature names. */
  identity: string;
  digest: string;
  /** The payload's `optional` section. */
  annotations: Record<string, unknown>;
  payload: Uint8Array;
}

function describeKeys(keys: VerificationKey[]): string {
  return keys.map((k) => k.name).join(", ");
}

function firstVerifying(keys: VerificationKey[], data: Uint8Array, sig: Uint8Array): VerificationKey | undefined {
  return keys.find((k) => verifyBytes(k, data, sig));
}

function summary(what: string, rejections: Rejection[]): string {
  return rejections.map((r, i) => `${what} ${i + 1} of ${rejections.length} (${r.layer}): ${r.message}`).join("; ");
}

/**
 * Checks every signature stored for `desc` in `target` (tag `sha256-<hex>.sig`, and the referrers
 * of cosign's signature artifact type where the registry lists them) against `keys`.
 * A signature counts when a key verifies it, it signs `desc.digest`, it names `identity` (when
 * given; e.g. `registry.example.com/org/model`) and carries the required annotations. Returns the
 * signatures that verified; throws {@link SignatureError} when none did.
 */
export async function verifyModelKit(
  target: ReadOnlyTarget,
  desc: Descriptor,
  keys: VerificationKey[],
  identity: string | undefined,
  opts: VerifyOptions = {},
): Promise<VerifiedSignature[]> {
  if (keys.length === 0) throw new KitError("no public key to verify with");
  const found = await collectAttachments(target, desc, "sig", opts);
  const tag = found.tag;
  const subject = identity ? `${identity}@${desc.digest}` : desc.digest;
  if (found.layers.length === 0) {
    throw new SignatureError(`${subject} is not signed: no signatures (tag ${tag})`, "unsigned", [], "Sign it with: kit sign REFERENCE --key cosign.key");
  }
  const verified: VerifiedSignature[] = [];
  const rejections: Rejection[] = [];
  for (const layer of found.layers) {
    const reject = (reason: RejectReason, message: string) => rejections.push({ layer: layer.digest, reason, message });
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
      reject("malformed", `not a simple-signing payload (media type ${layer.mediaType})`);
      continue;
    }
    const b64 = layer.annotations?.[SIGNATURE_ANNOTATION];
    let sig: Uint8Array;
    try {
      if (!b64) throw new KitError("no signature annotation");
      sig = fromBase64(b64);
    } catch (e) {
      reject("malformed", `unreadable signature: ${errorMessage(e)}`);
      continue;
    }
    const payload = await fetchAttachmentLayer(target, layer, opts);
    const key = firstVerifying(keys, payload, sig);
    if (!key) {
      reject("bad-signature", `the signature does not verify with ${describeKeys(keys)} (another key signed it, or the payload or signature was changed)`);
      continue;
    }
    let claims;
    try {
      claims = parseSimpleSigning(payload);
    } catch (e) {
      reject("malformed", errorMessage(e));
      continue;
    }
    if (claims.digest !== desc.digest) {
      reject("other-digest", `it signs ${claims.digest}, not ${desc.digest}`);
      continue;
    }
    if (identity && normalizeIdentity(claims.identity) !== normalizeIdentity(identity)) {
      reject("other-identity", `it signs repository ${claims.identity}, not ${identity}`);
      continue;
    }
    const missing = Object.entries(opts.annotations ?? {}).filter(([k, v]) => claims.annotations[k] !== v);
    if (missing.length) {
      reject("annotations", `it lacks the annotation${missing.length > 1 ? "s" : ""} ${missing.map(([k, v]) => `${k}=${v}`).join(", ")}`);
      continue;
    }
    verified.push({ layer: layer.digest, key, identity: claims.identity, digest: claims.digest, annotations: claims.annotations, payload });
  }
  if (verified.length === 0) {
    throw new SignatureError(`no valid signature for ${subject}: ${summary("signature", rejections)}`, "invalid", rejections);
  }
  return verified;
}

/** An attestation that verified. */
export interface VerifiedAttestation {
  layer: string;
  key: VerificationKey;
  predicateType: string;
  statement: Statement;
  /** The statement's bytes (the envelope's payload). */
  payload: Uint8Array;
}

/**
 * Checks the attestations stored for `desc` (tag `sha256-<hex>.att`, and in-toto referrers where
 * the registry lists them): a DSSE envelope one of
 * `keys` signed, whose in-toto statement has `desc.digest` as a subject (named `identity` when
 * given) and, when `type` is given (a cosign type name or URI), that predicate type.
 */
export async function verifyAttestations(
  target: ReadOnlyTarget,
  desc: Descriptor,
  keys: VerificationKey[],
  identity: string | undefined,
  opts: StoreOptions & { type?: string } = {},
): Promise<VerifiedAttestation[]> {
  if (keys.length === 0) throw new KitError("no public key to verify with");
  const wantType = opts.type ? predicateTypeFor(opts.type) : undefined;
  const found = await collectAttachments(target, desc, "att", opts);
  const tag = found.tag;
  const subject = identity ? `${identity}@${desc.digest}` : desc.digest;
  if (found.layers.length === 0) {
    throw new SignatureError(`${subject} has no attestations (tag ${tag})`, "unsigned", [], "Attach one with: kit attest REFERENCE --predicate FILE --type TYPE --key cosign.key");
  }
  const hex = desc.digest.replace(/^sha256:/, "");
  const verified: VerifiedAttestation[] = [];
  const rejections: Rejection[] = [];
  for (const layer of found.layers) {
    const reject = (reason: RejectReason, message: string) => rejections.push({ layer: layer.digest, reason, message });
    if (layer.mediaType !== DSSE_MEDIA_TYPE) {
      reject("malformed", `not a DSSE envelope (media type ${layer.mediaType})`);
      continue;
    }
    const annotated = layer.annotations?.[PREDICATE_TYPE_ANNOTATION];
    if (wantType && annotated !== undefined && annotated !== wantType) {
      reject("other-type", `predicate type ${annotated}, not ${wantType}`);
      continue;
    }
    let envelope;
    try {
      envelope = parseEnvelope(await fetchAttachmentLayer(target, layer, opts));
    } catch (e) {
      reject("malformed", errorMessage(e));
      continue;
    }
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
      reject("malformed", `payload type ${envelope.payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}`);
      continue;
    }
    const pae = preAuthEncoding(envelope.payloadType, envelope.payload);
    let key: VerificationKey | undefined;
    for (const s of envelope.signatures) if ((key = firstVerifying(keys, pae, s))) break;
    if (!key) {
      reject("bad-signature", `the envelope does not verify with ${describeKeys(keys)} (another key signed it, or the statement or signature was changed)`);
      continue;
    }
    let statement: Statement;
    try {
      statement = parseStatement(envelope.payload);
    } catch (e) {
      reject("malformed", errorMessage(e));
      continue;
    }
    if (wantType && statement.predicateType !== wantType) {
      reject("other-type", `predicate type ${statement.predicateType}, not ${wantType}`);
      continue;
    }
    const matching = statement.subjects.filter((s) => s.sha256 === hex);
    if (matching.length === 0) {
      reject("other-digest", `its subjects are ${statement.subjects.map((s) => `${s.name}@sha256:${s.sha256 ?? "?"}`).join(", ") || "empty"}, not ${desc.digest}`);
      continue;
    }
    if (identity && !matching.some((s) => normalizeIdentity(s.name) === normalizeIdentity(identity))) {
      reject("other-identity", `its subject is ${matching[0]!.name}, not ${identity}`);
      continue;
    }
    verified.push({ layer: layer.digest, key, predicateType: statement.predicateType, statement, payload: envelope.payload });
  }
  if (verified.length === 0) {
    throw new SignatureError(`no valid attestation for ${subject}: ${summary("attestation", rejections)}`, "invalid", rejections);
  }
  return verified;
}
