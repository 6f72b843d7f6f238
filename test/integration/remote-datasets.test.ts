/**
 * Remote datasets through the compiled binary against a real S3-compatible server (s3rver):
 * pack checks the object and its ETag, unpack warns without --include-remote and downloads with
 * it, a changed object or a wrong ETag is refused, a server that is down is one clear error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { partialDownloadPath } from "../../src/modelkit/remote-datasets.ts";
import { hashTree, project } from "../helpers/files.ts";
import { runKit, tempDir } from "../helpers/kit.ts";
import { startFaultProxy } from "../helpers/fault-proxy.ts";
import { freePort } from "../helpers/registry.ts";
import { startS3, type TestS3 } from "../helpers/s3.ts";

const TRAIN = "text,label\n" + "hello,1\n".repeat(2000);
const kitfile = (etag: string, key = "sets/train.csv") => `manifestVersion: 1.0.0
package:
  name: remote
model:
  path: model.bin
datasets:
  - name: train
    path: data/train.csv
    remotePath: s3://datasets/${key}
    remoteHash: ${etag}
  - name: local
    path: local.csv
`;

describe("remote S3 datasets", () => {
  let s3: TestS3;
  let etag = "";
  const home = tempDir("kit-s3-home-");
  let env: Record<string, string> = {};

  beforeAll(async () => {
    s3 = await startS3(["datasets"]);
    etag = await s3.put("datasets", "sets/train.csv", TRAIN);
    env = { KITOPS_HOME: home, ...s3.env };
  });
  afterAll(async () => {
    await s3?.stop();
  });

  const packed = async (tag: string, kf: string, e: Record<string, string> = env) => {
    const ctx = project({ Kitfile: kf, "model.bin": "weights", "local.csv": "a\n" });
    return { ctx, r: await runKit(["pack", ctx, "-t", tag], { env: e }) };
  };

  test("pack checks the object's ETag and leaves the dataset out of the layers", async () => {
    const { r } = await packed("remote:v1", kitfile(etag));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("Verified remote S3 dataset for path s3://datasets/sets/train.csv\n");
    const inspect = JSON.parse((await runKit(["inspect", "remote:v1"], { env })).stdout);
    expect(inspect.manifest.layers.map((l: { annotations: Record<string, string> }) => l.annotations["org.cncf.model.filepath"])).toEqual(["model.bin", "local.csv"]);
    expect(inspect.kitfile.datasets[0]).toEqual({ name: "train", path: "data/train.csv", remotePath: "s3://datasets/sets/train.csv", remoteHash: etag });
  });

  test("unpack without --include-remote warns and unpacks the rest; with it the object is downloaded", async () => {
    const out = tempDir("kit-s3-out-");
    const r = await runKit(["unpack", "remote:v1", "-d", out], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("[WARN ] ModelKit contains remote datasets. To unpack, specify the --include-remote flag\n");
    expect(existsSync(path.join(out, "data/train.csv"))).toBe(false);
    expect(Object.keys(hashTree(out))).toEqual(["Kitfile", "local.csv", "model.bin"]);

    const full = tempDir("kit-s3-full-");
    const r2 = await runKit(["unpack", "remote:v1", "-d", full, "--include-remote"], { env });
    expect([r2.code, r2.stderr]).toEqual([0, ""]);
    expect(r2.stdout).toContain("Downloading remote dataset train from s3://datasets/sets/train.csv to data/train.csv\n");
    expect(readFileSync(path.join(full, "data/train.csv"), "utf8")).toBe(TRAIN);
    expect(Object.keys(hashTree(full))).toEqual(["Kitfile", "data/train.csv", "local.csv", "model.bin"]);
    // The filter selects remote datasets like the others.
    const onlyLocal = tempDir("kit-s3-filter-");
    const r3 = await runKit(["unpack", "remote:v1", "-d", onlyLocal, "--include-remote", "--filter", "datasets:local"], { env });
    expect(r3.code).toBe(0);
    expect(Object.keys(hashTree(onlyLocal))).toEqual(["local.csv"]);
  });

  test("a wrong remoteHash, a missing object, unknown credentials: pack refuses with the reason", async () => {
    const wrong = await packed("remote:wrong", kitfile("0123456789abcdef0123456789abcdef"));
    expect(wrong.r.code).toBe(1);
    expect(wrong.r.stderr).toBe(
      `[ERROR] Failed to pack model kit: remote dataset s3://datasets/sets/train.csv does not match the Kitfile: its ETag is ${etag}, remoteHash is 0123456789abcdef0123456789abcdef\n`,
    );
    expect(wrong.r.stdout).toEndWith("Set the dataset's remoteHash to the object's current ETag if that object is the one to use\n");
    const missing = await packed("remote:missing", kitfile(etag, "sets/nope.csv"));
    expect(missing.r.code).toBe(1);
    expect(missing.r.stderr).toStartWith("[ERROR] Failed to pack model kit: remote dataset s3://datasets/sets/nope.csv not found\n");
    const denied = await packed("remote:denied", kitfile(etag), { ...env, S3_ACCESS_KEY_ID: "NOBODY", S3_SECRET_KEY: "x" });
    expect(denied.r.code).toBe(1);
    expect(denied.r.stderr).toBe("[ERROR] Failed to pack model kit: access to remote dataset s3://datasets/sets/train.csv denied: 403 Forbidden\n");
    expect(denied.r.stdout).toBe("Set S3_ACCESS_KEY_ID and S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) to credentials that may read the object\n");
    expect((await runKit(["list", "--format", "{{ .Tags }}"], { env })).stdout).not.toContain("wrong");
  });

  test("an object replaced after pack is refused by unpack --include-remote, and nothing is left behind", async () => {
    const key = "sets/changing.csv";
    const first = await s3.put("datasets", key, "v1\n");
    const { r } = await packed("remote:changing", kitfile(first, key));
    expect(r.code).toBe(0);
    const second = await s3.put("datasets", key, "v2 is different\n");
    expect(second).not.toBe(first);
    const out = tempDir("kit-s3-changed-");
    const u = await runKit(["unpack", "remote:changing", "-d", out, "--include-remote"], { env });
    expect(u.code).toBe(1);
    expect(u.stderr).toBe(`[ERROR] Failed to unpack: remote dataset s3://datasets/${key} has changed: its ETag is ${second}, the Kitfile records ${first}\n`);
    expect(u.stdout).toEndWith("Update the dataset's remoteHash (and repack) if the new object is the one you want\n");
    expect(existsSync(path.join(out, "data"))).toBe(false);
  });

  test("a server that is down: one clear error naming the endpoint, for pack and for unpack --include-remote", async () => {
    const port = await freePort();
    const down = { ...env, S3_API_ENDPOINT: `http://127.0.0.1:${port}` };
    const p = await packed("remote:down", kitfile(etag), down);
    expect(p.r.code).toBe(1);
    const hint = "Check S3_API_ENDPOINT (and S3_REGION), and that the S3 service is reachable\n";
    expect(p.r.stderr).toBe(`[ERROR] Failed to pack model kit: cannot read remote dataset s3://datasets/sets/train.csv: could not connect to 127.0.0.1:${port}: connection refused\n`);
    expect(p.r.stdout).toBe(hint);
    const out = tempDir("kit-s3-down-");
    const u = await runKit(["unpack", "remote:v1", "-d", out, "--include-remote"], { env: down });
    expect(u.code).toBe(1);
    expect(u.stderr).toBe(`[ERROR] Failed to unpack: cannot read remote dataset s3://datasets/sets/train.csv: could not connect to 127.0.0.1:${port}: connection refused\n`);
    expect(u.stdout).toEndWith(hint);
  });

  test("an interrupted download continues where it stopped (Range), and the result is checked against the ETag's MD5", async () => {
    const key = "sets/big.bin";
    const big = new Uint8Array(3_000_000).map((_, i) => (i * 7919) % 251);
    const bigEtag = await s3.put("datasets", key, big);
    expect((await packed("remote:big", kitfile(bigEtag, key))).r.code).toBe(0);
    const proxy = await startFaultProxy({ host: "127.0.0.1", port: s3.port });
    try {
      const viaProxy = { ...env, S3_API_ENDPOINT: `http://${proxy.host}` };
      // The connection drops after 2,000,000 bytes. What reaches the partial file is a little less
      // (chunks still queued in the stream stages when it breaks are lost), so the second request
      // is checked against what was kept.
      proxy.addRule({ method: "GET", path: /big\.bin/, action: { kind: "cut", afterBytes: 2_000_000, holdMs: 300 }, times: 1 });
      const out = tempDir("kit-s3-resume-");
      const first = await runKit(["unpack", "remote:big", "-d", out, "--include-remote"], { env: viaProxy });
      expect(first.code).toBe(1);
      expect(first.stderr).toStartWith(`[ERROR] Failed to unpack: download of remote dataset s3://datasets/${key} stopped: `);
      expect(first.stdout).toEndWith("Run the command again to continue the download where it stopped\n");
      expect(existsSync(path.join(out, "data/train.csv"))).toBe(false);
      const kept = statSync(partialDownloadPath(path.join(out, "data/train.csv"), bigEtag)).size;
      expect(kept).toBeGreaterThan(1_000_000);
      const second = await runKit(["unpack", "remote:big", "-d", out, "--include-remote", "-o"], { env: viaProxy });
      expect([second.code, second.stderr]).toEqual([0, ""]);
      expect(Buffer.from(readFileSync(path.join(out, "data/train.csv"))).equals(Buffer.from(big))).toBe(true);
      const gets = proxy.requests.filter((q) => q.method === "GET");
      expect(gets.length).toBe(2);
      // The second request fetched only what was missing.
      expect(gets[1]!.bytesDown).toBeLessThan(big.byteLength - kept + 10_000);
      expect(gets[1]!.bytesDown).toBeGreaterThan(big.byteLength - kept - 10_000);

      // Kept bytes that are not the object's: the MD5 check refuses the result and drops them.
      const again = tempDir("kit-s3-corrupt-");
      const target = path.join(again, "data/train.csv");
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(partialDownloadPath(target, bigEtag), new Uint8Array(1000).fill(1));
      const bad = await runKit(["unpack", "remote:big", "-d", again, "--include-remote"], { env });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toStartWith(`[ERROR] Failed to unpack: remote dataset s3://datasets/${key} does not match its ETag: the downloaded content's MD5 is `);
      expect(readdirSync(path.dirname(target))).toEqual([]);
      const good = await runKit(["unpack", "remote:big", "-d", again, "--include-remote", "-o"], { env });
      expect([good.code, good.stderr]).toEqual([0, ""]);
      expect(Buffer.from(readFileSync(target)).equals(Buffer.from(big))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  test("--compat v1.7 refuses remote datasets", async () => {
    const ctx = project({ Kitfile: kitfile(etag), "model.bin": "w", "local.csv": "a\n" });
    const r = await runKit(["pack", ctx, "--compat", "v1.7"], { env });
    expect(r).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Failed to pack model kit: cannot pack with --compat v1.7: kit v1.7 cannot express remote datasets\n" });
  });

  test("a dataset naming a ModelKit: --include-remote unpacks that kit's datasets under the dataset's path", async () => {
    const base = project({ Kitfile: "manifestVersion: 1.0.0\ndatasets:\n  - name: corpus\n    path: corpus\ncode:\n  - path: src\n", "corpus/a.txt": "A\n", "corpus/b/c.txt": "C\n", "src/x.py": "x\n" });
    expect((await runKit(["pack", base, "-t", "corpus:v1"], { env })).code).toBe(0);
    const kf = "manifestVersion: 1.0.0\nmodel:\n  path: model.bin\ndatasets:\n  - name: shared\n    path: shared\n    remotePath: corpus:v1\n";
    const ctx = project({ Kitfile: kf, "model.bin": "w" });
    expect((await runKit(["pack", ctx, "-t", "user:v1"], { env })).code).toBe(0);
    const out = tempDir("kit-ref-ds-");
    const r = await runKit(["unpack", "user:v1", "-d", out, "--include-remote"], { env });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toContain("Unpacking referenced dataset ModelKit corpus:v1 to shared\n");
    expect(Object.keys(hashTree(out))).toEqual(["Kitfile", "model.bin", "shared/corpus/a.txt", "shared/corpus/b/c.txt"]);
    const without = tempDir("kit-ref-ds-no-");
    const r2 = await runKit(["unpack", "user:v1", "-d", without], { env });
    expect(r2.stderr).toBe("[WARN ] ModelKit contains remote datasets. To unpack, specify the --include-remote flag\n");
    expect(Object.keys(hashTree(without))).toEqual(["Kitfile", "model.bin"]);
  });
});
