/**
 * `npm run bench`: measures kit's pack, unpack, re-pack, start-up, binary size, list, compressed
 * pack, push, pull and import, and the air-gapped transfer through oci-archive:, against the
 * physical limits (openssl, tar, curl) and the peers (GNU gzip, skopeo).
 *
 *   bun scripts/bench.ts                      full run (1 GiB file, 4 × 256 MiB parts, 20,000 small files, 500 kits, 5 runs)
 *   bun scripts/bench.ts --quick              small sizes, one run each (CI runs this so the code never rots)
 *   bun scripts/bench.ts --size 4GiB          size of the large file (the parts are a quarter each; the mixed project's weights)
 *   bun scripts/bench.ts --airgap-size 2GiB   size of the ModelKit written to and pulled from oci-archive: (1 GiB)
 *   bun scripts/bench.ts --runs 7             runs per row and side (best of)
 *   bun scripts/bench.ts --only pack,unpack   only these groups: pack parts small unpack repack startup size list gzip registry throttled import airgap
 *   bun scripts/bench.ts --kit PATH           use this binary instead of building dist/kit
 *   bun scripts/bench.ts --write docs/benchmarks.md   also write the result between the file's markers
 *
 * Method (docs/benchmarks.md): the write rate into the page cache is measured and printed first
 * and around every row that writes, because it decides what writing costs; `sync` runs before
 * every timing; our runs and the reference runs alternate; each side's time is the best of its
 * runs, and each ratio (reference time ÷ our time: above 1, kit is faster) comes from the same
 * bench run. Inputs are read once before timing (page cache warm). Peak RSS comes from GNU time
 * (`/usr/bin/time -v`). Exit status: 0 when every row was measured or skipped as unavailable
 * (missed goals are results, not failures), 1 when a row failed to run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  GiB,
  MiB,
  makeLargeFileProject,
  makePartsProject,
  makeMixedProject,
  makeSmallFiles,
  makeTempRoot,
  parseSize,
  removeTree,
  writeIncompressibleFile,
} from "./bench/data.ts";
import { fillStore } from "./bench/kits.ts";
import {
  checkGnuTime,
  cleanupMeasure,
  have,
  Interrupted,
  measure,
  medianRun,
  pipeline,
  probeWriteRate,
  run,
  type RunSpec,
  type Sample,
  sh,
  summarize,
  syncDisks,
  warmPageCache,
  type WriteRate,
} from "./bench/measure.ts";
import { startHub } from "./bench/hub.ts";
import { exportOciLayout, startRegistry } from "./bench/registry.ts";
import { throttledPull } from "./bench/throttled.ts";
import { fmtBytes, type Goal, MAX_RSS, type Row, table, verdict, writeBetweenMarkers } from "./bench/report.ts";

const root = path.resolve(import.meta.dir, "..");

// ----- options -------------------------------------------------------------------------------

const GROUPS = ["pack", "parts", "small", "unpack", "repack", "startup", "size", "list", "gzip", "registry", "throttled", "import", "airgap"] as const;
type Group = (typeof GROUPS)[number];

interface Options {
  quick: boolean;
  size: number;
  airgapSize?: number;
  runs: number;
  only: Set<Group>;
  kit?: string;
  write?: string;
}

function usage(msg: string): never {
  console.error(`bench: ${msg}\nusage: bun scripts/bench.ts [--quick] [--size SIZE] [--airgap-size SIZE] [--runs N] [--only ${GROUPS.join(",")}] [--kit PATH] [--write FILE]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  let quick = false;
  let size: number | undefined;
  let airgapSize: number | undefined;
  let runs: number | undefined;
  let only: Set<Group> = new Set(GROUPS);
  let kit: string | undefined;
  let write: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    switch (flag) {
      case "--quick": quick = true; break;
      case "--size": size = parseSize(value()); break;
      case "--airgap-size": airgapSize = parseSize(value()); break;
      case "--runs": {
        runs = Number(value());
        if (!Number.isInteger(runs) || runs < 1) usage("--runs must be a positive integer");
        break;
      }
      case "--only": {
        const names = value().split(",").map((s) => s.trim()).filter(Boolean);
        for (const n of names) if (!GROUPS.includes(n as Group)) usage(`unknown group "${n}"`);
        only = new Set(names as Group[]);
        break;
      }
      case "--kit": kit = path.resolve(value()); break;
      case "--write": write = path.resolve(value()); break;
      case "-h":
      case "--help":
        console.log(readHelp());
        process.exit(0);
      default: usage(`unknown argument "${a}"`);
    }
  }
  return { quick, size: size ?? (quick ? 64 * MiB : 1 * GiB), airgapSize, runs: runs ?? (quick ? 1 : 5), only, kit, write };
}

function readHelp(): string {
  return "bun scripts/bench.ts [--quick] [--size SIZE] [--airgap-size SIZE] [--runs N] [--only GROUPS] [--kit PATH] [--write FILE]\n" +
    `groups: ${GROUPS.join(" ")}`;
}

const opts = parseArgs(process.argv.slice(2));
const sizes = {
  large: opts.size,
  /** Each of the four parts. */
  part: Math.max(1, Math.floor(opts.size / 4)),
  probe: opts.quick ? 32 * MiB : 256 * MiB,
  smallFiles: opts.quick ? 2_000 : 20_000,
  kits: opts.quick ? 50 : 500,
  weights: opts.size,
  dataset: opts.quick ? 4 * MiB : 64 * MiB,
  gzip: opts.quick ? 16 * MiB : 256 * MiB,
  throttled: opts.quick ? 64 * MiB : 512 * MiB,
  hub: opts.quick ? 64 * MiB : GiB,
  startupRuns: opts.quick ? 5 : 50,
  airgap: opts.airgapSize ?? (opts.quick ? 64 * MiB : GiB),
  listRuns: opts.quick ? 1 : 5,
};

