import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { HubClient, type HubRepo, type HubSnapshot } from "../../src/init/hub.ts";
import { downloadSnapshot, WorkDir, type DownloadPlan } from "../../src/modelkit/hub-download.ts";
import { fileTarFrame } from "../../src/store/tar.ts";
import { Transport } from "../../src/registry/transport.ts";
import { CancelledError, IntegrityError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import type { Progress } from "../../src/util/progress.ts";
import { startFakeHub, type FakeHub } from "../helpers/fake-hub.ts";
import { tempDir } from "../helpers/kit.ts";
import { concat } from "../helpers/streams.ts";
import { createHash } from "node:crypto";

const big = new Uint8Array(1_000_000).map((_, i) => (i * 7) % 251);
const files = {
  "model.safetensors": big,
  "config.json": '{"hidden_size": 8}',
  "onnx/model.onnx": new Uint8Array(9000).fill(3),
  "onnx/notes.txt": "notes",
};
const repo: HubRepo = { id: "acme/dl", type: "model" };
const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

let hub: FakeHub;
const transport = new Transport({ userAgent: "kitops-cli/test", sleep: async () => {} });
const client = () => new HubClient({ endpoint: new URL(hub.endpoint), logger: memoryLogger(), transport });

beforeAll(async () => {
  hub = await startFakeHub();
  hub.addRepo(repo.id, { files });
});
afterAll(() => hub.close());

async function setup(): Promise<{ c: HubClient; snap: HubSnapshot; plan: DownloadPlan; work: WorkDir }> {
  const c = client();
  const snap = await c.snapshot(repo, "main");
  const by = (p: string) => snap.files.find((f) => f.path === p)!;
  const plan = { layers: [by("model.safetensors"), by("config.json")], tree: [by("onnx/model.onnx"), by("onnx/notes.txt")] };
  return { c, snap, plan, work: new WorkDir(path.join(tempDir("kit-hubdl-"), "work")) };
}

const resolves = (from: number) => hub.requests.slice(from).filter((r) => r.method === "GET" && (r.path.includes("/resolve/") || r.server === "cdn"));

// Hashing on this thread, and (as for files of 32 MiB and more) on a worker thread.
for (const threadHashBytes of [Infinity, 0]) {
  test(`single-file layers are the tar pack would write; other files land in the tree with fixed modes (hashed ${threadHashBytes ? "here" : "on a worker"})`, async () => {
    const { c, snap, plan, work } = await setup();
    const log = memoryLogger("debug");
    const r = await downloadSnapshot(c, snap, plan, work, { concurrency: 3, transport, logger: log, threadHashBytes });
    expect(log.text().includes("Hashing model.safetensors on a worker thread")).toBe(threadHashBytes === 0);
    for (const [p, content] of [["model.safetensors", big as Uint8Array], ["config.json", new TextEncoder().encode(files["config.json"]) as Uint8Array]] as Array<[string, Uint8Array]>) {
      const layer = r.layers.get(p)!;
      const { head, tail } = fileTarFrame([], { name: p, mode: 0o644, size: content.length });
      const bytes = new Uint8Array(readFileSync(layer.file));
      expect(bytes).toEqual(concat([head, content, tail]) as Uint8Array<ArrayBuffer>);
      expect(layer.digest).toBe(`sha256:${sha(bytes)}`);
      expect(layer.size).toBe(bytes.length);
    }
    expect(readFileSync(path.join(work.tree, "onnx/notes.txt"), "utf8")).toBe("notes");
    expect(statSync(path.join(work.tree, "onnx/model.onnx")).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(work.tree, "onnx")).mode & 0o777).toBe(0o755);
    expect(r.files.map((f) => [f.path, f.sha256])).toEqual([
      ["model.safetensors", sha(big)],
      ["config.json", sha(files["config.json"])],
      ["onnx/model.onnx", sha(files["onnx/model.onnx"])],
      ["onnx/notes.txt", sha("notes")],
    ]);
    // Non-LFS files carry their verified git blob id; LFS files do not (the listing's is the pointer's).
    expect(r.files.find((f) => f.path === "onnx/notes.txt")!.gitBlob).toBe(snap.files.find((f) => f.path === "onnx/notes.txt")!.oid);
    expect(r.files.find((f) => f.path === "model.safetensors")!.gitBlob).toBeUndefined();
    expect(readdirSync(path.join(work.root, "partial"))).toEqual([]);

    // A second run downloads nothing.
    const before = hub.requests.length;
    const again = await downloadSnapshot(c, snap, plan, work, { concurrency: 3, transport, logger: log });
    expect(resolves(before)).toEqual([]);
    expect(again.files).toEqual(r.files);
    expect(again.layers.get("model.safetensors")!.digest).toBe(r.layers.get("model.safetensors")!.digest);
  });

  test(`an interrupted run keeps its partial file; the next run asks only for the rest (hashed ${threadHashBytes ? "here" : "on a worker"})`, async () => {
    const { c, snap, plan, work } = await setup();
    const ctl = new AbortController();
    const partial = work.layerPartial("model.safetensors");
    // Stops the run once some of the big file is on disk (chunks are written one behind the reads).
    const progress: Progress = {
      task: (title) => ({
        add() {
          if (title === "model.safetensors" && existsSync(partial) && statSync(partial).size > 100_000) ctl.abort(new CancelledError());
        },
        already() {},
        done() {},
      }),
      suspend: (fn) => fn(),
      close() {},
    };
    const e = await downloadSnapshot(c, snap, plan, work, { concurrency: 4, transport, logger: memoryLogger(), progress, signal: ctl.signal, threadHashBytes }).catch((x) => x);
    expect(e).toBeInstanceOf(CancelledError);
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(100_000);
    expect(kept).toBeLessThan(512 + big.length);

    const complete = [...plan.layers, ...plan.tree].filter((f) => existsSync(work.record(f.path))).map((f) => f.path);
    expect(complete).not.toContain("model.safetensors");

    const before = hub.requests.length;
    const r = await downloadSnapshot(c, snap, plan, work, { concurrency: 4, transport, logger: memoryLogger(), threadHashBytes });
    const got = resolves(before);
    // Files complete in the first run are not fetched again; the big one continues where its partial file ended.
    expect(got.filter((q) => q.server === "hub" && complete.some((p) => q.path.endsWith(`/${p}`)))).toEqual([]);
    expect(got.filter((q) => q.server === "cdn" && q.path.includes(sha(big))).map((q) => q.range)).toEqual([`bytes=${kept - 512}-`]);
    expect(r.files[0]!.sha256).toBe(sha(big));
    expect(r.layers.get("model.safetensors")!.digest).toBe(`sha256:${sha(readFileSync(work.layerFile("model.safetensors")))}`);
    expect(existsSync(partial)).toBe(false);
  });
}

