/**
 * Release archives from the cross-compiled binaries (scripts/build.ts --all):
 *
 *   dist/release/kitops-<os>-<arch>.zip      every target
 *   dist/release/kitops-linux-<arch>.tar.gz  the Linux targets
 *   dist/release/install.sh, install.ps1     the install scripts (scripts/), which download the
 *                                            archive for the machine from the same place
 *   dist/release/SHA256SUMS                  `sha256sum` format, sorted by file name, every file above
 *
 * Each archive holds, at its top level, the binary (`kit`, `kit.exe`; mode 0755), README.md and
 * LICENSE (0644). Entry times are $SOURCE_DATE_EPOCH when set, else the binary's modification
 * time, so archives of the same binaries are byte-identical.
 *
 *   bun scripts/release.ts            → archives from the binaries already in dist/<os>-<arch>/
 *   bun scripts/release.ts --report   → a Markdown table of binary and archive sizes, what makes up
 *                                       each binary, and `kit version` start-up time (docs/benchmarks.md)
 * @module
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openAsBlob, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BlobReader, ZipWriter, configure as configureZip } from "@zip.js/zip.js";
import { formatBytes } from "../src/util/log.ts";
import { iterableStream } from "../src/util/streams.ts";
import { type BuiltBinary, RELEASE_TARGETS, checkBinaryFormat, targetRuntime } from "./build.ts";

const root = path.resolve(import.meta.dir, "..");

/** One file in an archive. */
export interface ArchiveMember {
  /** Name inside the archive (top level). */
  name: string;
  /** Permission bits (0o755, 0o644). */
  mode: number;
  /** Where the content comes from. */
  source: string;
}

/** A file of the release. */
export interface ReleaseFile {
  /** Absolute path. */
  file: string;
  size: number;
  /** Lower-case hex SHA-256. */
  sha256: string;
}

export interface ReleaseArchive extends ReleaseFile {
  /** `<os>-<arch>` of the binary inside. */
  target: string;
  kind: "zip" | "tar.gz";
}

/** The install scripts published with the archives, and their modes. */
export const INSTALL_SCRIPTS = [
  { name: "install.sh", mode: 0o755 },
  { name: "install.ps1", mode: 0o644 },
] as const;

/** What goes into a target's archives: the binary, README.md and LICENSE. */
export function archiveMembers(binary: string, repoRoot = root): ArchiveMember[] {
  return [
    { name: path.basename(binary), mode: 0o755, source: binary },
    { name: "README.md", mode: 0o644, source: path.join(repoRoot, "README.md") },
    { name: "LICENSE", mode: 0o644, source: path.join(repoRoot, "LICENSE") },
  ];
}

/** A `WritableStream` into a new file. */
function fileSink(file: string): WritableStream<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  return new WritableStream<Uint8Array>({
    async start() {
      fh = await open(file, "w", 0o644);
    },
    async write(chunk) {
      let off = 0;
      while (off < chunk.length) off += (await fh!.write(chunk, off, chunk.length - off)).bytesWritten;
    },
    async close() {
      await fh!.close();
    },
    async abort() {
      await fh?.close();
    },
  });
}

/** Writes a zip with zip.js: deflated entries, Unix modes in the external attributes. */
export async function writeZip(out: string, members: ArchiveMember[], mtime: Date): Promise<void> {
  configureZip({ useWebWorkers: false });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    const zip = new ZipWriter(fileSink(tmp), { level: 6, versionMadeBy: (3 << 8) | 20 });
    for (const m of members) {
      const blob = await openAsBlob(m.source);
      await zip.add(m.name, new BlobReader(blob), { unixMode: 0o100000 | m.mode, lastModDate: mtime });
    }
    await zip.close();
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}

const enc = new TextEncoder();

