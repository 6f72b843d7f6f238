/**
 * `kit dev start|stop|logs` (docs/format.md#dev) and the hidden `kit dev serve` that
 * `start` runs in the background: a local chat UI and an OpenAI-compatible API for the
 * Kitfile's GGUF model, run in process by llama.cpp (node-llama-cpp) instead of kit's
 * downloaded llamafile, so it works offline and from the one binary.
 * @module
 */
import { mkdir, open, stat } from "node:fs/promises";
import path from "node:path";
import { defineCommand, type Context } from "../command.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, remoteOpener, startProgress } from "../session.ts";
import { requireSignature, verifyKeyFlags } from "../signing.ts";
import { findKitfile, readKitfile } from "../../kitfile/parse.ts";
import { parseReference, refToString, withDigest, type ModelRef } from "../../oci/reference.ts";
import { localThenRemote, sourceFor } from "../../modelkit/locate.ts";
import type { LayoutStore } from "../../store/layout.ts";
import {
  findFreePort,
  harnessPaths,
  isServerProcess,
  launchServer,
  logTail,
  portInUse,
  probeHost,
  readPidFile,
  removePidFileIfOwned,
  runningServer,
  stopProcess,
  waitForHealthy,
  writeServerUrl,
} from "../../dev/harness.ts";
import { resolveDevModel } from "../../dev/model.ts";
import { extractModelKit } from "../../dev/modelkit.ts";
import { runDevServer } from "../../dev/server.ts";
import { selfCommand } from "../../runtime/self.ts";
import { CancelledError, KitError, errorMessage, withContext } from "../../util/errors.ts";
import { withLock } from "../../util/fs.ts";
import { sleep } from "../../util/pool.ts";
import { homePaths } from "../../util/paths.ts";

/**
 * A ModelKit reference rather than a directory: it parses as one (as kit decides), is not an
 * existing path (kit would take a directory named like a repository, e.g. `models`, for a
 * reference to `models:latest`) and does not look like a path (`./x` would parse as registry
 * `.`, repository `x`).
 */
async function asModelKitRef(arg: string, cwd: string): Promise<ModelRef | undefined> {
  if (/^(\.{1,2}(?:$|[\\/])|[\\/~])/.test(arg) || path.isAbsolute(arg)) return undefined;
  if (await stat(path.resolve(cwd, arg)).catch(() => undefined)) return undefined;
  try {
    return parseReference(arg);
  } catch {
    return undefined;
  }
}

