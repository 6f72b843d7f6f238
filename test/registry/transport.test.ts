import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FetchTransportOptions } from "../../src/runtime/runtime.ts";
import { redactUrl } from "../../src/registry/http.ts";
import { createTransport, DEFAULT_NETWORK_OPTIONS } from "../../src/registry/network-options.ts";
import { proxyFromEnvironment } from "../../src/registry/proxy.ts";
import { type FetchFn, NetworkError, parseRetryAfter, Transport, type TransportOptions } from "../../src/registry/transport.ts";
import { CancelledError, KitError } from "../../src/util/errors.ts";
import { memoryLogger } from "../../src/util/log.ts";

interface Call { url: string; init: RequestInit; tls: FetchTransportOptions }

/** A transport whose fetch answers from `answers` in order, recording calls and sleeps. */
function scripted(answers: Array<Response | Error | (() => Response | Promise<Response>)>, opts: Partial<TransportOptions> = {}) {
  const calls: Call[] = [];
  const sleeps: number[] = [];
  const fetch: FetchFn = async (url, init, tls) => {
    calls.push({ url: url.toString(), init, tls });
    const a = answers.shift();
    if (!a) throw new Error("no more answers");
    if (a instanceof Error) throw a;
    return typeof a === "function" ? a() : a;
  };
  const t = new Transport({
    userAgent: "kitops-cli/9.9.9",
    fetch,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...opts,
  });
  return { t, calls, sleeps };
}

const u = new URL("https://reg.example.com/v2/");
const netErr = (code: string) => Object.assign(new TypeError(`${code}: boom`), { code });

