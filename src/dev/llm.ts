/**
 * Inference for `kit dev`: one GGUF model run in process by node-llama-cpp (llama.cpp).
 *
 * node-llama-cpp is imported lazily, here only, so no other command pays for loading it. Inside
 * the compiled binary its native files are first extracted from the binary
 * (src/runtime/native-assets.ts). Loading starts at once and runs in the background; the server
 * answers meanwhile and reports the state (`loading`, `ready`, or the load error). Requests are
 * served one at a time on one context sequence (the prefix a chat shares with the previous
 * request is not evaluated again). Settings come from the model: its chat template picks the
 * chat format, its training context bounds the context size.
 * @module
 */
import type {
  ChatHistoryItem,
  Llama,
  LlamaChat,
  LlamaCompletion,
  LlamaContext,
  LlamaGrammar,
  LlamaModel,
  Token,
} from "node-llama-cpp";
import { importEmbeddedLlama, needsEmbeddedLlama, prepareEmbeddedLlama } from "../runtime/native-assets.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { checkGgufFile } from "./gguf.ts";
import { llamaThreads } from "./threads.ts";

export interface LlmOptions {
  /** Absolute path of the .gguf file (the first part of a split model). */
  modelPath: string;
  /** The id `/v1/models` reports. */
  modelId: string;
  /** llama.cpp threads; 0 or absent = the physical cores less one (see threads.ts). */
  threads?: number;
  /** Context size in tokens; absent = as large as the model was trained for and memory allows. */
  contextSize?: number;
  /** `"auto"` uses a GPU when the runtime has one (Metal on Apple silicon); `false` forces the CPU. Default: what the runtime supports. */
  gpu?: "auto" | false;
  /** Where the compiled binary extracts its llama.cpp runtime. */
  nativeCacheDir?: string;
  logger?: Logger;
}

export type LlmState =
  | { status: "loading" }
  | { status: "ready" }
  | { status: "error"; message: string };

export type ChatRole = "system" | "user" | "assistant";
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Constrains the output: a GBNF grammar, any JSON value, or JSON matching a schema. */
export type OutputFormat =
  | { type: "grammar"; grammar: string }
  | { type: "json" }
  | { type: "json_schema"; schema: Record<string, unknown> };

export interface GenerateOptions {
  /** Upper bound on generated tokens; always capped by the room left in the context. */
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  seed?: number;
  stop?: string[];
  presencePenalty?: number;
  frequencyPenalty?: number;
  format?: OutputFormat;
  signal?: AbortSignal;
  /** Each piece of answer text as it is generated. */
  onText?: (text: string) => void;
  /** Each piece of "thought" text from models that think before answering. */
  onReasoning?: (text: string) => void;
}

/** `stop`: the model ended or a stop string matched; `length`: maxTokens or the context ran out; `abort`: cancelled. */
export type FinishReason = "stop" | "length" | "abort";

