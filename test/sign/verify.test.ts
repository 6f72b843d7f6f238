/**
 * Signing and verification through the Target interfaces (an in-memory store here; local
 * storage and the registry in test/integration/signing.test.ts): cosign's exact bytes, every
 * rejection reason, appending, carrying signatures between stores, attestations — and
 * signatures and attestations that cosign itself made (test/fixtures/cosign).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { type Descriptor, descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { bytesStream, type Target } from "../../src/store/target.ts";
import {
  attestationTagFor,
  copyAttachments,
  DSSE_MEDIA_TYPE,
  encodeAttachmentImage,
  readAttachments,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureTagFor,
} from "../../src/sign/attachments.ts";
import { encodePem, encryptKeyMaterial, generateKeyPair, loadPrivateKey, loadPublicKey, publicKeyPem, type SigningKey, type VerificationKey } from "../../src/sign/keys.ts";
import { attestModelKit, signModelKit } from "../../src/sign/sign.ts";
import { dockerReference, simpleSigningPayload } from "../../src/sign/simple-signing.ts";
import { SignatureError, verifyAttestations, verifyModelKit } from "../../src/sign/verify.ts";
import { sampleGraph } from "../store/conformance.ts";

const fixtures = path.resolve(import.meta.dir, "../fixtures/cosign");
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const ID = "registry.example.com/org/model";

let key1: SigningKey;
let key2: SigningKey;
let pub1: VerificationKey;
let pub2: VerificationKey;

beforeAll(async () => {
  for (const k of [1, 2]) {
    const pair = await generateKeyPair(enc(""));
    const key = await loadPrivateKey(pair.privatePem, enc(""));
    const pub = loadPublicKey(pair.publicPem, `key${k}.pub`);
    if (k === 1) [key1, pub1] = [key, pub];
    else [key2, pub2] = [key, pub];
  }
});

async function kitStore(tag = "a"): Promise<{ store: MemoryStore; desc: Descriptor }> {
  const store = new MemoryStore();
  const g = sampleGraph(tag);
  for (const d of [g.configDesc, g.layer1Desc, g.layer2Desc, g.manifestDesc]) await store.push(d, bytesStream(g.blobs.get(d.digest)!));
  await store.tag(g.manifestDesc, "v1");
  return { store, desc: g.manifestDesc };
}

async function rejection(p: Promise<unknown>): Promise<SignatureError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SignatureError) return e;
    throw e;
  }
  throw new Error("expected a SignatureError");
}

/** Replaces the attachment manifest under `tag` with one of `layers` (blobs pushed as needed). */
async function writeRaw(store: Target, tag: string, layers: Array<{ mediaType: string; data: Uint8Array; annotations: Record<string, string> }>) {
  const descs = layers.map((l) => ({ ...descriptorFromBytes(l.mediaType, l.data), annotations: l.annotations }));
  for (const [i, l] of layers.entries()) if (!(await store.exists(descs[i]!))) await store.push(descs[i]!, bytesStream(l.data));
  const { config, manifest } = encodeAttachmentImage(descs);
  const cd = descriptorFromBytes("application/vnd.oci.image.config.v1+json", config);
  if (!(await store.exists(cd))) await store.push(cd, bytesStream(config));
  const md = descriptorFromBytes("application/vnd.oci.image.manifest.v1+json", manifest);
  if (!(await store.exists(md))) await store.push(md, bytesStream(manifest));
  await store.tag(md, tag);
}