describe("Transport.send", () => {
  test("sets kit's User-Agent and returns the answer", async () => {
    const { t, calls } = scripted([new Response("{}", { status: 200 })]);
    const res = await t.send({ method: "GET", url: u });
    expect(res.status).toBe(200);
    expect(new Headers(calls[0]!.init.headers).get("user-agent")).toBe("kitops-cli/9.9.9");
    expect(calls[0]!.init.redirect).toBe("manual");
  });

  test("retries 5xx, 408 and network resets with 250 ms·2^n backoff, then succeeds", async () => {
    const { t, calls, sleeps } = scripted([
      new Response(null, { status: 503 }),
      new Response(null, { status: 408 }),
      netErr("ECONNRESET"),
      new Response(null, { status: 500 }),
      new Response("ok", { status: 200 }),
    ]);
    const res = await t.send({ method: "HEAD", url: u });
    expect(res.status).toBe(200);
    expect(calls.length).toBe(5);
    expect(sleeps).toEqual([250, 500, 1000, 2000]);
  });

  test("backoff is jittered by ±10% and clamped to [200 ms, 3 s]", () => {
    const low = scripted([], { random: () => 0 }).t;
    const high = scripted([], { random: () => 0.999999 }).t;
    expect(low.backoff(0)).toBe(225);
    expect(high.backoff(0)).toBe(275);
    expect(low.backoff(5)).toBe(3000);
    expect(scripted([], { retry: { baseDelayMs: 10 } }).t.backoff(0)).toBe(200);
  });

  test("429 honours Retry-After", async () => {
    const { t, sleeps } = scripted([new Response(null, { status: 429, headers: { "retry-after": "2" } }), new Response(null, { status: 200 })]);
    expect((await t.send({ method: "GET", url: u })).status).toBe(200);
    expect(sleeps).toEqual([2000]);
  });

  test("gives up after 5 retries and returns the last answer", async () => {
    const { t, calls } = scripted(Array.from({ length: 6 }, () => new Response(null, { status: 502 })));
    expect((await t.send({ method: "GET", url: u })).status).toBe(502);
    expect(calls.length).toBe(6);
  });

  test("does not retry 4xx, 501, or a streamed body", async () => {
    for (const status of [400, 401, 404, 501]) {
      const { t, calls } = scripted([new Response(null, { status })]);
      expect((await t.send({ method: "GET", url: u })).status).toBe(status);
      expect(calls.length).toBe(1);
    }
    const { t, calls } = scripted([new Response(null, { status: 503 })]);
    const body = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new Uint8Array(3)), c.close()) });
    expect((await t.send({ method: "PUT", url: u, body })).status).toBe(503);
    expect(calls.length).toBe(1);
    expect((calls[0]!.init as { duplex?: string }).duplex).toBe("half");
  });

  test("a buffered body is sent again on retry", async () => {
    const { t, calls } = scripted([new Response(null, { status: 503 }), new Response(null, { status: 201 })]);
    const body = new TextEncoder().encode("manifest");
    expect((await t.send({ method: "PUT", url: u, body })).status).toBe(201);
    expect(calls.map((c) => c.init.body)).toEqual([body, body]);
  });

  test("refused connections, unknown hosts and TLS failures are not retried; the message names the host and the failure", async () => {
    const cases: Array<[string, string]> = [
      ["ECONNREFUSED", "could not connect to reg.example.com: connection refused"],
      ["ENOTFOUND", "could not connect to reg.example.com: no such host"],
      ["EPROTO", "could not connect to reg.example.com: TLS handshake failed"],
      ["DEPTH_ZERO_SELF_SIGNED_CERT", "could not connect to reg.example.com: its certificate is not trusted (boom)"],
    ];
    for (const [code, message] of cases) {
      const { t, calls } = scripted([netErr(code)]);
      const e = await t.send({ method: "GET", url: u }).catch((x) => x);
      expect(e).toBeInstanceOf(NetworkError);
      expect(e.retryable).toBe(false);
      expect(e.message).toBe(message);
      expect([e.method, e.url, e.code]).toEqual(["GET", "https://reg.example.com/v2/", code]);
      expect(calls.length).toBe(1);
    }
  });

  test("the runtime's advice to programmers is not part of a message; a reset is a lost connection", async () => {
    const bun = Object.assign(new TypeError("ECONNRESET: The socket connection was closed unexpectedly. For more information, pass `verbose: true` in the second argument to fetch()"), { code: "ECONNRESET" });
    const { t } = scripted([bun], { retry: { maxRetries: 0 } });
    const e = await t.send({ method: "GET", url: new URL("http://127.0.0.1:5000/v2/") }).catch((x) => x);
    expect(e.message).toBe("connection to 127.0.0.1:5000 failed: connection reset");
    const odd = Object.assign(new TypeError('ESOMETHING fetching "https://reg.example.com/v2/". For more information, pass `verbose: true` in the second argument to fetch()'), { code: "ESOMETHING" });
    const o = await scripted([odd], { retry: { maxRetries: 0 } }).t.send({ method: "GET", url: u }).catch((x) => x);
    expect(o.message).toBe("could not connect to reg.example.com: ESOMETHING");
  });

  test("waiting too long for response headers is a retryable timeout", async () => {
    // A server that never answers: the fetch only ends when its signal aborts.
    const calls: number[] = [];
    const hanging = new Transport({
      userAgent: "x",
      headerTimeoutMs: 20,
      retry: { maxRetries: 0 },
      fetch: (_u, init) => new Promise((_, reject) => {
        calls.push(1);
        init.signal!.addEventListener("abort", () => reject(init.signal!.reason));
      }),
    });
    const e = await hanging.send({ method: "GET", url: u }).catch((x) => x);
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.message).toBe("could not connect to reg.example.com: no response within 20 ms");
    expect(e.retryable).toBe(true);
    expect(calls.length).toBe(1);
  });

  test("an aborted signal stops a retry wait with CancelledError", async () => {
    const ctl = new AbortController();
    const t = new Transport({
      userAgent: "x",
      fetch: async () => new Response(null, { status: 503 }),
      sleep: async () => {
        ctl.abort();
        throw new CancelledError();
      },
    });
    expect(await t.send({ method: "GET", url: u, signal: ctl.signal }).catch((e) => e)).toBeInstanceOf(CancelledError);
  });

  test("redirects of GET are followed; Authorization is dropped when the origin changes", async () => {
    const { t, calls } = scripted([
      new Response(null, { status: 307, headers: { location: "/v2/other" } }),
      new Response(null, { status: 302, headers: { location: "https://cdn.example.net/blob?sig=x" } }),
      new Response("data", { status: 200 }),
    ]);
    const res = await t.send({ method: "GET", url: u, headers: new Headers({ authorization: "Bearer t" }) });
    expect(await res.text()).toBe("data");
    expect(calls.map((c) => c.url)).toEqual(["https://reg.example.com/v2/", "https://reg.example.com/v2/other", "https://cdn.example.net/blob?sig=x"]);
    expect(calls.map((c) => new Headers(c.init.headers).get("authorization"))).toEqual(["Bearer t", "Bearer t", null]);
  });

  test("a redirect of PUT is returned, not followed", async () => {
    const { t, calls } = scripted([new Response(null, { status: 307, headers: { location: "/x" } })]);
    expect((await t.send({ method: "PUT", url: u, body: new Uint8Array(1) })).status).toBe(307);
    expect(calls.length).toBe(1);
  });

  test("trace lines name method, URL, status and duration — never secrets in the query", async () => {
    const log = memoryLogger("trace");
    const { t } = scripted([new Response(null, { status: 202 }), netErr("ECONNREFUSED")], { logger: log });
    await t.send({ method: "PUT", url: new URL("https://u:p@reg.example.com/v2/x/blobs/uploads/1?_state=abc&digest=sha256:00") });
    await expect(t.send({ method: "GET", url: u })).rejects.toThrow("connection refused");
    const text = log.text();
    expect(text).toMatch(/^\[TRACE\] PUT https:\/\/reg\.example\.com\/v2\/x\/blobs\/uploads\/1\?_state=\*\*\*&digest=sha256%3A00 -> 202 -- duration \d+\.\d\d ms\n/);
    expect(text).toMatch(/\[TRACE\] GET https:\/\/reg\.example\.com\/v2\/ -> ERROR -- duration \d+\.\d\d ms\n$/);
    expect(text).not.toContain("abc");
    expect(text).not.toContain("u:p");
  });
});

