/**
 * Repairing local storage through the binary, against a real registry (Debian's docker-registry):
 * a blob that fails verification during unpack or push is removed so `kit pull` fetches it again,
 * and `kit fsck [--repair]` finds every kind of damage and fetches damaged ModelKits again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashTree, project } from "../helpers/files.ts";
import { kitBinary, runKit, tempDir } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const ready = hasDockerRegistry() && existsSync(kitBinary);

describe.skipIf(!ready)("repairing local storage against a real registry", () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry("none");
  });
  afterAll(() => registry?.stop());

  /** A fresh kit home with one kit packed and pushed as `<registry>/<name>:1`. */
  async function published(name: string) {
    const home = tempDir("kit-fsck-home-");
    const env = { KITOPS_HOME: home };
    const run = (...args: string[]) => runKit(args, { env });
    const ctx = project({
      Kitfile: `manifestVersion: 1.0.0\npackage:\n  name: ${name}\nmodel:\n  path: model.bin\ndatasets:\n  - name: d\n    path: data\n`,
      "model.bin": "w".repeat(200_000),
      "data/a.csv": "1,2\n",
    });
    const ref = `${registry.host}/fsck/${name}:1`;
    expect((await run("pack", ctx, "-t", ref)).code).toBe(0);
    expect((await run("push", ref, "--plain-http")).code).toBe(0);
    const inspect = JSON.parse((await run("inspect", ref)).stdout);
    const blob = (d: string) => path.join(home, "storage", "blobs", "sha256", d.slice(7));
    const model = blob(inspect.kitfile.model.digest);
    const damage = (file: string) => {
      chmodSync(file, 0o644);
      const b = readFileSync(file);
      b[b.length >> 1] = b[b.length >> 1]! ^ 1;
      writeFileSync(file, b);
    };
    return { home, env, run, ctx, ref, inspect, blob, model, damage };
  }

  test("a blob damaged in local storage fails unpack, is removed, and the hinted pull fetches it again", async () => {
    const k = await published("unpack");
    k.damage(k.model);
    const out = path.join(tempDir(), "out");
    const u = await k.run("unpack", k.ref, "-d", out);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/^\[ERROR\] Failed to unpack: Content of sha256:\w+ does not match its digest(: got sha256:\w+)?; the damaged blob was removed from local storage\n$/);
    expect(u.stdout).toContain("Pull the ModelKit again to fetch the blob (or pack it again); kit fsck checks the rest of local storage\n");
    expect(existsSync(k.model)).toBe(false);
    const p = await k.run("pull", k.ref, "--plain-http");
    expect(p.code).toBe(0);
    expect(existsSync(k.model)).toBe(true);
    expect((await k.run("unpack", k.ref, "-d", out, "-o")).code).toBe(0);
    expect(hashTree(out, ["Kitfile"])).toEqual(hashTree(k.ctx, ["Kitfile"]));
  }, 120_000);

  test("a blob damaged in local storage fails push, is removed, and pull fetches it again", async () => {
    const k = await published("push");
    k.damage(k.model);
    const other = `${registry.host}/fsck/push-copy:1`;
    expect((await k.run("tag", k.ref, other)).code).toBe(0);
    const push = await k.run("push", other, "--plain-http");
    expect(push.code).toBe(1);
    expect(push.stderr).toContain("the damaged blob was removed from local storage");
    expect(existsSync(k.model)).toBe(false);
    expect((await k.run("pull", k.ref, "--plain-http")).code).toBe(0);
    expect((await k.run("push", other, "--plain-http")).code).toBe(0);
  }, 120_000);

  test("kit fsck reports a flipped byte, a truncated blob, a missing config and an orphan; --repair fetches the kit again", async () => {
    const k = await published("repair");
    k.damage(k.model);
    truncateSync((chmodSync(k.blob(k.inspect.kitfile.datasets[0].digest), 0o644), k.blob(k.inspect.kitfile.datasets[0].digest)), 10);
    rmSync(k.blob(k.inspect.manifest.config.digest));
    const orphan = path.join(k.home, "storage", "blobs", "sha256", "0".repeat(64));
    writeFileSync(orphan, "");
    // the empty blob's real digest is e3b0…: this "orphan" is damaged; a sound one is below
    const sound = path.join(k.home, "storage", "blobs", "sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    writeFileSync(sound, "");
    const old = new Date(Date.now() - 3600_000);
    utimesSync(sound, old, old);

    const check = await k.run("fsck");
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`Damaged ModelKit ${k.ref} (${k.inspect.digest}):\n`);
    expect(check.stdout).toContain(`  config ${k.inspect.manifest.config.digest}: the blob file is missing\n`);
    expect(check.stdout).toMatch(/ {2}layer 0 sha256:\w+: its content hashes to sha256:\w+\n {2}layer 1 sha256:\w+: its content hashes to/);
    expect(check.stdout).toContain(`Damaged blob sha256:${"0".repeat(64)} that no ModelKit uses: its content hashes to sha256:e3b0`);
    expect(check.stdout).toContain("Orphan blob sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 (0 B): no ModelKit uses it\n");
    expect(check.stderr).toBe("[ERROR] Local storage is damaged: 2 problems remain\n");
    expect(check.stdout).toEndWith("Run kit fsck --repair to remove the damage and fetch damaged ModelKits again from their registry\n");

    const repair = await k.run("fsck", "--repair", "--plain-http");
    expect(repair.stderr).toBe("");
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain(`Fetching ${k.ref} again from ${registry.host}\nRepaired ${k.ref}\n`);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(sound)).toBe(false);

    const again = await k.run("fsck");
    expect(again).toMatchObject({ code: 0, stderr: "" });
    expect(again.stdout).toBe("Checked 4 blobs and 1 ModelKit: no damage found\n");
    const out = tempDir();
    expect((await k.run("unpack", k.ref, "-d", out)).code).toBe(0);
    expect(hashTree(out, ["Kitfile"])).toEqual(hashTree(k.ctx, ["Kitfile"]));
  }, 120_000);

  test("a damaged kit that was only packed locally cannot be fetched: --repair removes the damage and fails", async () => {
    const k = await published("local-only");
    expect((await k.run("tag", k.ref, "local-only:1")).code).toBe(0);
    expect((await k.run("remove", k.ref)).code).toBe(0);
    k.damage(k.model);
    const r = await k.run("fsck", "--repair", "local-only:1");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Could not repair local-only:1: it has no registry to fetch it from; pack it again, or remove it with kit remove\n");
    expect(r.stderr).toBe("[ERROR] Local storage is damaged: 1 problem remains\n");
    expect(existsSync(k.model)).toBe(false);
  }, 120_000);
});
