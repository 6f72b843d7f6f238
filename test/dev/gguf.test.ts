/** The GGUF structure check before llama.cpp loads a model: llama.cpp's reasons, bounded reads. */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { checkGgufFile, GgufError } from "../../src/dev/gguf.ts";
import { tempDir } from "../helpers/kit.ts";
import { writeTinyGguf } from "../helpers/tiny-gguf.ts";

const dir = tempDir("kit-gguf-");
const tiny = path.join(dir, "tiny.gguf");
writeTinyGguf(tiny);
const good = readFileSync(tiny);

/** A GGUF v3 header (magic, version, counts) followed by `rest`. */
function header(nTensors: bigint, nKv: bigint, ...rest: Uint8Array[]): Uint8Array {
  const h = Buffer.alloc(24);
  h.write("GGUF", 0, "latin1");
  h.writeUInt32LE(3, 4);
  h.writeBigInt64LE(nTensors, 8);
  h.writeBigInt64LE(nKv, 16);
  return Buffer.concat([h, ...rest]);
}
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const str = (s: string) => Buffer.concat([u64(BigInt(Buffer.byteLength(s))), Buffer.from(s)]);

async function reason(bytes: Uint8Array): Promise<string> {
  const f = path.join(dir, "bad.gguf");
  writeFileSync(f, bytes);
  const e = await checkGgufFile(f).then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(GgufError);
  return (e as Error).message.replace(/^gguf_init_from_file_impl: /, "");
}

describe("checkGgufFile", () => {
  test("a real model passes", async () => {
    await checkGgufFile(tiny);
  });

  test("files that are not GGUF models fail with llama.cpp's reason", async () => {
    expect(await reason(Buffer.from("GGUFnotreally"))).toBe("this GGUF file is version 1920233326 but this software only supports up to version 3");
    expect(await reason(Buffer.from(""))).toBe("failed to read magic");
    expect(await reason(Buffer.from("PK\x03\x04 a zip"))).toBe("invalid magic characters: 'PK??', expected 'GGUF'");
    expect(await reason(Buffer.from([0x47, 0x47, 0x55, 0x46, 1, 0, 0, 0]))).toBe("GGUFv1 is no longer supported, please use a more up-to-date version");
    expect(await reason(Buffer.from([0x47, 0x47, 0x55, 0x46, 0, 0, 3, 0]))).toBe("failed to load model: this GGUF file version 196608 is extremely large, is there a mismatch between the host and model endianness?");
    expect(await reason(good.subarray(0, 20))).toBe("failed to read header");
  });

  test("a cut or lying header fails without reading past the end of the file", async () => {
    expect(await reason(good.subarray(0, 4000))).toBe("failed to read key-value pairs");
    expect(await reason(header(0n, 1n, str("general.name"), i32(8), u64(1n << 62n)))).toBe(`string length ${1n << 62n} exceeds remaining file size 0 bytes`);
    expect(await reason(header(0n, 1n, str("k"), i32(99)))).toBe("key 'k' has invalid GGUF type 99");
    expect(await reason(header(0n, 1n << 40n))).toBe("failed to read key-value pairs");
    expect(await reason(header(0n, 1n, str("a"), i32(9), i32(4), u64(1n << 60n)))).toBe("failed to read key-value pairs");
    expect(await reason(header(0n, 1n, str("general.alignment"), i32(4), i32(3)))).toBe("alignment 3 is not a power of 2");
    expect(await reason(header(1n, 0n, str("t"), Buffer.from([9, 0, 0, 0]), Buffer.alloc(24)))).toBe("tensor 't' has invalid number of dimensions: 9 > 4");
    expect(await reason(header(5n, 0n, str("t")))).toBe("failed to read tensor info");
    expect(await reason(header(-1n, 0n))).toBe("number of tensors is -1 but must not be negative");
  });
});
