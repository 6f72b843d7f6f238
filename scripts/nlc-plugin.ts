/**
 * node-llama-cpp inside the one `bun build --compile` binary, compressed.
 *
 * Three parts:
 * 1. **Native files.** The llama.cpp addon (`llama-addon.node`) must be loaded from a real file
 *    next to its shared libraries (RUNPATH `$ORIGIN`; ggml also dlopens the best
 *    `libggml-cpu-*.so` from that folder). {@link stageNodeLlamaCpp} copies the prebuilt
 *    binaries for the target, node-llama-cpp's package.json, the two JSON files it reads at
 *    start and its grammars into `<stage>/nlc/`.
 * 2. **Its JavaScript.** node-llama-cpp and its dependencies are bundled on their own
 *    ({@link bundleNodeLlamaCpp}) into `<stage>/nlc/dist/kit-nlc.js`, next to the native files,
 *    not into kit's bundle: only `kit dev` needs them, and as plain JavaScript they compress
 *    where kit's bytecode would not.
 * 3. **Compression.** {@link packNodeLlamaCpp} joins the staged files into one zstd stream (level
 *    19 with long-distance matching: the fifteen `libggml-cpu-*` variants share most of their
 *    bytes) plus an index of names, sizes, modes and SHA-256 digests. The build embeds those two
 *    files (`compile.assets`); src/runtime/native-assets.ts decompresses them once, on the first
 *    `kit dev`, checking every file's digest, and imports the bundle from there.
 *
 * **Paths.** node-llama-cpp finds its own folder through `import.meta.url`.
 * {@link nodeLlamaCppPlugin} patches the few modules that do so to use `globalThis.__KIT_NLC_ROOT`
 * (set by the extraction) when it is set, maps every `@node-llama-cpp/<platform>` package to a
 * module whose bins are in that folder, and skips the binding self-test (it forks a child running
 * node-llama-cpp's own .js file, which a compiled binary does not have).
 *
 * Every patch is checked: a node-llama-cpp upgrade that changes the patched lines fails the
 * build instead of producing a binary that breaks at run time. The version is pinned in
 * package.json; update the patterns here together with it.
 * @module
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type { BunPlugin } from "bun";

/** Must match NLC_ROOT_GLOBAL in src/runtime/native-assets.ts. */
const ROOT_EXPR = `globalThis.__KIT_NLC_ROOT`;

/** node-llama-cpp's prebuilt package (and bins folder) name for a Bun compile target, if it has one. */
export function prebuiltFolderFor(bunTarget: string): string | undefined {
  const t = bunTarget.replace(/^bun-/, "").replace(/-(baseline|modern|musl)/g, "");
  const table: Record<string, string> = {
    "linux-x64": "linux-x64",
    "linux-arm64": "linux-arm64",
    "darwin-arm64": "mac-arm64-metal",
    "darwin-x64": "mac-x64",
    "windows-x64": "win-x64",
    "windows-arm64": "win-arm64",
  };
  return table[t];
}

export interface NlcStageOptions {
  /** The repository root (node_modules lives there). */
  root: string;
  /** An empty scratch directory; `<stageDir>/nlc` is created and is the asset to embed. */
  stageDir: string;
  /** Folders holding prebuilt binaries, each a `bins/<folder>` of a `@node-llama-cpp/*` package. */
  binsDirs: string[];
}

