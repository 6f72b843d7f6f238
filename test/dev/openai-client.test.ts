/**
 * The official `openai` npm client against the kit dev API over a real socket: what real
 * clients send and parse. The server is the app with the real tiny model, served by the
 * runtime's serve() on a free loopback port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import path from "node:path";
import OpenAI, { BadRequestError } from "openai";
import { createApp } from "../../src/dev/app.ts";
import { loadLlm, type Llm } from "../../src/dev/llm.ts";
import { CHAT_PAGE } from "../../src/dev/page.ts";
import { serve, type Server } from "../../src/runtime/runtime.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { tempDir } from "../helpers/kit.ts";
import { writeTinyGguf } from "../helpers/tiny-gguf.ts";

let llm: Llm;
let server: Server;
let client: OpenAI;
const log = memoryLogger();

beforeAll(async () => {
  const file = path.join(tempDir("kit-devoai-"), "tiny.gguf");
  writeTinyGguf(file);
  llm = loadLlm({ modelPath: file, modelId: "tiny-chat", threads: 1, contextSize: 512, gpu: false });
  await llm.ready();
  server = await serve({ hostname: "127.0.0.1", port: 0, fetch: createApp({ llm, page: CHAT_PAGE, logger: log }).fetch });
  client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: "not-needed", maxRetries: 0 });
});
afterAll(async () => {
  await server?.stop();
  await llm?.close();
});

/** kit dev's extension: a GBNF grammar, so the random model says something known. */
const grammar = (text: string) => ({ grammar: `root ::= ${JSON.stringify(text)}` }) as object;

describe("openai client", () => {
  test("models.list", async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models).toEqual(["tiny-chat"]);
  });

  test("a non-streamed chat completion", async () => {
    const r = await client.chat.completions.create({
      model: "tiny-chat",
      messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Say hello" }],
      max_completion_tokens: 40,
      ...grammar("Hello from kit dev!"),
    });
    expect(r.object).toBe("chat.completion");
    expect(r.model).toBe("tiny-chat");
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]!.message.role).toBe("assistant");
    expect(r.choices[0]!.message.content).toBe("Hello from kit dev!");
    expect(r.choices[0]!.finish_reason).toBe("stop");
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  test("a streamed chat completion, with usage", async () => {
    const stream = await client.chat.completions.create({
      model: "tiny-chat",
      messages: [{ role: "user", content: "Stream something" }],
      stream: true,
      stream_options: { include_usage: true },
      ...grammar("Tokens arrive one by one."),
    });
    const pieces: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      const c = chunk.choices[0];
      if (c?.delta.content) pieces.push(c.delta.content);
      if (c?.finish_reason) finish = c.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.join("")).toBe("Tokens arrive one by one.");
    expect(pieces.length).toBeGreaterThan(1);
    expect(finish).toBe("stop");
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  test("a legacy completion", async () => {
    const r = await client.completions.create({ model: "tiny-chat", prompt: "kit", max_tokens: 5, temperature: 0 });
    expect(r.object).toBe("text_completion");
    expect(r.choices[0]!.finish_reason).toBe("length");
    expect(r.usage!.completion_tokens).toBe(5);
  });

  test("a bad request surfaces as the client's BadRequestError with our message", async () => {
    const err = await client.chat.completions.create({ model: "tiny-chat", messages: [{ role: "user", content: "x" }], temperature: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.status).toBe(400);
    expect(err.param).toBe("temperature");
    expect(err.code).toBe("invalid_value");
    expect(err.message).toBe("400 Invalid value for 'temperature': expected a number between 0 and 2, but got 5 instead.");
  });

  test("leaving a stream early cancels its generation; the server goes on serving", async () => {
    log.out.length = 0;
    const stream = await client.chat.completions.create({
      model: "tiny-chat", messages: [{ role: "user", content: "long" }], stream: true, max_tokens: 400, ...{ grammar: "root ::= [0-9]{400}" },
    });
    let n = 0;
    for await (const _ of stream) if (++n === 2) break; // the client aborts the request
    expect(n).toBe(2);
    const r = await client.chat.completions.create({ model: "tiny-chat", messages: [{ role: "user", content: "again" }], ...grammar("still here") });
    expect(r.choices[0]!.message.content).toBe("still here");
    const line = log.text().split("\n").find((l) => l.includes("finish abort"));
    expect(line).toBeDefined();
    expect(Number(/\+ (\d+) completion tokens/.exec(line!)![1])).toBeLessThan(400);
  });
});
