/**
 * A structural check of a GGUF file before llama.cpp loads it: the header, every metadata
 * key/value pair and every tensor description must be well formed and lie inside the file. It
 * follows the order and the checks of llama.cpp's own reader (`gguf_init_from_file_impl`) and
 * reports in its words, so a file that is not a model (`GGUFnotreally`) fails at once with
 * llama.cpp's reason, instead of sending node-llama-cpp's metadata reader past the end of the file
 * (where it spins). Reads sequentially through a small buffer: memory stays bounded whatever the
 * counts and lengths in the file say. Tensor data is not read.
 * @module
 */
import { open, type FileHandle } from "node:fs/promises";
import { KitError } from "../util/errors.ts";

/** llama.cpp's name for the reader, which starts each of its messages. */
const WHERE = "gguf_init_from_file_impl";
/** The newest GGUF version llama.cpp reads. */
const GGUF_VERSION = 3;
/** llama.cpp's GGML_MAX_DIMS and GGML_MAX_NAME. */
const MAX_DIMS = 4;
const MAX_NAME = 64;

/** GGUF value types: the byte size of each fixed-size one (string = 8, array = 9). */
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
/** llama.cpp's names of the GGUF value types. */
const TYPE_NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"];
const STRING = 8;
const ARRAY = 9;
const TYPE_COUNT = 13;

/** The file is not a GGUF model llama.cpp can load; the message is llama.cpp's reason. */
export class GgufError extends KitError {
  override name = "GgufError";
}

class Truncated extends Error {}

/** Sequential reads through a buffer; every read is checked against the file's size. */
class Reader {
  #buf = new Uint8Array(1 << 20);
  #view = new DataView(this.#buf.buffer);
  #start = 0; // file offset of #buf[0]
  #len = 0; // valid bytes in #buf
  pos = 0;
  constructor(private readonly fh: FileHandle, readonly size: number) {}

  get remaining(): number {
    return this.size - this.pos;
  }