export interface GenerateResult {
  text: string;
  reasoning: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

export interface LlmInfo {
  modelId: string;
  modelPath: string;
  contextSize: number;
  trainContextSize: number;
  chatFormat: string;
  threads: number;
  gpu: string | false;
}

/** A request the model cannot serve as asked (the API answers 400). */
export class LlmRequestError extends KitError {
  override name = "LlmRequestError";
  constructor(message: string, readonly param: string | null, readonly code: string | null) {
    super(message);
  }
}

/** The model is not (yet, or not at all) loaded (the API answers 503). */
export class LlmUnavailableError extends KitError {
  override name = "LlmUnavailableError";
}

/** What the HTTP layer needs from a model; {@link loadLlm} gives the real one, tests may stub it. */
export interface Llm {
  readonly modelId: string;
  state(): LlmState;
  /** Resolves once loaded; rejects with the load error. */
  ready(): Promise<void>;
  info(): LlmInfo;
  chat(messages: ChatMessage[], opts?: GenerateOptions): Promise<GenerateResult>;
  complete(prompt: string, opts?: GenerateOptions): Promise<GenerateResult>;
  close(): Promise<void>;
}

type Nlc = typeof import("node-llama-cpp");

interface Loaded {
  nlc: Nlc;
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  chat: LlamaChat;
  completion: LlamaCompletion;
  threads: number;
}

/**
 * Imports node-llama-cpp, after extracting its native files when this is the compiled binary.
 * Also says which GPU setting fits: `"auto"` from source (whatever prebuilt packages are
 * installed) or when the binary carries a GPU build (Metal on Apple silicon); `false` when it
 * carries only the CPU build, which spares the probing for CUDA and Vulkan.
 */
async function importNodeLlamaCpp(nativeCacheDir: string | undefined, logger: Logger | undefined): Promise<{ nlc: Nlc; gpu: "auto" | false }> {
  let gpu: "auto" | false = "auto";
  if (needsEmbeddedLlama()) {
    if (!nativeCacheDir) throw new KitError("No directory was given for the llama.cpp runtime");
    const t0 = performance.now();
    const r = await prepareEmbeddedLlama(nativeCacheDir);
    if (!r) {
      throw new KitError(`This kit binary carries no llama.cpp runtime for ${process.platform}-${process.arch}`, {
        hint: "Build kit for this platform with node-llama-cpp's prebuilt binaries (scripts/build.ts does so for the host)",
      });
    }
    logger?.debug(`llama.cpp runtime ${r.version} (${r.binaryFolders.join(", ")}) in ${r.root}: ${r.written} files written in ${(performance.now() - t0).toFixed(0)} ms`);
    if (!r.binaryFolders.some((f) => /metal|cuda|vulkan/.test(f))) gpu = false;
    return { nlc: await importEmbeddedLlama<Nlc>(r), gpu };
  }
  return { nlc: await import("node-llama-cpp"), gpu };
}

const cancelled = () => new DOMException("The operation was aborted", "AbortError");

type LogSink = (level: "error" | "warn" | "debug", message: string) => void;

/** Everyone who wants llama.cpp's log lines (normally the one model of the process). */
const logSinks = new Set<LogSink>();

/**
 * One `Llama` (the loaded llama.cpp library) per process, never disposed: node-llama-cpp's native
 * log callback is process-wide, and a second Llama, even after the first was disposed, no longer
 * receives llama.cpp's messages (they go straight to stderr). Models and contexts are per
 * {@link Llm} and are freed by {@link Llm.close}.
 */
let shared: { key: string; llama: Promise<Llama> } | undefined;

async function sharedLlama(nlc: Nlc, gpu: "auto" | false, threads: number): Promise<Llama> {
  const key = JSON.stringify([gpu, threads]);
  if (shared && shared.key !== key) {
    throw new KitError(`llama.cpp is already set up in this process with other settings (${shared.key}, asked for ${key})`);
  }
  if (!shared) {
    const llama = nlc.getLlama({
      gpu,
      build: "never",
      skipDownload: true,
      usePrebuiltBinaries: true,
      progressLogs: false,
      maxThreads: threads,
      logLevel: nlc.LlamaLogLevel.warn,
      logger: (level, message) => {
        const m = message.trimEnd();
        if (!m) return;
        const l = level === nlc.LlamaLogLevel.error || level === nlc.LlamaLogLevel.fatal ? "error" : level === nlc.LlamaLogLevel.warn ? "warn" : "debug";
        for (const sink of logSinks) sink(l, m);
      },
    });
    shared = { key, llama };
    llama.catch(() => {
      if (shared?.llama === llama) shared = undefined;
    });
  }
  return await shared.llama;
}

class LocalLlm implements Llm {
  readonly modelId: string;
  #opts: LlmOptions;
  #state: LlmState = { status: "loading" };
  #loading: Promise<Loaded>;
  #loaded?: Loaded;
  /** Generations run one after another: this is the tail of the queue. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #sink?: LogSink;

  constructor(opts: LlmOptions) {
    this.modelId = opts.modelId;
    this.#opts = opts;
    this.#loading = this.#load();
    this.#loading.then(
      (l) => {
        this.#loaded = l;
        this.#state = { status: "ready" };
      },
      (e) => {
        this.#state = { status: "error", message: e instanceof Error ? e.message : String(e) };
        this.#opts.logger?.error(`Failed to load model ${this.#opts.modelPath}: ${this.#state.message}`);
      },
    );
  }

  async #load(): Promise<Loaded> {
    const o = this.#opts;
    const log = o.logger;
    // A file that is not a well-formed GGUF fails here with llama.cpp's reason (node-llama-cpp's
    // own metadata reader would read past its end and never return).
    await checkGgufFile(o.modelPath);
    const { nlc, gpu } = await importNodeLlamaCpp(o.nativeCacheDir, log);
    const threads = llamaThreads(o.threads);
    // llama.cpp tells why a load failed only in its log; the error itself just says it failed
    let firstError: string | undefined;
    const sink: LogSink = (level, m) => {
      if (level === "error") firstError ??= m;
      const line = `[llama.cpp] ${m}`;
      if (level === "error") log?.error(line);
      else if (level === "warn") log?.warn(line);
      else log?.debug(line);
    };
    const llama = await sharedLlama(nlc, o.gpu ?? gpu, threads);
    logSinks.add(sink);
    this.#sink = sink;
    try {
      const model = await llama.loadModel({ modelPath: o.modelPath }).catch(async (e: unknown) => {
        // the loader thread's log lines reach this thread as queued callbacks: let them arrive
        for (let i = 0; i < 3 && !firstError; i++) await new Promise((r) => setTimeout(r, 0));
        if (!(e instanceof Error) || !firstError || e.message.includes(firstError)) throw e;
        throw new Error(`${e.message} (${firstError})`, { cause: e });
      });
      const context = await model.createContext({
        contextSize: o.contextSize ?? { max: model.trainContextSize },
        threads,
        sequences: 1,
      });
      const sequence = context.getSequence();
      const chat = new nlc.LlamaChat({ contextSequence: sequence, autoDisposeSequence: false });
      const completion = new nlc.LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
      log?.info(
        `Loaded model ${o.modelPath}: context ${context.contextSize} tokens (trained ${model.trainContextSize}), ` +
          `chat format ${chat.chatWrapper.wrapperName}, ${threads} thread${threads === 1 ? "" : "s"}, GPU ${llama.gpu || "none"}`,
      );
      return { nlc, llama, model, context, chat, completion, threads };
    } catch (e) {
      logSinks.delete(sink);
      throw e;
    }
  }

  state(): LlmState {
    return this.#state;
  }

  async ready(): Promise<void> {
    await this.#loading;
  }

  #require(): Loaded {
    if (this.#closed) throw new LlmUnavailableError("The model has been unloaded");
    const s = this.#state;
    if (s.status === "loading") throw new LlmUnavailableError("The model is still loading");
    if (s.status === "error") throw new LlmUnavailableError(`The model could not be loaded: ${s.message}`);
    return this.#loaded!;
  }

  info(): LlmInfo {
    const l = this.#require();
    return {
      modelId: this.modelId,
      modelPath: this.#opts.modelPath,
      contextSize: l.context.contextSize,
      trainContextSize: l.model.trainContextSize,
      chatFormat: l.chat.chatWrapper.wrapperName,
      threads: l.threads,
      gpu: l.llama.gpu,
    };
  }

  /** Runs `fn` when every earlier generation has finished; an abort while waiting skips it. */
  async #serial<T>(signal: AbortSignal | undefined, fn: (l: Loaded) => Promise<T>): Promise<T> {
    const l = this.#require();
    const prev = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((r) => (release = r));
    try {
      await prev;
      if (signal?.aborted) throw cancelled();
      return await fn(l);
    } finally {
      release();
    }
  }

