/**
 * The background dev server process (docs/format.md#dev): `<home>/harness/process.pid` holds its PID
 * (the number only, as kit writes it) and `<home>/harness/harness.log` its output (truncated at
 * each start). The server is this same program run as `kit dev serve …`, detached, so it
 * outlives `kit dev start` and ignores the terminal's Ctrl-C.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { CancelledError, KitError } from "../util/errors.ts";
import { errnoCode, processAlive } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { sleep } from "../util/pool.ts";

export interface HarnessPaths {
  dir: string;
  pidFile: string;
  logFile: string;
  /** Held while a start checks the PID file and launches the server. */
  startLock: string;
  /** Where the compiled binary extracts its llama.cpp runtime. */
  runtimeDir: string;
  /** The running server's address, written by `start` once it answers. */
  urlFile: string;
}

const URL_FILE = "server.url";

export function harnessPaths(home: string): HarnessPaths {
  const dir = path.join(home, "harness");
  return {
    dir,
    pidFile: path.join(dir, "process.pid"),
    logFile: path.join(dir, "harness.log"),
    startLock: path.join(dir, "start.lock"),
    runtimeDir: path.join(dir, "llama.cpp"),
    urlFile: path.join(dir, URL_FILE),
  };
}

/** The PID in the PID file; undefined when there is no file. A file that is not a number is an error (kit's wording). */
export async function readPidFile(pidFile: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw new KitError(`failed to read PID file: ${(e as Error).message}`, { cause: e });
  }
  const pid = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(pid) || pid <= 0) {
    throw new KitError(`failed to read PID file: ${pidFile} does not hold a process ID`, { hint: `Remove ${pidFile} if no development server is running` });
  }
  return pid;
}

/**
 * Whether `pid` is a live kit dev server. On Linux the command line is checked too, so a PID
 * reused by another program after a crash is not taken for the server (kit would signal it).
 */
export async function isServerProcess(pid: number): Promise<boolean> {
  if (!processRunning(pid)) return false;
  if (process.platform !== "linux") return true;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    const i = argv.indexOf("dev");
    return i >= 0 && argv[i + 1] === "serve";
  } catch (e) {
    // gone meanwhile, or /proc hidden: trust the signal check
    return errnoCode(e) === "ENOENT" ? false : true;
  }
}

/**
 * Removes the PID file if it still names `pid` (the server cleans up after itself this way),
 * and with it the recorded server address. True when it did.
 */
export async function removePidFileIfOwned(pidFile: string, pid: number): Promise<boolean> {
  try {
    if ((await readPidFile(pidFile)) !== pid) return false;
    await rm(pidFile, { force: true });
    await rm(path.join(path.dirname(pidFile), URL_FILE), { force: true });
    return true;
  } catch {
    return false; // unreadable: leave it for stop/start to judge
  }
}

/** The address `start` recorded for the running server, if any. */
export async function readServerUrl(paths: HarnessPaths): Promise<string | undefined> {
  try {
    const url = (await readFile(paths.urlFile, "utf8")).trim();
    return /^https?:\/\/\S+$/.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Records the running server's address for a later `start` to report. */
export async function writeServerUrl(paths: HarnessPaths, url: string): Promise<void> {
  await writeFile(paths.urlFile, url + "\n", { mode: 0o644 });
}

/**
 * The error for a server that is already running (its address, when `start` recorded it, and how
 * to stop it), or undefined when none runs. A PID file of a process that is gone is reported as
 * such and left for the caller to replace.
 */
export async function runningServer(paths: HarnessPaths, log?: Logger): Promise<KitError | undefined> {
  const pid = await readPidFile(paths.pidFile);
  if (pid === undefined) return undefined;
  if (!(await isServerProcess(pid))) {
    log?.info("The process previously recorded is not running. Proceeding to start a new process.");
    return undefined;
  }
  const url = await readServerUrl(paths);
  return new KitError(`a development server is already running${url ? ` at ${url}` : ""} (PID ${pid})`, {
    hint: `Use "kit dev stop" to stop it before starting another`,
  });
}

/** True when something already listens on `host:port` (binding it fails with EADDRINUSE). */
export async function portInUse(host: string, port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve, reject) => {
    const s = createServer();
    s.once("error", (e) => (errnoCode(e) === "EADDRINUSE" ? resolve(true) : reject(e)));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(false)));
  });
}

/** A free TCP port on `host` (kit's findAvailablePort: listen on port 0, read it, close). */
export async function findFreePort(host: string): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen({ port: 0, host }, () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => (port ? resolve(port) : reject(new KitError(`could not find a free port on ${host}`))));
    });
  });
}