const start = defineCommand({
  name: "start",
  use: "start [flags] [DIRECTORY | MODELKIT]",
  short: "Start development server (experimental)",
  long: `Start development server (experimental) from a modelkit

Start a development server for a modelkit. You can provide either:
- A directory path containing an unpacked modelkit with a Kitfile
- A ModelKit reference in the format registry/repository[:tag|@digest]
  (e.g., myrepo/my-model:latest) which will be automatically extracted
  to a cache directory

When using a ModelKit reference, only the model components are extracted
to optimize startup time.

The model must be in GGUF format: model.path names a .gguf file, or a directory
holding exactly one. The server runs llama.cpp in the background and serves a chat
page and an OpenAI-compatible API (/v1/chat/completions, /v1/completions,
/v1/models) at the printed address. It needs no network access.`,
  example: `  # Serve the model located in the current directory
  kit dev start

  # Serve the modelkit in ./my-model on port 8080
  kit dev start ./my-model --port 8080

  # Serve a ModelKit reference from local storage or registry
  kit dev start myrepo/my-model:latest

  # Serve a specific model with custom host and port
  kit dev start registry.example.com/models/llama2:7b --host 0.0.0.0 --port 8080`,
  args: { min: 0, max: 1 },
  argCompletion: "dirs",
  flags: {
    file: { type: "string", short: "f", help: "Path to the kitfile" },
    host: { type: "string", default: "127.0.0.1", help: "Host for the development server" },
    port: { type: "int", default: 0, help: "Port for development server to listen on (default: a free port)" },
    threads: { type: "int", default: 0, help: "CPU threads for inference (0: the physical cores less one)" },
    ...networkFlags,
    ...verifyKeyFlags,
  },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const host = flags.host || "127.0.0.1";
    if (flags.port < 0 || flags.port > 65535) throw new KitError(`failed to complete options: invalid port ${flags.port}`);
    if (flags.threads < 0) throw new KitError(`failed to complete options: invalid thread count ${flags.threads}`);
    const paths = harnessPaths(ctx.home);
    // Before any work: a server that already runs, a port that is taken.
    const running = await runningServer(paths);
    if (running) throw withContext("Failed to start dev server", running);
    if (flags.port && (await portInUse(host, flags.port))) {
      throw new KitError(`Failed to start dev server: port ${flags.port} on ${host} is already in use`, {
        hint: "Choose another port with --port, or leave --port out to use a free one",
      });
    }
    const arg = args[0];
    const ref = arg !== undefined ? await asModelKitRef(arg, ctx.cwd) : undefined;
    if (ref && flags.file) throw new KitError("failed to complete options: -f/--file cannot be used with a ModelKit reference (the Kitfile comes from the ModelKit)");

    let storage: LayoutStore | undefined;
    const getStorage = async () => (storage ??= await openStorage(ctx));
    // the registry, only if a ModelKit is not in local storage
    const remote = remoteOpener(ctx, net);
    let contextDir: string;
    let kitfilePath: string;
    if (!ref) {
      contextDir = path.resolve(ctx.cwd, arg ?? ".");
      if (flags.file) kitfilePath = path.resolve(ctx.cwd, flags.file);
      else {
        try {
          kitfilePath = await findKitfile(contextDir);
        } catch (e) {
          throw withContext(`failed to complete options: failed to find Kitfile in directory ${arg ?? "."}`, e);
        }
      }
    }

    try {
      if (ref) {
        const store = await getStorage();
        ctx.log.info(`Extracting ModelKit ${refToString(ref)} to cache directory...`);
        // With --verify-key, the kit is pinned to the digest whose signature verified.
        const verified = await requireSignature(ctx, flags["verify-key"], await sourceFor(store, ref, remote), ref, ctx.log);
        const ui = startProgress(ctx);
        let kit;
        try {
          kit = await extractModelKit({
            ref: verified ? withDigest(ref, verified.digest) : ref,
            verify: (source, r, d) => requireSignature(ctx, flags["verify-key"], source, r, ui.log, d),
            source: (r) => sourceFor(store, r, remote),
            cacheRoot: homePaths(ctx.home).cache,
            logger: ui.log,
            progress: ui.progress,
            signal: ctx.signal,
          });
        } finally {
          ui.close();
        }
        ctx.log.info(`ModelKit extracted to ${kit.dir}`);
        contextDir = kit.dir;
        kitfilePath = kit.kitfilePath;
      }
      const parsed = await readKitfile(kitfilePath!, { signal: ctx.signal });
      for (const w of parsed.warnings) ctx.log.warn(w);
      ctx.log.info(`Loaded Kitfile: ${kitfilePath!}`);
      const model = await resolveDevModel({
        kitfile: parsed.kitfile,
        kitfilePath: kitfilePath!,
        contextDir: contextDir!,
        parents: async (r) => localThenRemote(await getStorage(), remote)(r),
        logger: ctx.log,
        signal: ctx.signal,
      });
      ctx.log.debug(`Model file: ${model.file}`);

      await mkdir(paths.dir, { recursive: true });
      const launched = await withLock(paths.startLock, async () => {
        const running = await runningServer(paths, ctx.log);
        if (running) throw running;
        const port = flags.port || (await findFreePort(host));
        const argv = [
          ...selfCommand(),
          "dev", "serve",
          "--config", ctx.home,
          "--model", model.file,
          "--name", model.id,
          "--host", host,
          "--port", String(port),
          "--threads", String(flags.threads),
          ...(ctx.verbosity > 0 ? ["-" + "v".repeat(Math.min(ctx.verbosity, 2))] : []),
        ];
        ctx.log.debug(`Starting ${argv.join(" ")}`);
        ctx.log.debug(`Saving server logs to ${paths.logFile}`);
        const l = await launchServer({ paths, argv, cwd: paths.dir, env: ctx.env });
        return { ...l, port };
      }, { signal: ctx.signal });

      const url = `http://${probeHost(host)}:${launched.port}`;
      try {
        await waitForHealthy({ url, exited: launched.exited, signal: ctx.signal, logger: ctx.log });
      } catch (e) {
        // never leave a half-started server behind
        await stopProcess(launched.pid, 5000);
        await removePidFileIfOwned(paths.pidFile, launched.pid);
        if (e instanceof CancelledError) throw e;
        const tail = await logTail(paths.logFile);
        throw new KitError(`${errorMessage(e)}${tail.length ? `\n${tail.map((l) => `  ${l}`).join("\n")}` : ""}`, {
          cause: e,
          hint: `The server's output is in ${paths.logFile} ("kit dev logs")`,
        });
      }
      const address = `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${launched.port}`;
      await writeServerUrl(paths, address);
      ctx.log.info(`Development server started at ${address}`);
      ctx.log.info(`Use "kit dev stop" to stop the development server`);
    } catch (e) {
      throw withContext("Failed to start dev server", e);
    }
  },
});

