/**
 * The OpenAI API's request and response shapes, as far as `kit dev` serves them: request
 * validation with OpenAI-style errors (`{"error":{"message","type","param","code"}}`), and the
 * completion objects and stream chunks. Parameters the model cannot honour (several choices,
 * tools, log-probabilities, images) are refused with a 400 rather than silently ignored;
 * unknown parameters are ignored, as llama.cpp's server does.
 * @module
 */
import type { ChatMessage, ChatRole, FinishReason, GenerateOptions, GenerateResult, OutputFormat } from "./llm.ts";

/** An error the API reports with an HTTP status and OpenAI's error body. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(message: string, type: string, param: string | null = null, code: string | null = null): ErrorBody {
  return { error: { message, type, param, code } };
}

/** Sampling and output settings shared by both endpoints. */
export type Generation = Omit<GenerateOptions, "signal" | "onText" | "onReasoning">;

export interface ChatCompletionRequest {
  model?: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  generation: Generation;
}

export interface CompletionRequest {
  model?: string;
  prompt: string;
  stream: boolean;
  includeUsage: boolean;
  echo: boolean;
  generation: Generation;
}

type Json = Record<string, unknown>;

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string": return "a string";
    case "number": return Number.isInteger(v) ? "an integer" : "a decimal";
    case "boolean": return "a boolean";
    case "object": return "an object";
    default: return typeof v;
  }
}

const badType = (param: string, expected: string, v: unknown) =>
  new ApiError(400, `Invalid type for '${param}': expected ${expected}, but got ${typeName(v)} instead.`, "invalid_request_error", param, "invalid_type");
const badValue = (param: string, message: string) =>
  new ApiError(400, `Invalid value for '${param}': ${message}`, "invalid_request_error", param, "invalid_value");
const unsupported = (param: string, message: string) =>
  new ApiError(400, message, "invalid_request_error", param, "unsupported_parameter");

