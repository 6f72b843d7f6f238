/**
 * ModelKit references in model.path (docs/format.md#model-references): chains, limits, cycles,
 * unpack of ancestors.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { project } from "../helpers/files.ts";
import { runInProcess, tempDir } from "../helpers/kit.ts";

async function packChain(home: string, depth: number) {
  // chain:0 holds the model file; chain:i references chain:i-1 and adds one part of its own.
  const base = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  name: base\n  path: base.bin\n", "base.bin": "base weights" });
  let r = await runInProcess(["pack", base, "-t", "chain:0"], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(0);
  for (let i = 1; i <= depth; i++) {
    const dir = project({
      Kitfile: `manifestVersion: 1.0.0\nmodel:\n  path: chain:${i - 1}\n  parts:\n    - name: p${i}\n      path: part${i}.bin\n`,
      [`part${i}.bin`]: `part ${i}`,
    });
    r = await runInProcess(["pack", dir, "-t", `chain:${i}`], { env: { KITOPS_HOME: home } });
    if (r.code !== 0) return r;
  }
  return r;
}

describe("model references", () => {
  test("a kit with 10 ancestors packs; unpacking it restores every ancestor's model files", async () => {
    const home = tempDir();
    const r = await packChain(home, 10);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = tempDir();
    const u = await runInProcess(["unpack", "chain:10", "-d", out], { env: { KITOPS_HOME: home } });
    expect(u.stderr).toBe("");
    expect(u.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["Kitfile", "base.bin", ...Array.from({ length: 10 }, (_, i) => `part${i + 1}.bin`)].sort());
    expect(readFileSync(path.join(out, "base.bin"), "utf8")).toBe("base weights");
    expect(u.stdout).toContain("Unpacking referenced ModelKit chain:9\n");
    // The child's own Kitfile is written, the parents' are not.
    expect(readFileSync(path.join(out, "Kitfile"), "utf8")).toBe("manifestVersion: 1.0.0\nmodel:\n  path: chain:9\n  parts:\n    - name: p10\n      path: part10.bin\n");
  });

  test("an 11th ancestor is kit's error", async () => {
    const home = tempDir();
    const r = await packChain(home, 11);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "[ERROR] Failed to pack model kit: Failed to resolve referenced modelkit chain:10: reached maximum number of model references: " +
        "[chain:11=>chain:10=>chain:9=>chain:8=>chain:7=>chain:6=>chain:5=>chain:4=>chain:3=>chain:2=>chain:1=>chain:0]\n",
    );
  });

  test("a loop is kit's error", async () => {
    const home = tempDir();
    const a = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: a.bin\n", "a.bin": "a" });
    expect((await runInProcess(["pack", a, "-t", "loop:a"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    const b = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: loop:a\n" });
    expect((await runInProcess(["pack", b, "-t", "loop:b"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    // Re-pack loop:a so that it references loop:b, which references loop:a.
    const a2 = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: loop:b\n" });
    const r = await runInProcess(["pack", a2, "-t", "loop:a"], { env: { KITOPS_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to pack model kit: Failed to resolve referenced modelkit loop:b: Found cycle in modelkit references: [loop:a=>loop:b=>loop:a]\n");
  });

  test("the merged Kitfile is validated: a path reused across the chain fails", async () => {
    const home = tempDir();
    const p = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\ndatasets:\n  - path: data\n", "m.bin": "m", "data/x.csv": "x" });
    expect((await runInProcess(["pack", p, "-t", "dup:parent"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    const c = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: dup:parent\ncode:\n  - path: data\n", "data/y.py": "y" });
    const r = await runInProcess(["pack", c, "-t", "dup:child"], { env: { KITOPS_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("use the same path data");
  });

  test("a missing parent is a clear error", async () => {
    const home = tempDir();
    const c = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: nothere:v1\n" });
    const r = await runInProcess(["pack", c, "-t", "orphan:1"], { env: { KITOPS_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to pack model kit: Failed to resolve referenced modelkit nothere:v1: nothere:v1 was not found in local storage or its registry\n");
  });

  test("unpack refuses a reference loop (made by re-tagging a parent)", async () => {
    const home = tempDir();
    const a = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: a.bin\n", "a.bin": "a" });
    expect((await runInProcess(["pack", a, "-t", "cyc:a"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    const b = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: cyc:a\n" });
    expect((await runInProcess(["pack", b, "-t", "cyc:b"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    // cyc:a now names the kit whose model is cyc:a itself.
    expect((await runInProcess(["tag", "cyc:b", "cyc:a"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    const r = await runInProcess(["unpack", "cyc:a", "-d", tempDir()], { env: { KITOPS_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to unpack: found cycle in modelkit references: [cyc:a=>cyc:a]\n");
  });
});
