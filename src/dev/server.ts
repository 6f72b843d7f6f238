/**
 * The dev server in the foreground (`kit dev serve`, which `kit dev start` runs detached): load
 * the model in the background, serve the app at once, stop cleanly when `signal` aborts.
 * @module
 */
import path from "node:path";
import { serve } from "../runtime/runtime.ts";
import { KitError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { createApp } from "./app.ts";
import { harnessPaths, removePidFileIfOwned } from "./harness.ts";
import { loadLlm, type Llm } from "./llm.ts";
import { CHAT_PAGE } from "./page.ts";

export interface DevServerOptions {
  modelFile: string;
  modelId: string;
  host: string;
  port: number;
  threads?: number;
  contextSize?: number;
  /** Where the compiled binary extracts its llama.cpp runtime. */
  runtimeDir: string;
  logger: Logger;
  signal: AbortSignal;
  /** Called once the socket listens. */
  onListening?: (url: string) => void;
}

/** Serves until `signal` aborts, then closes connections (cancelling generations) and unloads the model. */
export async function runDevServer(o: DevServerOptions): Promise<void> {
  // The socket first: a port in use is reported before anything is loaded.
  let app: { fetch: (req: Request) => Response | Promise<Response> } | undefined;
  const server = await serve({
    hostname: o.host,
    port: o.port,
    fetch: (req) => app ? app.fetch(req) : new Response("Starting", { status: 503 }),
  });
  const llm: Llm = loadLlm({
    modelPath: o.modelFile,
    modelId: o.modelId,
    threads: o.threads,
    contextSize: o.contextSize,
    nativeCacheDir: o.runtimeDir,
    logger: o.logger,
  });
  app = createApp({ llm, page: CHAT_PAGE, logger: o.logger });
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  const url = `http://${host}:${server.port}`;
  o.logger.info(`Serving ${o.modelFile} at ${url}`);
  o.onListening?.(url);
  if (!o.signal.aborted) await new Promise<void>((resolve) => o.signal.addEventListener("abort", () => resolve(), { once: true }));
  o.logger.info("Stopping the development server");
  await server.stop();
  await llm.close();
}

/**
 * `kit dev serve`: {@link runDevServer} on the .gguf file `model` (relative to `cwd`), reported
 * as `name` or the file's name, with llama.cpp's runtime under the kit `home`; on the way out the
 * PID file is removed when it names this process.
 */
export async function serveModelFile(
  o: Omit<DevServerOptions, "modelFile" | "modelId" | "runtimeDir"> & { model: string; name: string; cwd: string; home: string },
): Promise<void> {
  if (!o.model) throw new KitError("--model is required: the .gguf file to serve");
  const modelFile = path.resolve(o.cwd, o.model);
  const paths = harnessPaths(o.home);
  try {
    await runDevServer({
      ...o,
      modelFile,
      modelId: o.name || path.basename(modelFile).replace(/\.gguf$/i, ""),
      host: o.host || "127.0.0.1",
      contextSize: o.contextSize || undefined,
      runtimeDir: paths.runtimeDir,
    });
  } finally {
    await removePidFileIfOwned(paths.pidFile, process.pid);
  }
}
