import { expect, test } from "bun:test";
import { KitError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { listTags, MAX_TAG_PAGES } from "../../src/registry/tag-list.ts";

const first = new URL("https://r.io/v2/x/tags/list");
const page = (tags: unknown[], next?: string) =>
  new Response(JSON.stringify({ name: "x", tags }), { status: 200, headers: next ? { link: `<${next}>; rel="next"` } : {} });

test("pages are followed; tags are deduplicated in first-seen order; non-tags are skipped with a warning", async () => {
  const pages: Record<string, Response> = {
    [first.href]: page(["a", "b", "a"], "/v2/x/tags/list?last=b"),
    "https://r.io/v2/x/tags/list?last=b": page(["b", "c", "../etc", "\u001b[31mred", 7, "-x"]),
  };
  const log = memoryLogger("warn");
  expect(await listTags("r.io/x", first, async (u) => pages[u.href]!, { logger: log })).toEqual(["a", "b", "c"]);
  expect(log.err.join("")).toBe("[WARN ] Skipped 3 names in the tag list of r.io/x that are not valid tags\n");
});

test("a Link back to the same page, or around a cycle, is an error naming the pages", async () => {
  const self = listTags("r.io/x", first, async () => page(["a"], first.href));
  expect(await self.catch((e) => e)).toBeInstanceOf(KitError);
  expect(await self.catch((e) => e.message)).toBe(
    "The tag list of r.io/x from the registry loops: page https://r.io/v2/x/tags/list links back to https://r.io/v2/x/tags/list",
  );
  let n = 0;
  const cycle = await listTags("r.io/x", first, async (u) => {
    n++;
    return page([`t${n}`], u.search === "?last=2" ? "/v2/x/tags/list?last=1" : `/v2/x/tags/list?last=${n % 3}`);
  }).catch((e) => e);
  expect(cycle.message).toContain("loops: page https://r.io/v2/x/tags/list?last=2 links back to https://r.io/v2/x/tags/list?last=1");
  expect(n).toBe(3);
});

test("the page cap stays: a registry that never stops paging ends the listing at 10,000 pages", async () => {
  let n = 0;
  const tags = await listTags("r.io/x", first, async () => page([`t${++n}`], `/v2/x/tags/list?last=${n}`));
  expect(n).toBe(MAX_TAG_PAGES);
  expect(tags.length).toBe(MAX_TAG_PAGES);
});

test("a page over 4 MiB, all pages over 32 MiB, and a page that is not JSON are clear errors", async () => {
  const huge = new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(1 << 20).fill(0x20)) }), { status: 200 });
  expect((await listTags("r.io/x", first, async () => huge).catch((e) => e)).message).toBe(
    "The tag list of r.io/x from the registry has a page larger than 4 MiB",
  );
  let n = 0;
  const fat = () => {
    n++;
    return new Response(`{"tags":["t${n}"],"pad":"${" ".repeat(3 * 1024 * 1024)}"}`, { status: 200, headers: { link: `</v2/x/tags/list?last=${n}>; rel="next"` } });
  };
  expect((await listTags("r.io/x", first, async () => fat()).catch((e) => e)).message).toBe(
    "The tag list of r.io/x from the registry is larger than 32 MiB",
  );
  expect(n).toBe(11);
  expect((await listTags("r.io/x", first, async () => new Response("<html>", { status: 200 })).catch((e) => e)).message).toBe(
    "The tag list of r.io/x from the registry is not valid JSON",
  );
  expect(await listTags("r.io/x", first, async () => new Response("", { status: 200 }))).toEqual([]);
});