const stop = defineCommand({
  name: "stop",
  use: "stop",
  short: "Stop development server",
  long: "Stop the development server if it is running",
  args: { min: 0, max: 0 },
  flags: {},
  async run(ctx) {
    const paths = harnessPaths(ctx.home);
    ctx.log.info("Stopping development server...");
    try {
      const pid = await readPidFile(paths.pidFile);
      if (pid === undefined) throw new KitError("no Running server found");
      if (!(await isServerProcess(pid))) {
        await removePidFileIfOwned(paths.pidFile, pid);
        throw new KitError(`no running process found with PID ${pid}`);
      }
      ctx.log.debug(`Stopping process ${pid}`);
      await stopProcess(pid);
      await removePidFileIfOwned(paths.pidFile, pid);
    } catch (e) {
      throw withContext("Failed to stop dev server", e);
    }
    ctx.log.info("Development server stopped");
  },
});

/** Prints the log from `offset` on, 64 KiB at a time; returns the new offset. */
async function printFrom(ctx: Context, file: string, offset: number): Promise<number> {
  const fh = await open(file, "r");
  try {
    const size = (await fh.stat()).size;
    if (size < offset) offset = 0; // a new server truncated the log
    const buf = new Uint8Array(64 * 1024);
    const dec = new TextDecoder();
    while (offset < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - offset), offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      ctx.log.print(dec.decode(buf.subarray(0, bytesRead), { stream: true }));
    }
    const rest = dec.decode();
    if (rest) ctx.log.print(rest);
    return offset;
  } finally {
    await fh.close();
  }
}

const logs = defineCommand({
  name: "logs",
  use: "logs",
  short: "View logs for development server",
  long: `Print any logs output by the development server.

If the development server is currently running, the logs for this server will
be printed. If it is stopped, the logs for the previous run of the server, if
available, will be printed instead.`,
  args: { min: 0, max: 0 },
  flags: {
    follow: { type: "bool", short: "f", help: "Stream the log file" },
  },
  async run(ctx, _args, flags) {
    const paths = harnessPaths(ctx.home);
    let offset: number;
    try {
      offset = await printFrom(ctx, paths.logFile, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        ctx.log.error("No log file found");
        return;
      }
      throw new KitError(`error reading log file: ${errorMessage(e)}`, { cause: e });
    }
    if (!flags.follow) return;
    for (;;) {
      try {
        await sleep(1000, ctx.signal);
      } catch {
        return; // Ctrl-C ends following quietly
      }
      offset = await printFrom(ctx, paths.logFile, offset).catch((e) => {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
        throw e;
      });
      // Stopped normally, the server removed its PID file: following ends quietly. A PID file
      // whose process is gone means the server died.
      const pid = await readPidFile(paths.pidFile).catch(() => undefined);
      if (pid === undefined) return;
      if (!(await isServerProcess(pid))) throw new KitError("server stopped unexpectedly");
    }
  },
});

const serveCmd = defineCommand({
  name: "serve",
  use: "serve --model FILE",
  short: "Run the development server in the foreground",
  long: `Run the development server in the foreground until interrupted. "kit dev start" runs
this in the background; it can also be used directly (for example in a container).`,
  hidden: true,
  args: { min: 0, max: 0 },
  flags: {
    model: { type: "string", help: "The .gguf model file to serve" },
    name: { type: "string", help: "The model id the API reports (default: the file name)" },
    host: { type: "string", default: "127.0.0.1", help: "Host to listen on" },
    port: { type: "int", default: 8080, help: "Port to listen on (0: a free port)" },
    threads: { type: "int", default: 0, help: "CPU threads for inference (0: the physical cores less one)" },
    "context-size": { type: "int", default: 0, help: "Context size in tokens (0: from the model)" },
  },
  async run(ctx, _args, flags) {
    if (!flags.model) throw new KitError("--model is required: the .gguf file to serve");
    const file = path.resolve(ctx.cwd, flags.model);
    const paths = harnessPaths(ctx.home);
    try {
      await runDevServer({
        modelFile: file,
        modelId: flags.name || path.basename(file).replace(/\.gguf$/i, ""),
        host: flags.host || "127.0.0.1",
        port: flags.port,
        threads: flags.threads,
        contextSize: flags["context-size"] || undefined,
        runtimeDir: paths.runtimeDir,
        logger: ctx.log,
        signal: ctx.signal,
      });
    } finally {
      await removePidFileIfOwned(paths.pidFile, process.pid);
    }
  },
});

export const devCommand = defineCommand({
  name: "dev",
  use: "dev",
  short: "Run models locally (experimental)",
  long: "Start a local server and interact with a model in the browser",
  example: "kit dev start",
  flags: {},
  subcommands: [start, stop, logs, serveCmd],
});