/** Lays out `<stageDir>/nlc/` as node-llama-cpp's package folder, for embedding. Returns its path. */
export function stageNodeLlamaCpp(o: NlcStageOptions): string {
  const pkgDir = path.join(o.root, "node_modules", "node-llama-cpp");
  const out = path.join(o.stageDir, "nlc");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.join(out, "llama"), { recursive: true });
  cpSync(path.join(pkgDir, "package.json"), path.join(out, "package.json"));
  for (const f of ["binariesGithubRelease.json", "llama.cpp.info.json"]) cpSync(path.join(pkgDir, "llama", f), path.join(out, "llama", f));
  // grammars for response_format json_object (getGrammarFor("json")); a few KiB
  cpSync(path.join(pkgDir, "llama", "grammars"), path.join(out, "llama", "grammars"), {
    recursive: true,
    filter: (src) => !src.endsWith(".md"),
  });
  for (const dir of o.binsDirs) {
    if (!existsSync(path.join(dir, "llama-addon.node"))) throw new Error(`${dir} holds no llama-addon.node: not a node-llama-cpp prebuilt folder`);
    // static import libraries are only needed to link against the addon, not to run it
    cpSync(dir, path.join(out, "bins", path.basename(dir)), { recursive: true, filter: (src) => !src.endsWith(".lib") });
  }
  return out;
}

/** Where the bundled JavaScript goes inside the staged folder (see src/runtime/native-assets.ts). */
export const NLC_BUNDLE = "dist/kit-nlc.js";

/**
 * Bundles node-llama-cpp and its dependencies into `<stage>/nlc/dist/kit-nlc.js` (minified ESM
 * for Bun). `@reflink/reflink` (a native module of a downloader kit never runs) stays out.
 */
export async function bundleNodeLlamaCpp(root: string, stage: string): Promise<string> {
  const out = path.join(stage, NLC_BUNDLE);
  const r = await Bun.build({
    entrypoints: [path.join(root, "node_modules", "node-llama-cpp", "dist", "index.js")],
    plugins: [nodeLlamaCppPlugin(root)],
    minify: true,
    format: "esm",
    target: "bun",
    external: ["@reflink/reflink"],
    outdir: path.dirname(out),
    naming: path.basename(out),
  });
  if (!r.success) {
    for (const l of r.logs) console.error(l);
    throw new Error("bundling node-llama-cpp failed");
  }
  const extra = r.outputs.filter((o) => path.resolve(o.path) !== out);
  if (extra.length) throw new Error(`bundling node-llama-cpp produced more than one file: ${extra.map((o) => o.path).join(", ")}`);
  return out;
}

/** One file of the compressed set, in the order of the stream. */
export interface PackedFile {
  /** Asset-style name: `nlc/` and the path in node-llama-cpp's folder. */
  name: string;
  size: number;
  mode: number;
  sha256: string;
}

/** `nlc/index.json`: what `nlc/files.zst` holds. */
export interface PackedIndex {
  version: string;
  /** SHA-256 over the file list (names, sizes, modes, digests): names the extraction directory. */
  digest: string;
  files: PackedFile[];
}

function filesUnder(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? filesUnder(dir, path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)]));
}

/**
 * Packs the staged `<stage>/nlc` folder into `<out>/nlc/index.json` and `<out>/nlc/files.zst`
 * (the folder to embed, returned). The compressed stream is cached under `cacheDir` by the
 * index digest: compressing takes some seconds and the files change only with node-llama-cpp.
 */
export function packNodeLlamaCpp(stage: string, out: string, cacheDir: string): string {
  const version = (JSON.parse(readFileSync(path.join(stage, "package.json"), "utf8")) as { version: string }).version;
  const names = filesUnder(stage);
  const files: PackedFile[] = names.map((rel) => {
    const abs = path.join(stage, rel);
    return { name: `nlc/${rel}`, size: statSync(abs).size, mode: statSync(abs).mode & 0o777, sha256: createHash("sha256").update(readFileSync(abs)).digest("hex") };
  });
  const digest = createHash("sha256").update(JSON.stringify(files)).digest("hex");
  const index: PackedIndex = { version, digest, files };
  const dest = path.join(out, "nlc");
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  writeFileSync(path.join(dest, "index.json"), JSON.stringify(index));
  const cached = path.join(cacheDir, `${digest}.zst`);
  if (!existsSync(cached)) {
    mkdirSync(cacheDir, { recursive: true });
    const C = zlib.constants as unknown as Record<string, number>;
    const data = zlib.zstdCompressSync(Buffer.concat(names.map((rel) => readFileSync(path.join(stage, rel)))), {
      params: { [C.ZSTD_c_compressionLevel!]: 19, [C.ZSTD_c_windowLog!]: 27, [C.ZSTD_c_enableLongDistanceMatching!]: 1 },
    });
    writeFileSync(`${cached}.tmp`, data);
    renameSync(`${cached}.tmp`, cached);
  }
  cpSync(cached, path.join(dest, "files.zst"));
  return dest;
}

