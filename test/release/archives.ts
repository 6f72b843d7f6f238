/**
 * Reads release archives back for the tests: zips with zip.js, .tar.gz with the project's tar
 * reader. Member data is hashed as it streams (release binaries are 100+ MiB); only small members
 * are kept in memory.
 */
import { createHash } from "node:crypto";
import { closeSync, openAsBlob, openSync, writeSync } from "node:fs";
import { BlobReader, ZipReader, configure as configureZip } from "@zip.js/zip.js";
import { readTar } from "../../src/store/tar-reader.ts";

configureZip({ useWebWorkers: false });

/** Members up to this size keep their bytes. */
const KEEP_BYTES = 1 << 20;

interface Data {
  size: number;
  sha256: string;
  /** The content, for members up to 1 MiB. */
  bytes?: Uint8Array;
}

export interface ZipMember extends Data {
  unixMode: number | undefined;
  /** The raw 32-bit external attributes (Unix mode in the upper half). */
  external: number;
  date: Date;
}

export interface TarMember extends Data {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  typeflag: string;
}

/** Hashes (and, when small, keeps) what is written; optionally also writes it to a file. */
function collector(saveTo?: { file: string; mode: number }) {
  const h = createHash("sha256");
  const parts: Uint8Array[] = [];
  let size = 0;
  const fd = saveTo ? openSync(saveTo.file, "w", saveTo.mode) : undefined;
  const add = (c: Uint8Array) => {
    h.update(c);
    size += c.length;
    if (size <= KEEP_BYTES) parts.push(c.slice());
    if (fd !== undefined) for (let off = 0; off < c.length; ) off += writeSync(fd, c, off);
  };
  const done = (): Data => {
    if (fd !== undefined) closeSync(fd);
    return { size, sha256: h.digest("hex"), ...(size <= KEEP_BYTES ? { bytes: new Uint8Array(Buffer.concat(parts)) } : {}) };
  };
  return { add, done };
}

/** Every member of a zip, in order. With `extract`, the named member is also written to a file. */
export async function readZip(file: string, extract?: { name: string; file: string }): Promise<Map<string, ZipMember>> {
  const zr = new ZipReader(new BlobReader(await openAsBlob(file)));
  const out = new Map<string, ZipMember>();
  try {
    for (const e of await zr.getEntries()) {
      if (e.directory) throw new Error(`unexpected directory ${e.filename}`);
      const c = collector(extract?.name === e.filename ? { file: extract.file, mode: (e.unixMode ?? 0o644) & 0o777 } : undefined);
      await e.getData!(new WritableStream<Uint8Array>({ write: (chunk) => c.add(chunk) }));
      out.set(e.filename, { ...c.done(), unixMode: e.unixMode, external: e.externalFileAttributes, date: e.lastModDate });
    }
  } finally {
    await zr.close();
  }
  return out;
}

/** Every member of a .tar.gz, in order. With `extract`, the named member is also written to a file with its mode. */
export async function readTarGz(file: string, extract?: { name: string; file: string }): Promise<Map<string, TarMember>> {
  const gz = (await openAsBlob(file)).stream().pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>);
  const out = new Map<string, TarMember>();
  for await (const e of readTar(gz)) {
    const c = collector(extract?.name === e.name ? { file: extract.file, mode: e.mode & 0o777 } : undefined);
    for await (const chunk of e.chunks()) c.add(chunk);
    out.set(e.name, { ...c.done(), mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, typeflag: e.typeflag });
  }
  return out;
}
