/**
 * Resumable push: a chunked upload that is interrupted keeps its session (location and
 * acknowledged offset, never a credential) so that the next push asks the registry how far it got
 * and sends only the rest; a session the registry forgot starts over cleanly.
 */
import { expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { FileUploadSessions, MAX_SESSIONS, MemoryUploadSessions, sessionKey } from "../../src/registry/upload-sessions.ts";
import { CancelledError, IntegrityError, TransientError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { tempDir } from "../helpers/kit.ts";
import { chunked, patternBytes } from "../helpers/streams.ts";
import { FakeRegistry, fakeRepository } from "./fake-registry.ts";

const LAYER = "application/vnd.kitops.modelkit.model.v1.tar";
const data = patternBytes(45);
const desc = descriptorFromBytes(LAYER, data);
const key = sessionKey("reg.test", "org/model", desc.digest);
const uploads = (fake: FakeRegistry) =>
  fake.log.filter((r) => r.url.pathname.includes("/blobs/uploads/")).map((r) => `${r.method} ${r.headers.get("content-range") ?? ""}`.trim());

/** Fails the `n`-th PATCH (1-based) with 502 before the registry reads any of it. */
function failPatch(fake: FakeRegistry, n: number) {
  let seen = 0;
  fake.intercept((req) => (req.method === "PATCH" && ++seen === n ? new Response("bad gateway", { status: 502 }) : undefined));
}

test("an interrupted chunked upload continues, in the next process, at the offset the registry reports", async () => {
  const fake = new FakeRegistry();
  const dir = tempDir("kit-uploads-");
  failPatch(fake, 3);
  const first = fakeRepository(fake, { chunkSize: 10, bufferLimit: 0, uploadSessions: new FileUploadSessions(dir) });
  const e = await first.push(desc, chunked(data, 7)).catch((x) => x);
  expect(e).toBeInstanceOf(TransientError);
  expect(uploads(fake)).toEqual(["POST", "PATCH 0-9", "PATCH 10-19", "PATCH 20-29"]);
  // The session is kept (no DELETE), with the offset acknowledged last.
  const files = fs.readdirSync(dir);
  expect(files.length).toBe(1);
  const saved = JSON.parse(fs.readFileSync(path.join(dir, files[0]!), "utf8"));
  expect(saved).toEqual({ key, location: expect.stringContaining("/v2/org/model/blobs/uploads/u1?_state=p20"), offset: 20 });
  expect(fs.statSync(path.join(dir, files[0]!)).mode & 0o777).toBe(0o600);

  fake.log.length = 0;
  const log = memoryLogger("debug");
  const second = fakeRepository(fake, { chunkSize: 10, bufferLimit: 0, uploadSessions: new FileUploadSessions(dir), logger: log });
  await second.push(desc, chunked(data, 7));
  expect(uploads(fake)).toEqual(["GET", "PATCH 20-29", "PATCH 30-39", "PATCH 40-44", "PUT"]);
  expect(fake.log.filter((r) => r.method === "PATCH").reduce((n, r) => n + r.bodySize, 0)).toBe(25);
  expect(fake.blobs.get(desc.digest)).toEqual(data);
  expect(log.text()).toContain(`[DEBUG] Resuming upload of ${desc.digest} at byte 20 of 45\n`);
  expect(fs.readdirSync(dir)).toEqual([]); // cleaned after success
});

test("a session the registry forgot starts over cleanly in a new one", async () => {
  const fake = new FakeRegistry();
  const sessions = new MemoryUploadSessions();
  failPatch(fake, 2);
  const repo = fakeRepository(fake, { chunkSize: 10, bufferLimit: 0, uploadSessions: sessions });
  expect(await repo.push(desc, chunked(data)).catch((x) => x)).toBeInstanceOf(TransientError);
  expect((await sessions.get(key))?.offset).toBe(10);
  fake.uploads.clear(); // purged by the registry
  fake.log.length = 0;
  await repo.push(desc, chunked(data));
  expect(uploads(fake)).toEqual(["GET", "DELETE", "POST", "PATCH 0-9", "PATCH 10-19", "PATCH 20-29", "PATCH 30-39", "PATCH 40-44", "PUT"]);
  expect(fake.blobs.get(desc.digest)).toEqual(data);
  expect(await sessions.get(key)).toBeUndefined();
});

test("an empty session (Range 0-0) and a stored location on another origin are not continued", async () => {
  const fake = new FakeRegistry();
  const sessions = new MemoryUploadSessions();
  await sessions.put(key, { location: "http://elsewhere.test/v2/org/model/blobs/uploads/x?_state=1", offset: 20 });
  const repo = fakeRepository(fake, { chunkSize: 10, bufferLimit: 0, uploadSessions: sessions });
  await repo.push(desc, chunked(data));
  expect(fake.log.every((r) => r.url.host === "reg.test")).toBe(true);
  expect(uploads(fake)[0]).toBe("POST");
  expect(fake.blobs.get(desc.digest)).toEqual(data);

  const other = new FakeRegistry();
  failPatch(other, 1);
  const r2 = fakeRepository(other, { chunkSize: 10, bufferLimit: 0, uploadSessions: sessions });
  expect(await r2.push(desc, chunked(data)).catch((x) => x)).toBeInstanceOf(TransientError);
  other.log.length = 0;
  await r2.push(desc, chunked(data));
  expect(uploads(other).slice(0, 4)).toEqual(["GET", "DELETE", "POST", "PATCH 0-9"]);
});

test("Ctrl-C keeps the session; bytes that fail their digest drop it", async () => {
  const fake = new FakeRegistry();
  const sessions = new MemoryUploadSessions();
  const ctl = new AbortController();
  let n = 0;
  fake.intercept((req) => {
    if (req.method === "PATCH" && ++n === 2) ctl.abort();
    return undefined;
  });
  const repo = fakeRepository(fake, { chunkSize: 10, bufferLimit: 0, uploadSessions: sessions });
  expect(await repo.push(desc, chunked(data), { signal: ctl.signal }).catch((x) => x)).toBeInstanceOf(CancelledError);
  expect((await sessions.get(key))?.offset).toBeGreaterThanOrEqual(10);

  const wrong = data.slice();
  wrong[44] = wrong[44]! ^ 1;
  const e = await repo.push(desc, chunked(wrong)).catch((x) => x);
  expect(e).toBeInstanceOf(IntegrityError);
  expect(await sessions.get(key)).toBeUndefined();
  expect(fake.blobs.has(desc.digest)).toBe(false);
});

test("session files: no user information, only this key's, at most MAX_SESSIONS, none older than a week", async () => {
  const dir = tempDir("kit-uploads-");
  const s = new FileUploadSessions(dir);
  await s.put("k", { location: "https://user:secret@reg.test/v2/r/blobs/uploads/1?_state=x", offset: 5 });
  const text = fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]!), "utf8");
  expect(text).not.toContain("secret");
  expect(text).not.toContain("user");
  expect(await s.get("k")).toEqual({ location: "https://reg.test/v2/r/blobs/uploads/1?_state=x", offset: 5 });
  expect(await s.get("other")).toBeUndefined();
  fs.writeFileSync(path.join(dir, fs.readdirSync(dir)[0]!), "{not json");
  expect(await s.get("k")).toBeUndefined();

  const old = new Date(Date.now() - 8 * 24 * 3600_000);
  for (let i = 0; i < MAX_SESSIONS + 10; i++) {
    const f = path.join(dir, `${String(i).padStart(64, "0")}.json`);
    fs.writeFileSync(f, "{}");
    if (i < 5) fs.utimesSync(f, old, old);
  }
  await new FileUploadSessions(dir).put("new", { location: "https://reg.test/x", offset: 0 });
  const left = fs.readdirSync(dir);
  expect(left.length).toBeLessThanOrEqual(MAX_SESSIONS);
  expect(left.some((n) => n.startsWith("0000") && Number(n.slice(0, 64)) < 5)).toBe(false);
});

test("a status query that fails transiently keeps the session for the next attempt", async () => {
  const fake = new FakeRegistry();
  const sessions = new MemoryUploadSessions();
  failPatch(fake, 3);
  const repo = fakeRepository(fake, { chunkSize: 10, bufferLimit: 0, uploadSessions: sessions });
  expect(await repo.push(desc, chunked(data)).catch((x) => x)).toBeInstanceOf(TransientError);
  // More 503s than the transport's own retries of a GET.
  for (let i = 0; i < 8; i++) fake.intercept((req, url) => (req.method === "GET" && url.pathname.includes("/uploads/") ? new Response("busy", { status: 503 }) : undefined));
  expect(await repo.push(desc, chunked(data)).catch((x) => x)).toBeInstanceOf(TransientError);
  expect((await sessions.get(key))?.offset).toBe(20);
  fake.log.length = 0;
  await repo.push(desc, chunked(data));
  expect(uploads(fake).filter((u) => u !== "GET")).toEqual(["PATCH 20-29", "PATCH 30-39", "PATCH 40-44", "PUT"]);
  expect(fake.blobs.get(desc.digest)).toEqual(data);
});
