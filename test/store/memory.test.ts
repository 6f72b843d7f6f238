import { expect, test } from "bun:test";
import { MemoryStore } from "../../src/store/memory.ts";
import { NotFoundError } from "../../src/util/errors.ts";
import { chunked } from "../helpers/streams.ts";
import { describeTarget, sampleGraph } from "./conformance.ts";

describeTarget("MemoryStore", async () => ({ target: new MemoryStore() }));

test("MemoryStore lists tags and digests, and untags", async () => {
  const s = new MemoryStore();
  const g = sampleGraph();
  await s.push(g.configDesc, chunked(g.config));
  await s.push(g.manifestDesc, chunked(g.manifest));
  await s.tag(g.manifestDesc, "b");
  await s.tag(g.manifestDesc, "a");
  expect(s.tags()).toEqual(["a", "b"]);
  expect(s.digests()).toEqual([g.configDesc.digest, g.manifestDesc.digest]);
  expect(s.get(g.configDesc.digest)).toEqual(g.config);
  await s.untag("a");
  expect(s.tags()).toEqual(["b"]);
  expect(await s.untag("a").catch((e) => e)).toBeInstanceOf(NotFoundError);
});
