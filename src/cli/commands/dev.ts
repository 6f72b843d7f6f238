/**
 * `kit dev start|stop|logs` (docs/format.md#dev) and the hidden `kit dev serve` that
 * `start` runs in the background: a local chat UI and an OpenAI-compatible API for the
 * Kitfile's GGUF model, run in process by llama.cpp (node-llama-cpp) instead of kit's
 * downloaded llamafile, so it works offline and from the one binary.
 * @module
 */
import { defineCommand } from "../command.ts";
import { HELP } from "../help-text.ts";
import { networkFlags, networkOptions } from "../network-flags.ts";
import { openStorage, remoteOpener, startProgress } from "../session.ts";
import { signatureCheck, verifyKeyFlags } from "../signing.ts";
import { printDevLogs, startDevServer, stopDevServer } from "../../dev/control.ts";
import { serveModelFile } from "../../dev/server.ts";

const start = defineCommand({
  name: "start",
  use: "start [flags] [DIRECTORY | MODELKIT]",
  short: "Start development server (experimental)",
  ...HELP.devStart,
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
    const address = await startDevServer({
      home: ctx.home, cwd: ctx.cwd, verbosity: ctx.verbosity, env: ctx.env, logger: ctx.log, signal: ctx.signal,
      arg: args[0], file: flags.file, host: flags.host, port: flags.port, threads: flags.threads,
      openStorage: () => openStorage(ctx),
      remote: remoteOpener(ctx, net),
      verify: (log) => signatureCheck(ctx, flags["verify-key"], log),
      ui: () => startProgress(ctx),
    });
    ctx.log.info(`Development server started at ${address}`);
    ctx.log.info(`Use "kit dev stop" to stop the development server`);
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
    await stopDevServer(ctx.home, ctx.log);
  },
});

const logs = defineCommand({
  name: "logs",
  use: "logs",
  short: "View logs for development server",
  ...HELP.devLogs,
  args: { min: 0, max: 0 },
  flags: {
    follow: { type: "bool", short: "f", help: "Stream the log file" },
  },
  async run(ctx, _args, flags) {
    await printDevLogs(ctx.home, flags.follow, ctx.log, ctx.signal);
  },
});

const serveCmd = defineCommand({
  name: "serve",
  use: "serve --model FILE",
  short: "Run the development server in the foreground",
  ...HELP.devServe,
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
    const { model, name, host, port, threads } = flags;
    await serveModelFile({ model, name, host, port, threads, contextSize: flags["context-size"], cwd: ctx.cwd, home: ctx.home, logger: ctx.log, signal: ctx.signal });
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
