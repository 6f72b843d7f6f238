/**
 * Resumable downloads into `ingest/<hex>` (docs/format.md#pull): the partial file survives across
 * runs, is re-hashed on open, and is moved into `blobs/` once complete and verified.
 * @module
 */
import fsp from "node:fs/promises";
import type { Descriptor } from "../oci/descriptor.ts";
import { sha256, type Sha256 } from "../runtime/runtime.ts";
import { IntegrityError, KitError } from "../util/errors.ts";
import type { LockHandle } from "../util/fs.ts";
import { throwIfAborted } from "../util/pool.ts";

/** A resumable download into `ingest/<hex>` (see {@link LayoutStore.openPartial}). */
export interface PartialDownload {
  /** Bytes of the content already on disk (hashed again on open): ask the server for the rest. */
  readonly offset: number;
  /** False when another process is downloading the same blob: this one writes a private temp file from 0. */
  readonly resumable: boolean;
  /**
   * Appends `body`, which must be the content from {@link offset} on, verifies the whole file
   * against the descriptor and moves it to `blobs/` (mode 0600). If `body` fails or is aborted the
   * bytes received so far stay for a later resume. A digest mismatch deletes the partial file and
   * throws IntegrityError `downloaded file hash does not match descriptor`.
   */
  write(body: ReadableStream<Uint8Array>, opts?: { signal?: AbortSignal; onBytes?: (n: number) => void }): Promise<void>;
  /** Drops what is on disk so the next {@link write} starts at 0 (a server that ignored Range). */
  restart(): Promise<void>;
  /** Stops without committing, keeping the partial file for a later run. */
  close(): Promise<void>;
  /** Stops and deletes the partial file. */
  discard(): Promise<void>;
}

/** The resumable download behind `LayoutStore.openPartial`. */
export class IngestDownload implements PartialDownload {
  #offset: number;
  #hash: Sha256;
  #finished = false;

  private constructor(
    private readonly desc: Descriptor,
    private readonly file: string,
    private readonly fh: fsp.FileHandle,
    private readonly target: string,
    private readonly lock: LockHandle | undefined,
    offset: number,
    hash: Sha256,
  ) {
    this.#offset = offset;
    this.#hash = hash;
  }

  static async open(
    desc: Descriptor,
    file: string,
    fh: fsp.FileHandle,
    target: string,
    lock: LockHandle | undefined,
    signal?: AbortSignal,
  ): Promise<IngestDownload> {
    try {
      let size = (await fh.stat()).size;
      if (size > desc.size) {
        await fh.truncate(0);
        size = 0;
      }
      const hash = sha256();
      const buf = new Uint8Array(Math.min(1 << 20, Math.max(size, 1)));
      for (let pos = 0; pos < size;) {
        throwIfAborted(signal);
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.byteLength, size - pos), pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      return new IngestDownload(desc, file, fh, target, lock, size, hash);
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  get offset(): number {
    return this.#offset;
  }
  get resumable(): boolean {
    return this.lock !== undefined;
  }

  async restart(): Promise<void> {
    this.#assertOpen();
    await this.fh.truncate(0);
    this.#offset = 0;
    this.#hash = sha256();
  }

  async write(
    body: ReadableStream<Uint8Array>,
    opts: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
  ): Promise<void> {
    this.#assertOpen();
    const reader = body.getReader();
    const signal = opts.signal;
    const onAbort = () => void reader.cancel().catch(() => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    let tooBig = false;
    try {
      throwIfAborted(signal);
      for (;;) {
        const { done, value } = await reader.read();
        throwIfAborted(signal);
        if (done) break;
        if (this.#offset + value.byteLength > this.desc.size) {
          tooBig = true;
          break;
        }
        let off = 0;
        while (off < value.byteLength) {
          const { bytesWritten } = await this.fh.write(value, off, value.byteLength - off, this.#offset + off);
          off += bytesWritten;
        }
        this.#hash.update(value);
        this.#offset += value.byteLength;
        opts.onBytes?.(value.byteLength);
      }
    } catch (e) {
      await reader.cancel(e).catch(() => {});
      await this.close(); // keep what arrived for a later resume
      throw e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
    if (tooBig) {
      await body.cancel().catch(() => {});
      await this.discard();
      throw new IntegrityError("downloaded file hash does not match descriptor");
    }
    if (this.#offset < this.desc.size) {
      await this.close();
      throw new IntegrityError(
        `Content of ${this.desc.digest} is truncated: got ${this.#offset} of ${this.desc.size} bytes`,
        { hint: "Run the command again to resume the download" },
      );
    }
    await this.#commit();
  }

  async #commit(): Promise<void> {
    const got = `sha256:${this.#hash.hex()}`;
    if (got !== this.desc.digest) {
      await this.discard();
      throw new IntegrityError("downloaded file hash does not match descriptor");
    }
    this.#finished = true;
    try {
      await this.fh.close();
      await fsp.chmod(this.file, 0o600);
      await fsp.rename(this.file, this.target);
    } catch (e) {
      await fsp.rm(this.file, { force: true });
      throw e;
    } finally {
      await this.lock?.release();
    }
  }

  async close(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.fh.close().catch(() => {});
    if (!this.lock) await fsp.rm(this.file, { force: true }); // a private temp file cannot be resumed
    await this.lock?.release();
  }

  async discard(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.fh.close().catch(() => {});
    await fsp.rm(this.file, { force: true });
    await this.lock?.release();
  }

  #assertOpen(): void {
    if (this.#finished) throw new KitError(`Download of ${this.desc.digest} is already finished`);
  }
}
