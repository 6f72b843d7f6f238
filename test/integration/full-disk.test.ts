/** A full disk gives a clear error, exit 1, and leaves no half-written blob or file. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runKit, tempDir } from "../helpers/kit.ts";

// A 1 MiB tmpfs stands in for a full disk. Mounting needs root (CI runs as root).
const mnt = tempDir("kit-full-");
const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).status === 0;
afterAll(() => void (mounted && spawnSync("umount", [mnt])));

describe.skipIf(!mounted)("full disk", () => {
  let ctx: string;
  beforeAll(() => {
    ctx = tempDir("kit-full-ctx-");
    writeFileSync(path.join(ctx, "Kitfile"), "manifestVersion: 1.0.0\nmodel:\n  path: big.bin\n");
    // Larger than the size from which layers are hashed on a worker thread while written
    // (pack) and verified on one while extracted (unpack): the overlapped paths fill the disk.
    writeFileSync(path.join(ctx, "big.bin"), new Uint8Array(12 * 1024 * 1024).fill(1));
  });

  test("pack into a full KITOPS_HOME", async () => {
    const home = path.join(mnt, "home");
    const r = await runKit(["pack", ctx, "-t", "full:1"], { env: { KITOPS_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^\[ERROR\] Failed to pack model kit: No space left on device( \(.*\))?\n$/);
    expect(r.stdout).toContain("Free some disk space, or point KITOPS_HOME (or --config) at a disk with more room");
    const storage = path.join(home, "storage");
    expect(readdirSync(path.join(storage, "blobs", "sha256"))).toEqual([]);
    expect(existsSync(path.join(storage, "ingest")) ? readdirSync(path.join(storage, "ingest")) : []).toEqual([]);
    expect(readdirSync(storage).filter((f) => f.endsWith("-tags.json"))).toEqual([]);
  });

  test("unpack into a full directory", async () => {
    const home = tempDir("kit-full-home-");
    expect((await runKit(["pack", ctx, "-t", "full:1"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    const out = path.join(mnt, "out");
    mkdirSync(out, { recursive: true });
    const r = await runKit(["unpack", "full:1", "-d", out, "--filter", "model"], { env: { KITOPS_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^\[ERROR\] Failed to unpack: (could not unpack file big\.bin: )?No space left on device/);
    expect(readdirSync(out)).toEqual([]);
  });
});