/** A POSIX ustar header for a regular file owned by root (uid/gid 0). Names must fit 100 bytes. */
export function ustarHeader(name: string, mode: number, size: number, mtime: number): Uint8Array {
  const nameBytes = enc.encode(name);
  if (nameBytes.length > 100) throw new Error(`tar member name too long: ${name}`);
  if (size >= 8 ** 11) throw new Error(`tar member too large for ustar: ${name}`);
  const h = new Uint8Array(512);
  const octal = (off: number, width: number, v: number) => h.set(enc.encode(v.toString(8).padStart(width - 1, "0") + "\0"), off);
  h.set(nameBytes, 0);
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, mtime);
  h[156] = 0x30; // regular file
  h.set(enc.encode("ustar\0" + "00"), 257);
  h.set(enc.encode("root"), 265);
  h.set(enc.encode("root"), 297);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return h;
}

/** The ustar bytes of `members` as a stream (files read chunk by chunk). */
export function tarOf(members: ArchiveMember[], mtime: Date): ReadableStream<Uint8Array> {
  const secs = Math.floor(mtime.getTime() / 1000);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const m of members) {
      const size = statSync(m.source).size;
      yield ustarHeader(m.name, m.mode, size, secs);
      let n = 0;
      for await (const chunk of createReadStream(m.source, { highWaterMark: 1 << 20 })) {
        const b = chunk as Buffer;
        n += b.length;
        yield new Uint8Array(b.buffer, b.byteOffset, b.length);
      }
      if (n !== size) throw new Error(`${m.source} changed size while it was archived`);
      if (size % 512) yield new Uint8Array(512 - (size % 512));
    }
    yield new Uint8Array(1024);
  }
  return iterableStream(chunks());
}

/** Writes `members` as a gzip-compressed ustar archive. */
export async function writeTarGz(out: string, members: ArchiveMember[], mtime: Date): Promise<void> {
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await tarOf(members, mtime)
      .pipeThrough(new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>)
      .pipeTo(fileSink(tmp));
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** `sha256sum` lines (`<hex>  <name>`), sorted by name. */
export function sha256sums(archives: ReleaseFile[]): string {
  return archives
    .map((a) => ({ name: path.basename(a.file), sha: a.sha256 }))
    .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    .map((x) => `${x.sha}  ${x.name}\n`)
    .join("");
}

function entryTime(binary: string): Date {
  const sde = process.env.SOURCE_DATE_EPOCH;
  if (sde) return new Date(Number.parseInt(sde, 10) * 1000);
  return new Date(Math.floor(statSync(binary).mtimeMs / 1000) * 1000);
}

/**
 * Writes the archives, the install scripts and SHA256SUMS into `outDir` (default dist/release),
 * replacing what was there. Without `binaries`, takes every release target's binary from
 * `distDir` (default dist/) and checks its format first. Returns the archives, then the scripts.
 */
export async function writeRelease(opts: { binaries?: BuiltBinary[]; distDir?: string; outDir?: string } = {}): Promise<Array<ReleaseArchive | ReleaseFile>> {
  const distDir = opts.distDir ?? path.join(root, "dist");
  const outDir = opts.outDir ?? path.join(distDir, "release");
  const binaries =
    opts.binaries ??
    RELEASE_TARGETS.map((t) => {
      const file = path.join(distDir, t.name, t.binaryName);
      if (!existsSync(file)) throw new Error(`${file} is missing: run bun scripts/build.ts --all`);
      checkBinaryFormat(file, t.format);
      return { target: t, file, size: statSync(file).size };
    });
  for (const f of ["README.md", "LICENSE"]) if (!existsSync(path.join(root, f))) throw new Error(`${f} is missing at the repository root`);
  mkdirSync(outDir, { recursive: true });
  const ours = new Set<string>(["SHA256SUMS", ...INSTALL_SCRIPTS.map((x) => x.name)]);
  for (const f of readdirSync(outDir)) if (f.startsWith("kitops-") || ours.has(f)) rmSync(path.join(outDir, f), { force: true });

  const archives: ReleaseArchive[] = [];
  for (const b of binaries) {
    const members = archiveMembers(b.file);
    const mtime = entryTime(b.file);
    const kinds: ReleaseArchive["kind"][] = b.target.os === "linux" ? ["zip", "tar.gz"] : ["zip"];
    for (const kind of kinds) {
      const file = path.join(outDir, `kitops-${b.target.name}.${kind}`);
      if (kind === "zip") await writeZip(file, members, mtime);
      else await writeTarGz(file, members, mtime);
      archives.push({ file, target: b.target.name, kind, size: statSync(file).size, sha256: await sha256File(file) });
    }
  }
  const scripts: ReleaseFile[] = [];
  for (const { name, mode } of INSTALL_SCRIPTS) {
    const file = path.join(outDir, name);
    copyFileSync(path.join(root, "scripts", name), file);
    chmodSync(file, mode);
    scripts.push({ file, size: statSync(file).size, sha256: await sha256File(file) });
  }
  writeFileSync(path.join(outDir, "SHA256SUMS"), sha256sums([...archives, ...scripts]));
  return [...archives, ...scripts];
}

function treeSize(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? treeSize(p) : statSync(p).size;
  }
  return n;
}

