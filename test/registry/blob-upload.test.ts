import { expect, test } from "bun:test";
import { alwaysMonolithic, CHUNK_SIZE, isRetryableUploadError, resolveLocation, useMonolithic } from "../../src/registry/blob-upload.ts";
import { RegistryError } from "../../src/registry/http.ts";
import { NetworkError } from "../../src/registry/transport.ts";

test("kit's host rules for monolithic uploads", () => {
  const yes = ["ghcr.io", "GHCR.IO", "us-docker.pkg.dev", ".pkg.dev", "gcr.io", "eu.gcr.io", "mirror-gcr.io",
    "123.dkr.ecr.us-east-1.amazonaws.com", "x.amazonaws.com.cn", "amazonaws.com", "ghcr.io:443"];
  const no = ["quay.io", "docker.io", "registry-1.docker.io", "localhost:5000", "ghcr.io.example.com", "pkg.dev.example", "gcr.io.evil"];
  for (const h of yes) expect([h, alwaysMonolithic(h)]).toEqual([h, true]);
  for (const h of no) expect([h, alwaysMonolithic(h)]).toEqual([h, false]);
  expect(CHUNK_SIZE).toBe(104857600);
  expect(useMonolithic("quay.io", CHUNK_SIZE - 1)).toBe(true);
  expect(useMonolithic("quay.io", CHUNK_SIZE)).toBe(false);
  expect(useMonolithic("ghcr.io", 10 * CHUNK_SIZE)).toBe(true);
});

test("upload locations: relative ones resolved, no downgrade to http", () => {
  const req = new URL("https://reg.io/v2/a/blobs/uploads/");
  expect(resolveLocation(req, "/v2/a/blobs/uploads/1?_state=x").toString()).toBe("https://reg.io/v2/a/blobs/uploads/1?_state=x");
  expect(resolveLocation(req, "https://other.io/up/1").toString()).toBe("https://other.io/up/1");
  expect(() => resolveLocation(req, "http://reg.io/v2/a/blobs/uploads/1")).toThrow("downgrades to http:");
  expect(() => resolveLocation(req, null)).toThrow("without a Location header");
});

test("which upload failures deserve a fresh session", () => {
  const re = (status: number, code?: string) => new RegistryError("x", { status, method: "PUT", url: "u", errors: code ? [{ code, message: "" }] : [] });
  expect(isRetryableUploadError(re(503))).toBe(true);
  expect(isRetryableUploadError(re(429))).toBe(true);
  expect(isRetryableUploadError(re(404, "BLOB_UPLOAD_UNKNOWN"))).toBe(true);
  expect(isRetryableUploadError(re(404, "NAME_UNKNOWN"))).toBe(false);
  expect(isRetryableUploadError(re(401))).toBe(false);
  expect(isRetryableUploadError(re(400, "DIGEST_INVALID"))).toBe(false);
  expect(isRetryableUploadError(new NetworkError("PUT", "http://x", Object.assign(new Error("reset"), { code: "ECONNRESET" })))).toBe(true);
  expect(isRetryableUploadError(new NetworkError("PUT", "http://x", Object.assign(new Error("no"), { code: "ECONNREFUSED" })))).toBe(false);
  expect(isRetryableUploadError(new Error("x"))).toBe(false);
});
