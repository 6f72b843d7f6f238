/**
 * Benchmark data, generated deterministically (fixed seeds) into a temporary directory under
 * os.tmpdir() and removed afterwards; nothing here is ever committed.
 *
 * - {@link writeIncompressibleFile}: a large file of PRNG bytes, written in 4 MiB blocks with a
 *   bounded buffer. Every block is fresh PRNG output, so no compressor (gzip's 32 KiB window, zstd's
 *   long-range matcher) finds repeats.
 * - {@link makePartsProject}: four large files, packed as four layers.
 * - {@link makeSmallFiles}: many small files (1–64 KiB) in nested directories.
 * - {@link makeMixedProject}: a model project — a weight file, tokenizer JSONs, a CSV dataset,
 *   code and docs — with its Kitfile.
 * - {@link makeTinyProject}: a one-file project, for filling a store with many ModelKits.
 * @module
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** xoshiro128** — fast, deterministic, good enough that its output does not compress. */
export class Prng {
  #s = new Uint32Array(4);
  constructor(seed: number) {
    // splitmix32 expands the seed into the four state words (never all zero).
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.#s.every((w) => w === 0)) this.#s[0] = 1;
  }

  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + (this.nextU32() % (max - min + 1));
  }

  /** Fills `buf` with PRNG bytes. */
  fill(buf: Uint8Array): void {
    const words = buf.byteLength >>> 2;
    const aligned = buf.byteOffset % 4 === 0;
    if (aligned && words > 0) {
      const w = new Uint32Array(buf.buffer, buf.byteOffset, words);
      const s = this.#s;
      let s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
      for (let i = 0; i < words; i++) {
        const m = Math.imul(s1, 5);
        w[i] = Math.imul((m << 7) | (m >>> 25), 9);
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
      }
      s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
    }
    for (let i = aligned ? words * 4 : 0; i < buf.byteLength; i++) buf[i] = this.nextU32() & 0xff;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Parses sizes such as `2GiB`, `256M`, `64mb`, `1073741824`. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`Invalid size "${text}": use a number of bytes or e.g. 512MiB, 2GiB`);
  const mult = { "": 1, k: KiB, m: MiB, g: GiB }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Invalid size "${text}"`);
  return n;
}

/** A fresh temporary directory under os.tmpdir(). */
export function makeTempRoot(prefix = "kit-bench-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Writes `size` incompressible bytes to `file` through one reused 4 MiB buffer. */
export function writeIncompressibleFile(file: string, size: number, seed: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const prng = new Prng(seed);
  const buf = new Uint8Array(4 * MiB);
  const fd = openSync(file, "w", 0o644);
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, buf.length);
      const chunk = buf.subarray(0, n);
      prng.fill(chunk);
      let off = 0;
      while (off < n) off += writeSync(fd, chunk, off, n - off);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes a Kitfile (YAML text) into `dir`. */
export function writeKitfile(dir: string, yaml: string): void {
  writeFileSync(path.join(dir, "Kitfile"), yaml);
}

/** A project whose model is one large incompressible file `model.bin`. Returns the file path. */
export function makeLargeFileProject(dir: string, size: number, seed: number): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "model.bin");
  writeIncompressibleFile(file, size, seed);
  writeKitfile(dir, "manifestVersion: 1.0.0\npackage:\n  name: bench-large\nmodel:\n  name: large\n  path: model.bin\n");
  return file;
}

/**
 * A project of four incompressible files `part0.bin`…`part3.bin` of `size` bytes each: the model
 * and three model parts, so four layers.
 */
export function makePartsProject(dir: string, size: number, seed: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 4; i++) writeIncompressibleFile(path.join(dir, `part${i}.bin`), size, seed + i);
  writeKitfile(dir, "manifestVersion: 1.0.0\npackage:\n  name: bench-parts\nmodel:\n  path: part0.bin\n  parts:\n    - path: part1.bin\n    - path: part2.bin\n    - path: part3.bin\n");
}

/**
 * `count` files of 1–64 KiB under `dir/files/`, three directory levels deep (10 × 10 × 20 leaf
 * directories), plus a Kitfile naming `files` as one code layer. Returns the total file bytes.
 */
export function makeSmallFiles(dir: string, count: number, seed: number): number {
  const prng = new Prng(seed);
  const buf = new Uint8Array(64 * KiB);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const leaf = i % 2000;
    const sub = path.join(dir, "files", `d${String(leaf % 10).padStart(2, "0")}`, `e${String(Math.floor(leaf / 10) % 10).padStart(2, "0")}`, `f${String(Math.floor(leaf / 100)).padStart(2, "0")}`);
    if (i < 2000) mkdirSync(sub, { recursive: true });
    const size = prng.int(1 * KiB, 64 * KiB);
    const chunk = buf.subarray(0, size);
    prng.fill(chunk);
    writeFileSync(path.join(sub, `file-${String(i).padStart(5, "0")}.bin`), chunk);
    total += size;
  }
  writeKitfile(dir, "manifestVersion: 1.0.0\npackage:\n  name: bench-small-files\ncode:\n  - path: files\n    description: many small files\n");
  return total;
}

/** Pseudo-words for the text files of the mixed project. */
function words(prng: Prng, n: number): string {
  const syll = ["ka", "to", "mi", "ra", "ne", "lo", "su", "vi", "de", "pa", "zo", "gu"];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let w = "";
    const len = prng.int(1, 4);
    for (let j = 0; j < len; j++) w += syll[prng.nextU32() % syll.length];
    out.push(w);
  }
  return out.join(" ");
}

export interface MixedProjectSizes {
  /** The model weight file. */
  weights: number;
  /** The CSV dataset (approximate). */
  dataset: number;
}

/**
 * A model project: `model/model.safetensors` (incompressible weights), tokenizer and config JSONs
 * next to it, `data/train.csv`, `src/` Python code and `docs/`, with a Kitfile (model, one
 * model part per tokenizer file, one dataset, code, docs). Returns the total bytes.
 */
export function makeMixedProject(dir: string, sizes: MixedProjectSizes, seed: number): number {
  const prng = new Prng(seed);
  let total = 0;
  const put = (rel: string, data: string | Uint8Array) => {
    const abs = path.join(dir, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, data);
    total += typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
  };

  writeIncompressibleFile(path.join(dir, "model", "model.safetensors"), sizes.weights, seed ^ 0x5eed);
  total += sizes.weights;

  // tokenizer.json: a vocabulary of 50,000 pseudo-words and merges, like a BPE tokenizer's.
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 50_000; i++) vocab[`${words(prng, 1)}${i}`] = i;
  const merges: string[] = [];
  for (let i = 0; i < 20_000; i++) merges.push(`${words(prng, 1)} ${words(prng, 1)}`);
  put("tokenizer/tokenizer.json", JSON.stringify({ version: "1.0", model: { type: "BPE", vocab, merges } }, null, 2));
  put("tokenizer/tokenizer_config.json", JSON.stringify({ model_max_length: 4096, bos_token: "<s>", eos_token: "</s>", padding_side: "left" }, null, 2));
  put("tokenizer/special_tokens_map.json", JSON.stringify({ bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" }, null, 2));
  put("model/config.json", JSON.stringify({ architectures: ["LlamaForCausalLM"], hidden_size: 2048, num_hidden_layers: 22, vocab_size: 50_000 }, null, 2));

  // data/train.csv (id, label, score, text), written 1,000 rows at a time so memory stays small.
  const csv = path.join(dir, "data", "train.csv");
  mkdirSync(path.dirname(csv), { recursive: true });
  const fd = openSync(csv, "w", 0o644);
  try {
    let written = 0;
    let i = 0;
    writeSync(fd, "id,label,score,text\n");
    written += 20;
    while (written < sizes.dataset) {
      const lines: string[] = [];
      for (let j = 0; j < 1000; j++, i++) {
        lines.push(`${i},${prng.int(0, 4)},${(prng.nextU32() / 2 ** 32).toFixed(6)},"${words(prng, prng.int(5, 30))}"\n`);
      }
      const text = lines.join("");
      writeSync(fd, text);
      written += Buffer.byteLength(text);
    }
    total += written;
  } finally {
    closeSync(fd);
  }

  for (let i = 0; i < 12; i++) {
    const body: string[] = [`"""Module ${i}: ${words(prng, 8)}."""`, "import math", ""];
    for (let f = 0; f < 30; f++) {
      body.push(`def fn_${i}_${f}(x, y=${prng.int(0, 99)}):`, `    """${words(prng, 10)}"""`, `    return math.sqrt(x * x + y * ${prng.int(1, 9)})`, "");
    }
    put(`src/module_${i}.py`, body.join("\n"));
  }
  put("src/train.py", "from module_0 import fn_0_0\n\nif __name__ == '__main__':\n    print(fn_0_0(3, 4))\n");
  put("docs/README.md", `# Bench model\n\n${words(prng, 400)}\n`);
  put("docs/MODEL_CARD.md", `# Model card\n\n${words(prng, 800)}\n`);
  put("LICENSE", "Apache License 2.0\n");

  writeKitfile(
    dir,
    [
      "manifestVersion: 1.0.0",
      "package:",
      "  name: bench-mixed",
      "  license: Apache-2.0",
      "model:",
      "  name: bench-llm",
      "  path: model",
      "  framework: safetensors",
      "  parts:",
      "    - path: tokenizer",
      "datasets:",
      "  - name: train",
      "    path: data/train.csv",
      "code:",
      "  - path: src",
      "  - path: LICENSE",
      "docs:",
      "  - path: docs",
      "",
    ].join("\n"),
  );
  return total;
}

/** A project with one small model file whose bytes depend on `i` (so each pack is a distinct kit). */
export function makeTinyProject(dir: string, i: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "model.bin"), `tiny model ${i}\n`);
  writeKitfile(dir, `manifestVersion: 1.0.0\npackage:\n  name: tiny-${i}\nmodel:\n  name: tiny\n  path: model.bin\n`);
}