export interface LaunchOptions {
  paths: HarnessPaths;
  /** The full argv of the server process. */
  argv: string[];
  cwd: string;
  env?: Record<string, string | undefined>;
}

export interface Launched {
  pid: number;
  /** Resolves when the child exits (while this process still watches it). */
  exited: Promise<{ code: number | null; signal: string | null }>;
  child: ChildProcess;
}

/** Starts the server detached, output to the log file (truncated), and writes the PID file. */
export async function launchServer(o: LaunchOptions): Promise<Launched> {
  await mkdir(o.paths.dir, { recursive: true });
  const fd = openSync(o.paths.logFile, "w", 0o644);
  let child: ChildProcess;
  try {
    child = spawn(o.argv[0]!, o.argv.slice(1), {
      cwd: o.cwd,
      env: o.env as NodeJS.ProcessEnv | undefined,
      detached: true,
      stdio: ["ignore", fd, fd],
      windowsHide: true,
    });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: null, signal: null }));
  });
  const pid = await new Promise<number>((resolve, reject) => {
    if (child.pid) return resolve(child.pid);
    child.once("spawn", () => resolve(child.pid!));
    child.once("error", (e) => reject(new KitError(`error starting llm harness: ${e.message}`, { cause: e })));
  });
  await writeFile(o.paths.pidFile, String(pid), { mode: 0o644 });
  child.unref();
  return { pid, exited, child };
}

/** The address to probe a server bound to `host` (a wildcard bind answers on loopback). */
export function probeHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "[::1]";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** How long the server may take to answer HTTP at all (loading the model may then take longer). */
const FIRST_ANSWER_MS = 60_000;

/**
 * Waits until `/health` says the model is ready. Fails when the model cannot be loaded, when the
 * process exits, when it answers nothing for a minute, or when `signal` aborts.
 */
export async function waitForHealthy(o: {
  url: string;
  exited: Promise<unknown>;
  signal?: AbortSignal;
  logger?: Logger;
}): Promise<void> {
  let gone = false;
  void o.exited.then(() => (gone = true));
  const t0 = Date.now();
  let answered = false;
  let loggedLoading = false;
  for (;;) {
    if (o.signal?.aborted) throw new CancelledError();
    if (gone) throw new KitError("the server process exited before it was ready");
    try {
      const r = await fetch(`${o.url}/health`, { signal: AbortSignal.any([AbortSignal.timeout(5000), ...(o.signal ? [o.signal] : [])]) });
      const body = (await r.json().catch(() => ({}))) as { status?: string; error?: { message?: string } };
      answered = true;
      if (r.status === 200) return;
      if (body.status === "error") throw new KitError(body.error?.message ?? `the server reported an error (HTTP ${r.status})`);
      if (!loggedLoading) {
        o.logger?.debug("Waiting for the model to load");
        loggedLoading = true;
      }
    } catch (e) {
      if (e instanceof KitError) throw e;
      if (o.signal?.aborted) throw new CancelledError();
      // not listening yet
    }
    if (!answered && Date.now() - t0 > FIRST_ANSWER_MS) throw new KitError(`the server did not answer at ${o.url} within ${FIRST_ANSWER_MS / 1000} s`);
    await sleep(100, o.signal);
  }
}

/**
 * Whether `pid` still runs. A zombie (exited, not yet reaped by its parent: the server's parent
 * is init once `kit dev start` has exited, and some inits reap slowly) counts as gone.
 */
export function processRunning(pid: number): boolean {
  if (!processAlive(pid)) return false;
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Stops the server: SIGINT (as kit does; the server shuts down cleanly and removes its PID
 * file), then SIGKILL if it is still there after `graceMs`. Waits until the process is gone.
 */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  try {
    process.kill(pid, "SIGINT");
  } catch (e) {
    if (errnoCode(e) === "ESRCH") return;
    process.kill(pid, "SIGKILL");
  }
  const t0 = Date.now();
  while (processRunning(pid)) {
    if (Date.now() - t0 > graceMs) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
      const t1 = Date.now();
      while (processRunning(pid) && Date.now() - t1 < 5000) await sleep(50);
      return;
    }
    await sleep(50);
  }
}

/** The last `n` non-empty lines of the log (from its last 64 KiB), for error messages. */
export async function logTail(logFile: string, n = 8): Promise<string[]> {
  try {
    const fh = await open(logFile, "r");
    try {
      const size = (await fh.stat()).size;
      const len = Math.min(size, 64 * 1024);
      const buf = new Uint8Array(len);
      await fh.read(buf, 0, len, size - len);
      return new TextDecoder().decode(buf).split("\n").map((l) => l.trimEnd()).filter((l) => l !== "").slice(-n);
    } finally {
      await fh.close();
    }
  } catch {
    return [];
  }
}
