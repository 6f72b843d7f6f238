/**
 * Failure paths of the kit dev app with a stub model: loading, a failed load, generation errors
 * before and during a stream, a client that gives up. The server answers every time.
 */
import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/dev/app.ts";
import { LlmUnavailableError, type GenerateOptions, type GenerateResult, type Llm, type LlmState } from "../../src/dev/llm.ts";
import { memoryLogger } from "../../src/util/log.ts";

type Gen = (o: GenerateOptions) => Promise<GenerateResult>;

function stub(state: LlmState, gen: Gen = async () => done("ok")): Llm {
  const require = () => {
    if (state.status === "loading") throw new LlmUnavailableError("The model is still loading");
    if (state.status === "error") throw new LlmUnavailableError(`The model could not be loaded: ${state.message}`);
  };
  return {
    modelId: "stub",
    state: () => state,
    ready: async () => {},
    info: () => ({ modelId: "stub", modelPath: "/m.gguf", contextSize: 64, trainContextSize: 64, chatFormat: "ChatML", threads: 1, gpu: false }),
    chat: async (_m, o = {}) => (require(), gen(o)),
    complete: async (_p, o = {}) => (require(), gen(o)),
    close: async () => {},
  };
}

const done = (text: string, finishReason: GenerateResult["finishReason"] = "stop"): GenerateResult =>
  ({ text, reasoning: "", finishReason, promptTokens: 3, completionTokens: 2 });

const chat = (app: ReturnType<typeof createApp>, extra: Record<string, unknown> = {}, init: RequestInit = {}) =>
  app.request("/v1/chat/completions", { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...extra }), ...init });

describe("model not available", () => {
  test("while loading: /health 503, requests 503, the page and /v1/models still answer", async () => {
    const app = createApp({ llm: stub({ status: "loading" }), page: "<p>page</p>" });
    const h = await app.request("/health");
    expect(h.status).toBe(503);
    expect(await h.json()).toEqual({ status: "loading", error: { message: "The model is still loading", type: "unavailable_error", param: null, code: "model_not_ready" } });
    for (const stream of [false, true]) {
      const r = await chat(app, { stream });
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ error: { message: "The model is still loading", type: "unavailable_error", param: null, code: "model_not_ready" } });
    }
    expect((await app.request("/")).status).toBe(200);
    expect(await (await app.request("/v1/models")).json()).toEqual({ object: "list", data: [{ id: "stub", object: "model", created: expect.any(Number), owned_by: "kit" }] });
  });

  test("when loading failed: /health 500 with the reason, requests 503 with it", async () => {
    const app = createApp({ llm: stub({ status: "error", message: "invalid GGUF magic" }), page: "" });
    const h = await app.request("/health");
    expect(h.status).toBe(500);
    expect(await h.json()).toEqual({
      status: "error",
      error: { message: "The model could not be loaded: invalid GGUF magic", type: "server_error", param: null, code: "model_load_failed" },
    });
    const r = await app.request("/v1/completions", { method: "POST", body: '{"prompt":"x"}' });
    expect(r.status).toBe(503);
    expect((await r.json()).error.message).toBe("The model could not be loaded: invalid GGUF magic");
  });
});

describe("generation errors", () => {
  test("non-streamed: 500 server_error, logged; the next request works", async () => {
    let fail = true;
    const log = memoryLogger();
    const app = createApp({ llm: stub({ status: "ready" }, async () => { if (fail) throw new Error("llama_decode failed"); return done("fine"); }), page: "", logger: log });
    const r = await chat(app);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ error: { message: "Generation failed: llama_decode failed", type: "server_error", param: null, code: null } });
    expect(log.err.join("")).toBe("[ERROR] Generation failed: llama_decode failed\n");
    fail = false;
    expect((await (await chat(app)).json()).choices[0].message.content).toBe("fine");
  });

  test("before the first token of a stream: a plain HTTP error, not a 200 stream", async () => {
    const app = createApp({ llm: stub({ status: "ready" }, async () => { throw new Error("boom"); }), page: "" });
    const r = await chat(app, { stream: true });
    expect(r.status).toBe(500);
    expect((await r.json()).error.message).toBe("Generation failed: boom");
  });

  test("during a stream: the text so far, then one error event, and no [DONE]", async () => {
    const log = memoryLogger();
    const app = createApp({
      llm: stub({ status: "ready" }, async (o) => { o.onText?.("partial"); throw new Error("out of memory"); }),
      page: "",
      logger: log,
      now: () => 5,
    });
    const r = await chat(app, { stream: true });
    expect(r.status).toBe(200);
    const text = await r.text();
    const events = text.split("\n\n").filter((e) => e !== "");
    expect(events.length).toBe(3);
    expect(JSON.parse(events[0]!.slice(6)).choices[0].delta).toEqual({ role: "assistant", content: "" });
    expect(JSON.parse(events[1]!.slice(6)).choices[0].delta).toEqual({ content: "partial" });
    expect(events[2]).toBe('data: {"error":{"message":"Generation failed: out of memory","type":"server_error","param":null,"code":null}}');
    expect(log.err.join("")).toBe("[ERROR] Chat completion: Generation failed: out of memory\n");
  });

  test("a client that gives up on a non-streamed request aborts the generation quietly", async () => {
    const seen: AbortSignal[] = [];
    const log = memoryLogger();
    const app = createApp({
      llm: stub({ status: "ready" }, (o) => new Promise((resolve) => {
        seen.push(o.signal!);
        o.signal!.addEventListener("abort", () => resolve(done("", "abort")));
      })),
      page: "",
      logger: log,
    });
    const ac = new AbortController();
    const pending = chat(app, {}, { signal: ac.signal });
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 1));
    expect(seen[0]!.aborted).toBe(false);
    ac.abort();
    await Promise.resolve(pending).catch(() => {});
    expect(seen[0]!.aborted).toBe(true);
    expect(log.err).toEqual([]);
  });
});