/** Parses a request body: malformed JSON or a non-object is a 400. */
export function parseJsonBody(text: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, `We could not parse the JSON body of your request: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ApiError(400, `The request body must be a JSON object, but got ${typeName(v)}.`);
  }
  return v as Json;
}

function optNumber(b: Json, key: string, min: number, max: number, integer = false): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw badType(key, integer ? "an integer" : "a number", v);
  if (integer && !Number.isInteger(v)) throw badType(key, "an integer", v);
  if (v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
    throw badValue(key, `expected a number ${range}, but got ${v} instead.`);
  }
  return v;
}

function optBool(b: Json, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw badType(key, "a boolean", v);
  return v;
}

function optString(b: Json, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badType(key, "a string", v);
  return v;
}

const MAX_STOP = 16;

function stopList(b: Json): string[] | undefined {
  const v = b.stop;
  if (v === undefined || v === null) return undefined;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list)) throw badType("stop", "a string or an array of strings", v);
  if (list.length > MAX_STOP) throw badValue("stop", `expected at most ${MAX_STOP} stop sequences, but got ${list.length}.`);
  list.forEach((s, i) => {
    if (typeof s !== "string") throw badType(`stop[${i}]`, "a string", s);
  });
  const out = (list as string[]).filter((s) => s !== "");
  return out.length ? out : undefined;
}

function outputFormat(b: Json): OutputFormat | undefined {
  const grammar = optString(b, "grammar");
  const rf = b.response_format;
  let fromRf: OutputFormat | undefined;
  if (rf !== undefined && rf !== null) {
    if (typeof rf !== "object" || Array.isArray(rf)) throw badType("response_format", "an object", rf);
    const t = (rf as Json).type;
    if (t === "text") fromRf = undefined;
    else if (t === "json_object") fromRf = { type: "json" };
    else if (t === "json_schema") {
      const js = (rf as Json).json_schema;
      if (typeof js !== "object" || js === null || Array.isArray(js)) throw badType("response_format.json_schema", "an object", js);
      const schema = (js as Json).schema;
      if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
        throw badType("response_format.json_schema.schema", "an object", schema);
      }
      fromRf = { type: "json_schema", schema: schema as Json };
    } else {
      throw badValue("response_format.type", `expected one of 'text', 'json_object' or 'json_schema', but got ${JSON.stringify(t)} instead.`);
    }
  }
  if (grammar !== undefined && fromRf) throw unsupported("grammar", "Use either 'grammar' or a JSON 'response_format', not both.");
  return grammar !== undefined && grammar.trim() !== "" ? { type: "grammar", grammar } : fromRf;
}

function streamOptions(b: Json, stream: boolean): boolean {
  const so = b.stream_options;
  if (so === undefined || so === null) return false;
  if (typeof so !== "object" || Array.isArray(so)) throw badType("stream_options", "an object", so);
  if (!stream) throw badValue("stream_options", "stream_options are only allowed when 'stream' is true.");
  return optBool(so as Json, "include_usage") ?? false;
}

/** Parameters this server cannot honour: refusing them beats answering something else. */
function refuseUnsupported(b: Json): void {
  const n = optNumber(b, "n", 1, 128, true);
  if (n !== undefined && n !== 1) throw unsupported("n", "Only one choice per request is supported ('n' must be 1).");
  const best = optNumber(b, "best_of", 1, 128, true);
  if (best !== undefined && best !== 1) throw unsupported("best_of", "'best_of' must be 1.");
  if (b.logprobs === true || (typeof b.logprobs === "number" && b.logprobs > 0)) throw unsupported("logprobs", "Log probabilities are not supported.");
  for (const k of ["tools", "functions"]) {
    const v = b[k];
    if (Array.isArray(v) && v.length > 0) throw unsupported(k, "Tool and function calling is not supported by kit dev.");
  }
}

function generation(b: Json, maxTokensKeys: string[]): Generation {
  let maxTokens: number | undefined;
  for (const k of maxTokensKeys) maxTokens ??= optNumber(b, k, 1, Number.MAX_SAFE_INTEGER, true);
  return {
    maxTokens,
    temperature: optNumber(b, "temperature", 0, 2),
    topP: optNumber(b, "top_p", 0, 1),
    topK: optNumber(b, "top_k", 0, Number.MAX_SAFE_INTEGER, true),
    minP: optNumber(b, "min_p", 0, 1),
    seed: optNumber(b, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true),
    presencePenalty: optNumber(b, "presence_penalty", -2, 2),
    frequencyPenalty: optNumber(b, "frequency_penalty", -2, 2),
    stop: stopList(b),
    format: outputFormat(b),
  };
}

function messageContent(v: unknown, param: string): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  if (!Array.isArray(v)) throw badType(param, "a string or an array of content parts", v);
  return v.map((part, j) => {
    const p = `${param}[${j}]`;
    if (typeof part !== "object" || part === null || Array.isArray(part)) throw badType(p, "an object", part);
    const t = (part as Json).type;
    if (t !== "text") {
      throw new ApiError(400, `Content part type ${JSON.stringify(t)} is not supported: this model takes text only.`, "invalid_request_error", `${p}.type`, "unsupported_value");
    }
    const text = (part as Json).text;
    if (typeof text !== "string") throw badType(`${p}.text`, "a string", text);
    return text;
  }).join("");
}

const ROLES: Record<string, ChatRole> = { system: "system", developer: "system", user: "user", assistant: "assistant" };

function messages(b: Json): ChatMessage[] {
  const v = b.messages;
  if (v === undefined) throw new ApiError(400, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter");
  if (!Array.isArray(v)) throw badType("messages", "an array", v);
  if (v.length === 0) {
    throw new ApiError(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "invalid_request_error", "messages", "empty_array");
  }
  return v.map((m, i) => {
    const p = `messages[${i}]`;
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw badType(p, "an object", m);
    const role = (m as Json).role;
    if (typeof role !== "string") {
      throw new ApiError(400, `Missing required parameter: '${p}.role'.`, "invalid_request_error", `${p}.role`, "missing_required_parameter");
    }
    const mapped = ROLES[role];
    if (!mapped) {
      if (role === "tool" || role === "function") throw unsupported(`${p}.role`, "Tool and function messages are not supported by kit dev.");
      throw badValue(`${p}.role`, `expected one of 'system', 'developer', 'user' or 'assistant', but got ${JSON.stringify(role)} instead.`);
    }
    return { role: mapped, content: messageContent((m as Json).content, `${p}.content`) };
  });
}

export function parseChatRequest(b: Json): ChatCompletionRequest {
  const model = optString(b, "model");
  const msgs = messages(b);
  refuseUnsupported(b);
  const stream = optBool(b, "stream") ?? false;
  return { model, messages: msgs, stream, includeUsage: streamOptions(b, stream), generation: generation(b, ["max_completion_tokens", "max_tokens"]) };
}

export function parseCompletionRequest(b: Json): CompletionRequest {
  const model = optString(b, "model");
  let prompt: string;
  const p = b.prompt;
  if (p === undefined) throw new ApiError(400, "Missing required parameter: 'prompt'.", "invalid_request_error", "prompt", "missing_required_parameter");
  if (typeof p === "string") prompt = p;
  else if (Array.isArray(p) && p.length === 1 && typeof p[0] === "string") prompt = p[0];
  else if (Array.isArray(p) && p.every((x) => typeof x === "string")) throw unsupported("prompt", "Only one prompt per request is supported.");
  else throw badType("prompt", "a string", p);
  if (b.suffix !== undefined && b.suffix !== null) throw unsupported("suffix", "'suffix' (fill-in-the-middle) is not supported.");
  refuseUnsupported(b);
  const stream = optBool(b, "stream") ?? false;
  const gen = generation(b, ["max_tokens"]);
  // OpenAI's legacy completions default to 16 tokens
  gen.maxTokens ??= 16;
  return { model, prompt, stream, includeUsage: streamOptions(b, stream), echo: optBool(b, "echo") ?? false, generation: gen };
}

// ---- responses ---------------------------------------------------------------------------

/** OpenAI ids look like `chatcmpl-<random>`. */
export function completionId(prefix: "chatcmpl" | "cmpl"): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(b, (x) => x.toString(36).padStart(2, "0")).join("").slice(0, 24)}`;
}

