/**
 * The `kit dev` HTTP app (Hono): the chat page and an OpenAI-compatible API over one {@link Llm}.
 *
 *   GET  /                      the chat page (embedded; no external resources)
 *   GET  /health                200 `{"status":"ok"}`, 503 while loading, 500 when loading failed
 *   GET  /v1/models             the one model (with its context size etc. in `meta`)
 *   GET  /v1/models/:id
 *   POST /v1/chat/completions   streamed (SSE `data: {...}` chunks, then `data: [DONE]`) or not
 *   POST /v1/completions
 *
 * Errors use OpenAI's body `{"error":{"message","type","param","code"}}`: 400 for bad JSON or
 * parameters, 503 while the model is unavailable, 500 when generation fails. A failure never
 * takes the server down. A client that disconnects cancels its generation.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Logger } from "../util/log.ts";
import { LlmRequestError, LlmUnavailableError, type GenerateResult, type Llm } from "./llm.ts";
import {
  ApiError,
  chatChunk,
  chatCompletion,
  chatUsageChunk,
  completionId,
  errorBody,
  parseChatRequest,
  parseCompletionRequest,
  parseJsonBody,
  textChunk,
  textCompletion,
  textUsageChunk,
  type ResponseMeta,
} from "./openai.ts";
import { sseResponse, type SseWriter } from "./sse.ts";

export interface AppOptions {
  llm: Llm;
  /** The chat page HTML (see page.ts). */
  page: string;
  logger?: Logger;
  /** Seconds since the epoch, for `created` (tests pin it). */
  now?: () => number;
}

/** Request bodies above this are refused (413) before being read whole. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The Content-Security-Policy of the page: nothing may load from outside this server. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** nginx's "client closed request": nobody reads it, and it is not a server error. */
const CLIENT_GONE = 499;

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof DOMException && e.name === "AbortError") return new ApiError(CLIENT_GONE, "The client closed the request", "invalid_request_error", null, "cancelled");
  if (e instanceof LlmRequestError) return new ApiError(400, e.message, "invalid_request_error", e.param, e.code);
  if (e instanceof LlmUnavailableError) return new ApiError(503, e.message, "unavailable_error", null, "model_not_ready");
  return new ApiError(500, `Generation failed: ${e instanceof Error ? e.message : String(e)}`, "server_error");
}

function apiErrorResponse(e: ApiError): Response {
  return Response.json(errorBody(e.message, e.type, e.param, e.code), { status: e.status });
}

async function readJson(c: Context): Promise<Record<string, unknown>> {
  const len = Number(c.req.header("content-length") ?? "0");
  if (len > MAX_BODY_BYTES) throw new ApiError(413, `The request body is ${len} bytes; at most ${MAX_BODY_BYTES} are accepted.`);
  const body = c.req.raw.body;
  if (!body) throw new ApiError(400, "The request has no body: send a JSON object.");
  // read with a bound, whatever Content-Length claimed
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.byteLength;
    if (n > MAX_BODY_BYTES) throw new ApiError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const ch of chunks) {
    all.set(ch, off);
    off += ch.byteLength;
  }
  return parseJsonBody(new TextDecoder().decode(all));
}

/** Aborted when either the client's request or the response stream goes away. */
function requestSignal(c: Context, extra?: AbortSignal): AbortSignal {
  const sigs = [c.req.raw.signal, extra].filter((s): s is AbortSignal => s !== undefined);
  return sigs.length === 1 ? sigs[0]! : AbortSignal.any(sigs);
}

