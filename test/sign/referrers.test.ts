/**
 * Signatures and attestations through the OCI 1.1 referrers API, against the in-process fake
 * registry (docker-registry 2.8 has no referrers API; test/integration/signing.test.ts covers it):
 * the registry's listing (pages, filter, validation, 404), signing that writes the tag and a
 * referrer, verification that reads both, and a registry without the API getting the tag alone.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { type Descriptor, descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { bytesStream, isReferrerLister } from "../../src/store/target.ts";
import { MAX_REFERRER_PAGES } from "../../src/registry/referrers.ts";
import type { RemoteRepository } from "../../src/registry/repository.ts";
import {
  ATTESTATION_ARTIFACT_TYPE,
  attestationTagFor,
  OCI_EMPTY,
  SIGNATURE_ANNOTATION,
  SIGNATURE_ARTIFACT_TYPE,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureTagFor,
} from "../../src/sign/attachments.ts";
import { generateKeyPair, loadPrivateKey, loadPublicKey, type SigningKey, type VerificationKey } from "../../src/sign/keys.ts";
import { attestModelKit, signModelKit } from "../../src/sign/sign.ts";
import { simpleSigningPayload } from "../../src/sign/simple-signing.ts";
import { SignatureError, verifyAttestations, verifyModelKit } from "../../src/sign/verify.ts";
import { IntegrityError, KitError } from "../../src/util/errors.ts";
import { FakeRegistry, type FakeOptions, fakeRepository } from "../registry/fake-registry.ts";
import { sampleGraph } from "../store/conformance.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const REPO = "org/model";
const ID = "reg.test/org/model";

let key: SigningKey;
let pub: VerificationKey;

beforeAll(async () => {
  const pair = await generateKeyPair(enc(""));
  key = await loadPrivateKey(pair.privatePem, enc(""));
  pub = loadPublicKey(pair.publicPem, "cosign.pub");
});

/** A fake registry holding a kit in `org/model`, and a client for it. */
async function kitOn(opts: FakeOptions): Promise<{ fake: FakeRegistry; repo: RemoteRepository; desc: Descriptor }> {
  const fake = new FakeRegistry(opts);
  const repo = fakeRepository(fake);
  const g = sampleGraph("r");
  for (const d of [g.configDesc, g.layer1Desc, g.layer2Desc, g.manifestDesc]) await repo.push(d, bytesStream(g.blobs.get(d.digest)!));
  await repo.tag(g.manifestDesc, "v1");
  return { fake, repo, desc: g.manifestDesc };
}

/** The manifests of `org/model` that name `digest` as their subject. */
function referrersIn(fake: FakeRegistry, digest: string): Array<{ digest: string; json: Record<string, any> }> {
  const out: Array<{ digest: string; json: Record<string, any> }> = [];
  for (const [d, m] of fake.manifests.get(REPO) ?? []) {
    const json = JSON.parse(dec(m.bytes));
    if (json.subject?.digest === digest) out.push({ digest: d, json });
  }
  return out;
}

/** Pushes a referrer manifest of `desc` (artifact type `artifactType`) with one simple-signing layer. */
async function pushReferrer(repo: RemoteRepository, desc: Descriptor, payload: Uint8Array, signature: string, artifactType = SIGNATURE_ARTIFACT_TYPE): Promise<Descriptor> {
  const layer = { ...descriptorFromBytes(SIMPLE_SIGNING_MEDIA_TYPE, payload), annotations: { [SIGNATURE_ANNOTATION]: signature } };
  await repo.push(descriptorFromBytes(SIMPLE_SIGNING_MEDIA_TYPE, payload), bytesStream(payload));
  const empty = enc("{}");
  const config = descriptorFromBytes(OCI_EMPTY, empty);
  if (!(await repo.exists(config))) await repo.push(config, bytesStream(empty));
  const manifest = enc(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config,
    layers: [layer],
    subject: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size },
  }));
  const md = descriptorFromBytes(OCI_MANIFEST, manifest);
  await repo.push(md, bytesStream(manifest));
  return md;
}

/** The SignatureError `p` rejects with (anything else fails the test). */
async function rejection(p: Promise<unknown>): Promise<SignatureError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(SignatureError);
  return e as SignatureError;
}

