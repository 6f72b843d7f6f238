/**
 * Every failure is one clear line through the binary: a corrupt compressed layer names the layer
 * and the reason; over-long names, NUL bytes and too-deep documents are one-line messages; a proxy
 * password is never echoed.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import path from "node:path";
import { kitfileToConfigJson } from "../../src/kitfile/config.ts";
import type { Kitfile } from "../../src/kitfile/schema.ts";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { encodeManifest } from "../../src/oci/manifest.ts";
import { KIT_CONFIG, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { LocalRepository } from "../../src/store/local.ts";
import { bytesStream } from "../../src/store/target.ts";
import { project } from "../helpers/files.ts";
import { runKit, tempDir } from "../helpers/kit.ts";

const enc = new TextEncoder();

/** A one-line error: `[ERROR] <text>`, at most a hint line after it. */
function expectOneLineError(stderr: string, stdout: string) {
  const lines = stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^\[ERROR\] \S/);
  expect(lines.length).toBe(1);
  expect(stdout.split("\n").length).toBeLessThanOrEqual(4); // progress lines and at most a hint
  expect(stderr + stdout).not.toContain("    at ");
}

/** Stores a kit whose one model layer is `data` with `mediaType` (digest correct), tagged `name:1`. */
async function storeKit(home: string, name: string, mediaType: string, data: Uint8Array) {
  const layout = await LayoutStore.open(path.join(home, "storage"));
  const repo = new LocalRepository(layout, `localhost/${name}`);
  const layer = descriptorFromBytes(mediaType, data);
  await layout.push(layer, bytesStream(data));
  const cfg = enc.encode(kitfileToConfigJson({ manifestVersion: "1.0.0", model: { name: "weights", path: "m.bin", digest: layer.digest, diffId: layer.digest } } as Kitfile));
  const config = descriptorFromBytes(KIT_CONFIG, cfg);
  await layout.push(config, bytesStream(cfg));
  const m = enc.encode(encodeManifest({ schemaVersion: 2, config, layers: [layer] }));
  const md = descriptorFromBytes(OCI_MANIFEST, m);
  await repo.push(md, bytesStream(m));
  await repo.tag(md, "1");
  return layer;
}

describe("clear errors", () => {
  for (const [format, mediaType, reason] of [
    ["gzip", "application/vnd.kitops.modelkit.model.v1.tar+gzip", "incorrect header check"],
    ["zstd", "application/vnd.kitops.modelkit.model.v1.tar+zstd", "Unknown frame descriptor"],
  ]) {
    test(`a ${format} layer that does not decompress: the layer and the reason`, async () => {
      const home = tempDir();
      const layer = await storeKit(home, format!, mediaType!, enc.encode(`this is not ${format}`));
      const out = path.join(tempDir(), "out");
      const r = await runKit(["unpack", `${format}:1`, "-d", out, "--filter", "model"], { env: { KITOPS_HOME: home } });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`[ERROR] Failed to unpack: model layer ${layer.digest} (m.bin) is corrupt: invalid ${format} data: ${reason}\n`);
      expect(readdirSync(out)).toEqual([]);
    });
  }

  test("a name longer than the file system allows", async () => {
    const name = "a".repeat(300);
    const ctx = project({ Kitfile: `manifestVersion: 1.0.0\nmodel:\n  path: ${name}\n` });
    const r = await runKit(["pack", ctx], { env: { KITOPS_HOME: tempDir() } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`[ERROR] Failed to pack model kit: File name too long (${path.join(ctx, name)})\n`);
    expect(r.stdout).toBe("Use shorter file names or a shorter target directory\n");
  });

  test("a NUL byte in a Kitfile path", async () => {
    const ctx = project({ Kitfile: 'manifestVersion: 1.0.0\nmodel:\n  path: "m\\0.bin"\n' });
    const r = await runKit(["pack", ctx], { env: { KITOPS_HOME: tempDir() } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to pack model kit: errors while validating Kitfile: \n  * invalid path for model: a path cannot contain a NUL byte (m\\u0000.bin)\n");
  });

  test("a Kitfile nested too deeply for the YAML reader", async () => {
    const ctx = project({ Kitfile: `manifestVersion: 1.0.0\nmodel:\n  path: ${"[".repeat(200_000)}\n` });
    const r = await runKit(["pack", ctx], { env: { KITOPS_HOME: tempDir() } });
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, r.stdout);
    expect(r.stderr).toMatch(/Kitfile line 3: invalid YAML: the document is nested too deeply to read \(and \d+ more YAML errors\)\n$/);
  });

  test("a proxy URL is never echoed with its password", async () => {
    const env = { KITOPS_HOME: tempDir() };
    for (const proxy of ["http://user:s3cret@bad host", "socks5://user:s3cret@127.0.0.1:1", "http://user:s3cret@127.0.0.1:1"]) {
      const r = await runKit(["pull", "--proxy", proxy, "registry.invalid/x:1", "-vv"], { env });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).not.toContain("s3cret");
    }
    const bad = await runKit(["pull", "--proxy", "http://user:s3cret@bad host", "registry.invalid/x:1"], { env });
    expect(bad.stderr).toBe('[ERROR] Invalid proxy URL "http://bad host"\n');
    const fromEnv = await runKit(["pull", "registry.invalid/x:1", "-vv"], { env: { ...env, HTTPS_PROXY: "http://user:s3cret@127.0.0.1:1" } });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain("s3cret");
  });
});

