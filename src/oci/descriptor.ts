/**
 * OCI content descriptors.
 * @module
 */
import { GoMap } from "../util/go-json.ts";
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

/** Image-spec descriptor fields kit never writes itself but keeps when it reads them. */
export interface DescriptorExtras {
  urls?: string[];
  data?: string;
  platform?: {
    architecture: string;
    os: string;
    "os.version"?: string;
    "os.features"?: string[];
    variant?: string;
  };
}

/**
 * The value Go's `json.Marshal` writes for an `ocispec.Descriptor`, for `goJson`: struct
 * field order, `omitempty` on everything but mediaType, digest and size, annotations sorted.
 */
export function goDescriptorValue(d: Descriptor & DescriptorExtras): unknown {
  const p = d.platform;
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    urls: d.urls && d.urls.length > 0 ? d.urls : undefined,
    annotations: d.annotations && Object.keys(d.annotations).length > 0 ? new GoMap(d.annotations) : undefined,
    data: d.data ? d.data : undefined,
    platform: p
      ? {
        architecture: p.architecture ?? "",
        os: p.os ?? "",
        "os.version": p["os.version"] || undefined,
        "os.features": p["os.features"] && p["os.features"].length > 0 ? p["os.features"] : undefined,
        variant: p.variant || undefined,
      }
      : undefined,
    artifactType: d.artifactType ? d.artifactType : undefined,
  };
}