test("redactUrl with query: mask masks query values that may carry secrets", () => {
  expect(redactUrl(new URL("https://h/p?X-Amz-Signature=s&X-Amz-Credential=c&n=5&access_token=t"), { query: "mask" })).toBe(
    "https://h/p?X-Amz-Signature=***&X-Amz-Credential=***&n=5&access_token=***",
  );
});

test("parseRetryAfter: seconds or an HTTP date", () => {
  expect(parseRetryAfter("3")).toBe(3000);
  expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
  expect(parseRetryAfter("soon")).toBeUndefined();
  expect(parseRetryAfter(null)).toBeUndefined();
});

describe("proxyFromEnvironment (Go's rules)", () => {
  const env = { HTTPS_PROXY: "proxy.corp:3128", HTTP_PROXY: "http://plain.corp:80", NO_PROXY: "internal.corp,.svc.local,10.0.0.0/8,reg.example.com:5000" };
  const cases: Array<[string, string | null]> = [
    ["https://ghcr.io/v2/", "http://proxy.corp:3128"],
    ["http://ghcr.io/v2/", "http://plain.corp:80"],
    ["https://localhost:5000/v2/", null],
    ["https://127.0.0.1:5000/v2/", null],
    ["https://[::1]:5000/v2/", null],
    ["https://internal.corp/v2/", null],
    ["https://a.internal.corp/v2/", null],
    ["https://x.svc.local/v2/", null],
    ["https://svc.local/v2/", "http://proxy.corp:3128"],
    ["https://10.1.2.3/v2/", null],
    ["https://11.1.2.3/v2/", "http://proxy.corp:3128"],
    ["https://reg.example.com:5000/v2/", null],
    ["https://reg.example.com/v2/", "http://proxy.corp:3128"],
  ];
  for (const [url, want] of cases) test(url, () => expect(proxyFromEnvironment(new URL(url), env)).toBe(want));
  test("lower-case variables, `*`, and nothing set", () => {
    expect(proxyFromEnvironment(new URL("https://ghcr.io"), { https_proxy: "http://p:1" })).toBe("http://p:1");
    expect(proxyFromEnvironment(new URL("https://ghcr.io"), { HTTPS_PROXY: "http://p:1", NO_PROXY: "*" })).toBeNull();
    expect(proxyFromEnvironment(new URL("https://ghcr.io"), {})).toBeNull();
  });
  test("--proxy wins over the environment, for every host", () => {
    const t = new Transport({ userAgent: "x", proxy: "http://flag:8080", env });
    expect(t.proxyFor(new URL("https://localhost/v2/"))).toBe("http://flag:8080");
    expect(new Transport({ userAgent: "x", env }).proxyFor(new URL("https://localhost/v2/"))).toBeNull();
  });
});