test("a connection cut mid-file is resumed at once with a Range request", async () => {
  const { c, snap, plan, work } = await setup();
  const before = hub.requests.length;
  hub.addFault({ server: "cdn", path: new RegExp(sha(big)), fault: { kind: "cut", afterBytes: 300_000 }, times: 1 });
  const r = await downloadSnapshot(c, snap, { layers: plan.layers.slice(0, 1), tree: [] }, work, { concurrency: 1, transport, logger: memoryLogger() });
  const cdn = hub.requests.slice(before).filter((q) => q.server === "cdn");
  // The hub sends 300,000 bytes and closes; the client may get fewer of them (Bun's fetch can
  // drop what it had not yet handed on when the connection ends: seen once in ten runs at
  // 65,293), and resumes where the bytes it kept end, never from the start.
  expect(cdn.map((q) => q.range?.replace(/\d+/, "N"))).toEqual([undefined, "bytes=N-"]);
  const from = Number(/^bytes=(\d+)-$/.exec(cdn[1]!.range!)![1]);
  expect(from).toBeGreaterThan(0);
  expect(from).toBeLessThanOrEqual(300_000);
  expect(r.files[0]!.sha256).toBe(sha(big));
});

test("content that does not match the listing is refused, named, and not kept", async () => {
  const { c, snap, plan, work } = await setup();
  hub.corrupt("model.safetensors");
  try {
    const e = await downloadSnapshot(c, snap, { layers: plan.layers.slice(0, 1), tree: [] }, work, { concurrency: 1, transport, logger: memoryLogger() }).catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.message).toStartWith(`Downloaded file model.safetensors does not match the repository listing: sha256 `);
    expect(e.message).toEndWith(` instead of ${sha(big)}`);
    expect(existsSync(work.layerPartial("model.safetensors"))).toBe(false);
    expect(existsSync(work.record("model.safetensors"))).toBe(false);
  } finally {
    hub.corrupt("model.safetensors", false);
  }
});

test("a file outside Git LFS is checked against its git blob id", async () => {
  hub.addRepo("acme/small", { files: { "notes.txt": "the real notes" } });
  const c = client();
  const snap = await c.snapshot({ id: "acme/small", type: "model" }, "main");
  hub.corrupt("notes.txt");
  afterAll(() => hub.corrupt("notes.txt", false));
  const work = new WorkDir(path.join(tempDir("kit-hubdl-"), "w"));
  const e = await downloadSnapshot(c, snap, { layers: [], tree: snap.files }, work, { concurrency: 1, transport, logger: memoryLogger() }).catch((x) => x);
  expect(e).toBeInstanceOf(IntegrityError);
  expect(e.message).toContain(`Downloaded file notes.txt does not match the repository listing: git blob id `);
  expect(e.message).toEndWith(` instead of ${snap.files[0]!.oid}`);
});

test("progress: one bar per file of 64 KiB or more, and a total", async () => {
  const { c, snap, plan, work } = await setup();
  const tasks: Array<{ title: string; total: number; done: number; finished: boolean }> = [];
  const progress: Progress = {
    task(title, total) {
      const t = { title, total, done: 0, finished: false };
      tasks.push(t);
      return { add: (n) => void (t.done += n), already: (n) => void (t.done += n), done: () => void (t.finished = true) };
    },
    suspend: (fn) => fn(),
    close() {},
  };
  await downloadSnapshot(c, snap, plan, work, { concurrency: 2, transport, logger: memoryLogger(), progress });
  const total = big.length + files["config.json"].length + 9000 + 5;
  expect(tasks.map((t) => [t.title, t.total, t.done, t.finished])).toEqual([
    ["Total (4 files)", total, total, true],
    ["model.safetensors", big.length, big.length, true],
  ]);
});
