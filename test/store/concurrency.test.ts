import { afterEach, beforeEach, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LOCK_FILE } from "../../src/store/layout.ts";
import { listRepositories, LocalRepository } from "../../src/store/local.ts";

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-conc-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

test("six processes pushing and tagging into one store at once lose nothing", async () => {
  const storage = path.join(dir, "storage");
  const go = path.join(dir, "go");
  const script = path.join(import.meta.dir, "fixtures", "concurrent-writer.ts");
  const perChild = 5;
  const children = Array.from({ length: 6 }, (_, id) => run([script, storage, String(id), String(perChild), go]));
  await new Promise((r) => setTimeout(r, 300)); // let them start; they all wait for the go file
  fs.writeFileSync(go, "");
  const results = await Promise.all(children);
  for (const r of results) expect(r).toEqual({ code: 0, stderr: "" });

  const shared = await LocalRepository.open(storage, "localhost/shared");
  const tags = await shared.readTags();
  const want = Array.from({ length: 6 }, (_, id) => Array.from({ length: perChild }, (_, i) => `p${id}-${i}`)).flat().sort();
  expect([...tags.keys()].sort()).toEqual(want);
  expect(await shared.manifests()).toHaveLength(6 * perChild);
  const sharedIndex = JSON.parse(fs.readFileSync(path.join(storage, "index.json"), "utf8"));
  expect(sharedIndex.manifests).toHaveLength(6 * perChild);
  expect(await listRepositories(storage)).toEqual(["localhost/p0", "localhost/p1", "localhost/p2", "localhost/p3", "localhost/p4", "localhost/p5", "localhost/shared"]);
  for (let id = 0; id < 6; id++) {
    const own = new LocalRepository(shared.layout, `localhost/p${id}`);
    expect(await own.manifests()).toHaveLength(perChild);
    expect([...(await own.readTags()).keys()]).toEqual(["latest"]);
  }
  // No lock or temporary file is left behind.
  expect(fs.readdirSync(storage).filter((f) => f.startsWith("."))).toEqual([]);
  expect(fs.existsSync(path.join(storage, LOCK_FILE))).toBe(false);
  expect(fs.readdirSync(path.join(storage, "ingest"))).toEqual([]);
});
