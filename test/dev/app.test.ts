/**
 * The kit dev HTTP app in process (`app.request`, no socket) with the real tiny model: the
 * OpenAI-compatible API's shapes, streaming, errors and cancellation. Grammars make the random
 * model's output readable and exact where a test needs to know the text.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { createApp, MAX_BODY_BYTES, PAGE_CSP } from "../../src/dev/app.ts";
import { loadLlm, type Llm } from "../../src/dev/llm.ts";
import { CHAT_PAGE } from "../../src/dev/page.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { tempDir } from "../helpers/kit.ts";
import { writeTinyGguf } from "../helpers/tiny-gguf.ts";

const HELLO = 'root ::= "Hello from the tiny model."';
const NOW = 1_700_000_000;
let llm: Llm;
let log: ReturnType<typeof memoryLogger>;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  const file = path.join(tempDir("kit-devapp-"), "tiny.gguf");
  writeTinyGguf(file);
  log = memoryLogger("debug");
  llm = loadLlm({ modelPath: file, modelId: "tiny", threads: 1, contextSize: 512, gpu: false, logger: log });
  await llm.ready();
  app = createApp({ llm, page: CHAT_PAGE, logger: log, now: () => NOW });
});
afterAll(async () => {
  await llm?.close();
});

const post = (url: string, body: unknown, init: RequestInit = {}) =>
  app.request(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });

/** Splits an SSE body into its `data:` payloads, checking the framing on the way. */
function sseEvents(text: string): string[] {
  expect(text.endsWith("\n\n")).toBe(true);
  return text.slice(0, -2).split("\n\n").map((e) => {
    expect(e.startsWith("data: ")).toBe(true);
    expect(e.includes("\n")).toBe(false);
    return e.slice(6);
  });
}

const user = (content: string) => [{ role: "user", content }];

describe("health and models", () => {
  test("GET /health when ready", async () => {
    const r = await app.request("/health");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('{"status":"ok"}');
  });

  test("GET /v1/models lists the one model with its settings", async () => {
    const r = await app.request("/v1/models");
    expect(await r.json()).toEqual({
      object: "list",
      data: [{
        id: "tiny", object: "model", created: NOW, owned_by: "kit",
        meta: { context_size: 512, train_context_size: 2048, chat_format: "ChatML", threads: 1, gpu: false },
      }],
    });
    expect((await (await app.request("/v1/models/tiny")).json()).id).toBe("tiny");
    const missing = await app.request("/v1/models/other");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { message: "The model 'other' does not exist", type: "invalid_request_error", param: "model", code: "model_not_found" } });
  });
});

