/**
 * Entry point: wires the process (argv, stdio, signals) to `execute` and exits with its code.
 * The only module that exits the process.
 * @module
 */
import { execute, internalErrorText, type Io } from "./cli/run.ts";
import { rootCommand } from "./cli/root.ts";
import { readAllStdin, promptLine, stdinStream } from "./cli/terminal.ts";
import { terminalSafe } from "./util/log.ts";

const controller = new AbortController();
let interrupts = 0;
const onSignal = () => {
  interrupts++;
  if (interrupts > 1) process.exit(130);
  controller.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// A closed terminal: stop the same way, so temporary files and lock files are removed.
if (process.platform !== "win32") process.on("SIGHUP", onSignal);

// An error nothing awaited (a stray stream or timer callback) is a bug too: exit code 2.
const onStray = (e: unknown) => {
  process.stderr.write(`[ERROR] ${internalErrorText(e)}\n`);
  process.exit(2);
};
process.on("uncaughtException", onStray);
process.on("unhandledRejection", onStray);

// A closed stdout (`kit list | head -1`) is not an error: stop writing, as other CLIs do.
let stdoutClosed = false;
const isEpipe = (e: unknown) => (e as NodeJS.ErrnoException)?.code === "EPIPE";
process.stdout.on("error", (e) => {
  if (isEpipe(e)) stdoutClosed = true;
});
const io: Io = {
  out: (s) => {
    if (stdoutClosed) return;
    try {
      process.stdout.write(s);
    } catch (e) {
      if (!isEpipe(e)) throw e;
      stdoutClosed = true;
    }
  },
  err: (s) => void process.stderr.write(s),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  columns: process.stdout.columns ?? 80,
  stdin: {
    isTTY: Boolean(process.stdin.isTTY),
    readAll: readAllStdin,
    stream: stdinStream,
    prompt: promptLine,
  },
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
  platform: process.platform,
};

let code: number;
try {
  code = await execute(rootCommand, process.argv.slice(2), io);
} catch (e) {
  // A bug, not a user error (execute reports those itself): show the stack so it can be reported.
  process.stderr.write(terminalSafe(`[ERROR] ${internalErrorText(e)}\n`));
  code = 2;
}
// Let buffered stdout drain before exiting (pipes).
if (!stdoutClosed) await new Promise<void>((resolve) => (process.stdout.write("", () => resolve())));
process.exit(code);
