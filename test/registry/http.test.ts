import { describe, expect, test } from "bun:test";
import { expectStatus, redactUrl, RegistryError, responseError, statusText } from "../../src/registry/http.ts";

const url = "https://reg.example.com/v2/org/repo/blobs/uploads/abc?_state=SECRET#frag";

describe("responseError", () => {
  test("one distribution error: `<code lowercased>: <message>`", async () => {
    const res = Response.json({ errors: [{ code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown to registry" }] }, { status: 404 });
    const e = await responseError(res, "PUT", url);
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.message).toBe("blob_upload_unknown: blob upload unknown to registry");
    expect(e.status).toBe(404);
    expect(e.method).toBe("PUT");
    expect(e.url).toBe("https://reg.example.com/v2/org/repo/blobs/uploads/abc");
    expect(e.hasCode("BLOB_UPLOAD_UNKNOWN")).toBe(true);
  });

  test("several errors are joined as `multiple errors: a; b`", async () => {
    const res = new Response(JSON.stringify({ errors: [{ code: "DENIED", message: "no" }, { code: "UNAUTHORIZED", message: "" }] }), {
      status: 403,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect((await responseError(res, "GET", url)).message).toBe("multiple errors: denied: no; unauthorized");
  });

  test("a body that is not a JSON error: status text plus (additional info: …)", async () => {
    const res = new Response("upstream exploded\n", { status: 502, headers: { "content-type": "text/plain" } });
    expect((await responseError(res, "GET", url)).message).toBe("Bad Gateway (additional info: upstream exploded)");
    const empty = new Response(null, { status: 503 });
    expect((await responseError(empty, "GET", url)).message).toBe("Service Unavailable");
  });

  test("JSON without an errors list is quoted, and only the first 8 KiB of a body are read", async () => {
    const res = new Response('{"detail":"x"}', { status: 400, headers: { "content-type": "application/json" } });
    expect((await responseError(res, "GET", url)).message).toBe('Bad Request (additional info: {"detail":"x"})');
    const big = new Response("y".repeat(20_000), { status: 500 });
    const e = await responseError(big, "GET", url);
    expect(e.message).toBe(`Internal Server Error (additional info: ${"y".repeat(8192)})`);
  });

  test("HEAD answers have no body to read", async () => {
    expect((await responseError(new Response(null, { status: 401 }), "HEAD", url)).message).toBe("Unauthorized");
  });

  test("expectStatus passes expected statuses through and throws otherwise", async () => {
    const ok = new Response("x", { status: 202 });
    expect(await expectStatus(ok, "POST", url, 201, 202)).toBe(ok);
    const err = await expectStatus(new Response(null, { status: 418 }), "POST", url, 202).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toBe("status 418");
  });
});

test("statusText and redactUrl", () => {
  expect(statusText(401)).toBe("Unauthorized");
  expect(statusText(599)).toBe("");
  expect(redactUrl("https://user:pw@h.io:5000/v2/x?token=abc#f")).toBe("https://h.io:5000/v2/x");
  // text that is not a URL loses its user info and query too
  expect(redactUrl("http://user:pw@bad host/p?token=abc")).toBe("http://bad host/p");
});
