/**
 * OCI content descriptors.
 * @module
 */
import { digestOf, type Digest } from "./digest.ts";

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
}

export function descriptorFromBytes(mediaType: string, data: Uint8Array): Descriptor {
  return { mediaType, digest: digestOf(data), size: data.byteLength };
}

/** The plain `{mediaType,digest,size}` form kit stores in its index and tag files. */
export function plainDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}