describe("POST /v1/chat/completions", () => {
  test("non-streamed, with a grammar: the exact text, stop, usage", async () => {
    const r = await post("/v1/chat/completions", { model: "anything", messages: user("hi"), grammar: HELLO });
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body.id).toMatch(/^chatcmpl-[0-9a-z]{24}$/);
    expect({ ...body, id: "x" }).toEqual({
      id: "x", object: "chat.completion", created: NOW, model: "tiny",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello from the tiny model." }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 20, completion_tokens: body.usage.completion_tokens, total_tokens: 20 + body.usage.completion_tokens },
    });
    expect(body.usage.completion_tokens).toBeGreaterThan(3);
  });

  test("greedy decoding is deterministic; max_tokens ends with finish_reason length", async () => {
    const req = { messages: [{ role: "system", content: "be brief" }, ...user("hello world")], temperature: 0, max_tokens: 8 };
    const a = await (await post("/v1/chat/completions", req)).json();
    const b = await (await post("/v1/chat/completions", req)).json();
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(a.choices[0].finish_reason).toBe("length");
    expect(a.usage.completion_tokens).toBe(8);
  });

  test("streamed: role first, text in several chunks, finish, usage, [DONE]", async () => {
    const r = await post("/v1/chat/completions", { messages: user("hi"), grammar: HELLO, stream: true, stream_options: { include_usage: true } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = sseEvents(await r.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const id = chunks[0].id;
    for (const c of chunks) {
      expect(c.id).toBe(id);
      expect(c.object).toBe("chat.completion.chunk");
      expect(c.created).toBe(NOW);
      expect(c.model).toBe("tiny");
    }
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
    const texts = chunks.slice(1, -2).map((c) => {
      expect(c.choices[0].finish_reason).toBeNull();
      return c.choices[0].delta.content as string;
    });
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.join("")).toBe("Hello from the tiny model.");
    expect(chunks.at(-2).choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]);
    expect(chunks.at(-1).choices).toEqual([]);
    expect(chunks.at(-1).usage.prompt_tokens).toBe(20);
  });

  test("stop sequences end the answer before the sequence", async () => {
    const r = await post("/v1/chat/completions", { messages: user("hi"), grammar: 'root ::= "one two STOP three"', stop: ["STOP"] });
    const body = await r.json();
    expect(body.choices[0].message.content).toBe("one two ");
    expect(body.choices[0].finish_reason).toBe("stop");
  });

  test("response_format json_schema constrains the output to the schema", async () => {
    const schema = { type: "object", properties: { answer: { enum: ["yes", "no"] } }, required: ["answer"], additionalProperties: false };
    const r = await post("/v1/chat/completions", { messages: user("ok?"), temperature: 0, response_format: { type: "json_schema", json_schema: { name: "a", schema } } });
    const parsed = JSON.parse((await r.json()).choices[0].message.content);
    expect(Object.keys(parsed)).toEqual(["answer"]);
    expect(["yes", "no"]).toContain(parsed.answer);
  });

  test("concurrent requests are served one after the other, both complete", async () => {
    const [a, b] = await Promise.all([
      post("/v1/chat/completions", { messages: user("a"), grammar: 'root ::= "first"' }),
      post("/v1/chat/completions", { messages: user("b"), grammar: 'root ::= "second"' }),
    ]);
    expect((await a.json()).choices[0].message.content).toBe("first");
    expect((await b.json()).choices[0].message.content).toBe("second");
  });

  test("a prompt longer than the context is a 400, also when streaming", async () => {
    const long = "hello world ".repeat(400);
    for (const stream of [false, true]) {
      const r = await post("/v1/chat/completions", { messages: user(long), stream });
      expect(r.status).toBe(400);
      const body = await r.json();
      expect(body.error.type).toBe("invalid_request_error");
      expect(body.error.param).toBe("messages");
      expect(body.error.code).toBe("context_length_exceeded");
      expect(body.error.message).toMatch(/^The prompt is \d+ tokens long, which leaves no room in the model's context of 512 tokens$/);
    }
  });

  test("a client that disconnects cancels its generation", async () => {
    log.out.length = 0;
    const r = await post("/v1/chat/completions", { messages: user("go"), grammar: "root ::= [a-z]{400}", max_tokens: 400, stream: true });
    const reader = r.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toStartWith("data: ");
    await reader.cancel();
    // the queue runs one generation at a time: this one starts after the cancelled one ended
    const next = await post("/v1/chat/completions", { messages: user("hi"), grammar: 'root ::= "after"' });
    expect((await next.json()).choices[0].message.content).toBe("after");
    const line = log.text().split("\n").find((l) => l.includes("finish abort"));
    expect(line).toBeDefined();
    const generated = Number(/\+ (\d+) completion tokens/.exec(line!)![1]);
    expect(generated).toBeLessThan(400);
  });
});

describe("POST /v1/completions", () => {
  test("non-streamed with echo; max_tokens defaults to 16", async () => {
    const r = await post("/v1/completions", { prompt: "The kit", grammar: 'root ::= " packs models."', echo: true });
    const body = await r.json();
    expect(body.id).toMatch(/^cmpl-/);
    expect({ ...body, id: "x", usage: null }).toEqual({
      id: "x", object: "text_completion", created: NOW, model: "tiny",
      choices: [{ text: "The kit packs models.", index: 0, logprobs: null, finish_reason: "stop" }], usage: null,
    });
    const d = await (await post("/v1/completions", { prompt: ["The kit"], temperature: 0 })).json();
    expect(d.usage.completion_tokens).toBe(16);
    expect(d.choices[0].finish_reason).toBe("length");
  });

  test("streamed", async () => {
    const r = await post("/v1/completions", { prompt: "The kit", grammar: 'root ::= " packs models."', stream: true });
    const events = sseEvents(await r.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0].text).join("")).toBe(" packs models.");
    expect(chunks.at(-1).choices[0].finish_reason).toBe("stop");
    expect(chunks.every((c) => c.object === "text_completion")).toBe(true);
  });
});