describe("RemoteRepository.referrers", () => {
  test("is a ReferrerLister; undefined when the registry answers 404", async () => {
    const { repo, desc } = await kitOn({});
    expect(isReferrerLister(repo)).toBe(true);
    expect(await repo.referrers(desc)).toBeUndefined();
  });

  test("follows Link pages and filters by artifactType even when the registry ignores the filter", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true, referrersPageSize: 1, referrersIgnoreFilter: true });
    const a = await pushReferrer(repo, desc, enc("a"), "sig-a");
    const b = await pushReferrer(repo, desc, enc("b"), "sig-b");
    const other = await pushReferrer(repo, desc, enc("c"), "sig-c", "application/vnd.example.sbom");
    const all = (await repo.referrers(desc))!;
    expect(all.map((d) => d.digest).sort()).toEqual([a.digest, b.digest, other.digest].sort());
    expect(fake.log.filter((r) => r.url.pathname.includes("/referrers/")).length).toBe(3); // three pages
    const sigs = (await repo.referrers(desc, SIGNATURE_ARTIFACT_TYPE))!;
    expect(sigs.map((d) => d.digest).sort()).toEqual([a.digest, b.digest].sort());
    expect(sigs.every((d) => d.artifactType === SIGNATURE_ARTIFACT_TYPE)).toBe(true);
  });

  test("asks the registry to filter", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    await repo.referrers(desc, SIGNATURE_ARTIFACT_TYPE);
    const asked = fake.log.find((r) => r.url.pathname.endsWith(`/referrers/${desc.digest}`))!;
    expect(asked.url.searchParams.get("artifactType")).toBe(SIGNATURE_ARTIFACT_TYPE);
  });

  test("refuses an answer that is not an OCI image index, or bad descriptors", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    const answer = (body: unknown) => fake.intercept((_req, url) => url.pathname.includes("/referrers/") ? Response.json(body) : undefined);
    answer({ schemaVersion: 2, mediaType: OCI_MANIFEST, manifests: [] });
    expect(repo.referrers(desc)).rejects.toThrow(/not an OCI image index/);
    answer({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: OCI_MANIFEST, digest: "md5:x", size: 1 }] });
    expect(repo.referrers(desc)).rejects.toThrow(KitError);
    answer({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: OCI_MANIFEST, digest: desc.digest, size: 1, annotations: { a: 1 } }] });
    expect(repo.referrers(desc)).rejects.toThrow(/not strings/);
  });

  test("a page linking back to itself is an error; pages are bounded", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    const index = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] };
    fake.intercept((_req, url) => url.pathname.includes("/referrers/") ? Response.json(index, { headers: { link: `<${url.pathname}>; rel="next"` } }) : undefined);
    expect(repo.referrers(desc)).rejects.toThrow(/loop/);
    let n = 0;
    for (let i = 0; i < MAX_REFERRER_PAGES + 5; i++) {
      fake.intercept((_req, url) => url.pathname.includes("/referrers/") ? Response.json(index, { headers: { link: `<${url.pathname}?page=${++n}>; rel="next"` } }) : undefined);
    }
    expect(await repo.referrers(desc)).toEqual([]);
    expect(n).toBe(MAX_REFERRER_PAGES);
  });
});