// ----- helpers -------------------------------------------------------------------------------

function log(msg: string) {
  console.error(`[bench] ${msg}`);
}

function machine() {
  let cpu = "unknown CPU";
  try {
    cpu = /model name\s*:\s*(.*)/.exec(run(["cat", "/proc/cpuinfo"]))?.[1]?.trim() ?? cpu;
  } catch {
    cpu = os.cpus()[0]?.model ?? cpu;
  }
  return {
    nproc: os.availableParallelism(),
    cpu,
    ram: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(", "),
    kernel: `${os.type()} ${os.release()}`,
  };
}

function kitCommit(kit: string): string {
  try {
    return /^Commit: (.*)$/m.exec(run([kit, "version"]))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** True when `kit <cmd> --help` works (the command exists in this build). */
function kitHas(kit: string, cmd: string): boolean {
  const r = spawnSync(kit, [cmd, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
  return r.status === 0 && r.stdout.toString().includes(`kit ${cmd}`);
}

/** The largest blob of a kit home's storage: the big layer of a kit packed there. */
function largestBlob(home: string): string {
  const dir = path.join(home, "storage", "blobs", "sha256");
  let best = "";
  let bestSize = -1;
  for (const n of readdirSync(dir)) {
    const s = statSync(path.join(dir, n)).size;
    if (s > bestSize) [best, bestSize] = [path.join(dir, n), s];
  }
  return best;
}

/**
 * `opts.runs` rounds of: a fresh kit home `home`, `kit pack ARGS` in it, then each reference in
 * turn (`sync` before every timed run; a reference's `after` removes its output). Returns the
 * best of our runs and of each reference's.
 */
function packRounds(home: string, packArgs: string[], refs: Array<{ argv: string[]; after?: () => void }>): { ours: Sample; refs: Sample[] } {
  const ours: Sample[] = [];
  const theirs: Sample[][] = refs.map(() => []);
  for (let i = 0; i < opts.runs; i++) {
    fresh(home);
    syncDisks();
    ours.push(measure({ argv: kitArgs("pack", ...packArgs), env: env(home) }));
    removeTree(home);
    refs.forEach((r, k) => {
      syncDisks();
      theirs[k]!.push(measure({ argv: r.argv }));
      r.after?.();
    });
  }
  return { ours: summarize(ours), refs: theirs.map(summarize) };
}

/** Runs `fn` `n` times, after `before` each time (untimed), and returns the samples. */
function repeat(n: number, before: () => void, spec: () => RunSpec): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    before();
    syncDisks();
    out.push(measure(spec()));
  }
  return out;
}

/** `n` processes of a shell script each, started at once; fails when any of them fails. */
function parallelScripts(scripts: string[]): string[] {
  const body = scripts.map((sc) => `(set -o pipefail; ${sc}) & p+=($!)`).join("\n");
  return ["bash", "-c", `p=()\n${body}\nfor x in "\${p[@]}"; do wait "$x" || exit 1; done`];
}

/** Fails unless `file` is the blob `expected` (same name and size): the transfer really happened. */
function checkSameBlob(file: string, expected: string) {
  const got = existsSync(file) ? statSync(file).size : -1;
  if (path.basename(file) !== path.basename(expected) || got !== statSync(expected).size) {
    throw new Error(`after the transfer ${file} is not the layer blob ${path.basename(expected)} (${got} bytes)`);
  }
}

/** A row's result: the best of our runs and of the reference runs. */
function settle(row: Row, ours: Sample[], ref: Sample[]) {
  row.ours = summarize(ours);
  row.ref = summarize(ref);
}

function fresh(dir: string) {
  removeTree(dir);
  mkdirSync(dir, { recursive: true });
}

const RSS_ONLY: Goal = { text: `peak RSS < ${MAX_RSS / 1e6} MB` };
/** No slower than standard tools doing the same work (the same copy and the same SHA-256). */
const SAME_WORK_GOAL: Goal = { text: "≥ 1.0× (standard tools doing the same copy and hash, in parallel processes)", minRatio: 1 };
/** ≥ 80% of the reference's throughput. */
const PACK_GOAL: Goal = { text: "≥ 0.8× (80% of the reference throughput)", minRatio: 0.8 };
const SCALE = (what: string): Goal => ({ text: `for scale (${what}); ${RSS_ONLY.text}` });

/** The largest `n` blobs of a kit home's storage (the layers of a kit with `n` big layers). */
function largestBlobs(home: string, n: number): string[] {
  const dir = path.join(home, "storage", "blobs", "sha256");
  return readdirSync(dir)
    .map((f) => ({ f: path.join(dir, f), size: statSync(path.join(dir, f)).size }))
    .sort((a, b) => b.size - a.size)
    .slice(0, n)
    .map((x) => x.f);
}

function fmtRate(w: WriteRate): string {
  return `${w.fast ? "fast" : "slow"} (${w.mibPerSecond >= 100 ? w.mibPerSecond.toFixed(0) : w.mibPerSecond.toFixed(1)} MiB/s)`;
}

/** Probes the write rate before `fn` and after it, and records both on the rows. */
async function withWriteState(rows: Row[], fn: () => Promise<void> | void): Promise<void> {
  const before = probeWriteRate(work, sizes.probe);
  await fn();
  const after = probeWriteRate(work, sizes.probe);
  const text = before.fast === after.fast ? fmtRate(before.fast ? before : after) : `${fmtRate(before)} → ${fmtRate(after)}`;
  for (const r of rows) {
    r.writes = text;
    r.fastWrites = before.fast && after.fast;
  }
}

// ----- main ----------------------------------------------------------------------------------

checkGnuTime();
let kit = opts.kit;
if (!kit) {
  log("building dist/kit (scripts/build.ts)");
  const b = spawnSync(process.execPath, [path.join(root, "scripts/build.ts")], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (b.status !== 0) {
    console.error("bench: building dist/kit failed");
    process.exit(1);
  }
  kit = path.join(root, "dist", "kit");
}
if (!existsSync(kit)) usage(`${kit} does not exist`);
const kitBin = kit;

const work = makeTempRoot();
const writeRates: WriteRate[] = [];
/** The write probe at the end (the work directory may be gone after an error: then none). */
function probeWriteRateSafe(): WriteRate | undefined {
  try {
    mkdirSync(work, { recursive: true });
    const r = probeWriteRate(work, sizes.probe);
    removeTree(work);
    return r;
  } catch {
    return undefined;
  }
}
const rows: Row[] = [];
const started = new Date();
const host = machine();
const cleanups: Array<() => Promise<void> | void> = [() => removeTree(work), () => cleanupMeasure()];
// Ctrl-C reaches the measured command too (same process group); its exit makes measure() throw
// Interrupted, which ends the run through the cleanups below. This handler covers the moments
// between commands.
process.on("SIGINT", () => {
  removeTree(work);
  cleanupMeasure();
  process.exit(130);
});

/** Measures one row group; an exception marks the given rows as errors (the run then exits 1). */
async function section(names: Row[], fn: () => Promise<void> | void) {
  rows.push(...names);
  try {
    await fn();
  } catch (e) {
    if (e instanceof Interrupted) throw e;
    const msg = (e as Error).message;
    log(`error: ${msg}`);
    for (const r of names) if (!r.ours && !r.skipped) r.error = msg;
  }
}

const env = (home: string) => ({ KITOPS_HOME: home });
const kitArgs = (...a: string[]) => [kitBin, ...a, "--progress", "none"];

try {
  // Data.
  log(`generating data under ${work}`);
  const dataStart = Date.now();
  const large = path.join(work, "large");
  const parts = path.join(work, "parts");
  const small = path.join(work, "small");
  const mixed = path.join(work, "mixed");
  const gz = path.join(work, "gz");
  const airgap = path.join(work, "airgap");
  const want = (g: Group) => opts.only.has(g);
  if (want("pack") || want("registry")) makeLargeFileProject(large, sizes.large, 1);
  if (want("parts") || want("unpack")) makePartsProject(parts, sizes.part, 5);
  if (want("small") || want("unpack")) makeSmallFiles(small, sizes.smallFiles, 2);
  let mixedBytes = 0;
  if (want("repack")) mixedBytes = makeMixedProject(mixed, { weights: sizes.weights, dataset: sizes.dataset }, 3);
  const mixedReady = Date.now();
  if (want("gzip")) makeLargeFileProject(gz, sizes.gzip, 4);
  const thr = path.join(work, "throttled");
  if (want("throttled")) makeLargeFileProject(thr, sizes.throttled, 7);
  const hubFile = path.join(work, "hub", "model.safetensors");
  if (want("import")) writeIncompressibleFile(hubFile, sizes.hub, 5);
  if (want("airgap")) makeLargeFileProject(airgap, sizes.airgap, 6);
  log(`data ready in ${((Date.now() - dataStart) / 1000).toFixed(1)} s; warming the page cache`);
  warmPageCache([large, parts, small, mixed, gz, thr, hubFile, airgap].filter((p) => existsSync(p)));
  warmPageCache([kitBin]);
  const firstRate = probeWriteRate(work, sizes.probe);
  writeRates.push(firstRate);
  log(`write rate into the page cache: ${fmtRate(firstRate)}`);

  const runs = opts.runs;
  const homes = path.join(work, "homes");
  const outs = path.join(work, "out");
  mkdirSync(homes, { recursive: true });
  mkdirSync(outs, { recursive: true });

  // pack of one large file vs the same work by standard tools, and vs hashing alone.
  if (want("pack")) {
    const vsTee: Row = {
      name: "pack one large file vs tar | tee | openssl",
      goal: { text: "≥ 1.3× (the same reads, writes and hash by standard tools, in parallel processes)", minRatio: 1.3 },
      bytes: sizes.large,
      refLabel: "`tar cf - F | tee LAYER | openssl dgst -sha256`",
    };
    const vsOpenssl: Row = {
      name: "pack one large file vs openssl alone",
      goal: { text: "≥ 0.9× when writes are fast (hashing alone: the limit when writes are free)", minRatio: 0.9, fastWritesOnly: true },
      bytes: sizes.large,
      refLabel: "`openssl dgst -sha256 F`",
    };
    await section([vsTee, vsOpenssl], () => withWriteState([vsTee, vsOpenssl], () => {
      log(`pack ${fmtBytes(sizes.large)} file`);
      const teeOut = path.join(outs, "tee.tar");
      const r = packRounds(path.join(homes, "pack"), [large, "-t", "bench/large:v1"], [
        { argv: pipeline(`tar cf - -C ${sh(large)} model.bin | tee ${sh(teeOut)} | openssl dgst -sha256`), after: () => removeTree(teeOut) },
        { argv: ["openssl", "dgst", "-sha256", path.join(large, "model.bin")] },
      ]);
      vsTee.ours = vsOpenssl.ours = r.ours;
      [vsTee.ref, vsOpenssl.ref] = r.refs;
    }));
  }

  // pack of four parts (four layers) vs four pipelines at once.
  if (want("parts")) {
    const row: Row = {
      name: "pack 4 parts vs four tar | tee | openssl at once",
      goal: { text: "≥ 1.3×", minRatio: 1.3 },
      bytes: 4 * sizes.part,
      refLabel: "four `tar cf - F | tee LAYER | openssl dgst -sha256` started together",
    };
    await section([row], () => withWriteState([row], () => {
      log(`pack 4 × ${fmtBytes(sizes.part)}`);
      const layers = [0, 1, 2, 3].map((i) => path.join(outs, `part${i}.tar`));
      const scripts = [0, 1, 2, 3].map((i) => `tar cf - -C ${sh(parts)} part${i}.bin | tee ${sh(layers[i]!)} | openssl dgst -sha256 > /dev/null`);
      const r = packRounds(path.join(homes, "parts"), [parts, "-t", "bench/parts:v1"], [
        { argv: parallelScripts(scripts), after: () => layers.forEach((l) => removeTree(l)) },
      ]);
      row.ours = r.ours;
      row.ref = r.refs[0];
    }));
  }

  // unpack vs tar xf of the same layer blobs (which does not verify them).
  if (want("unpack")) {
    const unpackRow = (name: string, dir: string, tag: string, layerCount: number, bytes?: number): Promise<void> => {
      const row: Row = { name, goal: { text: "≥ 0.9× (kit verifies every layer digest; tar does not)", minRatio: 0.9 }, bytes, refLabel: `\`tar xf LAYER -C EMPTY_DIR\`${layerCount > 1 ? ` for each of the ${layerCount} layers` : ""}` };
      return section([row], () => withWriteState([row], () => {
        log(name);
        const home = path.join(homes, `unpack-${tag}`);
        fresh(home);
        run(kitArgs("pack", dir, "-t", `bench/${tag}:v1`), { env: env(home) });
        const blobs = largestBlobs(home, layerCount);
        warmPageCache(blobs);
        const untar = (out: string) => blobs.map((b) => `tar xf ${sh(b)} -C ${sh(out)}`).join(" && ");
        const ours: Sample[] = [];
        const ref: Sample[] = [];
        // Every run writes into a directory of its own, all removed after the row: on ext4, files
        // created within minutes of thousands being deleted make the inode allocator scan the
        // recently deleted inodes (seen with perf: tar xf of the small files took 10 s instead of
        // 1.5 s), which slowed whichever side ran after a removal. The order alternates.
        const dirs: string[] = [];
        for (let i = 0; i < runs; i++) {
          const sides = [
            () => {
              const out = path.join(outs, `${tag}-kit-${i}`);
              dirs.push(out);
              syncDisks();
              ours.push(measure({ argv: kitArgs("unpack", `bench/${tag}:v1`, "-d", out), env: env(home) }));
            },
            () => {
              const out = path.join(outs, `${tag}-tar-${i}`);
              dirs.push(out);
              fresh(out);
              syncDisks();
              ref.push(measure({ argv: pipeline(untar(out)) }));
            },
          ];
          if (i % 2 === 1) sides.reverse();
          for (const side of sides) side();
        }
        for (const d of dirs) removeTree(d);
        removeTree(home);
        // Gigabytes just deleted (on a file system mounted with `discard`, trimmed at the next
        // journal commit): settled here, not during the next row's timings.
        syncDisks();
        row.ours = summarize(ours);
        row.ref = summarize(ref);
      }));
    };
    await unpackRow("unpack the 4-part kit vs tar xf", parts, "parts", 4, 4 * sizes.part);
    await unpackRow("unpack small files vs tar xf", small, "small", 1);
  }

  // pack of many small files.
  if (want("small")) {
    const row: Row = { name: "pack small files", goal: SCALE("tar and openssl write nothing"), refLabel: "`tar cf - DIR | openssl dgst -sha256`" };
    await section([row], () => withWriteState([row], () => {
      log(`pack ${sizes.smallFiles} small files`);
      const r = packRounds(path.join(homes, "small"), [small, "-t", "bench/small:v1"], [
        { argv: pipeline(`tar cf - -C ${sh(work)} small | openssl dgst -sha256`) },
      ]);
      row.ours = r.ours;
      row.ref = r.refs[0];
    }));
  }

  // re-pack of an unchanged project (layer cache) vs its first pack.
  if (want("repack")) {
    const row: Row = { name: "re-pack unchanged project vs first pack", goal: { text: "≥ 4× (less than a quarter of a first pack)", minRatio: 4 }, refLabel: "first `kit pack` of the project" };
    await section([row], () => withWriteState([row], async () => {
      log(`re-pack of a ${fmtBytes(mixedBytes)} mixed project`);
      // Files changed within the last 2 s are "racy" and not cached: make sure that is over.
      const wait = mixedReady + 2100 - Date.now();
      if (wait > 0) await Bun.sleep(wait);
      const home = path.join(homes, "repack");
      const first: Sample[] = [];
      const again: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        fresh(home);
        syncDisks();
        first.push(measure({ argv: kitArgs("pack", mixed, "-t", "bench/mixed:v1"), env: env(home) }));
        syncDisks();
        again.push(measure({ argv: kitArgs("pack", mixed, "-t", "bench/mixed:v1"), env: env(home) }));
      }
      removeTree(home);
      row.ours = summarize(again);
      row.ref = summarize(first);
    }));
  }

  // start-up: kit version and kit --help (many runs, median), and the binary's size.
  if (want("startup")) {
    for (const args of [["version"], ["--help"]]) {
      const row: Row = { name: `kit ${args.join(" ")} start-up`, goal: { text: `≤ 15 ms (median of ${sizes.startupRuns} runs)`, maxSeconds: 0.015 } };
      await section([row], () => {
        log(`kit ${args.join(" ")} × ${sizes.startupRuns}`);
        const home = path.join(homes, "startup");
        fresh(home);
        syncDisks(); // no write-back of an earlier row's output during the runs
        const once = measure({ argv: [kitBin, ...args], env: env(home) }); // warm-up, and the peak RSS
        row.ours = { seconds: medianRun([kitBin, ...args], sizes.startupRuns, env(home)), rss: once.rss };
        removeTree(home);
      });
    }
  }
  if (want("size")) {
    const row: Row = { name: "linux-x64 binary", goal: { text: "≤ 115 MiB", maxBytes: 115 * MiB } };
    await section([row], () => {
      if (process.platform !== "linux" || process.arch !== "x64") {
        row.skipped = `not available here: the binary is built for ${process.platform}-${process.arch}`;
        return;
      }
      row.size = statSync(kitBin).size;
    });
  }

  // kit list with many ModelKits in the store.
  if (want("list")) {
    const row: Row = { name: "kit list, full store", goal: RSS_ONLY, refLabel: `${sizes.kits} ModelKits stored` };
    await section([row], async () => {
      if (!kitHas(kitBin, "list")) {
        row.skipped = "not available yet: this build has no `kit list`";
        return;
      }
      log(`kit list with ${sizes.kits} ModelKits`);
      const home = path.join(homes, "list");
      fresh(home);
      await fillStore(home, path.join(work, "tiny"), sizes.kits);
      syncDisks();
      const lines = run([kitBin, "list"], { env: env(home) }).trimEnd().split("\n");
      if (lines.length !== sizes.kits + 1) throw new Error(`kit list printed ${lines.length - 1} ModelKits, expected ${sizes.kits}`);
      row.ours = summarize(repeat(sizes.listRuns, () => {}, () => ({ argv: [kitBin, "list"], env: env(home) })));
      removeTree(home);
    });
  }

  // gzip and gzip-fastest pack throughput.
  if (want("gzip")) {
    for (const [flag, level] of [["gzip", 6], ["gzip-fastest", 1]] as const) {
      const row: Row = { name: `pack --compression ${flag} vs gzip -${level}`, goal: RSS_ONLY, bytes: sizes.gzip, refLabel: `\`tar cf - DIR | gzip -${level} | openssl dgst -sha256\`` };
      await section([row], () => withWriteState([row], () => {
        log(`pack --compression ${flag} of ${fmtBytes(sizes.gzip)}`);
        const r = packRounds(path.join(homes, "gz"), [gz, "-t", "bench/gz:v1", "--compression", flag], [
          { argv: pipeline(`tar cf - -C ${sh(work)} gz | gzip -${level} | openssl dgst -sha256`) },
        ]);
        row.ours = r.ours;
        row.ref = r.refs[0];
      }));
    }
  }

  // push and pull against a local registry vs skopeo.
  if (want("registry")) {
    const goal: Goal = { text: "no slower than skopeo (≥ 1.0×)", minRatio: 1 };
    const push: Row = { name: "push vs skopeo copy", goal: { text: "≥ 1.3×", minRatio: 1.3 }, bytes: sizes.large, refLabel: "`skopeo copy oci:LAYOUT docker://REGISTRY`" };
    const pull: Row = { name: "pull vs skopeo copy", goal: { text: "≥ 1.5×", minRatio: 1.5 }, bytes: sizes.large, refLabel: "`skopeo copy docker://REGISTRY oci:EMPTY_LAYOUT`" };
    const repush: Row = { name: "re-push unchanged vs skopeo copy", goal, refLabel: "the same `skopeo copy` again" };
    // The registry's own limit: the layer uploaded with no client work at all.
    const raw: Row = {
      name: "push vs a raw upload by curl",
      goal: { text: "≥ 0.9× (the registry's limit: one POST and one PUT of the layer, nothing else)", minRatio: 0.9 },
      bytes: sizes.large,
      refLabel: "`curl -X POST …/blobs/uploads/` then `curl -T LAYER '<location>&digest=…'`",
    };
    await section([push, pull, repush, raw], () => withWriteState([push, pull, repush, raw], async () => {
      const missing: string[] = [];
      if (!kitHas(kitBin, "push") || !kitHas(kitBin, "pull")) missing.push("this build has no `kit push`/`kit pull`");
      if (!have("docker-registry")) missing.push("docker-registry is not installed");
      if (!have("skopeo")) missing.push("skopeo is not installed");
      if (missing.length) {
        for (const r of [push, pull, repush, raw]) r.skipped = `not available yet: ${missing.join("; ")}`;
        return;
      }
      log(`push and pull of a ${fmtBytes(sizes.large)} ModelKit`);
      const pushHelp = run([kitBin, "push", "--help"]);
      const net = pushHelp.includes("--plain-http") ? ["--plain-http"] : [];
      const src = path.join(homes, "push-src");
      fresh(src);
      const packed = run(kitArgs("pack", large, "-t", "bench/large:v1"), { env: env(src) });
      const digest = /Model saved: (sha256:[a-f0-9]{64})/.exec(packed)?.[1];
      if (!digest) throw new Error(`kit pack printed no manifest digest:\n${packed}`);
      const layer = largestBlob(src);
      const layout = path.join(work, "oci-layout");
      exportOciLayout(path.join(src, "storage"), digest, layout, "v1");
      const s = { push: [] as Sample[], pull: [] as Sample[], repush: [] as Sample[] };
      const r = { push: [] as Sample[], pull: [] as Sample[], repush: [] as Sample[], raw: [] as Sample[] };
      const layerDigest = `sha256:${path.basename(layer)}`;
      for (let i = 0; i < runs; i++) {
        // A fresh registry (new port, empty storage) for each tool, so none finds blobs left by another.
        for (const tool of ["kit", "skopeo", "curl"] as const) {
          const reg = await startRegistry(path.join(work, `registry-${tool}`));
          cleanups.push(() => reg.stop());
          try {
            const dest = `${reg.host}/bench/large:v1`;
            const pullHome = path.join(homes, "pull");
            const pullLayout = path.join(outs, "pull-layout");
            if (tool === "kit") {
              syncDisks();
              s.push.push(measure({ argv: kitArgs("push", "bench/large:v1", dest, ...net), env: env(src) }));
              s.repush.push(measure({ argv: kitArgs("push", "bench/large:v1", dest, ...net), env: env(src) }));
              fresh(pullHome);
              syncDisks();
              s.pull.push(measure({ argv: kitArgs("pull", dest, ...net), env: env(pullHome) }));
              checkSameBlob(largestBlob(pullHome), layer);
              removeTree(pullHome);
            } else if (tool === "curl") {
              const uploads = `http://${reg.host}/v2/bench/raw/blobs/uploads/`;
              syncDisks();
              r.raw.push(measure({
                argv: pipeline(
                  `loc=$(curl -sSf -o /dev/null -D - -X POST ${sh(uploads)} | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p'); ` +
                    `case "$loc" in http*) ;; *) loc="http://${reg.host}$loc" ;; esac; ` +
                    `case "$loc" in *\\?*) sep='&' ;; *) sep='?' ;; esac; ` +
                    `curl -sSf -o /dev/null -H 'Content-Type: application/octet-stream' -T ${sh(layer)} "$loc\${sep}digest=${layerDigest}"`,
                ),
              }));
              const head = spawnSync("curl", ["-sSf", "-o", "/dev/null", "-I", `http://${reg.host}/v2/bench/raw/blobs/${layerDigest}`]);
              if (head.status !== 0) throw new Error("the raw curl upload did not store the layer in the registry");
            } else {
              const copy = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", `oci:${layout}:v1`, `docker://${dest}`];
              syncDisks();
              r.push.push(measure({ argv: copy }));
              r.repush.push(measure({ argv: copy }));
              removeTree(pullLayout);
              syncDisks();
              r.pull.push(measure({ argv: ["skopeo", "copy", "--quiet", "--src-tls-verify=false", `docker://${dest}`, `oci:${pullLayout}:v1`] }));
              checkSameBlob(path.join(pullLayout, "blobs", "sha256", path.basename(layer)), layer);
              removeTree(pullLayout);
            }
          } finally {
            await reg.stop();
            cleanups.pop();
          }
        }
      }
      removeTree(src);
      removeTree(layout);
      settle(push, s.push, r.push);
      settle(pull, s.pull, r.pull);
      settle(repush, s.repush, r.repush);
      settle(raw, s.push, r.raw);
    }));
  }

  // pull through connections capped in rate (a CDN or object store) vs skopeo through the same proxy.
  if (want("throttled")) {
    const rate = 16 * MiB;
    const row: Row = {
      name: `pull through connections capped at ${fmtBytes(rate)}/s vs skopeo copy`,
      goal: { text: "≥ 3×", minRatio: 3 },
      bytes: sizes.throttled,
      refLabel: "`skopeo copy docker://PROXY oci:EMPTY_LAYOUT`",
    };
    await section([row], () => withWriteState([row], async () => {
      const missing = ["docker-registry", "skopeo"].filter((c) => !have(c));
      if (missing.length) {
        row.skipped = `not available yet: ${missing.join(" and ")} not installed`;
        return;
      }
      log(`pull of a ${fmtBytes(sizes.throttled)} ModelKit through connections capped at ${fmtBytes(rate)}/s`);
      const r = await throttledPull({ kit: kitBin, project: thr, work, rate, runs, cleanups });
      row.ours = summarize(r.ours);
      row.ref = summarize(r.ref);
    }));
  }

  // import of a single-file repository from the fake Hub (loopback) vs curl of the same file.
  if (want("import")) {
    const row: Row = {
      name: `import ${fmtBytes(sizes.hub)} from a fake Hub vs curl`,
      goal: { text: "at most 1.5× the time of curl downloading the same file (ratio ≥ 0.67)", minRatio: 1 / 1.5 },
      bytes: sizes.hub,
      refLabel: "`curl -sSfL -o FILE <endpoint>/REPO/resolve/main/FILE` (follows the redirect to the CDN port)",
    };
    // kit checks the file against the listing's sha256 and hashes the layer around it: two SHA-256
    // passes, which this reference makes too.
    const same: Row = {
      name: `import ${fmtBytes(sizes.hub)} vs curl | tee | openssl twice`,
      goal: SAME_WORK_GOAL,
      bytes: sizes.hub,
      refLabel: "`curl … | tee FILE FIFO | openssl dgst -sha256` with a second `openssl dgst -sha256 < FIFO` (the same download, write and two hashes)",
    };
    await section([row, same], () => withWriteState([row, same], async () => {
      if (!kitHas(kitBin, "import")) {
        row.skipped = same.skipped = "not available yet: this build has no `kit import`";
        return;
      }
      if (!have("curl")) {
        row.skipped = same.skipped = "not available yet: curl is not installed";
        return;
      }
      log(`import of a ${fmtBytes(sizes.hub)} repository from the fake Hub`);
      const hub = await startHub("bench/model", { "model.safetensors": hubFile });
      cleanups.push(() => hub.stop());
      try {
        const home = path.join(homes, "import");
        const out = path.join(outs, "curl.bin");
        const fifo = path.join(outs, "hash.fifo");
        const url = `${hub.endpoint}/bench/model/resolve/main/model.safetensors`;
        const ours: Sample[] = [];
        const ref: Sample[] = [];
        const refSame: Sample[] = [];
        const downloaded = () => {
          if (statSync(out).size !== sizes.hub) throw new Error(`curl downloaded ${statSync(out).size} bytes, not ${sizes.hub}`);
          removeTree(out);
        };
        // The same steps before each side's run (its output removed, `sync`), in an order that rotates (see the oci-archive: rows).
        const sides = [
          () => {
            fresh(home);
            syncDisks();
            ours.push(measure({ argv: kitArgs("import", "bench/model", "-t", "bench/imported:v1"), env: { ...env(home), HF_ENDPOINT: hub.endpoint } }));
            if (statSync(largestBlob(home)).size <= sizes.hub) throw new Error("kit import stored no layer holding the file");
            removeTree(home);
          },
          () => {
            removeTree(out);
            syncDisks();
            ref.push(measure({ argv: ["curl", "-sSfL", "-o", out, url] }));
            downloaded();
          },
          () => {
            removeTree(out);
            syncDisks();
            refSame.push(measure({
              argv: pipeline(
                `rm -f ${sh(fifo)}; mkfifo ${sh(fifo)}; openssl dgst -sha256 < ${sh(fifo)} > /dev/null & ` +
                  `curl -sSfL ${sh(url)} | tee ${sh(out)} ${sh(fifo)} | openssl dgst -sha256 > /dev/null && wait $!`,
              ),
            }));
            removeTree(fifo);
            downloaded();
          },
        ];
        for (let i = 0; i < runs; i++) for (let k = 0; k < sides.length; k++) sides[(i + k) % sides.length]!();
        row.ours = same.ours = summarize(ours);
        row.ref = summarize(ref);
        same.ref = summarize(refSame);
      } finally {
        await hub.stop();
        cleanups.pop();
      }
    }));
  }

  // The air-gapped transfer: a ModelKit written to oci-archive: and pulled back, vs tar of its blobs.
  if (want("airgap")) {
    const write: Row = { name: "push to oci-archive: vs tar cf", goal: PACK_GOAL, bytes: sizes.airgap, refLabel: "`tar cf FILE` of the ModelKit's blobs" };
    const read: Row = { name: "pull from oci-archive: vs tar xf", goal: PACK_GOAL, bytes: sizes.airgap, refLabel: "`tar xf FILE -C EMPTY_DIR` of that archive" };
    // kit verifies every blob it copies; these references do the same work (copy and SHA-256) with standard tools.
    const writeSame: Row = {
      name: "push to oci-archive: vs tar | tee | openssl",
      goal: SAME_WORK_GOAL,
      bytes: sizes.airgap,
      refLabel: "`tar cf - BLOBS | tee FILE | openssl dgst -sha256` (the same copy and hash)",
    };
    const readSame: Row = {
      name: "pull from oci-archive: vs tar xf beside openssl",
      goal: SAME_WORK_GOAL,
      bytes: sizes.airgap,
      refLabel: "`tar xf FILE -C EMPTY_DIR` and `openssl dgst -sha256 FILE` at once (the same copy and hash)",
    };
    const all = [write, read, writeSame, readSame];
    await section(all, () => withWriteState(all, () => {
      if (!kitHas(kitBin, "push") || !run([kitBin, "push", "--help"]).includes("oci-archive:")) {
        for (const r of all) r.skipped = "not available yet: this build has no `kit push … oci-archive:`";
        return;
      }
      log(`push to and pull from oci-archive: of a ${fmtBytes(sizes.airgap)} ModelKit`);
      const src = path.join(homes, "airgap-src");
      fresh(src);
      const packed = run(kitArgs("pack", airgap, "-t", "bench/airgap:v1"), { env: env(src) });
      const digest = /Model saved: (sha256:[a-f0-9]{64})/.exec(packed)?.[1];
      if (!digest) throw new Error(`kit pack printed no manifest digest:\n${packed}`);
      const storage = path.join(src, "storage");
      const blobs = readdirSync(path.join(storage, "blobs", "sha256")).map((n) => `blobs/sha256/${n}`);
      const layer = largestBlob(src);
      warmPageCache([path.join(storage, "blobs")]);
      const archive = path.join(outs, "airgap.tar");
      const refArchive = path.join(outs, "airgap-ref.tar");
      const pullHome = path.join(homes, "airgap-pull");
      const extracted = path.join(outs, "airgap-x");
      const s = { write: [] as Sample[], read: [] as Sample[] };
      const r = { write: [] as Sample[], read: [] as Sample[], writeSame: [] as Sample[], readSame: [] as Sample[] };
      // Each side's run follows the same steps (its output removed, `sync`; for reads the archive
      // read once more), and the order rotates from one round to the next: on this kind of VM a
      // writer is faster right after another run freed the pages it then reuses.
      const writes = [
        () => {
          removeTree(archive);
          syncDisks();
          s.write.push(measure({ argv: kitArgs("push", "bench/airgap:v1", `oci-archive:${archive}`), env: env(src) }));
        },
        () => {
          removeTree(refArchive);
          syncDisks();
          r.write.push(measure({ argv: ["tar", "cf", refArchive, "-C", storage, ...blobs] }));
          removeTree(refArchive);
        },
        () => {
          removeTree(refArchive);
          syncDisks();
          r.writeSame.push(measure({ argv: pipeline(`tar cf - -C ${sh(storage)} ${blobs.map(sh).join(" ")} | tee ${sh(refArchive)} | openssl dgst -sha256 > /dev/null`) }));
          removeTree(refArchive);
        },
      ];
      const beforeRead = (dest: string) => {
        fresh(dest);
        warmPageCache([archive]);
        syncDisks();
      };
      const reads = [
        () => {
          beforeRead(pullHome);
          s.read.push(measure({ argv: kitArgs("pull", `oci-archive:${archive}`), env: env(pullHome) }));
          checkSameBlob(largestBlob(pullHome), layer);
          removeTree(pullHome);
        },
        () => {
          beforeRead(extracted);
          r.read.push(measure({ argv: ["tar", "xf", archive, "-C", extracted] }));
          removeTree(extracted);
        },
        () => {
          beforeRead(extracted);
          r.readSame.push(measure({ argv: parallelScripts([`tar xf ${sh(archive)} -C ${sh(extracted)}`, `openssl dgst -sha256 ${sh(archive)} > /dev/null`]) }));
          removeTree(extracted);
        },
      ];
      for (let i = 0; i < runs; i++) {
        for (let k = 0; k < writes.length; k++) writes[(i + k) % writes.length]!();
        for (let k = 0; k < reads.length; k++) reads[(i + k) % reads.length]!();
      }
      removeTree(archive);
      removeTree(src);
      settle(write, s.write, r.write);
      settle(read, s.read, r.read);
      settle(writeSame, s.write, r.writeSame);
      settle(readSame, s.read, r.readSame);
    }));
  }

  // import of a single-file repository from the fake Hub (loopback) vs curl of the same file.
} catch (e) {
  if (!(e instanceof Interrupted)) throw e;
  for (const c of cleanups.reverse()) await c();
  console.error("bench: interrupted");
  process.exit(130);
} finally {
  for (const c of cleanups.reverse()) await c();
}

// ----- report --------------------------------------------------------------------------------

const bunVersion = typeof Bun !== "undefined" ? Bun.version : process.versions.bun ?? "unknown";
const lastRate = probeWriteRateSafe();
const header = [
  `Date: ${started.toISOString().replace(/\.\d+Z$/, "Z")}. Machine: ${host.nproc} CPUs (\`nproc\`), ${host.cpu}, ${host.ram} RAM, ${host.kernel}; load average ${host.load} at start, ${os.loadavg().map((l) => l.toFixed(2)).join(", ")} at the end.`,
  `Write rate into the page cache (${fmtBytes(sizes.probe)} with dd, 1 GiB/s or more is the fast state): ${writeRates[0] ? fmtRate(writeRates[0]) : "not measured"} at start, ${lastRate ? fmtRate(lastRate) : "not measured"} at the end; the Writes column has the state before and after each row.`,
  `kit commit ${kitCommit(kitBin)}, Bun ${bunVersion}. Mode: ${opts.quick ? "quick" : "full"}, ${opts.runs} run${opts.runs > 1 ? "s" : ""} per row and side, alternating (best of; peak RSS is the largest of the runs).`,
  `Sizes: large file ${fmtBytes(sizes.large)} of incompressible bytes; 4 parts of ${fmtBytes(sizes.part)}; ${sizes.smallFiles.toLocaleString("en-US")} small files of 1–64 KiB; mixed project with ${fmtBytes(sizes.weights)} of weights; ${sizes.kits} ModelKits for \`kit list\`; gzip rows on a ${fmtBytes(sizes.gzip)} incompressible file; throttled pull of a ${fmtBytes(sizes.throttled)} file; start-up: median of ${sizes.startupRuns} runs; import of a ${fmtBytes(sizes.hub)} single-file repository; a ${fmtBytes(sizes.airgap)} ModelKit for the oci-archive: rows.`,
  "Page cache warm: every input was read once before timing; `sync` before every timed run; output of each run is removed before the next. Ratio = reference time ÷ our time (above 1: kit is faster), from runs taken side by side.",
].join("\n");
const result = `${header}\n\n${table(rows)}\n`;
console.log(result);
if (opts.write) {
  writeBetweenMarkers(opts.write, result);
  log(`wrote ${path.relative(process.cwd(), opts.write)}`);
}
const failed = rows.filter((r) => r.error);
if (failed.length) {
  console.error(`bench: ${failed.length} row(s) failed: ${failed.map((r) => `${r.name} (${verdict(r)})`).join("; ")}`);
  process.exit(1);
}