describe("createTransport", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kit-transport-"));
  writeFileSync(path.join(dir, "ca.pem"), "CA-PEM");
  writeFileSync(path.join(dir, "flag.crt"), "FLAG-CERT");
  writeFileSync(path.join(dir, "flag.key"), "FLAG-KEY");
  writeFileSync(path.join(dir, "env.crt"), "ENV-CERT");
  writeFileSync(path.join(dir, "env.key"), "ENV-KEY");

  async function tlsOf(net: Partial<typeof DEFAULT_NETWORK_OPTIONS>, env: Record<string, string> = {}) {
    let seen: FetchTransportOptions | undefined;
    const t = await createTransport({ ...DEFAULT_NETWORK_OPTIONS, ...net }, { version: "1.2.3", env }, {
      fetch: async (_u, _i, tls) => {
        seen = tls;
        return new Response(null, { status: 200 });
      },
    });
    await t.send({ method: "GET", url: u });
    expect(t.userAgent).toBe("kitops-cli/1.2.3");
    return seen!;
  }

  test("--tls-verify=false, --tls-cert files, --cert/--key", async () => {
    const tls = await tlsOf({ tlsVerify: false, tlsCerts: [path.join(dir, "ca.pem")], clientCert: path.join(dir, "flag.crt"), clientKey: path.join(dir, "flag.key") });
    expect(tls).toEqual({ verify: false, extraCAs: ["CA-PEM"], clientCert: "FLAG-CERT", clientKey: "FLAG-KEY", proxy: null });
  });

  test("KITOPS_CLIENT_CERT/KEY override the flags; a cert without a key is not used", async () => {
    const tls = await tlsOf(
      { clientCert: path.join(dir, "flag.crt"), clientKey: path.join(dir, "flag.key") },
      { KITOPS_CLIENT_CERT: path.join(dir, "env.crt"), KITOPS_CLIENT_KEY: path.join(dir, "env.key") },
    );
    expect([tls.clientCert, tls.clientKey]).toEqual(["ENV-CERT", "ENV-KEY"]);
    expect((await tlsOf({ clientCert: path.join(dir, "flag.crt") })).clientCert).toBeUndefined();
  });

  test("unreadable files and bad proxy URLs are clear errors", async () => {
    const e = await createTransport({ ...DEFAULT_NETWORK_OPTIONS, tlsCerts: [path.join(dir, "missing.pem")] }, { version: "1", env: {} }).catch((x) => x);
    expect(e).toBeInstanceOf(KitError);
    expect(e.message).toStartWith(`Failed to read CA certificate ${path.join(dir, "missing.pem")}: `);
    const p = await createTransport({ ...DEFAULT_NETWORK_OPTIONS, proxy: "::nope" }, { version: "1", env: {} }).catch((x) => x);
    expect(p.message).toBe('Invalid proxy URL "::nope"');
  });
});
