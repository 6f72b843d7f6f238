/**
 * An in-memory Target (oras `memory.Store`): for tests, and as a scratch store.
 * @module
 */
import { type Descriptor, plainDescriptor } from "../oci/descriptor.ts";
import { isDigest, verified } from "../oci/digest.ts";
import { NotFoundError } from "../util/errors.ts";
import { readAll } from "../util/streams.ts";
import { throwIfAborted } from "../util/pool.ts";
import {
  alreadyExists,
  bytesStream,
  checkDescriptor,
  copyDescriptor,
  missingReference,
  notFound,
  type StoreOptions,
  type Target,
} from "./target.ts";

export class MemoryStore implements Target {
  #content = new Map<string, { desc: Descriptor; data: Uint8Array }>();
  #tags = new Map<string, Descriptor>();

  async fetch(desc: Descriptor, opts: StoreOptions = {}): Promise<ReadableStream<Uint8Array>> {
    throwIfAborted(opts.signal);
    const e = this.#content.get(desc.digest);
    if (!e) throw notFound(desc);
    return verified(bytesStream(e.data), e.desc);
  }

  async exists(desc: Descriptor, opts: StoreOptions = {}): Promise<boolean> {
    throwIfAborted(opts.signal);
    return this.#content.has(desc.digest);
  }

  async push(desc: Descriptor, body: ReadableStream<Uint8Array>, opts: StoreOptions = {}): Promise<void> {
    try {
      checkDescriptor(desc);
      throwIfAborted(opts.signal);
      if (this.#content.has(desc.digest)) throw alreadyExists(desc);
    } catch (e) {
      await body.cancel(e).catch(() => {});
      throw e;
    }
    const data = await readAll(verified(body, desc), Number.MAX_SAFE_INTEGER, opts.signal);
    if (this.#content.has(desc.digest)) throw alreadyExists(desc);
    this.#content.set(desc.digest, { desc: copyDescriptor(desc), data });
  }

  async resolve(ref: string, opts: StoreOptions = {}): Promise<Descriptor> {
    throwIfAborted(opts.signal);
    if (ref === "") throw missingReference();
    const tagged = this.#tags.get(ref);
    if (tagged) return copyDescriptor(tagged);
    if (isDigest(ref)) {
      const e = this.#content.get(ref);
      if (e) return plainDescriptor(e.desc);
    }
    throw new NotFoundError(`${ref}: not found`);
  }

  async tag(desc: Descriptor, ref: string, opts: StoreOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    if (ref === "") throw missingReference();
    if (!this.#content.has(desc.digest)) throw notFound(desc);
    this.#tags.set(ref, copyDescriptor(desc));
  }

  /** Removes a tag; NotFoundError when absent. */
  async untag(ref: string): Promise<void> {
    if (!this.#tags.delete(ref)) throw new NotFoundError(`${ref}: not found`);
  }

  /** Tag names, sorted. */
  tags(): string[] {
    return [...this.#tags.keys()].sort();
  }

  /** Digests of all stored content, in insertion order. */
  digests(): string[] {
    return [...this.#content.keys()];
  }

  /** The stored bytes of `digest`, if present. */
  get(digest: string): Uint8Array | undefined {
    return this.#content.get(digest)?.data;
  }
}