export function usage(r: Pick<GenerateResult, "promptTokens" | "completionTokens">) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

/** The finish reason as OpenAI names it (a cancelled request has no client left to read it). */
export function finishReasonName(f: FinishReason): "stop" | "length" {
  return f === "length" ? "length" : "stop";
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

export function chatCompletion(m: ResponseMeta, r: GenerateResult) {
  const message: Record<string, unknown> = { role: "assistant", content: r.text };
  if (r.reasoning) message.reasoning_content = r.reasoning;
  return {
    id: m.id,
    object: "chat.completion",
    created: m.created,
    model: m.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReasonName(r.finishReason) }],
    usage: usage(r),
  };
}

export function chatChunk(m: ResponseMeta, delta: Record<string, unknown>, finish: FinishReason | null) {
  return {
    id: m.id,
    object: "chat.completion.chunk",
    created: m.created,
    model: m.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish === null ? null : finishReasonName(finish) }],
  };
}

export function chatUsageChunk(m: ResponseMeta, r: GenerateResult) {
  return { id: m.id, object: "chat.completion.chunk", created: m.created, model: m.model, choices: [], usage: usage(r) };
}

export function textCompletion(m: ResponseMeta, text: string, r: GenerateResult) {
  return {
    id: m.id,
    object: "text_completion",
    created: m.created,
    model: m.model,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finishReasonName(r.finishReason) }],
    usage: usage(r),
  };
}

export function textChunk(m: ResponseMeta, text: string, finish: FinishReason | null) {
  return {
    id: m.id,
    object: "text_completion",
    created: m.created,
    model: m.model,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finish === null ? null : finishReasonName(finish) }],
  };
}

export function textUsageChunk(m: ResponseMeta, r: GenerateResult) {
  return { id: m.id, object: "text_completion", created: m.created, model: m.model, choices: [], usage: usage(r) };
}
