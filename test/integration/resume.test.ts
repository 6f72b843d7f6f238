/**
 * Resumable push and parallel, resumable pull of `dist/kit` against the real docker-registry
 * (CNCF distribution 2.8) through the fault proxy: a push cut or killed half-way continues in the
 * registry's upload session; a pull through connections capped in rate uses several Range parts
 * and continues every part after a kill -9. Bytes are counted at the proxy. Needs `dist/kit`.
 *
 * distribution refuses to continue a session that received part of a chunk it never acknowledged
 * (its `_state` token carries the offset), so the resumable cases put a buffering proxy in front,
 * as nginx is by default (`proxy_request_buffering on`): a chunk cut short never reaches the
 * registry. Without one the session is forgotten and the push starts over — tested too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { chunkLength } from "../../src/registry/blob-upload.ts";
import { sha256File, writeLargeFile } from "../helpers/files.ts";
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from "../helpers/fault-proxy.ts";
import { digestFrom, kitBinary, runKit, tempDir } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const SIZE_MB = 256;
const TIMEOUT = 240_000;
const MiB = 1 << 20;
const ready = hasDockerRegistry() && existsSync(kitBinary);

describe.skipIf(!ready)("resumable transfers through the fault proxy", () => {
  let reg: TestRegistry;
  let root: string;
  let home: string;
  let kitDigest: string;
  let layerDigest: string;
  let layerSize: number;
  let modelSha: string;
  const proxies: FaultProxy[] = [];

  const envOf = (h: string) => ({ KITOPS_HOME: h, DOCKER_CONFIG: path.join(root, "docker") });
  const run = (args: string[], h = home) => runKit(args, { cwd: root, env: envOf(h), timeoutMs: TIMEOUT });
  /** Starts kit without waiting, to signal it. */
  const start = (args: string[], h = home) => {
    const child = spawn(kitBinary, args, { cwd: root, env: { PATH: process.env.PATH, ...envOf(h) }, stdio: "ignore" });
    const exited = new Promise<number>((resolve) => child.on("exit", (code, sig) => resolve(code ?? (sig === "SIGKILL" ? 137 : 128))));
    return { child, exited };
  };
  const proxy = async (opts: FaultProxyOptions & { bytesPerSecond?: number }) => {
    const p = await startFaultProxy({ host: "127.0.0.1", port: reg.port }, opts);
    // A cap on every connection, as CDNs and object stores have.
    if (opts.bytesPerSecond) p.addRule({ method: "GET", action: { kind: "throttle", bytesPerSecond: opts.bytesPerSecond }, times: Infinity });
    proxies.push(p);
    return p;
  };
  const layerPath = () => new RegExp(`/blobs/${layerDigest}$`);
  const patchBytes = (p: FaultProxy, from = 0) => p.requests.slice(from).filter((q) => q.method === "PATCH").reduce((n, q) => n + q.bytesUp, 0);
  /** Polls until `check` holds (every 5 ms), then returns. */
  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 120_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await Bun.sleep(5);
    }
  };
  const sessionOffsets = () => {
    const dir = path.join(home, "uploads");
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((n) => n.endsWith(".json")).map((n) => {
      try {
        return JSON.parse(readFileSync(path.join(dir, n), "utf8")).offset as number;
      } catch {
        return -1;
      }
    });
  };
  /** Pulls `ref` directly from the registry into a fresh home and checks the model file. */
  const checkRemote = async (repo: string) => {
    const h = path.join(tempDir("kit-resume-check-"), "home");
    const pulled = await run(["pull", `${reg.host}/${repo}:v1`, "--plain-http"], h);
    expect(pulled.stdout).toContain(`Pulled ${kitDigest}`);
  };

  beforeAll(async () => {
    reg = await startRegistry("none");
    root = tempDir("kit-resume-");
    home = path.join(root, "home");
    const ctx = path.join(root, "big");
    mkdirSync(ctx);
    writeFileSync(path.join(ctx, "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: big\nmodel:\n  path: model.bin\n");
    writeLargeFile(path.join(ctx, "model.bin"), SIZE_MB, 7);
    modelSha = sha256File(path.join(ctx, "model.bin"));
    const pack = await run(["pack", ctx, "-t", "resume/big:v1"]);
    expect(pack.code).toBe(0);
    kitDigest = digestFrom(pack.stdout, "Model saved:");
    layerDigest = digestFrom(pack.stdout, "Saved model layer:");
    layerSize = statSync(path.join(home, "storage", "blobs", "sha256", layerDigest.slice(7))).size;
    const push = await run(["push", "resume/big:v1", `${reg.host}/resume/big:v1`, "--plain-http"]);
    expect(push.code).toBe(0);
  }, TIMEOUT);

  afterAll(async () => {
    for (const p of proxies) await p.close();
    await reg?.stop();
  });

  test("a push cut at about half continues in the registry's session: less than 60% is sent again", async () => {
    const p = await proxy({ bufferRequests: true });
    const chunk = chunkLength(layerSize);
    const skip = Math.floor(layerSize / 2 / chunk);
    const afterBytes = Math.floor(layerSize / 2) - skip * chunk + 4 * MiB;
    p.addRule({ method: "PATCH", action: { kind: "cut", direction: "up", afterBytes }, times: 1, skip });
    const r = await run(["push", "resume/big:v1", `${p.host}/resume/cut:v1`, "--plain-http", "-v"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`[DEBUG] Resuming upload of ${layerDigest} at byte ${skip * chunk} of ${layerSize}\n`);
    const cut = p.requests.findIndex((q) => q.fault === "cut");
    expect(cut).toBeGreaterThan(0);
    const again = patchBytes(p, cut + 1);
    expect(again).toBeLessThan(0.6 * layerSize);
    expect(again).toBeGreaterThan(0.4 * layerSize);
    expect(sessionOffsets()).toEqual([]);
    await checkRemote("resume/cut");
  }, TIMEOUT);

  for (const signal of ["SIGKILL", "SIGINT"] as const) {
    test(`${signal} half-way through a push: the next push sends less than 60% of the layer`, async () => {
      const p = await proxy({ bufferRequests: true });
      const repo = `resume/${signal.toLowerCase()}`;
      const args = ["push", "resume/big:v1", `${p.host}/${repo}:v1`, "--plain-http"];
      const first = start(args);
      await until(() => sessionOffsets().some((o) => o >= 0.4 * layerSize), "half of the upload");
      first.child.kill(signal);
      expect(await first.exited).toBe(signal === "SIGKILL" ? 137 : 130);
      const kept = Math.max(...sessionOffsets());
      expect(kept).toBeGreaterThanOrEqual(0.4 * layerSize);
      expect(kept).toBeLessThan(layerSize);

      const before = p.requests.length;
      const r = await run([...args, "-v"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`\\[DEBUG\\] Resuming upload of ${layerDigest} at byte \\d+ of ${layerSize}\\n`));
      expect(patchBytes(p, before)).toBeLessThan(0.6 * layerSize);
      expect(sessionOffsets()).toEqual([]);
      await checkRemote(repo);
    }, TIMEOUT);
  }

  test("a session the registry forgot starts over cleanly (distribution after part of a chunk arrived)", async () => {
    const p = await proxy({});
    p.addRule({ method: "PATCH", action: { kind: "cut", direction: "up", afterBytes: 8 * MiB }, times: 1, skip: 2 });
    const r = await run(["push", "resume/big:v1", `${p.host}/resume/forgotten:v1`, "--plain-http", "-v"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`[DEBUG] The registry no longer has the upload session of ${layerDigest}; starting again\n`);
    expect(sessionOffsets()).toEqual([]);
    await checkRemote("resume/forgotten");
  }, TIMEOUT);

  test("a pull through connections capped at 16 MiB/s uses several Range parts and gets the right bytes", async () => {
    const p = await proxy({ bytesPerSecond: 16 * MiB });
    const h = path.join(tempDir("kit-resume-pull-"), "home");
    const r = await run(["pull", `${p.host}/resume/big:v1`, "--plain-http", "-v"], h);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const n = Math.max(...[...r.stdout.matchAll(/Downloading \S+ over (\d+) connections/g)].map((m) => Number(m[1])));
    expect(n).toBeGreaterThanOrEqual(3);
    const gets = p.requests.filter((q) => q.method === "GET" && layerPath().test(q.path));
    expect(gets.length).toBeGreaterThanOrEqual(n);
    // Parts ask for bounded ranges and give up only what they have not asked for: nothing is sent twice (headers aside).
    expect(gets.reduce((t, q) => t + q.bytesDown, 0)).toBeLessThan(layerSize + 256 * 1024);
    const out = path.join(root, "out-parallel");
    expect((await run(["unpack", `${p.host}/resume/big:v1`, "-d", out], h)).code).toBe(0);
    expect(sha256File(path.join(out, "model.bin"))).toBe(modelSha);
  }, TIMEOUT);

  test("kill -9 during a parallel pull: the next pull fetches only the parts still missing", async () => {
    const p = await proxy({ bytesPerSecond: 16 * MiB });
    const h = path.join(tempDir("kit-resume-pull-"), "home");
    const ref = `${p.host}/resume/big:v1`;
    const journal = path.join(h, "storage", "ingest", `${layerDigest.slice(7)}.regions`);
    const regions = (): number[][] => {
      try {
        return JSON.parse(readFileSync(journal, "utf8")).regions;
      } catch {
        return [];
      }
    };
    const received = () => regions().reduce((n, [s, e]) => n + e! - s!, 0);
    const first = start(["pull", ref, "--plain-http"], h);
    await until(() => regions().length >= 2 && received() >= 0.3 * layerSize, "several parts on disk");
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe(137);
    const kept = received();
    expect(regions().length).toBeGreaterThanOrEqual(2);

    const before = p.requests.length;
    const r = await run(["pull", ref, "--plain-http", "-v"], h);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`[DEBUG] Resuming download of ${layerDigest} with ${kept} of ${layerSize} bytes received`);
    const down = p.requests.slice(before).filter((q) => q.method === "GET" && layerPath().test(q.path)).reduce((t, q) => t + q.bytesDown, 0);
    expect(down).toBeLessThan(layerSize - kept + 8 * MiB);
    expect(existsSync(journal)).toBe(false);
    const out = path.join(root, "out-killed");
    expect((await run(["unpack", ref, "-d", out], h)).code).toBe(0);
    expect(sha256File(path.join(out, "model.bin"))).toBe(modelSha);
  }, TIMEOUT);
});