describe("the bytes cosign writes", () => {
  test("payload: critical identity/image/type then optional (null without annotations, sorted keys with)", () => {
    expect(dec(simpleSigningPayload(ID, "sha256:" + "a".repeat(64)))).toBe(
      `{"critical":{"identity":{"docker-reference":"${ID}"},"image":{"docker-manifest-digest":"sha256:${"a".repeat(64)}"},"type":"cosign container image signature"},"optional":null}`,
    );
    expect(dec(simpleSigningPayload(ID, "sha256:" + "a".repeat(64), { z: "1", a: "<&>" }))).toEndWith(`"optional":{"a":"\\u003c\\u0026\\u003e","z":"1"}}`);
    // The containers/image fixture's payload is exactly what kit writes for its identity and digest.
    const fixture = readFileSync(path.join(fixtures, "containers-image-rekor-payload"), "utf8");
    expect(dec(simpleSigningPayload("192.168.64.2:5000/test-repo-2100826901021538654/alpine", "sha256:fa93b01658e3a5a1686dc3ae55f170d8de487006fb53a28efcd12ab0710a2e5f"))).toBe(fixture);
  });

  test("repository names as go-containerregistry spells them", () => {
    expect(dockerReference("localhost:5000", "org/model")).toBe("localhost:5000/org/model");
    expect(dockerReference("docker.io", "model")).toBe("index.docker.io/library/model");
    expect(dockerReference("docker.io", "org/model")).toBe("index.docker.io/org/model");
  });

  test("the signature image: go-containerregistry's config (233 bytes for one layer) and manifest", async () => {
    const { store, desc } = await kitStore();
    const r = await signModelKit(store, desc, ID, key1);
    expect(r.tag).toBe(`sha256-${desc.digest.slice(7)}.sig`);
    expect(signatureTagFor(desc.digest)).toBe(r.tag);
    const manifest = dec(store.get(r.manifest.digest)!);
    const m = JSON.parse(manifest);
    const payloadDigest = digestOf(r.payload);
    const config = `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["${payloadDigest}"]},"config":{}}`;
    expect(config.length).toBe(233);
    expect(dec(store.get(m.config.digest)!)).toBe(config);
    const sig = m.layers[0].annotations[SIGNATURE_ANNOTATION];
    expect(manifest).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"${digestOf(config)}"},` +
        `"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":${r.payload.length},"digest":"${payloadDigest}","annotations":{"dev.cosignproject.cosign/signature":"${sig}"}}]}`,
    );
    expect(sig).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
  });
});

describe("verifyModelKit", () => {
  test("a kit signed by the key verifies; what verified is reported", async () => {
    const { store, desc } = await kitStore();
    await signModelKit(store, desc, ID, key1, { annotations: { team: "ml" } });
    const v = await verifyModelKit(store, desc, [pub2, pub1], ID, { annotations: { team: "ml" } });
    expect(v).toHaveLength(1);
    expect(v[0]!.key).toBe(pub1);
    expect(v[0]!.identity).toBe(ID);
    expect(v[0]!.digest).toBe(desc.digest);
    expect(v[0]!.annotations).toEqual({ team: "ml" });
  });

  test("unsigned", async () => {
    const { store, desc } = await kitStore();
    const e = await rejection(verifyModelKit(store, desc, [pub1], ID));
    expect(e.reason).toBe("unsigned");
    expect(e.message).toBe(`${ID}@${desc.digest} is not signed: no signatures (tag sha256-${desc.digest.slice(7)}.sig)`);
  });

  test("wrong key, another repository, a missing annotation", async () => {
    const { store, desc } = await kitStore();
    await signModelKit(store, desc, ID, key1, { annotations: { team: "ml" } });
    let e = await rejection(verifyModelKit(store, desc, [pub2], ID));
    expect(e.reason).toBe("invalid");
    expect(e.rejections.map((r) => r.reason)).toEqual(["bad-signature"]);
    expect(e.message).toContain("does not verify with key2.pub");
    e = await rejection(verifyModelKit(store, desc, [pub1], "registry.example.com/org/other"));
    expect(e.rejections.map((r) => r.reason)).toEqual(["other-identity"]);
    expect(e.message).toContain(`it signs repository ${ID}, not registry.example.com/org/other`);
    e = await rejection(verifyModelKit(store, desc, [pub1], ID, { annotations: { team: "ops" } }));
    expect(e.rejections.map((r) => r.reason)).toEqual(["annotations"]);
    // Without an identity to check, the repository is not compared (cosign's own rule).
    expect(await verifyModelKit(store, desc, [pub1], undefined)).toHaveLength(1);
  });

  test("one changed byte of the payload or of the signature", async () => {
    const { store, desc } = await kitStore();
    const r = await signModelKit(store, desc, ID, key1);
    const sig = (await readAttachments(store, r.tag))!.layers[0]!.annotations![SIGNATURE_ANNOTATION]!;
    const payload = Uint8Array.from(r.payload);
    payload[payload.indexOf(0x3a)]! ^= 0x20; // the first ':' of the JSON
    await writeRaw(store, r.tag, [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, data: payload, annotations: { [SIGNATURE_ANNOTATION]: sig } }]);
    let e = await rejection(verifyModelKit(store, desc, [pub1], ID));
    expect(e.rejections.map((x) => x.reason)).toEqual(["bad-signature"]);
    const raw = Buffer.from(sig, "base64");
    raw[raw.length - 3]! ^= 1;
    await writeRaw(store, r.tag, [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, data: r.payload, annotations: { [SIGNATURE_ANNOTATION]: raw.toString("base64") } }]);
    e = await rejection(verifyModelKit(store, desc, [pub1], ID));
    expect(e.rejections.map((x) => x.reason)).toEqual(["bad-signature"]);
  });

  test("a signature re-tagged to another kit's digest", async () => {
    const { store, desc } = await kitStore("a");
    const other = sampleGraph("b");
    for (const d of [other.configDesc, other.layer1Desc, other.layer2Desc, other.manifestDesc]) await store.push(d, bytesStream(other.blobs.get(d.digest)!));
    const r = await signModelKit(store, desc, ID, key1);
    await store.tag(r.manifest, signatureTagFor(other.manifestDesc.digest));
    const e = await rejection(verifyModelKit(store, other.manifestDesc, [pub1], ID));
    expect(e.rejections.map((x) => x.reason)).toEqual(["other-digest"]);
    expect(e.message).toContain(`it signs ${desc.digest}, not ${other.manifestDesc.digest}`);
  });

  test("signing appends as cosign does: the same key twice is one signature, another key adds one", async () => {
    const { store, desc } = await kitStore();
    const a = await signModelKit(store, desc, ID, key1);
    const b = await signModelKit(store, desc, ID, key1);
    expect(a.added).toBe(true);
    expect(b.added).toBe(false);
    expect(b.manifest.digest).toBe(a.manifest.digest);
    const c = await signModelKit(store, desc, ID, key2);
    expect(c.added).toBe(true);
    expect((await readAttachments(store, c.tag))!.layers).toHaveLength(2);
    expect((await verifyModelKit(store, desc, [pub2], ID)).map((v) => v.key)).toEqual([pub2]);
    expect(await verifyModelKit(store, desc, [pub1, pub2], ID)).toHaveLength(2);
  });

  test("RSA keys sign and verify", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = encodePem("ENCRYPTED SIGSTORE PRIVATE KEY", await encryptKeyMaterial(new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" })), enc("pw")));
    const rsa = await loadPrivateKey(pem, enc("pw"));
    const { store, desc } = await kitStore();
    await signModelKit(store, desc, ID, rsa);
    expect(await verifyModelKit(store, desc, [loadPublicKey(publicKeyPem(publicKey), "rsa.pub")], ID)).toHaveLength(1);
  });
});

describe("cosign's own signatures and attestations", () => {
  const payload = readFileSync(path.join(fixtures, "containers-image-rekor-payload"));
  const sig = readFileSync(path.join(fixtures, "containers-image-rekor-sig"), "utf8");
  const cert = new X509Certificate(readFileSync(path.join(fixtures, "containers-image-fulcio-cert.pem")));
  const certKey = () => loadPublicKey(cert.publicKey.export({ type: "spki", format: "pem" }).toString(), "fulcio-cert");
  const signed = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:fa93b01658e3a5a1686dc3ae55f170d8de487006fb53a28efcd12ab0710a2e5f", size: 1 } as Descriptor;
  const identity = "192.168.64.2:5000/test-repo-2100826901021538654/alpine";

  test("a signature made by cosign sign verifies, and not after one changed byte", async () => {
    const store = new MemoryStore();
    await writeRaw(store, signatureTagFor(signed.digest), [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, data: payload, annotations: { [SIGNATURE_ANNOTATION]: sig } }]);
    const v = await verifyModelKit(store, signed, [certKey()], identity);
    expect(v[0]!.identity).toBe(identity);
    const changed = Uint8Array.from(payload);
    changed[changed.length - 3]! ^= 0x01;
    await writeRaw(store, signatureTagFor(signed.digest), [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, data: changed, annotations: { [SIGNATURE_ANNOTATION]: sig } }]);
    expect((await rejection(verifyModelKit(store, signed, [certKey()], identity))).rejections[0]!.reason).toBe("bad-signature");
  });

  test("an attestation made by cosign attest-blob verifies, and not after one changed byte", async () => {
    const envelope = readFileSync(path.join(fixtures, "cosign-attest-blob.dsse.json"));
    const pub = loadPublicKey(readFileSync(path.join(fixtures, "cosign-attest-blob.pub"), "utf8"), "cosign.pub");
    const subject = { ...signed, digest: "sha256:658781cd4ed9bca60dacd09f7bb914bb51502e8b5d619f57f39a1d652596cc24" } as Descriptor;
    const store = new MemoryStore();
    const ann = { [SIGNATURE_ANNOTATION]: "", predicateType: "https://slsa.dev/provenance/v0.2" };
    await writeRaw(store, attestationTagFor(subject.digest), [{ mediaType: DSSE_MEDIA_TYPE, data: envelope, annotations: ann }]);
    const v = await verifyAttestations(store, subject, [pub], "blob", { type: "slsaprovenance" });
    expect(v[0]!.statement.predicate).toEqual({ builder: { id: "2" }, buildType: "x", invocation: { configSource: {} } });
    expect((await rejection(verifyAttestations(store, subject, [pub], "blob", { type: "slsaprovenance1" }))).rejections[0]!.reason).toBe("other-type");
    // One byte of the signed statement changed (inside the base64 payload: 'x' → 'y' in buildType).
    const doc = JSON.parse(dec(envelope));
    doc.payload = Buffer.from(Buffer.from(doc.payload, "base64").toString().replace('"x"', '"y"')).toString("base64");
    await writeRaw(store, attestationTagFor(subject.digest), [{ mediaType: DSSE_MEDIA_TYPE, data: enc(JSON.stringify(doc)), annotations: ann }]);
    expect((await rejection(verifyAttestations(store, subject, [pub], "blob"))).rejections[0]!.reason).toBe("bad-signature");
  });
});

describe("attestations", () => {
  const predicate = enc(JSON.stringify({ runDetails: { builder: { id: "https://kitops.org/kit" } }, buildDefinition: { buildType: "https://kitops.org/import", externalParameters: { repo: "x" } } }));

  test("kit attest writes cosign's layer and statement, and it verifies", async () => {
    const { store, desc } = await kitStore();
    const r = await attestModelKit(store, desc, ID, key1, predicate, "slsaprovenance1");
    expect(r.tag).toBe(`sha256-${desc.digest.slice(7)}.att`);
    expect(r.predicateType).toBe("https://slsa.dev/provenance/v1");
    const layer = (await readAttachments(store, r.tag))!.layers[0]!;
    expect(layer.mediaType).toBe("application/vnd.dsse.envelope.v1+json");
    expect(layer.annotations).toEqual({ "dev.cosignproject.cosign/signature": "", predicateType: "https://slsa.dev/provenance/v1" });
    // Statement v0.1, subject = repository + digest, predicate keys sorted as Go re-encodes them.
    expect(dec(r.statement)).toBe(
      `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v1","subject":[{"name":"${ID}","digest":{"sha256":"${desc.digest.slice(7)}"}}],` +
        `"predicate":{"buildDefinition":{"buildType":"https://kitops.org/import","externalParameters":{"repo":"x"}},"runDetails":{"builder":{"id":"https://kitops.org/kit"}}}}`,
    );
    const envelope = JSON.parse(dec(store.get(layer.digest)!));
    expect(Object.keys(envelope)).toEqual(["payloadType", "payload", "signatures"]);
    expect(envelope.signatures[0].keyid).toBe("");
    const v = await verifyAttestations(store, desc, [pub1], ID, { type: "slsaprovenance1" });
    expect(v[0]!.predicateType).toBe("https://slsa.dev/provenance/v1");
  });

  test("rejections: no attestation, wrong key, another subject, a predicate lacking cosign's required fields", async () => {
    const { store, desc } = await kitStore();
    expect((await rejection(verifyAttestations(store, desc, [pub1], ID))).reason).toBe("unsigned");
    await attestModelKit(store, desc, ID, key1, predicate, "slsaprovenance1");
    expect((await rejection(verifyAttestations(store, desc, [pub2], ID))).rejections[0]!.reason).toBe("bad-signature");
    expect((await rejection(verifyAttestations(store, desc, [pub1], "registry.example.com/x"))).rejections[0]!.reason).toBe("other-identity");
    await expect(attestModelKit(store, desc, ID, key1, enc("{}"), "slsaprovenance1")).rejects.toThrow("required field buildDefinition missing");
  });
});