describe("signing with referrers", () => {
  test("sign writes the .sig tag and a referrer manifest of the signed manifest (cosign's shape)", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    const r = await signModelKit(repo, desc, ID, key);
    expect(r.referrer).toBeDefined();
    const tagged = JSON.parse(dec((await repo.fetchManifest(signatureTagFor(desc.digest))).bytes));
    const refs = referrersIn(fake, desc.digest);
    expect(refs.map((x) => x.digest)).toEqual([r.referrer!.digest]);
    const m = refs[0]!.json;
    expect(m.artifactType).toBe(SIGNATURE_ARTIFACT_TYPE);
    expect(m.mediaType).toBe(OCI_MANIFEST);
    expect(m.config).toEqual({ mediaType: OCI_EMPTY, size: 2, digest: descriptorFromBytes(OCI_EMPTY, enc("{}")).digest });
    expect(dec(fake.blobs.get(m.config.digest)!)).toBe("{}");
    expect(m.subject).toEqual({ mediaType: desc.mediaType, size: desc.size, digest: desc.digest });
    expect(m.layers).toEqual(tagged.layers);
    // Listed by the registry as a signature referrer; signing again writes nothing new.
    expect((await repo.referrers(desc, SIGNATURE_ARTIFACT_TYPE))!.map((d) => d.digest)).toEqual([r.referrer!.digest]);
    const again = await signModelKit(repo, desc, ID, key);
    expect(again.added).toBe(false);
    expect(referrersIn(fake, desc.digest).length).toBe(1);
  });

  test("400, 405 and 501 on /referrers also mean no referrers API; a 500 is a failure", async () => {
    for (const status of [400, 405, 501]) {
      const { fake, repo, desc } = await kitOn({ noReferrersStatus: status });
      expect(await repo.referrers(desc)).toBeUndefined();
      const r = await signModelKit(repo, desc, ID, key);
      expect(r.referrer).toBeUndefined();
      expect(referrersIn(fake, desc.digest)).toEqual([]);
      expect(await verifyModelKit(repo, desc, [pub], ID)).toHaveLength(1);
    }
    const { repo, desc } = await kitOn({ noReferrersStatus: 500 });
    expect(await repo.referrers(desc).then(() => "listed", () => "failed")).toBe("failed");
  });

  test("a registry answering 404 on /referrers gets the tag form only", async () => {
    const { fake, repo, desc } = await kitOn({});
    const r = await signModelKit(repo, desc, ID, key);
    expect(r.referrer).toBeUndefined();
    expect(fake.tags.get(REPO)!.get(signatureTagFor(desc.digest))).toBe(r.manifest.digest);
    expect(referrersIn(fake, desc.digest)).toEqual([]);
    expect(await verifyModelKit(repo, desc, [pub], ID)).toHaveLength(1);
    const a = await attestModelKit(repo, desc, ID, key, enc('{"x":1}'), "custom");
    expect(a.referrer).toBeUndefined();
    expect(referrersIn(fake, desc.digest)).toEqual([]);
  });

  test("verify finds a signature present only as a referrer", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    await signModelKit(repo, desc, ID, key);
    fake.tags.get(REPO)!.delete(signatureTagFor(desc.digest));
    const v = await verifyModelKit(repo, desc, [pub], ID);
    expect(v).toHaveLength(1);
    // The same signature in the tag and a referrer counts once.
    const both = await kitOn({ referrers: true });
    await signModelKit(both.repo, both.desc, ID, key);
    expect(await verifyModelKit(both.repo, both.desc, [pub], ID)).toHaveLength(1);
  });

  test("a signature made by another tool, only as a referrer, verifies; a tampered one does not", async () => {
    const { repo, desc } = await kitOn({ referrers: true });
    const payload = simpleSigningPayload(ID, desc.digest, {});
    const { signBytes } = await import("../../src/sign/keys.ts");
    const { encodeBase64 } = await import("../../src/util/base64.ts");
    const sig = encodeBase64(signBytes(key, payload));
    // Tampered: the payload changed under the same signature.
    const tampered = enc(dec(payload).replace(desc.digest, desc.digest.replace(/.$/, (c) => (c === "0" ? "1" : "0"))));
    await pushReferrer(repo, desc, tampered, sig);
    const e = await rejection(verifyModelKit(repo, desc, [pub], ID));
    expect(e.reason).toBe("invalid");
    expect(e.rejections.map((r) => r.reason)).toEqual(["bad-signature"]);
    await pushReferrer(repo, desc, payload, sig);
    expect(await verifyModelKit(repo, desc, [pub], ID)).toHaveLength(1);
  });

  test("a referrer layer whose bytes were changed in the registry fails verification", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    const r = await signModelKit(repo, desc, ID, key);
    fake.tags.get(REPO)!.delete(signatureTagFor(desc.digest));
    const layer = referrersIn(fake, desc.digest)[0]!.json.layers[0];
    expect(r.referrer).toBeDefined();
    const bytes = fake.blobs.get(layer.digest)!;
    fake.blobs.set(layer.digest, enc(dec(bytes).replace("reg.test", "reg.evil")));
    expect(verifyModelKit(repo, desc, [pub], ID)).rejects.toThrow(IntegrityError);
  });

  test("a listed referrer whose manifest names another subject is not used", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    const g = sampleGraph("s");
    for (const d of [g.configDesc, g.layer1Desc, g.layer2Desc, g.manifestDesc]) await repo.push(d, bytesStream(g.blobs.get(d.digest)!));
    await signModelKit(repo, desc, ID, key);
    fake.tags.get(REPO)!.delete(signatureTagFor(desc.digest));
    const real = referrersIn(fake, desc.digest)[0]!;
    // The registry lists the referrer for another subject too (a lying listing).
    fake.intercept((_req, url) => url.pathname.includes("/referrers/") ? Response.json({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ mediaType: OCI_MANIFEST, digest: real.digest, size: fake.manifests.get(REPO)!.get(real.digest)!.bytes.byteLength, artifactType: SIGNATURE_ARTIFACT_TYPE }],
    }) : undefined);
    const e = await rejection(verifyModelKit(repo, g.manifestDesc, [pub], ID));
    expect(e.reason).toBe("unsigned");
  });

  test("attest writes an in-toto referrer; verify-attestation finds it without the .att tag", async () => {
    const { fake, repo, desc } = await kitOn({ referrers: true });
    const a = await attestModelKit(repo, desc, ID, key, enc('{"x":1}'), "custom");
    expect(a.referrer).toBeDefined();
    const m = referrersIn(fake, desc.digest)[0]!.json;
    expect(m.artifactType).toBe(ATTESTATION_ARTIFACT_TYPE);
    fake.tags.get(REPO)!.delete(attestationTagFor(desc.digest));
    expect(await verifyAttestations(repo, desc, [pub], ID, { type: "custom" })).toHaveLength(1);
    // Not mistaken for a signature.
    expect((await rejection(verifyModelKit(repo, desc, [pub], ID))).reason).toBe("unsigned");
  });
});
