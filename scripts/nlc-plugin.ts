/**
 * node-llama-cpp inside the one `bun build --compile` binary.
 *
 * Two problems, two parts:
 * 1. **Native files.** The llama.cpp addon (`llama-addon.node`) must be loaded from a real file
 *    next to its shared libraries (RUNPATH `$ORIGIN`; ggml also dlopens the best
 *    `libggml-cpu-*.so` from that folder). {@link stageNodeLlamaCpp} copies the prebuilt
 *    binaries for the target, node-llama-cpp's package.json, the two JSON files it reads at
 *    start and its grammars into `<stage>/nlc/`; the build embeds that folder
 *    (`compile.assets`), and src/runtime/native-assets.ts extracts it at first use.
 * 2. **Paths.** node-llama-cpp finds its own folder through `import.meta.url`, which inside the
 *    binary points into the virtual `/$bunfs`. {@link nodeLlamaCppPlugin} patches the few modules
 *    that do so to use `globalThis.__KIT_NLC_ROOT` (set by the extraction) when it is set, maps
 *    every `@node-llama-cpp/<platform>` package to a module whose bins are in that folder, and
 *    skips the binding self-test (it forks a child running node-llama-cpp's own .js file, which a
 *    compiled binary does not have).
 *
 * Every patch is checked: a node-llama-cpp upgrade that changes the patched lines fails the
 * build instead of producing a binary that breaks at run time. The version is pinned in
 * package.json; update the patterns here together with it.
 * @module
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
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
