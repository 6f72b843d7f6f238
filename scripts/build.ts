/**
 * Compiles src/main.ts into one standalone binary with `bun build --compile`.
 *
 *   bun scripts/build.ts                    → dist/kit for this machine
 *   bun scripts/build.ts --all              → dist/<os>-<arch>/kit[.exe] for every release target,
 *                                             then the archives in dist/release (scripts/release.ts)
 *   bun scripts/build.ts --target <os-arch> → one release target (no archives)
 *
 * Version comes from package.json, the commit from git (or $KIT_BUILD_COMMIT), the build time
 * from $SOURCE_DATE_EPOCH when set (reproducible builds) or the clock.
 *
 * Cross builds work offline once `npm ci` has run: each target's Bun runtime comes from its
 * `@oven/bun-<os>-<arch>` package and its llama.cpp files from `@node-llama-cpp/<platform>`, all
 * listed in package.json's devDependencies at the pinned versions. npm refuses packages for
 * another os/cpu unless forced, so the project's .npmrc sets `force=true` (npm ignores that flag
 * for optional dependencies, so only the listed packages come in). Bun reports success even when
 * it could not produce a binary (a runtime it failed to download), so every output is checked by
 * its magic bytes.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { formatBytes } from "../src/util/log.ts";
import { bundleNodeLlamaCpp, installedBinsDir, packNodeLlamaCpp, prebuiltFolderFor, stageNodeLlamaCpp } from "./nlc-plugin.ts";

const root = path.resolve(import.meta.dir, "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  version: string;
  devDependencies: Record<string, string>;
};

function gitCommit(): string {
  if (process.env.KIT_BUILD_COMMIT) return process.env.KIT_BUILD_COMMIT;
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

function buildTime(): string {
  const sde = process.env.SOURCE_DATE_EPOCH;
  const d = sde ? new Date(Number.parseInt(sde, 10) * 1000) : new Date();
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export interface BuildTarget {
  /** Bun's compile target, e.g. `bun-linux-x64`. */
  bunTarget: string;
  outfile: string;
  /**
   * Folders of node-llama-cpp prebuilt binaries to embed for `kit dev` (scripts/nlc-plugin.ts).
   * Default: the installed `@node-llama-cpp/<platform>` package when it matches the target (so
   * the host build carries them); a cross build without them still compiles, and its `kit dev`
   * says that the binary has no llama.cpp runtime.
   */
  llamaBins?: string[];
  /** The Bun runtime to build on (`compile.executablePath`); default: Bun's own for the host, a download otherwise. */
  executablePath?: string;
  /** The executable format the output must have; checked after the build. */
  format?: BinaryFormat;
}

function llamaBinsFor(target: BuildTarget): string[] {
  if (target.llamaBins) return target.llamaBins;
  const folder = prebuiltFolderFor(target.bunTarget);
  const dir = folder ? installedBinsDir(root, folder) : undefined;
  return dir ? [dir] : [];
}

