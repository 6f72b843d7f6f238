/**
 * Signing a ModelKit (`kit sign`) and attaching an attestation (`kit attest`) in cosign's
 * formats, into any Target: the signature goes next to the manifest, in the same repository.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import type { StoreOptions, Target } from "../store/target.ts";
import { appendAttachment, attestationTagFor, writeReferrer, DSSE_MEDIA_TYPE, fetchAttachmentLayer, PREDICATE_TYPE_ANNOTATION, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signatureTagFor } from "./attachments.ts";
import { encodeEnvelope, IN_TOTO_PAYLOAD_TYPE, inTotoStatement, preAuthEncoding, predicateTypeFor } from "./dsse.ts";
import { encodeBase64 } from "../util/base64.ts";
import { fromBase64, keyFingerprint, signBytes, type SigningKey, verifyBytes } from "./keys.ts";
import { simpleSigningPayload } from "./simple-signing.ts";

export interface SignResult {
  /** The tag the signature is stored under (`sha256-<hex>.sig`). */
  tag: string;
  /** The signature manifest now tagged. */
  manifest: Descriptor;
  /** False when an equal signature by the same key was already there (nothing was written). */
  added: boolean;
  /** The referrer manifest pushed too, where the registry offers the referrers API. */
  referrer?: Descriptor;
  payload: Uint8Array;
}

/**
 * Signs manifest `desc` as `identity` (the repository name, see `dockerReference`) and appends
 * the signature to `sha256-<hex>.sig` in `target`, as `cosign sign --key` does (without the
 * transparency log). `annotations` go into the payload's `optional` section. Where the target
 * offers the referrers API, the signature manifest's layers are pushed as a referrer of `desc` too.
 */
export async function signModelKit(
  target: Target,
  desc: Descriptor,
  identity: string,
  key: SigningKey,
  opts: StoreOptions & { annotations?: Record<string, string> } = {},
): Promise<SignResult> {
  const payload = simpleSigningPayload(identity, desc.digest, opts.annotations ?? {});
  const signature = encodeBase64(signBytes(key, payload));
  const tag = signatureTagFor(desc.digest);
  const self = { name: "signing key", key: key.publicKey, fingerprint: keyFingerprint(key.publicKey) };
  const { added, manifest, layers } = await appendAttachment(target, tag, {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    data: payload,
    annotations: { [SIGNATURE_ANNOTATION]: signature },
  }, {
    signal: opts.signal,
    // cosign's duplicate detector: the same payload, already signed by this key.
    isDuplicate: async (l) => {
      if (l.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || l.size !== payload.byteLength) return false;
      const sig = l.annotations?.[SIGNATURE_ANNOTATION];
      if (!sig) return false;
      const data = await fetchAttachmentLayer(target, l, opts).catch(() => undefined);
      if (!data || data.length !== payload.length || data.some((b, i) => b !== payload[i])) return false;
      try {
        return verifyBytes(self, payload, fromBase64(sig));
      } catch {
        return false;
      }
    },
  });
  const referrer = await writeReferrer(target, desc, "sig", layers, opts);
  return { tag, manifest, added, payload, referrer };
}

export interface AttestResult {
  tag: string;
  manifest: Descriptor;
  predicateType: string;
  statement: Uint8Array;
  /** The referrer manifest pushed too, where the registry offers the referrers API. */
  referrer?: Descriptor;
}

/**
 * Attaches a signed in-toto statement (`predicate` of `type`, about `identity@desc.digest`) to
 * `sha256-<hex>.att` in `target`, as `cosign attest --key` does: a DSSE envelope layer with the
 * `predicateType` annotation; also as a referrer of `desc` where the target offers the referrers API.
 */
export async function attestModelKit(
  target: Target,
  desc: Descriptor,
  identity: string,
  key: SigningKey,
  predicate: Uint8Array,
  type: string,
  opts: StoreOptions & { now?: Date } = {},
): Promise<AttestResult> {
  const predicateType = predicateTypeFor(type);
  const statement = inTotoStatement(type, predicate, identity, desc.digest, opts.now);
  const signature = signBytes(key, preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, statement));
  const envelope = encodeEnvelope(IN_TOTO_PAYLOAD_TYPE, statement, [signature]);
  const tag = attestationTagFor(desc.digest);
  const { manifest, layers } = await appendAttachment(target, tag, {
    mediaType: DSSE_MEDIA_TYPE,
    data: envelope,
    // cosign stores an empty signature annotation on attestation layers (the signature is inside).
    annotations: { [SIGNATURE_ANNOTATION]: "", [PREDICATE_TYPE_ANNOTATION]: predicateType },
  }, { signal: opts.signal });
  const referrer = await writeReferrer(target, desc, "att", layers, opts);
  return { tag, manifest, predicateType, statement, referrer };
}