const mib = (n: number) => (n / 2 ** 20).toFixed(1);

/** Median wall time in milliseconds of `runs` runs of `kit version` (after one warm-up run). */
export function startupMedianMs(binary: string, runs = 20): number {
  const home = mkdtempSync(path.join(os.tmpdir(), "kit-startup-"));
  try {
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KITOPS_HOME: home };
    const once = () => {
      const t0 = performance.now();
      const r = spawnSync(binary, ["version"], { env, cwd: home, stdio: "ignore" });
      if (r.status !== 0) throw new Error(`${binary} version exited with ${r.status}`);
      return performance.now() - t0;
    };
    once();
    const times = Array.from({ length: runs }, once).sort((a, b) => a - b);
    return (times[Math.floor((runs - 1) / 2)]! + times[Math.ceil((runs - 1) / 2)]!) / 2;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * The release artifacts as Markdown: per target the binary's size split into the Bun runtime it
 * was built on, the embedded llama.cpp files (node-llama-cpp's JavaScript and native files, as
 * compressed by scripts/build.ts under .tmp/nlc-stage/<bun target>/packed) and the rest (kit's
 * bundled JS as bytecode, kit's own assets); the
 * archive sizes; and, for the host's binary, the `kit version` start-up time.
 */
export function releaseReport(distDir = path.join(root, "dist")): string {
  const rows: string[] = [
    "| target | binary | Bun runtime | llama.cpp files | JS bytecode + rest | .zip | .tar.gz |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  let host: string | undefined;
  for (const t of RELEASE_TARGETS) {
    const bin = path.join(distDir, t.name, t.binaryName);
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run bun scripts/build.ts --all`);
    const size = statSync(bin).size;
    const runtime = statSync(targetRuntime(t) ?? process.execPath).size;
    const llama = treeSize(path.join(root, ".tmp", "nlc-stage", t.bunTarget, "packed", "nlc"));
    const archive = (kind: string) => {
      const f = path.join(distDir, "release", `kitops-${t.name}.${kind}`);
      return existsSync(f) ? `${mib(statSync(f).size)} MiB` : "—";
    };
    rows.push(`| ${t.name} | ${mib(size)} MiB | ${mib(runtime)} MiB | ${mib(llama)} MiB | ${mib(size - runtime - llama)} MiB | ${archive("zip")} | ${archive("tar.gz")} |`);
    if (t.name === `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`) host = bin;
  }
  if (host) rows.push("", `\`kit version\` start-up, ${path.relative(root, host)}: median of 20 runs ${startupMedianMs(host).toFixed(1)} ms.`);
  return rows.join("\n") + "\n";
}

if (import.meta.main) {
  if (process.argv.includes("--report")) {
    process.stdout.write(releaseReport());
  } else {
    for (const a of await writeRelease()) console.log(`wrote ${path.relative(root, a.file)} (${formatBytes(a.size)})`);
  }
}
