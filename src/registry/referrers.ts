/**
 * Reading the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`) from a registry that
 * may be hostile: each page is read up to 4 MiB and must be an OCI image index of descriptors,
 * `Link` pagination is followed as for tag lists (same origin only, a loop is an error) up to
 * {@link MAX_REFERRER_PAGES} pages, and the `artifactType` filter is applied here as well, since a
 * registry may ignore it.
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { OCI_INDEX } from "../oci/media-types.ts";
import { checkDescriptor, DEFAULT_MAX_METADATA_BYTES } from "../store/target.ts";
import { KitError } from "../util/errors.ts";
import { readAll } from "../util/streams.ts";
import { redactUrl } from "./http.ts";
import { nextLink } from "./tag-list.ts";

/** Pages of one referrers listing read at most; the listing ends there. */
export const MAX_REFERRER_PAGES = 100;

/** Fetches one page: the response once known to be 200, or undefined when the registry has no referrers API (404). */
export type FetchReferrersPage = (url: URL) => Promise<Response | undefined>;

/**
 * The referrers of the subject whose first page is `first`, of `artifactType` when given; undefined
 * when the first page answers that the API is not there. `name` is for messages.
 */
export async function listReferrers(
  name: string,
  first: URL,
  fetchPage: FetchReferrersPage,
  opts: { artifactType?: string; signal?: AbortSignal } = {},
): Promise<Descriptor[] | undefined> {
  const out = new Map<string, Descriptor>();
  const visited = new Set<string>();
  let url: URL | undefined = first;
  for (let page = 0; url && page < MAX_REFERRER_PAGES; page++) {
    visited.add(url.href);
    const res = await fetchPage(url);
    if (!res) {
      if (page === 0) return undefined;
      throw new KitError(`The referrers of ${name} vanished from the registry while they were listed`);
    }
    const tooLarge = () => new KitError(`The referrers of ${name} from the registry have a page larger than ${DEFAULT_MAX_METADATA_BYTES / (1024 * 1024)} MiB`);
    const bytes = res.body ? await readAll(res.body, DEFAULT_MAX_METADATA_BYTES, opts.signal, tooLarge) : new Uint8Array(0);
    for (const d of referrersPage(bytes, name)) {
      if (!opts.artifactType || d.artifactType === opts.artifactType) out.set(d.digest, d);
    }
    const next = nextLink(res.headers.get("link"), url);
    if (next && visited.has(next.href)) {
      throw new KitError(`The referrers of ${name} from the registry loop: page ${redactUrl(url, { query: "mask" })} links back to ${redactUrl(next, { query: "mask" })}`);
    }
    url = next;
  }
  return [...out.values()];
}

const isStringMap = (v: unknown): v is Record<string, string> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");

/** The descriptors of one page: an OCI image index (`mediaType` must say so), each entry checked. */
function referrersPage(bytes: Uint8Array, name: string): Descriptor[] {
  const bad = (why: string) => new KitError(`The referrers of ${name} from the registry are not an OCI image index: ${why}`);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw bad("not valid JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw bad("not a JSON object");
  const index = body as { mediaType?: unknown; manifests?: unknown };
  if (index.mediaType !== OCI_INDEX) throw bad(`media type ${JSON.stringify(index.mediaType)}`);
  if (index.manifests === undefined || index.manifests === null) return [];
  if (!Array.isArray(index.manifests)) throw bad("manifests is not a list");
  return index.manifests.map((m: unknown, i) => {
    const d = m as Partial<Descriptor> | null;
    if (d === null || typeof d !== "object" || typeof d.mediaType !== "string") throw bad(`manifests[${i}] is not a descriptor`);
    if (d.artifactType !== undefined && typeof d.artifactType !== "string") throw bad(`manifests[${i}] has an artifactType that is not a string`);
    if (d.annotations !== undefined && !isStringMap(d.annotations)) throw bad(`manifests[${i}] has annotations that are not strings`);
    checkDescriptor(d as Descriptor);
    const out: Descriptor = { mediaType: d.mediaType, digest: d.digest!, size: d.size! };
    if (d.artifactType) out.artifactType = d.artifactType;
    if (d.annotations) out.annotations = { ...d.annotations };
    return out;
  });
}