export function createApp(o: AppOptions): Hono {
  const { llm, logger } = o;
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  const startedAt = now();
  const app = new Hono();

  const meta = (prefix: "chatcmpl" | "cmpl"): ResponseMeta => ({ id: completionId(prefix), created: now(), model: llm.modelId });
  const report = (route: string, r: GenerateResult, ms: number) => {
    const rate = r.completionTokens > 0 && ms > 0 ? `, ${(r.completionTokens / (ms / 1000)).toFixed(1)} tokens/s` : "";
    logger?.info(`${route}: ${r.promptTokens} prompt + ${r.completionTokens} completion tokens${rate}, finish ${r.finishReason}`);
  };
  /** Ends a stream that failed after it started: one error event, as llama.cpp's server does. */
  const streamError = (route: string) => (e: unknown, w: SseWriter) => {
    const err = toApiError(e);
    if (err.status !== CLIENT_GONE) logger?.error(`${route}: ${err.message}`);
    w.send(errorBody(err.message, err.type, err.param, err.code));
  };

  app.onError((e) => {
    const err = toApiError(e);
    if (err.status >= 500) logger?.error(err.message);
    return apiErrorResponse(err);
  });
  app.notFound((c) => apiErrorResponse(new ApiError(404, `Unknown request URL: ${c.req.method} ${new URL(c.req.url).pathname}`, "invalid_request_error", null, "unknown_url")));

  app.get("/", (c) => {
    c.header("Content-Security-Policy", PAGE_CSP);
    c.header("Cache-Control", "no-cache");
    c.header("X-Content-Type-Options", "nosniff");
    return c.html(o.page);
  });

  app.get("/health", (c) => {
    const s = llm.state();
    if (s.status === "ready") return c.json({ status: "ok" });
    if (s.status === "loading") return c.json({ status: "loading", error: errorBody("The model is still loading", "unavailable_error", null, "model_not_ready").error }, 503);
    return c.json({ status: "error", error: errorBody(`The model could not be loaded: ${s.message}`, "server_error", null, "model_load_failed").error }, 500);
  });

  const modelObject = () => {
    const m: Record<string, unknown> = { id: llm.modelId, object: "model", created: startedAt, owned_by: "kit" };
    if (llm.state().status === "ready") {
      const i = llm.info();
      m.meta = { context_size: i.contextSize, train_context_size: i.trainContextSize, chat_format: i.chatFormat, threads: i.threads, gpu: i.gpu };
    }
    return m;
  };
  app.get("/v1/models", (c) => c.json({ object: "list", data: [modelObject()] }));
  app.get("/v1/models/:id{.+}", (c) => {
    const id = c.req.param("id");
    if (id !== llm.modelId) throw new ApiError(404, `The model '${id}' does not exist`, "invalid_request_error", "model", "model_not_found");
    return c.json(modelObject());
  });

  app.post("/v1/chat/completions", async (c) => {
    const req = parseChatRequest(await readJson(c));
    const route = "chat completion";
    const m = meta("chatcmpl");
    const t0 = performance.now();
    if (!req.stream) {
      const r = await llm.chat(req.messages, { ...req.generation, signal: requestSignal(c) });
      report(route, r, performance.now() - t0);
      return c.json(chatCompletion(m, r));
    }
    return sseResponse(async (w) => {
      // the role comes with the first chunk, sent just before the first text
      let first = true;
      const delta = (d: Record<string, string>) => {
        if (first) {
          first = false;
          w.send(chatChunk(m, { role: "assistant", content: "" }, null));
        }
        if (d.content !== undefined || d.reasoning_content !== undefined) w.send(chatChunk(m, d, null));
      };
      const r = await llm.chat(req.messages, {
        ...req.generation,
        signal: requestSignal(c, w.signal),
        onText: (t) => delta({ content: t }),
        onReasoning: (t) => delta({ reasoning_content: t }),
      });
      report(route, r, performance.now() - t0);
      if (r.finishReason === "abort") return;
      delta({});
      w.send(chatChunk(m, {}, r.finishReason));
      if (req.includeUsage) w.send(chatUsageChunk(m, r));
      w.send("[DONE]");
    }, streamError(route));
  });

  app.post("/v1/completions", async (c) => {
    const req = parseCompletionRequest(await readJson(c));
    const route = "completion";
    const m = meta("cmpl");
    const t0 = performance.now();
    if (!req.stream) {
      const r = await llm.complete(req.prompt, { ...req.generation, signal: requestSignal(c) });
      report(route, r, performance.now() - t0);
      return c.json(textCompletion(m, (req.echo ? req.prompt : "") + r.text, r));
    }
    return sseResponse(async (w) => {
      let first = req.echo;
      const text = (t: string) => {
        if (first) {
          first = false;
          w.send(textChunk(m, req.prompt, null));
        }
        if (t) w.send(textChunk(m, t, null));
      };
      const r = await llm.complete(req.prompt, {
        ...req.generation,
        signal: requestSignal(c, w.signal),
        onText: text,
      });
      report(route, r, performance.now() - t0);
      if (r.finishReason === "abort") return;
      text("");
      w.send(textChunk(m, "", r.finishReason));
      if (req.includeUsage) w.send(textUsageChunk(m, r));
      w.send("[DONE]");
    }, streamError(route));
  });

  return app;
}
