/**
 * Compiles src/main.ts into one standalone binary with `bun build --compile`.
 *
 *   bun scripts/build.ts            → dist/kit for this machine
 *
 * Version comes from package.json, the commit from git (or $KIT_BUILD_COMMIT), the build time
 * from $SOURCE_DATE_EPOCH when set (reproducible builds) or the clock.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { installedBinsDir, nodeLlamaCppPlugin, prebuiltFolderFor, stageNodeLlamaCpp } from "./nlc-plugin.ts";

const root = path.resolve(import.meta.dir, "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };

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
  const assets: string[] = [];
  if (bins.length) {
    const stageDir = path.join(root, ".tmp", "nlc-stage", target.bunTarget);
    assets.push(stageNodeLlamaCpp({ root, stageDir, binsDirs: bins }));
  }
  const result = await Bun.build({
    entrypoints: [path.join(root, "src/main.ts")],
    plugins: [nodeLlamaCppPlugin(root)],
    minify: true,
    bytecode: true,
    format: "esm",
    sourcemap: "none",
    define,
    compile: { target: target.bunTarget as never, outfile: target.outfile, assets },
  });
  if (!result.success) {
    for (const l of result.logs) console.error(l);
    throw new Error(`build failed for ${target.bunTarget}`);
  }
  // Bun reports success even when it could not fetch a target runtime: check the file.
  const out = target.bunTarget.includes("windows") && !target.outfile.endsWith(".exe") ? target.outfile + ".exe" : target.outfile;
  if (!existsSync(out)) throw new Error(`build for ${target.bunTarget} produced no ${out}`);
  const llama = bins.length ? `llama.cpp ${bins.map((b) => path.basename(b)).join(", ")}` : "no llama.cpp runtime";
  console.log(`built ${path.relative(root, out)} (${target.bunTarget}, ${llama}, ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
}

if (import.meta.main) {
  const hostTarget = `bun-${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  await buildBinary({ bunTarget: hostTarget, outfile: path.join(root, "dist", process.platform === "win32" ? "kit.exe" : "kit") });
}
