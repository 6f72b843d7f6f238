/** pack → store → unpack through the compiled binary, as users run it. */
import { describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashTree, listTree, project, sha256File } from "../helpers/files.ts";
import { kitBinary, runKit, tempDir } from "../helpers/kit.ts";
import { makeMcpBundle } from "../helpers/mcpb.ts";

/** Every blob file matches its name, and every index entry points at a blob that exists. */
function checkStoreIntegrity(storage: string) {
  const blobs = path.join(storage, "blobs", "sha256");
  const names = existsSync(blobs) ? readdirSync(blobs) : [];
  for (const n of names) expect(sha256File(path.join(blobs, n))).toBe(n);
  for (const f of readdirSync(storage).filter((f) => f.endsWith(".json") && f !== "oci-layout")) {
    const j = JSON.parse(readFileSync(path.join(storage, f), "utf8"));
    const descs = f.endsWith("-tags.json") ? Object.values(j) : (j.manifests ?? []);
    for (const d of descs as Array<{ digest: string }>) expect(names).toContain(d.digest.slice(7));
  }
}

describe("kit pack / kit unpack", () => {
  test("Appendix A through the binary: same layer and config digests; --compat v1.7 manifest is kit's with our version", async () => {
    const home = tempDir();
    const ctx = project({ Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: example\nmodel:\n  path: model.bin\n", "model.bin": "hello" });
    const r = await runKit(["pack", ".", "-t", "example:v1", "--compat", "v1.7"], { cwd: ctx, env: { KITOPS_HOME: home } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Saved model layer: sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce");
    expect(lines[1]).toBe("Saved configuration: sha256:43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00");
    const digest = lines[3]!.replace("Model saved: ", "");
    const manifest = readFileSync(path.join(home, "storage", "blobs", "sha256", digest.slice(7)), "utf8");
    const version = (await runKit(["version"])).stdout.split("\n")[0]!.replace("Version: ", "");
    const asKit17 = manifest.replace(`"ml.kitops.modelkit.cli-version":"${version}"`, `"ml.kitops.modelkit.cli-version":"1.7.0"`);
    expect(createHash("sha256").update(asKit17).digest("hex")).toBe("59eac463c5fe6c728e544a6d3c303d025353271076e5b784684d824cd85ca648");
    expect(readdirSync(path.join(home, "storage")).sort()).toEqual(
      ["bG9jYWxob3N0L2V4YW1wbGU=-index.json", "bG9jYWxob3N0L2V4YW1wbGU=-tags.json", "blobs", "index.json", "oci-layout"].concat(
        readdirSync(path.join(home, "storage")).filter((f) => f === "ingest" || f.startsWith(".kit")),
      ).sort(),
    );
  });

  test("with SOURCE_DATE_EPOCH two packs of the same tree give the same manifest digest", async () => {
    const ctx = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: m\ndatasets:\n  - path: data\n", "m/w.bin": "w", "data/a.csv": "1,2" });
    const digests: string[] = [];
    for (const home of [tempDir(), tempDir()]) {
      const r = await runKit(["pack", ctx, "-t", "repro:1"], { env: { KITOPS_HOME: home, SOURCE_DATE_EPOCH: "1700000000" } });
      expect(r.code).toBe(0);
      digests.push(r.stdout.match(/Model saved: (sha256:\w+)/)![1]!);
    }
    expect(digests[0]).toBe(digests[1]!);
    const bad = await runKit(["pack", ctx], { env: { KITOPS_HOME: tempDir(), SOURCE_DATE_EPOCH: "soon" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`[ERROR] Failed to pack model kit: error creating manifest: invalid SOURCE_DATE_EPOCH "soon": strconv.ParseInt: parsing "soon": invalid syntax\n`);
  });

  test("round trip of a varied project: nested dirs, .kitignore with re-includes, overlapping paths, parts, prompts, MCP bundle, path forms", async () => {
    const home = tempDir();
    const ctx = project({
      Kitfile: `manifestVersion: 1.0.0
package:
  name: varied
  authors: [alice, bob]
model:
  name: main
  path: ./models/main.safetensors
  parts:
    - name: tokenizer
      path: models/tokenizer/
code:
  - path: .
datasets:
  - name: train
    path: data
  - name: nested
    path: data/nested/
docs:
  - path: README.md
prompts:
  - name: sys
    path: prompts/system.prompt.md
mcpServers:
  - name: tools
    path: tools.mcpb
`,
      ".kitignore": "*.log\nbuild/\n!build/keep.txt\n",
      "models/main.safetensors": new Uint8Array(70_000).fill(7),
      "models/tokenizer/tokenizer.json": "{}",
      "models/tokenizer/vocab/vocab.txt": "a\nb",
      "data/train.csv": "x,y\n1,2\n",
      "data/nested/deep/v.csv": "v",
      "data2/other.csv": "not in data",
      "README.md": "# hi",
      "src/app.py": "print('hi')",
      "debug.log": "ignored",
      "build/out.o": "ignored",
      "build/keep.txt": "re-included",
      "prompts/system.prompt.md": "You are helpful.",
      "名前/ファイル.txt": "non-ascii",
      [`deep/${"d".repeat(60)}/${"e".repeat(60)}/f.txt`]: "long name",
    });
    writeFileSync(path.join(ctx, "tools.mcpb"), await makeMcpBundle({ "manifest.json": '{"name":"tools"}', "server/index.js": "1" }));
    const p = await runKit(["pack", ".", "-t", "varied:v1"], { cwd: ctx, env: { KITOPS_HOME: home } });
    expect(p.stderr).toBe("");
    expect(p.code).toBe(0);
    expect(p.stdout.match(/^Saved (\w+) layer/gm)).toEqual([
      "Saved model layer", "Saved modelpart layer", "Saved code layer", "Saved dataset layer", "Saved dataset layer",
      "Saved docs layer", "Saved code layer", "Saved mcpb layer",
    ]);

    const out = tempDir();
    const u = await runKit(["unpack", "varied:v1", "-d", out], { env: { KITOPS_HOME: home } });
    expect(u.stderr).toBe("");
    expect(u.code).toBe(0);
    const expected = hashTree(ctx, ["Kitfile", ".kitignore", "debug.log", "build/out.o"]);
    expect(hashTree(out, ["Kitfile"])).toEqual(expected);
    expect(readFileSync(path.join(out, "Kitfile"), "utf8")).toContain("name: varied\n  authors: [alice, bob]\n");

    // filters
    const only = tempDir();
    const f = await runKit(["unpack", "varied:v1", "-d", only, "--filter", "datasets:nested", "--filter=model:tokenizer"], { env: { KITOPS_HOME: home } });
    expect(f.code).toBe(0);
    expect(listTree(only, { dirs: false })).toEqual(["data/nested/deep/v.csv", "models/tokenizer/tokenizer.json", "models/tokenizer/vocab/vocab.txt"]);
    const kf = tempDir();
    expect((await runKit(["unpack", "varied:v1", "-d", kf, "--filter=kitfile"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    expect(readdirSync(kf)).toEqual(["Kitfile"]);

    // existing files: refused, -i skips, -o replaces
    const again = await runKit(["unpack", "varied:v1", "-d", out, "--filter=docs"], { env: { KITOPS_HOME: home } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists");
    writeFileSync(path.join(out, "README.md"), "changed");
    expect((await runKit(["unpack", "varied:v1", "-d", out, "--filter=docs", "-i"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    expect(readFileSync(path.join(out, "README.md"), "utf8")).toBe("changed");
    expect((await runKit(["unpack", "varied:v1", "-d", out, "--filter=docs", "-o"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    expect(readFileSync(path.join(out, "README.md"), "utf8")).toBe("# hi");
  });

  test("layers are read back by GNU tar and Python's tarfile", async () => {
    const home = tempDir();
    const long = `${"n".repeat(80)}/${"m".repeat(69)}.bin`;
    const ctx = project({ Kitfile: "manifestVersion: 1.0.0\ncode:\n  - path: .\n", [long]: "x", "ünïcödé/ø.txt": "y", "plain.txt": "z" });
    expect((await runKit(["pack", ctx, "-t", "tars:1"], { env: { KITOPS_HOME: home } })).code).toBe(0);
    const idx = JSON.parse(readFileSync(path.join(home, "storage", "bG9jYWxob3N0L3RhcnM=-tags.json"), "utf8"));
    const manifest = JSON.parse(readFileSync(path.join(home, "storage", "blobs", "sha256", idx["1"].digest.slice(7)), "utf8"));
    const layer = path.join(home, "storage", "blobs", "sha256", manifest.layers[0].digest.slice(7));
    const gnu = spawnSync("tar", ["tf", layer], { encoding: "utf8" });
    expect(gnu.status).toBe(0);
    expect(gnu.stdout.trimEnd().split("\n").sort()).toEqual(["n".repeat(80), long, "plain.txt", "ünïcödé", "ünïcödé/ø.txt"].sort());
    const py = spawnSync("python3", ["-c", "import sys,tarfile; print('\\n'.join(m.name+' '+str(m.uid)+' '+str(m.mtime) for m in tarfile.open(sys.argv[1])))", layer], { encoding: "utf8" });
    expect(py.status).toBe(0);
    for (const line of py.stdout.trimEnd().split("\n")) expect(line).toEndWith(" 1000 0");
    expect(py.stdout).toContain(`${long} 1000 0`);
    expect(py.stdout).toContain("ünïcödé/ø.txt 1000 0");
  });

  test("six packs running at once into one store keep all six tags", async () => {
    const home = tempDir();
    const runs = Array.from({ length: 6 }, async (_, i) => {
      const ctx = project({ Kitfile: `manifestVersion: 1.0.0\nmodel:\n  path: m${i}.bin\n`, [`m${i}.bin`]: `model ${i}`.repeat(1000) });
      return runKit(["pack", ctx, "-t", `par/kit:t${i}`], { env: { KITOPS_HOME: home } });
    });
    for (const r of await Promise.all(runs)) expect(r.code).toBe(0);
    const tags = JSON.parse(readFileSync(path.join(home, "storage", "bG9jYWxob3N0L3Bhci9raXQ=-tags.json"), "utf8"));
    expect(Object.keys(tags).sort()).toEqual(["t0", "t1", "t2", "t3", "t4", "t5"]);
    const index = JSON.parse(readFileSync(path.join(home, "storage", "bG9jYWxob3N0L3Bhci9raXQ=-index.json"), "utf8"));
    expect(index.manifests).toHaveLength(6);
    checkStoreIntegrity(path.join(home, "storage"));
  });

  for (const sig of ["SIGINT", "SIGHUP", "SIGKILL"] as const) {
    test(`an interrupted pack (${sig}) leaves no half blob and no dangling index; the next pack succeeds and prunes what a kill left`, async () => {
      const home = tempDir();
      const ctx = project({ Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: big.bin\n" });
      // 768 MiB of data (sparse), so the pack is still running when the signal arrives.
      const fd = spawnSync("truncate", ["-s", "768M", path.join(ctx, "big.bin")]);
      expect(fd.status).toBe(0);
      const child = spawn(kitBinary, ["pack", ctx, "-t", "big:1"], { env: { KITOPS_HOME: home, PATH: process.env.PATH }, stdio: "ignore" });
      const closed = new Promise<[number | null, string | null]>((res) => child.on("close", (c, s) => res([c, s])));
      const storage = path.join(home, "storage");
      const ingest = path.join(storage, "ingest");
      const tags = path.join(storage, "bG9jYWxob3N0L2JpZw==-tags.json");
      // Wait until the layer is being written, then interrupt.
      for (let i = 0; i < 200 && !(existsSync(ingest) && readdirSync(ingest).length > 0); i++) await Bun.sleep(25);
      expect(readdirSync(ingest)).not.toEqual([]); // the signal lands while the layer is written
      child.kill(sig);
      if (sig !== "SIGKILL") {
        // kit stops on its own: exit 130, its temporary layer file removed.
        expect(await closed).toEqual([130, null]);
        expect(readdirSync(ingest)).toEqual([]);
      } else {
        expect(await closed).toEqual([null, "SIGKILL"]);
      }
      checkStoreIntegrity(storage);
      expect(existsSync(tags)).toBe(false);
      // The store is still usable (lock, index, leftovers): the next pack succeeds. A smaller file
      // keeps this quick; packing large files is covered elsewhere.
      expect(spawnSync("truncate", ["-s", "1M", path.join(ctx, "big.bin")]).status).toBe(0);
      const again = await runKit(["pack", ctx, "-t", "big:1", "--progress", "none"], { env: { KITOPS_HOME: home } });
      expect(again.stderr).toBe("");
      expect(again.code).toBe(0);
      expect(Object.keys(JSON.parse(readFileSync(tags, "utf8")))).toEqual(["1"]);
      checkStoreIntegrity(storage);
      // Whatever the killed pack left (its temporary layer file) is gone, and no lock file stays.
      expect(readdirSync(ingest)).toEqual([]);
      expect(readdirSync(storage).filter((f) => f.startsWith("."))).toEqual([]);
    }, 300_000);
  }
});