describe("bad requests get 400 with OpenAI's error body", () => {
  const cases: Array<[string, string, unknown, { message: string; param: string | null; code: string | null }]> = [
    ["malformed JSON", "/v1/chat/completions", "{bad", { message: "We could not parse the JSON body of your request: JSON Parse error: Expected '}'", param: null, code: null }],
    ["not an object", "/v1/chat/completions", "[1]", { message: "The request body must be a JSON object, but got an array.", param: null, code: null }],
    ["no messages", "/v1/chat/completions", {}, { message: "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter" }],
    ["empty messages", "/v1/chat/completions", { messages: [] }, { message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: "messages", code: "empty_array" }],
    ["bad role", "/v1/chat/completions", { messages: [{ role: "robot", content: "x" }] }, { message: `Invalid value for 'messages[0].role': expected one of 'system', 'developer', 'user' or 'assistant', but got "robot" instead.`, param: "messages[0].role", code: "invalid_value" }],
    ["tool message", "/v1/chat/completions", { messages: [{ role: "tool", content: "x" }] }, { message: "Tool and function messages are not supported by kit dev.", param: "messages[0].role", code: "unsupported_parameter" }],
    ["image part", "/v1/chat/completions", { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }] }, { message: 'Content part type "image_url" is not supported: this model takes text only.', param: "messages[0].content[0].type", code: "unsupported_value" }],
    ["temperature type", "/v1/chat/completions", { messages: user("x"), temperature: "hot" }, { message: "Invalid type for 'temperature': expected a number, but got a string instead.", param: "temperature", code: "invalid_type" }],
    ["temperature range", "/v1/chat/completions", { messages: user("x"), temperature: 3 }, { message: "Invalid value for 'temperature': expected a number between 0 and 2, but got 3 instead.", param: "temperature", code: "invalid_value" }],
    ["max_tokens 0", "/v1/chat/completions", { messages: user("x"), max_tokens: 0 }, { message: "Invalid value for 'max_tokens': expected a number at least 1, but got 0 instead.", param: "max_tokens", code: "invalid_value" }],
    ["max_tokens decimal", "/v1/chat/completions", { messages: user("x"), max_tokens: 1.5 }, { message: "Invalid type for 'max_tokens': expected an integer, but got a decimal instead.", param: "max_tokens", code: "invalid_type" }],
    ["n > 1", "/v1/chat/completions", { messages: user("x"), n: 2 }, { message: "Only one choice per request is supported ('n' must be 1).", param: "n", code: "unsupported_parameter" }],
    ["tools", "/v1/chat/completions", { messages: user("x"), tools: [{ type: "function" }] }, { message: "Tool and function calling is not supported by kit dev.", param: "tools", code: "unsupported_parameter" }],
    ["stop type", "/v1/chat/completions", { messages: user("x"), stop: [1] }, { message: "Invalid type for 'stop[0]': expected a string, but got an integer instead.", param: "stop[0]", code: "invalid_type" }],
    ["stream_options without stream", "/v1/chat/completions", { messages: user("x"), stream_options: { include_usage: true } }, { message: "Invalid value for 'stream_options': stream_options are only allowed when 'stream' is true.", param: "stream_options", code: "invalid_value" }],
    ["bad grammar", "/v1/chat/completions", { messages: user("x"), grammar: 'root ::= "a' }, { message: "Invalid grammar: Failed to parse grammar", param: "grammar", code: "invalid_value" }],
    ["response_format type", "/v1/chat/completions", { messages: user("x"), response_format: { type: "xml" } }, { message: `Invalid value for 'response_format.type': expected one of 'text', 'json_object' or 'json_schema', but got "xml" instead.`, param: "response_format.type", code: "invalid_value" }],
    ["no prompt", "/v1/completions", {}, { message: "Missing required parameter: 'prompt'.", param: "prompt", code: "missing_required_parameter" }],
    ["several prompts", "/v1/completions", { prompt: ["a", "b"] }, { message: "Only one prompt per request is supported.", param: "prompt", code: "unsupported_parameter" }],
    ["suffix", "/v1/completions", { prompt: "a", suffix: "b" }, { message: "'suffix' (fill-in-the-middle) is not supported.", param: "suffix", code: "unsupported_parameter" }],
  ];
  for (const [name, url, body, err] of cases) {
    test(name, async () => {
      const r = await post(url, body);
      expect(r.status).toBe(400);
      expect(r.headers.get("content-type")).toStartWith("application/json");
      expect(await r.json()).toEqual({ error: { message: err.message, type: "invalid_request_error", param: err.param, code: err.code } });
    });
  }

  test("a body over the limit is a 413, whether or not Content-Length says so", async () => {
    const big = "x".repeat(MAX_BODY_BYTES + 1);
    const r = await post("/v1/chat/completions", big);
    expect(r.status).toBe(413);
    expect((await r.json()).error.message).toBe(`The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    const declared = await post("/v1/chat/completions", big, { headers: { "Content-Length": String(big.length) } });
    expect(declared.status).toBe(413);
    expect((await declared.json()).error.message).toBe(`The request body is ${MAX_BODY_BYTES + 1} bytes; at most ${MAX_BODY_BYTES} are accepted.`);
  });

  test("an unknown URL is a 404 in the same shape", async () => {
    const r = await app.request("/v1/embeddings", { method: "POST" });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: { message: "Unknown request URL: POST /v1/embeddings", type: "invalid_request_error", param: null, code: "unknown_url" } });
  });
});

describe("the chat page", () => {
  test("served with a CSP that forbids anything from outside; it references no external resource", async () => {
    const r = await app.request("/");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    expect(r.headers.get("content-security-policy")).toBe(PAGE_CSP);
    const html = await r.text();
    expect(html).toBe(CHAT_PAGE);
    expect(html).toStartWith("<!doctype html>");
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link\b/i);
    for (const id of ["prompt", "send", "stop", "system", "temperature", "top-p", "max-tokens", "messages"]) expect(html).toContain(`id="${id}"`);
  });
});
