/**
 * node-llama-cpp's native files inside the compiled binary (Bun-specific, like runtime.ts; kept
 * apart so runtime.ts stays small).
 *
 * `scripts/nlc-plugin.ts` embeds, as assets named `nlc/...`, the prebuilt llama.cpp addon and
 * its shared libraries (`nlc/bins/<platform folder>/*`), the two JSON files node-llama-cpp reads
 * at start (`nlc/llama/*.json`), its grammars and its `package.json`; and it patches
 * node-llama-cpp to find its package directory at `globalThis.__KIT_NLC_ROOT`. A `.node` addon
 * must be loaded from a real file, next to the libraries it links against, so before the first
 * `import("node-llama-cpp")` {@link prepareEmbeddedLlama} copies them to a cache directory and
 * sets that global.
 *
 * Extraction is safe when several kit processes start at once: every file is written under a
 * temporary name and renamed into place, a file already there with the right size is kept, and
 * the directory name carries a fingerprint of the embedded set, so two builds never mix files.
 * @module
 */
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { embeddedFiles, isStandalone, sha256 } from "./runtime.ts";

/** Name prefix of node-llama-cpp's files among the embedded assets. */
export const NLC_ASSET_PREFIX = "nlc/";
/** The global the patched node-llama-cpp modules read (see scripts/nlc-plugin.ts). */
export const NLC_ROOT_GLOBAL = "__KIT_NLC_ROOT";

export interface EmbeddedLlama {
  /** Where the files now are: node-llama-cpp's package directory as it sees it. */
  root: string;
  /** node-llama-cpp's version, from the embedded package.json. */
  version: string;
  /** Prebuilt binary folders embedded, e.g. `["linux-x64"]` or `["mac-arm64-metal"]`. */
  binaryFolders: string[];
  /** Files written by this call (0 when everything was already in place). */
  written: number;
}

type Asset = Blob & { name: string };

function llamaAssets(): Asset[] {
  return embeddedFiles().filter((b) => b.name.startsWith(NLC_ASSET_PREFIX));
}

/** True when this process is a compiled binary: node-llama-cpp then needs {@link prepareEmbeddedLlama}. */
export function needsEmbeddedLlama(): boolean {
  return isStandalone;
}

/**
 * Extracts the embedded node-llama-cpp files into `<cacheDir>/<version>-<platform>-<arch>-<fp>/`
 * and points node-llama-cpp at them. Returns undefined when running from source (the files are
 * in node_modules) or when the binary carries no llama.cpp runtime (a cross build without
 * prebuilt binaries for its target).
 */
export async function prepareEmbeddedLlama(cacheDir: string): Promise<EmbeddedLlama | undefined> {
  if (!isStandalone) return undefined;
  const assets = llamaAssets();
  const pkg = assets.find((a) => a.name === `${NLC_ASSET_PREFIX}package.json`);
  if (!pkg) return undefined;
  const version = (JSON.parse(await pkg.text()) as { version: string }).version;
  // fingerprint of the embedded set: names and sizes
  const h = sha256();
  for (const a of assets) h.update(new TextEncoder().encode(`${a.name}\0${a.size}\n`));
  const root = path.join(cacheDir, `${version}-${process.platform}-${process.arch}-${h.hex().slice(0, 12)}`);

  let written = 0;
  const folders = new Set<string>();
  for (const a of assets) {
    const rel = a.name.slice(NLC_ASSET_PREFIX.length);
    const parts = rel.split("/");
    if (parts.includes("..") || parts.includes("") || path.isAbsolute(rel)) throw new Error(`Refusing embedded asset name ${a.name}`);
    if (parts[0] === "bins" && parts.length > 2) folders.add(parts[1]!);
    const dest = path.join(root, ...parts);
    const st = await stat(dest).catch(() => undefined);
    if (st?.isFile() && st.size === a.size) continue;
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      const fh = await open(tmp, "wx", 0o755);
      try {
        for await (const chunk of a.stream()) {
          let off = 0;
          while (off < chunk.byteLength) off += (await fh.write(chunk, off)).bytesWritten;
        }
      } finally {
        await fh.close();
      }
      // Atomic: a concurrent start sees either no file or a whole one. On Linux and macOS a
      // library that another process has mapped keeps its old inode.
      await rename(tmp, dest);
      written++;
    } catch (e) {
      await rm(tmp, { force: true });
      // Windows refuses to replace a DLL in use: another kit got there first with the same file.
      const again = await stat(dest).catch(() => undefined);
      if (!(again?.isFile() && again.size === a.size)) throw e;
    }
  }
  (globalThis as Record<string, unknown>)[NLC_ROOT_GLOBAL] = root;
  return { root, version, binaryFolders: [...folders].sort(), written };
}
