/**
 * Writes a small random-weight llama-architecture model in GGUF v3, for tests and benchmarks
 * (never committed: `*.gguf` is git-ignored, every test generates its model into a temp dir).
 *
 * The tokenizer is a SentencePiece-style ("llama") vocabulary with byte fallback, so any text
 * tokenises; `<|im_end|>` is the end-of-generation token and the chat template is ChatML, so
 * node-llama-cpp picks a chat format from the model as it would for a real one. Weights come
 * from a seeded PRNG: the same options always give the same bytes, and greedy decoding gives
 * the same (unreadable) text everywhere. Use a grammar where a test needs readable output.
 *
 * Tensors are written one at a time, so memory stays at one tensor even for the larger
 * benchmark models. Only `node:fs` and typed arrays: runs under Bun and Deno.
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";

export interface TinyGgufOptions {
  /** Embedding width (default 64). Must be a multiple of `heads`. */
  embd?: number;
  layers?: number;
  heads?: number;
  /** Feed-forward width (default 2 × embd). */
  ff?: number;
  /** Training context length written to the model (default 2048). */
  contextLength?: number;
  /** 2-D weights as f32 or f16 (norm vectors always stay f32, as llama.cpp requires). */
  type?: "f32" | "f16";
  seed?: number;
  name?: string;
  /** Jinja chat template; `null` leaves it out (node-llama-cpp then falls back to its own guess). */
  chatTemplate?: string | null;
  /**
   * Zero the output rows of the special tokens (`<unk>`, `<s>`, `</s>`, `<|im_start|>`,
   * `<|im_end|>`; llama.cpp ends generation on several of them): their logits are then always
   * 0, below the largest of the others, so greedy decoding never ends by itself (benchmarks).
   */
  neverEnd?: boolean;
}

export interface TinyGgufInfo {
  bytes: number;
  vocabSize: number;
  tensors: number;
}

/** ChatML, as Qwen and many fine-tunes ship it. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** `<|im_end|>`: the end-of-generation token. */
const EOS = 4;

// token types as llama.cpp numbers them
const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;

interface Token { text: string; score: number; type: number }