/** The host's prebuilt folder from node_modules, e.g. `node_modules/@node-llama-cpp/linux-x64/bins/linux-x64`. */
export function installedBinsDir(root: string, folder: string): string | undefined {
  const dir = path.join(root, "node_modules", "@node-llama-cpp", folder, "bins", folder);
  return existsSync(path.join(dir, "llama-addon.node")) ? dir : undefined;
}

/** The pinned node-llama-cpp version (the shim reports it so node-llama-cpp accepts the bins). */
export function nodeLlamaCppVersion(root: string): string {
  return (JSON.parse(readFileSync(path.join(root, "node_modules", "node-llama-cpp", "package.json"), "utf8")) as { version: string }).version;
}

function patch(file: string, src: string, from: RegExp, to: string): string {
  const out = src.replace(from, to);
  if (out === src) throw new Error(`nlc-plugin: the patch for ${file} no longer applies (node-llama-cpp changed?)`);
  return out;
}

/** The Bun.build plugin (see the module comment). */
export function nodeLlamaCppPlugin(root: string): BunPlugin {
  const version = nodeLlamaCppVersion(root);
  const distDir = path.join(root, "node_modules", "node-llama-cpp", "dist");
  return {
    name: "kit-node-llama-cpp",
    setup(b) {
      // every @node-llama-cpp/<platform> package → bins in the extracted folder (missing folders are skipped by node-llama-cpp)
      b.onResolve({ filter: /^@node-llama-cpp\// }, (a) => ({ path: a.path, namespace: "kit-nlc-bins" }));
      b.onLoad({ filter: /.*/, namespace: "kit-nlc-bins" }, () => ({
        loader: "js",
        contents:
          `import path from "node:path";\n` +
          `export function getBinsDir() { const r = ${ROOT_EXPR}; return r == null ? undefined : { binsDir: path.join(r, "bins"), packageVersion: ${JSON.stringify(version)} }; }\n`,
      }));
      b.onLoad({ filter: /node-llama-cpp[\\/]dist[\\/](config|utils[\\/]getModuleVersion)\.js$/ }, async (a) => {
        const sub = path.relative(distDir, path.dirname(a.path)).split(path.sep).join("/"); // "" or "utils"
        const src = readFileSync(a.path, "utf8");
        return {
          loader: "js",
          contents: patch(a.path, src, /const __dirname = path\.dirname\(fileURLToPath\(import\.meta\.url\)\);/,
            `const __dirname = ${ROOT_EXPR} != null ? path.join(${ROOT_EXPR}, "dist", ${JSON.stringify(sub)}) : path.dirname(fileURLToPath(import.meta.url));`),
        };
      });
      b.onLoad({ filter: /node-llama-cpp[\\/]dist[\\/]bindings[\\/]utils[\\/]testBindingBinary\.js$/ }, async (a) => {
        const src = readFileSync(a.path, "utf8");
        return {
          loader: "js",
          contents: patch(a.path, src, /(export async function testBindingBinary\([^)]*\) \{)/, `$1 if (${ROOT_EXPR} != null) return true;`),
        };
      });
    },
  };
}

/** Lists what a staged folder holds (for the build log). */
export function stagedBinaryFolders(stage: string): string[] {
  const bins = path.join(stage, "bins");
  return existsSync(bins) ? readdirSync(bins).sort() : [];
}
