/** The model runner: load failures are reported (never thrown at the server), generations are serial and cancellable. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadLlm, LlmRequestError, LlmUnavailableError, type Llm } from "../../src/dev/llm.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { tempDir } from "../helpers/kit.ts";
import { writeTinyGguf } from "../helpers/tiny-gguf.ts";

let dir: string;
let model: string;
beforeAll(() => {
  dir = tempDir("kit-devllm-");
  model = path.join(dir, "tiny.gguf");
  writeTinyGguf(model);
});

async function expectUnavailable(p: Promise<unknown>, message: string) {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LlmUnavailableError);
    expect((e as Error).message).toBe(message);
    return;
  }
  throw new Error("expected LlmUnavailableError");
}

describe("loading", () => {
  test("state goes from loading to ready; info comes from the model", async () => {
    const llm = loadLlm({ modelPath: model, modelId: "tiny", threads: 1, gpu: false });
    expect(llm.state()).toEqual({ status: "loading" });
    expect(() => llm.info()).toThrow("The model is still loading");
    await llm.ready();
    expect(llm.state()).toEqual({ status: "ready" });
    // no context size given: the model's training context (memory permitting)
    expect(llm.info()).toEqual({ modelId: "tiny", modelPath: model, contextSize: 2048, trainContextSize: 2048, chatFormat: "ChatML", threads: 1, gpu: false });
    await llm.close();
    await expectUnavailable(llm.chat([{ role: "user", content: "x" }]), "The model has been unloaded");
  });

  test("not a GGUF file: llama.cpp's reason is kept in the state and logged", async () => {
    const bad = path.join(dir, "bad.gguf");
    writeFileSync(bad, "this is not a model");
    const log = memoryLogger();
    const llm = loadLlm({ modelPath: bad, modelId: "bad", threads: 1, gpu: false, logger: log });
    const reason = "gguf_init_from_file_impl: invalid magic characters: 'this', expected 'GGUF'";
    await expect(llm.ready()).rejects.toThrow(reason);
    expect(llm.state()).toEqual({ status: "error", message: reason });
    expect(log.err).toEqual([`[ERROR] Failed to load model ${bad}: ${reason}\n`]);
    await expectUnavailable(llm.complete("x"), `The model could not be loaded: ${reason}`);
    await llm.close();
  });

  test("a file that starts like GGUF but is not a model fails at once (node-llama-cpp's reader would spin)", async () => {
    const bad = path.join(dir, "notreally.gguf");
    writeFileSync(bad, "GGUFnotreally");
    const llm = loadLlm({ modelPath: bad, modelId: "bad", threads: 1, gpu: false, logger: memoryLogger() });
    await expect(llm.ready()).rejects.toThrow("gguf_init_from_file_impl: this GGUF file is version 1920233326 but this software only supports up to version 3");
    await llm.close();
  }, 20_000);

  test("a truncated model: llama.cpp's reason is part of the message", async () => {
    const cut = path.join(dir, "cut.gguf");
    writeFileSync(cut, readFileSync(model).subarray(0, 300_000));
    const llm = loadLlm({ modelPath: cut, modelId: "cut", threads: 1, gpu: false, logger: memoryLogger() });
    await expect(llm.ready()).rejects.toThrow("data is not within the file bounds");
    expect(llm.state()).toEqual({
      status: "error",
      message: "Failed to load model (llama_model_load: error loading model: tensor 'blk.0.attn_output.weight' data is not within the file bounds, model is corrupted or incomplete)",
    });
    await llm.close();
  });
});

describe("generation", () => {
  let llm: Llm;
  beforeAll(async () => {
    llm = loadLlm({ modelPath: model, modelId: "tiny", threads: 1, contextSize: 256, gpu: false });
    await llm.ready();
  });
  afterAll(() => llm.close());

  test("text arrives piece by piece and adds up to the result", async () => {
    const pieces: string[] = [];
    const r = await llm.chat([{ role: "user", content: "hi" }], { format: { type: "grammar", grammar: 'root ::= "Streaming works fine."' }, onText: (t) => pieces.push(t) });
    expect(r.text).toBe("Streaming works fine.");
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(r.text);
    expect(r.finishReason).toBe("stop");
  });

  test("an assistant message at the end is continued (the answer holds only the new text)", async () => {
    const r = await llm.chat(
      [{ role: "user", content: "hi" }, { role: "assistant", content: "Sure" }],
      { format: { type: "grammar", grammar: 'root ::= ", here it is."' } },
    );
    expect(r.text).toBe(", here it is.");
  });

  test("an abort stops the generation and reports it", async () => {
    const ac = new AbortController();
    let n = 0;
    const r = await llm.complete("The", {
      maxTokens: 200,
      format: { type: "grammar", grammar: "root ::= [a-z]{200}" },
      signal: ac.signal,
      onText: () => { if (++n === 3) ac.abort(); },
    });
    expect(r.finishReason).toBe("abort");
    expect(r.completionTokens).toBeLessThan(200);
  });

  test("a request aborted while waiting in the queue never runs", async () => {
    const ac = new AbortController();
    const first = llm.complete("The", { maxTokens: 20, temperature: 0 });
    const second = llm.complete("The", { maxTokens: 20, signal: ac.signal });
    ac.abort();
    await first;
    await expect(second).rejects.toThrow("The operation was aborted");
  });

  test("no room left in the context is a request error", async () => {
    try {
      await llm.complete("hello world ".repeat(200));
      throw new Error("expected an error");
    } catch (e) {
      expect(e).toBeInstanceOf(LlmRequestError);
      expect((e as LlmRequestError).param).toBe("prompt");
      expect((e as LlmRequestError).code).toBe("context_length_exceeded");
    }
  });

  test("max tokens are capped by the room left in the context", async () => {
    const r = await llm.complete("The", { maxTokens: 100_000, format: { type: "grammar", grammar: "root ::= [0-9]{1000}" } });
    expect(r.finishReason).toBe("length");
    expect(r.promptTokens + r.completionTokens).toBe(256);
  });
});
