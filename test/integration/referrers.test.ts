/**
 * Signatures through the OCI 1.1 referrers API with the compiled binary, against the in-process
 * fake registry serving referrers (docker-registry 2.8 has none; see signing.test.ts): `kit sign`
 * writes a referrer besides the `.sig` tag, and `kit verify` and `pull --verify-key` accept a kit
 * whose signature is only a referrer. Needs `dist/kit` (`bun scripts/build.ts`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitBinary, runKit, tempDir, type RunResult } from "../helpers/kit.ts";
import { serveFake, type ServedFake } from "../registry/fake-registry.ts";

const TIMEOUT = 120_000;
let served: ServedFake;

beforeAll(() => {
  served = serveFake({ referrers: true });
});
afterAll(() => served.stop());

describe.skipIf(!existsSync(kitBinary))("referrers end to end", () => {
  test("sign writes a referrer; verify and pull --verify-key accept a signature found only there", async () => {
    const root = tempDir("kit-referrers-e2e-");
    const cwd = path.join(root, "work");
    mkdirSync(path.join(cwd, "ctx"), { recursive: true });
    const run = (args: string[]): Promise<RunResult> =>
      runKit(args, { cwd, env: { KITOPS_HOME: path.join(root, "home"), DOCKER_CONFIG: path.join(root, "docker"), KIT_PASSWORD: "pw" } });
    writeFileSync(path.join(cwd, "ctx", "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: r\nmodel:\n  path: model.bin\n");
    writeFileSync(path.join(cwd, "ctx", "model.bin"), "weights\n".repeat(100));
    const ref = `${served.host}/org/model:v1`;
    expect((await run(["key", "generate"])).code).toBe(0);
    const packed = await run(["pack", "ctx", "-t", ref]);
    expect(packed.code).toBe(0);
    const digest = /Model saved: (sha256:[0-9a-f]{64})/.exec(packed.stdout)![1]!;
    expect((await run(["push", ref, "--plain-http"])).code).toBe(0);
    expect((await run(["remove", ref])).code).toBe(0);
    const sign = await run(["sign", ref, "--key", "cosign.key", "--plain-http"]);
    expect(sign.code).toBe(0);

    const fake = served.fake;
    const sigTag = `sha256-${digest.slice("sha256:".length)}.sig`;
    expect(fake.tags.get("org/model")!.has(sigTag)).toBe(true);
    const referrers = [...fake.manifests.get("org/model")!.values()].map((m) => JSON.parse(new TextDecoder().decode(m.bytes))).filter((m) => m.subject?.digest === digest);
    expect(referrers.map((m) => m.artifactType)).toEqual(["application/vnd.dev.cosign.artifact.sig.v1+json"]);

    fake.tags.get("org/model")!.delete(sigTag);
    const verify = await run(["verify", ref, "--key", "cosign.pub", "--plain-http"]);
    expect(verify.stderr).toBe("");
    expect(verify.code).toBe(0);
    const pull = await run(["pull", ref, "--plain-http", "--verify-key", "cosign.pub"]);
    expect(pull.code).toBe(0);
    expect(pull.stdout + pull.stderr).toContain("Verified signature");

    // The referrer's layer changed in the registry: refused.
    const layer = referrers[0]!.layers[0].digest as string;
    fake.blobs.set(layer, new TextEncoder().encode(new TextDecoder().decode(fake.blobs.get(layer)!).replace("org/model", "org/other")));
    expect((await run(["remove", ref])).code).toBe(0);
    const tampered = await run(["verify", ref, "--key", "cosign.pub", "--plain-http"]);
    expect(tampered.code).not.toBe(0);
  }, TIMEOUT);
});
