/**
 * node-llama-cpp inside the compiled binary (Bun-specific, like runtime.ts; kept apart so
 * runtime.ts stays small).
 *
 * `scripts/nlc-plugin.ts` embeds two assets: `nlc/files.zst`, one zstd stream of node-llama-cpp's
 * files (its bundled JavaScript `dist/kit-nlc.js`, the prebuilt llama.cpp addon and shared
 * libraries under `bins/<platform folder>/`, the JSON files it reads at start, its grammars and
 * its `package.json`), and `nlc/index.json`, their names, sizes, modes and SHA-256 digests in
 * stream order. A `.node` addon must be loaded from a real file, next to the libraries it links
 * against, so before the first use {@link prepareEmbeddedLlama} decompresses the files into a
 * cache directory (once: a marker file records a complete extraction), checks each against its
 * digest, and sets the global the patched node-llama-cpp reads; {@link importEmbeddedLlama} then
 * imports the bundle from there.
 *
 * Extraction is safe when several kit processes start at once: every file is written under a
 * temporary name and renamed into place, and the directory name carries the digest of the
 * embedded set, so two builds never mix files.
 * @module
 */
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { zstdDecompressStream } from "../util/compress.ts";
import { embeddedFiles, isStandalone, sha256, type Sha256 } from "./runtime.ts";

/** Name prefix of node-llama-cpp's files (in the index) and of its two assets. */
export const NLC_ASSET_PREFIX = "nlc/";
/** The global the patched node-llama-cpp modules read (see scripts/nlc-plugin.ts). */
export const NLC_ROOT_GLOBAL = "__KIT_NLC_ROOT";
/** The bundled node-llama-cpp, relative to its extracted folder (scripts/nlc-plugin.ts NLC_BUNDLE). */
const NLC_BUNDLE = "dist/kit-nlc.js";
/** Written last into a completely extracted folder, holding the set's digest. */
const COMPLETE_MARKER = ".kit-complete";

export interface EmbeddedLlama {
  /** Where the files now are: node-llama-cpp's package directory as it sees it. */
  root: string;
  /** node-llama-cpp's version, from the index. */
  version: string;
  /** Prebuilt binary folders embedded, e.g. `["linux-x64"]` or `["mac-arm64-metal"]`. */
  binaryFolders: string[];
  /** Files written by this call (0 when an earlier run extracted them). */
  written: number;
}

interface IndexFile {
  name: string;
  size: number;
  mode: number;
  sha256: string;
}

/** An embedded file: a Blob with its asset name. */
export type Asset = Blob & { name: string };

/** True when this process is a compiled binary: node-llama-cpp then needs {@link prepareEmbeddedLlama}. */
export function needsEmbeddedLlama(): boolean {
  return isStandalone;
}

function relName(name: string): string[] {
  const rel = name.startsWith(NLC_ASSET_PREFIX) ? name.slice(NLC_ASSET_PREFIX.length) : "";
  const parts = rel.split("/");
  if (rel === "" || parts.includes("..") || parts.includes(".") || parts.includes("") || path.isAbsolute(rel)) {
    throw new Error(`Refusing embedded file name ${name}`);
  }
  return parts;
}

/**
 * Decompresses the embedded node-llama-cpp files into `<cacheDir>/<version>-<platform>-<arch>-<digest>/`
 * (unless an earlier run did) and points node-llama-cpp at them. Returns undefined when running
 * from source (the files are in node_modules) or when the binary carries no llama.cpp runtime (a
 * cross build without prebuilt binaries for its target). `assets` stands in for the binary's
 * embedded files (tests).
 */