function vocabulary(): Token[] {
  const v: Token[] = [
    { text: "<unk>", score: 0, type: UNKNOWN },
    { text: "<s>", score: 0, type: CONTROL },
    { text: "</s>", score: 0, type: CONTROL },
    { text: "<|im_start|>", score: 0, type: CONTROL },
    { text: "<|im_end|>", score: 0, type: CONTROL },
  ];
  for (let b = 0; b < 256; b++) v.push({ text: `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, score: 0, type: BYTE });
  const pieces = ["▁", ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\":;-()*`#_/"];
  const words = ["the", "and", "you", "hello", "world", "model", "kit", "ops", "user", "system", "assistant", "is", "a", "to",
    "of", "in", "it", "what", "how", "are", "i", "am", "hi", "from", "tiny", "dev", "server", "chat", "code"];
  for (const w of words) pieces.push("▁" + w, w);
  const pairs = "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur";
  pieces.push(...pairs.split(" "), ..."tasowhimcbfd".split("").map((c) => "▁" + c));
  const seen = new Set(v.map((t) => t.text));
  let i = 0;
  for (const p of pieces) {
    if (seen.has(p)) continue;
    seen.add(p);
    // longer pieces score higher, so the tokenizer prefers them when merging
    v.push({ text: p, score: [...p].length * 10 - i++ / 1000, type: NORMAL });
  }
  return v;
}

/** mulberry32 */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((x & 0x7fffff) >>> 13);
}

/** Little-endian byte builder for the header. */
class Bytes {
  parts: Uint8Array[] = [];
  length = 0;
  #enc = new TextEncoder();
  raw(b: Uint8Array) { this.parts.push(b); this.length += b.length; }
  #num(n: number, f: (d: DataView) => void) { const b = new Uint8Array(n); f(new DataView(b.buffer)); this.raw(b); }
  u32(v: number) { this.#num(4, (d) => d.setUint32(0, v, true)); }
  i32(v: number) { this.#num(4, (d) => d.setInt32(0, v, true)); }
  u64(v: number) { this.#num(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  f32(v: number) { this.#num(4, (d) => d.setFloat32(0, v, true)); }
  u8(v: number) { this.raw(new Uint8Array([v])); }
  str(s: string) { const e = this.#enc.encode(s); this.u64(e.length); this.raw(e); }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

// GGUF metadata value types
const T_U32 = 4, T_I32 = 5, T_F32 = 6, T_BOOL = 7, T_STR = 8, T_ARR = 9;
type Meta = [string, "u32", number] | [string, "f32", number] | [string, "bool", boolean] | [string, "str", string]
  | [string, "str[]", string[]] | [string, "f32[]", number[]] | [string, "i32[]", number[]];

const ALIGN = 32;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Writes the model to `file` and returns its size. */
export function writeTinyGguf(file: string, o: TinyGgufOptions = {}): TinyGgufInfo {
  const embd = o.embd ?? 64, layers = o.layers ?? 2, heads = o.heads ?? 4, ff = o.ff ?? embd * 2;
  const ctx = o.contextLength ?? 2048, type = o.type ?? "f32";
  if (embd % heads !== 0) throw new Error(`embd ${embd} is not a multiple of heads ${heads}`);
  const headDim = embd / heads;
  const vocab = vocabulary();
  const template = o.chatTemplate === undefined ? CHATML_TEMPLATE : o.chatTemplate;

  const meta: Meta[] = [
    ["general.architecture", "str", "llama"],
    ["general.name", "str", o.name ?? "tiny-random-llama"],
    ["general.file_type", "u32", type === "f16" ? 1 : 0],
    ["general.alignment", "u32", ALIGN],
    ["llama.context_length", "u32", ctx],
    ["llama.embedding_length", "u32", embd],
    ["llama.block_count", "u32", layers],
    ["llama.feed_forward_length", "u32", ff],
    ["llama.attention.head_count", "u32", heads],
    ["llama.attention.head_count_kv", "u32", heads],
    ["llama.rope.dimension_count", "u32", headDim],
    ["llama.rope.freq_base", "f32", 10000],
    ["llama.attention.layer_norm_rms_epsilon", "f32", 1e-5],
    ["llama.vocab_size", "u32", vocab.length],
    ["tokenizer.ggml.model", "str", "llama"],
    ["tokenizer.ggml.tokens", "str[]", vocab.map((t) => t.text)],
    ["tokenizer.ggml.scores", "f32[]", vocab.map((t) => t.score)],
    ["tokenizer.ggml.token_type", "i32[]", vocab.map((t) => t.type)],
    ["tokenizer.ggml.bos_token_id", "u32", 1],
    ["tokenizer.ggml.eos_token_id", "u32", EOS],
    ["tokenizer.ggml.unknown_token_id", "u32", 0],
    ["tokenizer.ggml.padding_token_id", "u32", 0],
    ["tokenizer.ggml.add_bos_token", "bool", true],
    ["tokenizer.ggml.add_eos_token", "bool", false],
  ];
  if (template !== null) meta.push(["tokenizer.chat_template", "str", template]);

  interface Tensor { name: string; dims: number[]; ones: boolean; half: boolean; size: number; offset: number }
  const specs: Array<[string, number[], boolean]> = [
    ["token_embd.weight", [embd, vocab.length], false],
    ["output_norm.weight", [embd], true],
    ["output.weight", [embd, vocab.length], false],
  ];
  for (let l = 0; l < layers; l++) {
    specs.push(
      [`blk.${l}.attn_norm.weight`, [embd], true],
      [`blk.${l}.attn_q.weight`, [embd, embd], false],
      [`blk.${l}.attn_k.weight`, [embd, embd], false],
      [`blk.${l}.attn_v.weight`, [embd, embd], false],
      [`blk.${l}.attn_output.weight`, [embd, embd], false],
      [`blk.${l}.ffn_norm.weight`, [embd], true],
      [`blk.${l}.ffn_gate.weight`, [embd, ff], false],
      [`blk.${l}.ffn_up.weight`, [embd, ff], false],
      [`blk.${l}.ffn_down.weight`, [ff, embd], false],
    );
  }
  let offset = 0;
  const tensors: Tensor[] = specs.map(([name, dims, ones]) => {
    const half = type === "f16" && dims.length > 1;
    const size = dims.reduce((a, b) => a * b, 1) * (half ? 2 : 4);
    const t = { name, dims, ones, half, size, offset };
    offset = alignUp(offset + size);
    return t;
  });

  const h = new Bytes();
  h.raw(new TextEncoder().encode("GGUF"));
  h.u32(3);
  h.u64(tensors.length);
  h.u64(meta.length);
  for (const m of meta) {
    h.str(m[0]);
    switch (m[1]) {
      case "u32": h.u32(T_U32); h.u32(m[2]); break;
      case "f32": h.u32(T_F32); h.f32(m[2]); break;
      case "bool": h.u32(T_BOOL); h.u8(m[2] ? 1 : 0); break;
      case "str": h.u32(T_STR); h.str(m[2]); break;
      case "str[]": h.u32(T_ARR); h.u32(T_STR); h.u64(m[2].length); for (const s of m[2]) h.str(s); break;
      case "f32[]": h.u32(T_ARR); h.u32(T_F32); h.u64(m[2].length); for (const x of m[2]) h.f32(x); break;
      case "i32[]": h.u32(T_ARR); h.u32(T_I32); h.u64(m[2].length); for (const x of m[2]) h.i32(x); break;
    }
  }
  for (const t of tensors) {
    h.str(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(t.half ? 1 : 0); // ggml type: 0 = F32, 1 = F16
    h.u64(t.offset);
  }
  h.raw(new Uint8Array(alignUp(h.length) - h.length));

  const rnd = prng(o.seed ?? 0x4b17);
  // roughly normal(0, 0.5) from a sum of four uniforms
  const normal = () => (rnd() + rnd() + rnd() + rnd() - 2) * 1.7320508 * 0.5;
  const fd = openSync(file, "w");
  try {
    const header = h.concat();
    writeSync(fd, header);
    let written = 0;
    for (const t of tensors) {
      if (written < t.offset) { writeSync(fd, new Uint8Array(t.offset - written)); written = t.offset; }
      const n = t.size / (t.half ? 2 : 4);
      const data = t.half ? new Uint16Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const x = t.ones ? 1 : normal();
        data[i] = t.half ? toHalf(x) : x;
      }
      // rows are embd long (ggml's first dimension is the contiguous one)
      if (o.neverEnd && t.name === "output.weight") data.fill(0, 0, (EOS + 1) * embd);
      writeSync(fd, new Uint8Array(data.buffer));
      written += t.size;
    }
    return { bytes: header.length + written, vocabSize: vocab.length, tensors: tensors.length };
  } finally {
    closeSync(fd);
  }
}

if (import.meta.main) {
  const [out = "tiny.gguf", embd] = process.argv.slice(2);
  const info = writeTinyGguf(out, embd ? { embd: Number(embd) } : {});
  console.log(`wrote ${out}: ${info.bytes} bytes, vocab ${info.vocabSize}, ${info.tensors} tensors`);
}