describe("copyAttachments (what push and pull call to carry signatures)", () => {
  test("to a store without them: the same manifests; verification works there", async () => {
    const { store, desc } = await kitStore();
    const s = await signModelKit(store, desc, ID, key1);
    const a = await attestModelKit(store, desc, ID, key1, enc('{"x":1}'), "https://example.com/predicate/v1");
    const dst = new MemoryStore();
    expect(await copyAttachments(store, dst, desc.digest)).toEqual([s.tag, a.tag]);
    expect((await dst.resolve(s.tag)).digest).toBe(s.manifest.digest);
    expect((await dst.resolve(a.tag)).digest).toBe(a.manifest.digest);
    expect(await verifyModelKit(dst, desc, [pub1], ID)).toHaveLength(1);
    expect(await copyAttachments(store, dst, desc.digest)).toEqual([]);
  });

  test("into a store with other signatures: merged, nothing lost", async () => {
    const { store, desc } = await kitStore();
    const { store: dst } = await kitStore();
    await signModelKit(store, desc, ID, key1);
    await signModelKit(dst, desc, ID, key2);
    expect(await copyAttachments(store, dst, desc.digest)).toEqual([signatureTagFor(desc.digest)]);
    expect((await verifyModelKit(dst, desc, [pub1, pub2], ID)).map((v) => v.key.name).sort()).toEqual(["key1.pub", "key2.pub"]);
  });

  test("nothing to carry", async () => {
    const { store, desc } = await kitStore();
    expect(await copyAttachments(store, new MemoryStore(), desc.digest)).toEqual([]);
  });
});
