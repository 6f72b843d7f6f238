/**
 * Attestations as cosign writes them: an in-toto statement about a manifest digest, signed in a
 * DSSE envelope (the signature covers the envelope's pre-authentication encoding, PAE). Bytes
 * follow Go's `json.Marshal` of cosign's types; predicates are re-encoded with sorted keys, as Go
 * does for the `map[string]interface{}` cosign holds them in.
 * @module
 */
import { goJson, GoMap } from "../util/go-json.ts";
import { KitError } from "../util/errors.ts";
import { fromBase64, parseJsonBytes } from "./keys.ts";
import { encodeBase64 } from "../util/base64.ts";

export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
/** The statement type cosign writes. */
export const IN_TOTO_STATEMENT_V01 = "https://in-toto.io/Statement/v0.1";
const IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1";

/** cosign's `--type` names and the predicate types they stand for. */
export const PREDICATE_TYPES: Readonly<Record<string, string>> = {
  custom: "https://cosign.sigstore.dev/attestation/v1",
  slsaprovenance: "https://slsa.dev/provenance/v0.2",
  slsaprovenance02: "https://slsa.dev/provenance/v0.2",
  slsaprovenance1: "https://slsa.dev/provenance/v1",
  spdx: "https://spdx.dev/Document",
  spdxjson: "https://spdx.dev/Document",
  cyclonedx: "https://cyclonedx.org/bom",
  link: "https://in-toto.io/Link/v1",
  vuln: "https://cosign.sigstore.dev/attestation/vuln/v1",
};

/** Fields cosign requires in a predicate of these types (the non-omitempty fields of its structs). */
const REQUIRED_FIELDS: Readonly<Record<string, string[]>> = {
  slsaprovenance: ["builder", "buildType"],
  slsaprovenance02: ["builder", "buildType"],
  slsaprovenance1: ["buildDefinition", "runDetails"],
  link: ["name", "command", "materials", "products", "byproducts", "environment"],
};

/** The predicate type URI of a `--type` value: a known name, or a URI used as it is. */
export function predicateTypeFor(type: string): string {
  const known = PREDICATE_TYPES[type];
  if (known) return known;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(type)) return type;
  throw new KitError(`invalid predicate type ${JSON.stringify(type)}`, {
    hint: `Use one of ${Object.keys(PREDICATE_TYPES).join(", ")}, or a URI`,
  });
}

/** A parsed JSON value as Go's `encoding/json` would re-encode it from `interface{}` (object keys sorted). */
function goValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(goValue);
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = goValue(x);
    return new GoMap(o);
  }
  return v;
}

/**
 * cosign's `attestation.GenerateStatement`: the statement bytes for `predicate` (the file's
 * text) of `type` about `name@digest`. `now` gives the custom predicate's timestamp.
 */
export function inTotoStatement(type: string, predicate: Uint8Array, name: string, digest: string, now: Date = new Date()): Uint8Array {
  const predicateType = predicateTypeFor(type);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(predicate);
  let value: unknown;
  if (type === "custom") {
    value = { Data: text, Timestamp: now.toISOString().replace(/\.\d{3}Z$/, "Z") };
  } else if (type === "spdx") {
    value = text;
  } else {
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new KitError(`invalid JSON predicate for type ${type}: ${(e as Error).message}`);
    }
    const required = REQUIRED_FIELDS[type] ?? [];
    if (required.length) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw new KitError(`${type} predicate: not a JSON object`);
      for (const f of required) if (!(f in value)) throw new KitError(`${type} predicate: required field ${f} missing`);
    }
    value = goValue(value);
  }
  const hex = digest.replace(/^sha256:/, "");
  return new TextEncoder().encode(goJson({
    _type: IN_TOTO_STATEMENT_V01,
    predicateType,
    subject: [{ name, digest: new GoMap({ sha256: hex }) }],
    predicate: value,
  }));
}

/** DSSE's pre-authentication encoding: what the envelope's signatures sign. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const type = enc.encode(payloadType);
  const head = enc.encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** A DSSE envelope's JSON, as go-securesystemslib writes it. */
export function encodeEnvelope(payloadType: string, payload: Uint8Array, signatures: Uint8Array[]): Uint8Array {
  return new TextEncoder().encode(goJson({
    payloadType,
    payload: encodeBase64(payload),
    signatures: signatures.map((s) => ({ keyid: "", sig: encodeBase64(s) })),
  }));
}

export interface Envelope {
  payloadType: string;
  payload: Uint8Array;
  signatures: Uint8Array[];
}

export function parseEnvelope(bytes: Uint8Array): Envelope {
  const v = parseJsonBytes(bytes, "envelope");
  const o = v as { payloadType?: unknown; payload?: unknown; signatures?: unknown } | null;
  if (!o || typeof o !== "object" || typeof o.payloadType !== "string" || typeof o.payload !== "string" || !Array.isArray(o.signatures)) {
    throw new KitError("not a DSSE envelope (payloadType, payload and signatures)");
  }
  const signatures: Uint8Array[] = [];
  for (const s of o.signatures) {
    const sig = (s as { sig?: unknown } | null)?.sig;
    if (typeof sig !== "string") throw new KitError("DSSE envelope signature without sig");
    signatures.push(fromBase64(sig));
  }
  return { payloadType: o.payloadType, payload: fromBase64(o.payload), signatures };
}

/** What a verified statement says. */
export interface Statement {
  type: string;
  predicateType: string;
  subjects: Array<{ name: string; sha256?: string }>;
  predicate: unknown;
}

export function parseStatement(payload: Uint8Array): Statement {
  const v = parseJsonBytes(payload, "statement");
  const o = v as { _type?: unknown; predicateType?: unknown; subject?: unknown; predicate?: unknown } | null;
  if (!o || typeof o !== "object") throw new KitError("statement is not a JSON object");
  if (o._type !== IN_TOTO_STATEMENT_V01 && o._type !== IN_TOTO_STATEMENT_V1) throw new KitError(`unknown statement type ${JSON.stringify(o._type)}`);
  if (typeof o.predicateType !== "string") throw new KitError("statement has no predicateType");
  if (!Array.isArray(o.subject)) throw new KitError("statement has no subject list");
  const subjects = o.subject.map((s) => {
    const x = s as { name?: unknown; digest?: { sha256?: unknown } } | null;
    return { name: typeof x?.name === "string" ? x.name : "", sha256: typeof x?.digest?.sha256 === "string" ? x.digest.sha256 : undefined };
  });
  return { type: o._type, predicateType: o.predicateType, subjects, predicate: o.predicate };
}
