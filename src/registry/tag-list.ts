/**
 * Reading a repository's tag list (`GET /v2/<name>/tags/list`) from a registry that may be
 * hostile: each page is read up to 4 MiB and all pages together up to 32 MiB, a `Link` to the
 * next page is followed only on the same origin and never back to a page already read (a loop is
 * an error, not a hang), at most 10,000 pages are read, tags are deduplicated, and names that are
 * not tags by the distribution grammar are skipped with a warning.
 * @module
 */
import { isTag } from "../oci/reference.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { readAll } from "../util/streams.ts";
import { redactUrl } from "./http.ts";

/** Most of one page read into memory (oras-go's limit for metadata responses). */
export const MAX_TAG_PAGE_BYTES = 4 * 1024 * 1024;
/** Most read over all pages of one listing. */
export const MAX_TAG_LIST_BYTES = 32 * 1024 * 1024;
/** Pages read at most; the listing ends there (a registry's paging cap, not an error). */
export const MAX_TAG_PAGES = 10_000;

/** Fetches one page: the response to `GET url` once it is known to be 200 (the caller maps 404 and other refusals). */
export type FetchPage = (url: URL) => Promise<Response>;

/** The `rel="next"` target of a `Link` header, resolved against the request URL; never another origin. */
export function nextLink(header: string | null, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m) continue;
    if (/(^|;)\s*rel="?next"?\s*(;|$)/i.test(m[2]!)) {
      try {
        const u = new URL(m[1]!, base);
        if (u.origin !== base.origin) return undefined; // never follow pagination to another host
        return u;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const mib = (n: number) => `${n / (1024 * 1024)} MiB`;

/** Every tag of `name` (`registry/repository`, for messages), from `first` on; see the module comment. */
export async function listTags(
  name: string,
  first: URL,
  fetchPage: FetchPage,
  opts: { signal?: AbortSignal; logger?: Logger } = {},
): Promise<string[]> {
  const tags = new Set<string>();
  const visited = new Set<string>();
  let skipped = 0;
  let total = 0;
  let url: URL | undefined = first;
  for (let page = 0; url && page < MAX_TAG_PAGES; page++) {
    visited.add(url.href);
    const res = await fetchPage(url);
    const tooLarge = () => new KitError(`The tag list of ${name} from the registry has a page larger than ${mib(MAX_TAG_PAGE_BYTES)}`);
    const bytes = res.body ? await readAll(res.body, MAX_TAG_PAGE_BYTES, opts.signal, tooLarge) : new Uint8Array(0);
    total += bytes.byteLength;
    if (total > MAX_TAG_LIST_BYTES) throw new KitError(`The tag list of ${name} from the registry is larger than ${mib(MAX_TAG_LIST_BYTES)}`);
    for (const t of pageTags(bytes, name)) {
      if (isTag(t)) tags.add(t);
      else skipped++;
    }
    const next = nextLink(res.headers.get("link"), url);
    if (next && visited.has(next.href)) {
      throw new KitError(
        `The tag list of ${name} from the registry loops: page ${redactUrl(url, { query: "mask" })} links back to ${redactUrl(next, { query: "mask" })}`,
      );
    }
    url = next;
  }
  if (skipped > 0) opts.logger?.warn(`Skipped ${skipped} names in the tag list of ${name} that are not valid tags`);
  return [...tags];
}

/** The strings in a page's `tags` array (an empty page has none; anything but JSON is an error). */
function pageTags(bytes: Uint8Array, name: string): string[] {
  const text = new TextDecoder().decode(bytes).trim();
  if (text === "") return [];
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new KitError(`The tag list of ${name} from the registry is not valid JSON`);
  }
  const list = (body as { tags?: unknown } | null)?.tags;
  return Array.isArray(list) ? list.filter((t): t is string => typeof t === "string") : [];
}