export async function prepareEmbeddedLlama(cacheDir: string, assets?: Asset[]): Promise<EmbeddedLlama | undefined> {
  const all = assets ?? (isStandalone ? (embeddedFiles() as Asset[]) : undefined);
  if (!all) return undefined;
  const indexAsset = all.find((a) => a.name === `${NLC_ASSET_PREFIX}index.json`);
  const data = all.find((a) => a.name === `${NLC_ASSET_PREFIX}files.zst`);
  if (!indexAsset || !data) return undefined;
  const index = JSON.parse(await indexAsset.text()) as { version: string; digest: string; files: IndexFile[] };
  const root = path.join(cacheDir, `${index.version}-${process.platform}-${process.arch}-${index.digest.slice(0, 16)}`);
  const folders = [...new Set(index.files.map((f) => relName(f.name)).filter((p) => p[0] === "bins" && p.length > 2).map((p) => p[1]!))].sort();
  const marker = path.join(root, COMPLETE_MARKER);
  let written = 0;
  if ((await readFile(marker, "utf8").catch(() => "")) !== index.digest) {
    written = await extract(data, index.files, root);
    await writeAtomically(marker, new TextEncoder().encode(index.digest), 0o644);
  }
  (globalThis as Record<string, unknown>)[NLC_ROOT_GLOBAL] = root;
  return { root, version: index.version, binaryFolders: folders, written };
}

/** Imports node-llama-cpp from the folder {@link prepareEmbeddedLlama} made. */
export function importEmbeddedLlama<T>(prepared: EmbeddedLlama): Promise<T> {
  return import(pathToFileURL(path.join(prepared.root, ...NLC_BUNDLE.split("/"))).href) as Promise<T>;
}

/** Splits the decompressed stream into the index's files, checking each digest; returns the count. */
async function extract(data: Asset, files: IndexFile[], root: string): Promise<number> {
  const stream = data.stream().pipeThrough(zstdDecompressStream());
  const reader = stream.getReader();
  let pending: Uint8Array = new Uint8Array(0);
  let written = 0;
  try {
    for (const f of files) {
      const dest = path.join(root, ...relName(f.name));
      await mkdir(path.dirname(dest), { recursive: true });
      const tmp = `${dest}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      const h: Sha256 = sha256();
      const fh = await open(tmp, "wx", (f.mode & 0o777) | 0o644);
      try {
        try {
          let left = f.size;
          while (left > 0) {
            if (pending.length === 0) {
              const r = await reader.read();
              if (r.done) throw new Error(`The embedded llama.cpp files end before ${f.name}`);
              pending = r.value;
            }
            const piece = pending.subarray(0, Math.min(left, pending.length));
            pending = pending.subarray(piece.length);
            h.update(piece);
            let off = 0;
            while (off < piece.length) off += (await fh.write(piece, off)).bytesWritten;
            left -= piece.length;
          }
        } finally {
          await fh.close();
        }
        const got = h.hex();
        if (got !== f.sha256) throw new Error(`Embedded file ${f.name} does not match its digest: got sha256:${got}, expected sha256:${f.sha256}`);
        await replace(tmp, dest, f.size);
        written++;
      } finally {
        await rm(tmp, { force: true });
      }
    }
    if (pending.length > 0 || !(await reader.read()).done) throw new Error("The embedded llama.cpp files are longer than their index says");
  } finally {
    await reader.cancel().catch(() => {});
  }
  return written;
}

/**
 * Renames `tmp` over `dest`: atomic, so a concurrent start sees either no file or a whole one. On
 * Linux and macOS a library that another process has mapped keeps its old inode; Windows refuses
 * to replace a DLL in use, which then is another kit's complete copy of the same file.
 */
async function replace(tmp: string, dest: string, size: number): Promise<void> {
  try {
    await rename(tmp, dest);
  } catch (e) {
    const there = await stat(dest).catch(() => undefined);
    if (!(there?.isFile() && there.size === size)) throw e;
  }
}

async function writeAtomically(dest: string, bytes: Uint8Array, mode: number): Promise<void> {
  const tmp = `${dest}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(bytes);
    } finally {
      await fh.close();
    }
    await replace(tmp, dest, bytes.length);
  } finally {
    await rm(tmp, { force: true });
  }
}