  async #grammar(l: Loaded, f: OutputFormat | undefined): Promise<LlamaGrammar | undefined> {
    if (!f) return undefined;
    try {
      if (f.type === "grammar") return new l.nlc.LlamaGrammar(l.llama, { grammar: f.grammar });
      if (f.type === "json") return await l.llama.getGrammarFor("json");
      return await l.llama.createGrammarForJsonSchema(f.schema as never);
    } catch (e) {
      const what = f.type === "grammar" ? "grammar" : f.type === "json" ? "response_format" : "response_format.json_schema.schema";
      throw new LlmRequestError(`Invalid ${what === "grammar" ? "grammar" : "JSON schema"}: ${(e as Error).message}`, what, "invalid_value");
    }
  }

  /** The generation budget: what was asked for, within the room the context has left. */
  #budget(l: Loaded, promptTokens: number, asked: number | undefined, param: string): number {
    const room = l.context.contextSize - promptTokens;
    if (room < 1) {
      throw new LlmRequestError(
        `The prompt is ${promptTokens} tokens long, which leaves no room in the model's context of ${l.context.contextSize} tokens`,
        param,
        "context_length_exceeded",
      );
    }
    return asked === undefined ? room : Math.min(asked, room);
  }

  chat(messages: ChatMessage[], o: GenerateOptions = {}): Promise<GenerateResult> {
    return this.#serial(o.signal, async (l) => {
      const history: ChatHistoryItem[] = [];
      for (const m of messages) {
        if (m.role === "system") history.push({ type: "system", text: m.content });
        else if (m.role === "user") history.push({ type: "user", text: m.content });
        else history.push({ type: "model", response: [m.content] });
      }
      // a trailing assistant message is continued (prefill); otherwise a new answer starts
      if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
      const promptTokens = l.chat.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(l.model.tokenizer).length;
      const maxTokens = this.#budget(l, promptTokens, o.maxTokens, "messages");
      const grammar = await this.#grammar(l, o.format);
      const meter = l.chat.sequence.tokenMeter.getState();
      let reasoning = "";
      const r = await l.chat.generateResponse(history, {
        ...this.#sampling(o),
        maxTokens,
        grammar,
        signal: o.signal,
        stopOnAbortSignal: true,
        onResponseChunk: (c) => {
          if (c.type === "segment") {
            if (c.segmentType === "thought") {
              reasoning += c.text;
              o.onReasoning?.(c.text);
            }
          } else if (c.text) o.onText?.(c.text);
        },
      });
      return {
        text: r.response,
        reasoning,
        finishReason: finishReason(r.metadata.stopReason),
        promptTokens,
        completionTokens: l.chat.sequence.tokenMeter.diff(meter).usedOutputTokens,
      };
    });
  }

  complete(prompt: string, o: GenerateOptions = {}): Promise<GenerateResult> {
    return this.#serial(o.signal, async (l) => {
      // as LlamaCompletion tokenises: a leading BOS when the model wants one
      const bos = l.model.tokens.bos != null && l.model.tokens.shouldPrependBosToken;
      const promptTokenList = l.model.tokenize(prompt, false, bos ? "trimLeadingSpace" : undefined);
      const promptTokens = promptTokenList.length + (bos ? 1 : 0);
      const maxTokens = this.#budget(l, promptTokens, o.maxTokens, "prompt");
      const grammar = await this.#grammar(l, o.format);
      // the sequence's meter counts every sampled token (also those held back while matching stop triggers)
      const meter = l.chat.sequence.tokenMeter.getState();
      // Detokenised on its own, the first token loses its leading space (SentencePiece's "▁"),
      // which a continuation must keep: "The kit" + " packs", not "The kitpacks".
      let firstTokens: Token[] | undefined;
      let lead: string | undefined;
      const leadOf = () => {
        if (lead !== undefined) return lead;
        lead = "";
        if (firstTokens?.length) {
          const bare = l.model.detokenize(firstTokens);
          const inContext = l.model.detokenize(firstTokens, false, promptTokenList);
          if (inContext.length > bare.length && inContext.endsWith(bare)) lead = inContext.slice(0, inContext.length - bare.length);
        }
        return lead;
      };
      const r = await l.completion.generateCompletionWithMeta(prompt, {
        ...this.#sampling(o),
        maxTokens,
        grammar,
        signal: o.signal,
        stopOnAbortSignal: true,
        disableContextShift: true,
        onToken: (t) => void (firstTokens ??= t),
        onTextChunk: (t) => {
          const first = lead === undefined;
          o.onText?.(first ? leadOf() + t : t);
        },
      });
      const text = r.response === "" ? r.response : leadOf() + r.response;
      const completionTokens = l.chat.sequence.tokenMeter.diff(meter).usedOutputTokens;
      return { text, reasoning: "", finishReason: finishReason(r.metadata.stopReason), promptTokens, completionTokens };
    });
  }

  #sampling(o: GenerateOptions) {
    const penalties = o.presencePenalty || o.frequencyPenalty
      ? { repeatPenalty: { presencePenalty: o.presencePenalty, frequencyPenalty: o.frequencyPenalty } }
      : {};
    return {
      temperature: o.temperature,
      topP: o.topP,
      topK: o.topK,
      minP: o.minP,
      seed: o.seed === undefined ? undefined : o.seed >>> 0,
      customStopTriggers: o.stop?.length ? o.stop : undefined,
      ...penalties,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const l = await this.#loading.catch(() => undefined);
    // wait for the running generation (callers abort theirs first)
    await this.#queue;
    if (l) {
      l.chat.dispose();
      l.completion.dispose();
      await l.context.dispose();
      await l.model.dispose();
    }
    if (this.#sink) logSinks.delete(this.#sink);
  }
}

function finishReason(stop: string): FinishReason {
  if (stop === "maxTokens") return "length";
  if (stop === "abort") return "abort";
  return "stop";
}

/** Starts loading the model in the background and returns at once; see {@link Llm.state}. */
export function loadLlm(opts: LlmOptions): Llm {
  return new LocalLlm(opts);
}