  async #ensure(n: number): Promise<number> {
    if (n > this.remaining) throw new Truncated();
    let off = this.pos - this.#start;
    if (off + n <= this.#len) return off;
    // move what is left to the front and fill the rest
    this.#buf.copyWithin(0, off, this.#len);
    this.#len -= off;
    this.#start = this.pos;
    off = 0;
    while (this.#len < n) {
      const { bytesRead } = await this.fh.read(this.#buf, this.#len, this.#buf.length - this.#len, this.#start + this.#len);
      if (bytesRead === 0) throw new Truncated();
      this.#len += bytesRead;
    }
    return off;
  }

  async u32(): Promise<number> {
    const off = await this.#ensure(4);
    this.pos += 4;
    return this.#view.getUint32(off, true);
  }

  async i32(): Promise<number> {
    const off = await this.#ensure(4);
    this.pos += 4;
    return this.#view.getInt32(off, true);
  }

  async i64(): Promise<bigint> {
    const off = await this.#ensure(8);
    this.pos += 8;
    return this.#view.getBigInt64(off, true);
  }

  async u64(): Promise<bigint> {
    const off = await this.#ensure(8);
    this.pos += 8;
    return this.#view.getBigUint64(off, true);
  }

  async bytes(n: number): Promise<Uint8Array> {
    if (n > this.#buf.length) throw new Truncated(); // no GGUF string needs a megabyte
    const off = await this.#ensure(n);
    this.pos += n;
    return this.#buf.slice(off, off + n);
  }

  skip(n: number): void {
    if (n > this.remaining) throw new Truncated();
    this.pos += n;
  }

  /** A GGUF string: u64 length, then the bytes (llama.cpp checks the length against the file first). */
  async string(): Promise<string> {
    const len = await this.u64();
    if (len > BigInt(this.remaining)) throw new GgufError(`${WHERE}: string length ${len} exceeds remaining file size ${this.remaining} bytes`);
    return new TextDecoder().decode(await this.bytes(Number(len)));
  }

  /** Skips a string without keeping it (array elements can be many). */
  async skipString(): Promise<void> {
    const len = await this.u64();
    if (len > BigInt(this.remaining)) throw new GgufError(`${WHERE}: string length ${len} exceeds remaining file size ${this.remaining} bytes`);
    this.skip(Number(len));
  }
}

/** Checks `file` as llama.cpp would read its GGUF header; throws {@link GgufError} with the reason. */
export async function checkGgufFile(file: string): Promise<void> {
  const fh = await open(file, "r");
  try {
    const r = new Reader(fh, (await fh.stat()).size);
    await check(r);
  } finally {
    await fh.close();
  }
}

async function check(r: Reader): Promise<void> {
  let stage = "magic";
  try {
    const magic = await r.bytes(4);
    if (new TextDecoder().decode(magic) !== "GGUF") {
      const c = [...magic].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "?")).join("");
      throw new GgufError(`${WHERE}: invalid magic characters: '${c}', expected 'GGUF'`);
    }
    stage = "header";
    const version = await r.u32();
    if ((version & 0xffff) === 0) {
      throw new GgufError(`${WHERE}: failed to load model: this GGUF file version ${version} is extremely large, is there a mismatch between the host and model endianness?`);
    }
    if (version === 1) throw new GgufError(`${WHERE}: GGUFv1 is no longer supported, please use a more up-to-date version`);
    if (version > GGUF_VERSION) throw new GgufError(`${WHERE}: this GGUF file is version ${version} but this software only supports up to version ${GGUF_VERSION}`);
    const nTensors = await r.i64();
    const nKv = await r.i64();
    if (nTensors < 0n) throw new GgufError(`${WHERE}: number of tensors is ${nTensors} but must not be negative`);
    if (nKv < 0n) throw new GgufError(`${WHERE}: number of key value pairs is ${nKv} but must not be negative`);

    stage = "key-value pairs";
    // each pair takes at least 12 bytes (key length, type), each tensor description at least 24
    if (nKv * 12n > BigInt(r.remaining)) throw new Truncated();
    for (let i = 0n; i < nKv; i++) {
      const key = await r.string();
      const type = await r.i32();
      if (type < 0 || type >= TYPE_COUNT) throw new GgufError(`${WHERE}: key '${key}' has invalid GGUF type ${type}`);
      if (key === "general.alignment") {
        if (type !== 4) throw new GgufError(`${WHERE}: key '${key}' must be of type u32 but is ${TYPE_NAMES[type]}`);
        const alignment = await r.u32();
        if (alignment === 0 || (alignment & (alignment - 1)) !== 0) throw new GgufError(`${WHERE}: alignment ${alignment} is not a power of 2`);
        continue;
      }
      await skipValue(r, key, type);
    }

    stage = "tensor info";
    if (nTensors * 24n > BigInt(r.remaining)) throw new Truncated();
    for (let i = 0n; i < nTensors; i++) {
      const name = await r.string();
      if (new TextEncoder().encode(name).length >= MAX_NAME) {
        throw new GgufError(`${WHERE}: tensor name ${i} is too long: ${new TextEncoder().encode(name).length} >= ${MAX_NAME}`);
      }
      const dims = await r.u32();
      if (dims > MAX_DIMS) throw new GgufError(`${WHERE}: tensor '${name}' has invalid number of dimensions: ${dims} > ${MAX_DIMS}`);
      for (let d = 0; d < dims; d++) {
        const ne = await r.i64();
        if (ne < 0n) throw new GgufError(`${WHERE}: tensor '${name}' dimension ${d} has invalid number of elements: ${ne} < 0`);
      }
      await r.i32(); // ggml type: llama.cpp checks it against the types it knows
      await r.u64(); // offset in the data section
    }
  } catch (e) {
    if (e instanceof Truncated) throw new GgufError(`${WHERE}: failed to read ${stage === "magic" ? "magic" : stage}`);
    throw e;
  }
}

async function skipValue(r: Reader, key: string, type: number): Promise<void> {
  if (type === STRING) return r.skipString();
  if (type !== ARRAY) return r.skip(FIXED_SIZE[type]!);
  const elem = await r.i32();
  if (elem < 0 || elem >= TYPE_COUNT || elem === ARRAY) throw new GgufError(`${WHERE}: key '${key}' has invalid GGUF type ${elem}`);
  const n = await r.u64();
  if (elem === STRING) {
    if (n * 8n > BigInt(r.remaining)) throw new Truncated();
    for (let i = 0n; i < n; i++) await r.skipString();
    return;
  }
  const bytes = n * BigInt(FIXED_SIZE[elem]!);
  if (bytes > BigInt(r.remaining)) throw new Truncated();
  r.skip(Number(bytes));
}