export async function buildBinary(target: BuildTarget): Promise<void> {
  mkdirSync(path.dirname(target.outfile), { recursive: true });
  const define = {
    KIT_BUILD_VERSION: JSON.stringify(pkg.version),
    KIT_BUILD_COMMIT: JSON.stringify(gitCommit()),
    KIT_BUILD_TIME: JSON.stringify(buildTime()),
  };
  const bins = llamaBinsFor(target);
  // never let an earlier build's file pass the checks below
  rmSync(target.bunTarget.includes("windows") && !target.outfile.endsWith(".exe") ? target.outfile + ".exe" : target.outfile, { force: true });
  const assets: string[] = [];
  if (bins.length) {
    // node-llama-cpp (its JavaScript and the target's llama.cpp files) goes in compressed, once
    // (scripts/nlc-plugin.ts); kit's own bundle leaves it out.
    const stageDir = path.join(root, ".tmp", "nlc-stage", target.bunTarget);
    const staged = stageNodeLlamaCpp({ root, stageDir, binsDirs: bins });
    await bundleNodeLlamaCpp(root, staged);
    // The compressed stream is cached by content under node_modules/.cache (which clones made with
    // the installed packages, like the release test's, share), as compressing takes seconds.
    assets.push(packNodeLlamaCpp(staged, path.join(stageDir, "packed"), path.join(root, "node_modules", ".cache", "kit-nlc")));
  }
  const result = await Bun.build({
    entrypoints: [path.join(root, "src/main.ts")],
    // Only `kit dev` imports node-llama-cpp, from the embedded bundle once extracted; when kit
    // runs from source it comes from node_modules.
    external: ["node-llama-cpp"],
    minify: true,
    bytecode: true,
    format: "esm",
    // Each dynamically imported module (a command, the dev server, the registry client) is a
    // chunk of its own, loaded only when used: start-up reads only what `kit version` needs.
    splitting: true,
    sourcemap: "none",
    define,
    compile: {
      target: target.bunTarget as never,
      outfile: target.outfile,
      assets,
      ...(target.executablePath ? { executablePath: target.executablePath } : {}),
      // kit reads its own configuration only: no .env or bunfig.toml from the working directory
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) {
    for (const l of result.logs) console.error(l);
    throw new Error(`build failed for ${target.bunTarget}`);
  }
  // Bun reports success even when it could not fetch a target runtime: check the file.
  const out = target.bunTarget.includes("windows") && !target.outfile.endsWith(".exe") ? target.outfile + ".exe" : target.outfile;
  if (!existsSync(out)) throw new Error(`build for ${target.bunTarget} produced no ${out}`);
  if (target.format) checkBinaryFormat(out, target.format);
  const llama = bins.length ? `llama.cpp ${bins.map((b) => path.basename(b)).join(", ")}` : "no llama.cpp runtime";
  console.log(`built ${path.relative(root, out)} (${target.bunTarget}, ${llama}, ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
}

/** Executable formats of the release targets. */
export type BinaryFormat = "elf-x86-64" | "elf-aarch64" | "macho-arm64" | "pe32+-x86-64";

/** One release platform. */
export interface ReleaseTarget {
  /** `<os>-<arch>`: the dist/ folder and the archive name (`kitops-<name>`). */
  name: string;
  os: "linux" | "darwin" | "windows";
  arch: "x64" | "arm64";
  bunTarget: string;
  /** The npm package holding this target's Bun runtime (`bin/bun` or `bin/bun.exe`). */
  runtimePackage: string;
  /** node-llama-cpp's prebuilt package for the target (its folder name is the package's). */
  llamaFolder: string;
  binaryName: "kit" | "kit.exe";
  format: BinaryFormat;
}

export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { name: "linux-x64", os: "linux", arch: "x64", bunTarget: "bun-linux-x64", runtimePackage: "@oven/bun-linux-x64", llamaFolder: "linux-x64", binaryName: "kit", format: "elf-x86-64" },
  { name: "linux-arm64", os: "linux", arch: "arm64", bunTarget: "bun-linux-arm64", runtimePackage: "@oven/bun-linux-aarch64", llamaFolder: "linux-arm64", binaryName: "kit", format: "elf-aarch64" },
  { name: "darwin-arm64", os: "darwin", arch: "arm64", bunTarget: "bun-darwin-arm64", runtimePackage: "@oven/bun-darwin-aarch64", llamaFolder: "mac-arm64-metal", binaryName: "kit", format: "macho-arm64" },
  { name: "windows-x64", os: "windows", arch: "x64", bunTarget: "bun-windows-x64", runtimePackage: "@oven/bun-windows-x64", llamaFolder: "win-x64", binaryName: "kit.exe", format: "pe32+-x86-64" },
];

/** Reads the executable format from a file's first bytes (at least 64, plus the PE header when `MZ`). */
export function detectBinaryFormat(read: (offset: number, length: number) => Uint8Array): BinaryFormat | undefined {
  const h = read(0, 64);
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  if (h.length >= 20 && h[0] === 0x7f && h[1] === 0x45 && h[2] === 0x4c && h[3] === 0x46) {
    // ELFCLASS64, little-endian, e_machine
    if (h[4] !== 2 || h[5] !== 1) return undefined;
    const machine = dv.getUint16(18, true);
    return machine === 0x3e ? "elf-x86-64" : machine === 0xb7 ? "elf-aarch64" : undefined;
  }
  if (h.length >= 8 && dv.getUint32(0, true) === 0xfeedfacf) {
    // MH_MAGIC_64, cputype CPU_TYPE_ARM64
    return dv.getUint32(4, true) === 0x0100000c ? "macho-arm64" : undefined;
  }
  if (h.length >= 64 && h[0] === 0x4d && h[1] === 0x5a) {
    const pe = dv.getUint32(0x3c, true);
    const p = read(pe, 26);
    if (p.length < 26 || p[0] !== 0x50 || p[1] !== 0x45 || p[2] !== 0 || p[3] !== 0) return undefined;
    const pv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    // IMAGE_FILE_MACHINE_AMD64, optional header magic PE32+
    return pv.getUint16(4, true) === 0x8664 && pv.getUint16(24, true) === 0x20b ? "pe32+-x86-64" : undefined;
  }
  return undefined;
}

/** {@link detectBinaryFormat} on a file. */
export function binaryFormatOf(file: string): BinaryFormat | undefined {
  const fd = openSync(file, "r");
  try {
    return detectBinaryFormat((offset, length) => {
      const buf = new Uint8Array(length);
      const n = readSync(fd, buf, 0, length, offset);
      return buf.subarray(0, n);
    });
  } finally {
    closeSync(fd);
  }
}

/** Throws unless `file` is an executable of the expected format. */
export function checkBinaryFormat(file: string, expected: BinaryFormat): void {
  const got = binaryFormatOf(file);
  if (got !== expected) throw new Error(`Wrong executable format for ${file}: found ${got ?? "none known"}, expected ${expected}`);
}

function hostBunTarget(): string {
  return `bun-${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
}

/**
 * The Bun runtime to compile a release target with: the binary of its `@oven/bun-*` package, or
 * undefined for the host's own target when Bun's npm install moved that binary away (Bun then
 * uses itself, which is the same version). Throws when the package is missing or has another
 * version than the Bun running the build (bytecode is tied to the exact version).
 */
export function targetRuntime(t: ReleaseTarget, dir = root): string | undefined {
  const pkgDir = path.join(dir, "node_modules", ...t.runtimePackage.split("/"));
  const bin = path.join(pkgDir, "bin", t.os === "windows" ? "bun.exe" : "bun");
  const pkgJson = path.join(pkgDir, "package.json");
  if (existsSync(pkgJson)) {
    const v = (JSON.parse(readFileSync(pkgJson, "utf8")) as { version: string }).version;
    if (v !== Bun.version) throw new Error(`${t.runtimePackage} is version ${v} but this is Bun ${Bun.version}: run npm ci, and build with node_modules/.bin/bun`);
  }
  if (existsSync(bin)) return bin;
  if (t.bunTarget === hostBunTarget()) return undefined;
  throw new Error(`${t.runtimePackage} is not installed, so ${t.name} cannot be built offline: run npm ci (the project .npmrc makes npm install other platforms' packages)`);
}

/** The node-llama-cpp prebuilt folder for a release target; throws when its package is missing. */
export function targetLlamaBins(t: ReleaseTarget, dir = root): string {
  const bins = installedBinsDir(dir, t.llamaFolder);
  if (!bins) throw new Error(`@node-llama-cpp/${t.llamaFolder} is not installed, so ${t.name} would have no llama.cpp runtime: run npm ci`);
  return bins;
}

export interface BuiltBinary {
  target: ReleaseTarget;
  /** Absolute path of the binary. */
  file: string;
  size: number;
}

/** Builds the given release targets (default: all) into `<outDir>/<os>-<arch>/kit[.exe]`, one after the other. */
export async function buildRelease(opts: { outDir?: string; targets?: readonly ReleaseTarget[] } = {}): Promise<BuiltBinary[]> {
  const pinned = pkg.devDependencies.bun;
  if (pinned && Bun.version !== pinned) {
    throw new Error(`Release builds need Bun ${pinned} (package.json), this is Bun ${Bun.version}: run node_modules/.bin/bun scripts/build.ts --all`);
  }
  const outDir = opts.outDir ?? path.join(root, "dist");
  const out: BuiltBinary[] = [];
  for (const t of opts.targets ?? RELEASE_TARGETS) {
    const file = path.join(outDir, t.name, t.binaryName);
    await buildBinary({
      bunTarget: t.bunTarget,
      outfile: file,
      llamaBins: [targetLlamaBins(t)],
      executablePath: targetRuntime(t),
      format: t.format,
    });
    out.push({ target: t, file, size: statSync(file).size });
  }
  return out;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const targetIdx = args.indexOf("--target");
  if (args.includes("--all")) {
    const built = await buildRelease();
    const { writeRelease } = await import("./release.ts");
    const archives = await writeRelease({ binaries: built });
    for (const a of archives) console.log(`wrote ${path.relative(root, a.file)} (${formatBytes(a.size)})`);
  } else if (targetIdx >= 0) {
    const name = args[targetIdx + 1];
    const t = RELEASE_TARGETS.find((x) => x.name === name);
    if (!t) throw new Error(`Unknown target ${name ?? "(none)"}: use one of ${RELEASE_TARGETS.map((x) => x.name).join(", ")}`);
    await buildRelease({ targets: [t] });
  } else if (args.length > 0) {
    throw new Error(`Unknown arguments ${args.join(" ")}: use --all, --target <os-arch> or nothing (host build)`);
  } else {
    await buildBinary({ bunTarget: hostBunTarget(), outfile: path.join(root, "dist", process.platform === "win32" ? "kit.exe" : "kit") });
  }
}
