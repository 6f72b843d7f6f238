/**
 * Entry point: wires the process (argv, stdio, signals) to `execute` and exits with its code.
 * The only module that exits the process.
 * @module
 */
import { writeSync } from "node:fs";
import { execute, internalErrorText, type Io } from "./cli/run.ts";
import { rootCommand } from "./cli/root.ts";
import { terminalSafe } from "./util/log.ts";
import { chunksOf, iterableStream } from "./util/streams.ts";

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

// Output goes straight to file descriptors 1 and 2 with synchronous writes: the process.stdout
// and process.stderr streams cost several milliseconds to set up (tty, net and stream modules),
// more than all of `kit version` otherwise. Synchronous writes also keep stdout and stderr in
// order. Windows consoles need the streams' own encoding handling.
const direct = process.platform !== "win32";

/** Writes all of `s` to `fd`; false when the reader is gone (EPIPE). */
function writeFd(fd: 1 | 2, s: string): boolean {
  if (!direct) {
    (fd === 1 ? process.stdout : process.stderr).write(s);
    return true;
  }
  const buf = Buffer.from(s);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException)?.code;
      if (code === "EPIPE") return false;
      if (code !== "EAGAIN") throw e;
      // A non-blocking pipe that is full: wait a moment for the reader.
      Atomics.wait(pause, 0, 0, 2);
    }
  }
  return true;
}
const pause = new Int32Array(new SharedArrayBuffer(4));

// An error nothing awaited (a stray stream or timer callback) is a bug too: exit code 2.
const onStray = (e: unknown) => {
  writeFd(2, `[ERROR] ${internalErrorText(e)}\n`);
  process.exit(2);
};
process.on("uncaughtException", onStray);
process.on("unhandledRejection", onStray);

// A closed stdout (`kit list | head -1`) is not an error: stop writing, as other CLIs do.
let stdoutClosed = false;
const isEpipe = (e: unknown) => (e as NodeJS.ErrnoException)?.code === "EPIPE";
if (!direct) {
  process.stdout.on("error", (e) => {
    if (isEpipe(e)) stdoutClosed = true;
  });
}
let stdoutIsTTY: boolean | undefined;
let stdinIsTTY: boolean | undefined;
const io: Io = {
  out: (s) => {
    if (stdoutClosed) return;
    try {
      if (!writeFd(1, s)) stdoutClosed = true;
    } catch (e) {
      if (!isEpipe(e)) throw e;
      stdoutClosed = true;
    }
  },
  err: (s) => void writeFd(2, s),
  // Asked only when needed (colour, progress bars): it loads the tty module.
  get stdoutIsTTY() {
    return (stdoutIsTTY ??= Boolean(process.stdout.isTTY));
  },
  get columns() {
    return process.stdout.columns ?? 80;
  },
  stdin: {
    get isTTY() {
      return (stdinIsTTY ??= Boolean(process.stdin.isTTY));
    },
    // node:stream and node:readline are loaded only by commands that read stdin or prompt.
    readAll: async () => (await import("./cli/terminal.ts")).readAllStdin(),
    stream: () => iterableStream((async function* () {
      yield* chunksOf((await import("./cli/terminal.ts")).stdinStream());
    })(), { highWaterMark: 0 }),
    prompt: async (question, secret) => (await import("./cli/terminal.ts")).promptLine(question, secret),
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
  writeFd(2, terminalSafe(`[ERROR] ${internalErrorText(e)}\n`));
  code = 2;
}
// Let buffered stdout drain before exiting (pipes; only the streams buffer).
if (!direct && !stdoutClosed) await new Promise<void>((resolve) => (process.stdout.write("", () => resolve())));
process.exit(code);
