/** The compressed llama.cpp files: decompressed once, every file checked against its digest. */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { prepareEmbeddedLlama, type Asset } from "../../src/runtime/native-assets.ts";
import { tempDir } from "../helpers/kit.ts";

const files: Array<[string, string]> = [
  ["nlc/package.json", '{"version":"9.9.9"}'],
  ["nlc/bins/linux-x64/llama-addon.node", "addon ".repeat(5000)],
  ["nlc/bins/linux-x64/libggml.so", "ggml ".repeat(7000)],
  ["nlc/dist/kit-nlc.js", "export const x = 1;\n"],
];

function assets(over: { data?: Uint8Array; sha?: (name: string, hex: string) => string } = {}): Asset[] {
  const list = files.map(([name, text]) => {
    const hex = createHash("sha256").update(text).digest("hex");
    return { name, size: Buffer.byteLength(text), mode: 0o644, sha256: over.sha ? over.sha(name, hex) : hex };
  });
  const index = { version: "9.9.9", digest: createHash("sha256").update(JSON.stringify(list)).digest("hex"), files: list };
  const data = over.data ?? zlib.zstdCompressSync(Buffer.from(files.map(([, t]) => t).join("")));
  const blob = (name: string, bytes: Uint8Array | string) => Object.assign(new Blob([bytes as Uint8Array<ArrayBuffer>]), { name });
  return [blob("nlc/index.json", JSON.stringify(index)), blob("nlc/files.zst", data)];
}

afterAll(() => void delete (globalThis as Record<string, unknown>).__KIT_NLC_ROOT);

describe("prepareEmbeddedLlama", () => {
  test("extracts every file once, into a folder named by version, platform and digest", async () => {
    const cache = tempDir();
    const r = await prepareEmbeddedLlama(cache, assets());
    expect(r!.version).toBe("9.9.9");
    expect(r!.binaryFolders).toEqual(["linux-x64"]);
    expect(r!.written).toBe(4);
    expect(path.basename(r!.root)).toMatch(new RegExp(`^9\\.9\\.9-${process.platform}-${process.arch}-[0-9a-f]{16}$`));
    for (const [name, text] of files) expect(readFileSync(path.join(r!.root, name.slice(4)), "utf8")).toBe(text);
    expect((globalThis as Record<string, unknown>).__KIT_NLC_ROOT).toBe(r!.root);
    const again = await prepareEmbeddedLlama(cache, assets());
    expect(again!.written).toBe(0);
    expect(again!.root).toBe(r!.root);
  });

  test("a file that does not match its digest is refused and not put in place; nothing is marked complete", async () => {
    const cache = tempDir();
    const e = await prepareEmbeddedLlama(cache, assets({ sha: (n, h) => (n.endsWith("libggml.so") ? "0".repeat(64) : h) })).catch((x) => x);
    expect(e.message).toMatch(/^Embedded file nlc\/bins\/linux-x64\/libggml\.so does not match its digest/);
    const [dir] = readdirSync(cache);
    expect(existsSync(path.join(cache, dir!, "bins", "linux-x64", "libggml.so"))).toBe(false);
    expect(existsSync(path.join(cache, dir!, ".kit-complete"))).toBe(false);
    expect(readdirSync(path.join(cache, dir!, "bins", "linux-x64"))).toEqual(["llama-addon.node"]); // no temporary file left
  });

  test("a short or long stream is an error; a damaged earlier extraction is redone", async () => {
    const all = Buffer.from(files.map(([, t]) => t).join(""));
    for (const data of [all.subarray(0, all.length - 1), Buffer.concat([all, Buffer.from("x")])]) {
      const e = await prepareEmbeddedLlama(tempDir(), assets({ data: zlib.zstdCompressSync(data) })).catch((x) => x);
      expect(e.message).toMatch(/end before|longer than/);
    }
    const cache = tempDir();
    const r = await prepareEmbeddedLlama(cache, assets());
    writeFileSync(path.join(r!.root, ".kit-complete"), "something else");
    writeFileSync(path.join(r!.root, "dist", "kit-nlc.js"), "damaged");
    expect((await prepareEmbeddedLlama(cache, assets()))!.written).toBe(4);
    expect(readFileSync(path.join(r!.root, "dist", "kit-nlc.js"), "utf8")).toBe("export const x = 1;\n");
    expect(statSync(path.join(r!.root, "dist", "kit-nlc.js")).mode & 0o644).toBe(0o644);
  });

  test("without embedded files (running from source) there is nothing to prepare", async () => {
    expect(await prepareEmbeddedLlama(tempDir())).toBeUndefined();
    expect(await prepareEmbeddedLlama(tempDir(), [])).toBeUndefined();
  });
});
