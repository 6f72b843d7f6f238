/**
 * `kit dev start|stop|logs` (docs/format.md#dev): finding the model (a directory with a Kitfile,
 * or a ModelKit extracted into the cache), launching `kit dev serve` in the background under a
 * lock, waiting for it to be healthy, stopping it, and printing its log.
 * @module
 */
import { mkdir, open, stat } from "node:fs/promises";
import path from "node:path";
import { findKitfile, readKitfile } from "../kitfile/parse.ts";
import { localThenRemote, sourceFor, type RemoteOpener } from "../modelkit/locate.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { parseReference, refToString, withDigest, type ModelRef } from "../oci/reference.ts";
import { selfCommand } from "../runtime/self.ts";
import type { LayoutStore } from "../store/layout.ts";
import type { ReadOnlyTarget } from "../store/target.ts";
import { CancelledError, KitError, errorMessage, withContext } from "../util/errors.ts";
import { withLock } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { homePaths } from "../util/paths.ts";
import { sleep } from "../util/pool.ts";
import type { Progress } from "../util/progress.ts";
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
} from "./harness.ts";
import { assertServableByName, resolveDevModel } from "./model.ts";
import { extractModelKit } from "./modelkit.ts";

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

export interface StartOptions {
  home: string;
  cwd: string;
  /** DIRECTORY or MODELKIT, when given. */
  arg?: string;
  /** `-f`: the Kitfile (directories only). */
  file: string;
  host: string;
  port: number;
  threads: number;
  /** `-v` count, passed to the server process. */
  verbosity: number;
  env: Record<string, string | undefined>;
  logger: Logger;
  signal: AbortSignal;
  openStorage: () => Promise<LayoutStore>;
  /** The registry, only when a ModelKit is not in local storage. */
  remote: RemoteOpener;
  /**
   * `--verify-key`: the signature check of a kit, reporting to `log` (the root's descriptor is
   * resolved when `desc` is not given).
   */
  verify: (log: Logger) => (source: ReadOnlyTarget, ref: ModelRef, desc?: Descriptor) => Promise<Descriptor | undefined>;
  /** Progress bars for extracting a ModelKit, with a logger that keeps lines and bars apart. */
  ui: () => { progress: Progress; log: Logger; close(): void };
}

/** Starts the development server; returns its address. kit's messages. */
export async function startDevServer(o: StartOptions): Promise<string> {
  const host = o.host || "127.0.0.1";
  if (o.port < 0 || o.port > 65535) throw new KitError(`failed to complete options: invalid port ${o.port}`);
  if (o.threads < 0) throw new KitError(`failed to complete options: invalid thread count ${o.threads}`);
  const paths = harnessPaths(o.home);
  // Before any work: a server that already runs, a port that is taken.
  const running = await runningServer(paths);
  if (running) throw withContext("Failed to start dev server", running);
  if (o.port && (await portInUse(host, o.port))) {
    throw new KitError(`Failed to start dev server: port ${o.port} on ${host} is already in use`, {
      hint: "Choose another port with --port, or leave --port out to use a free one",
    });
  }
  const arg = o.arg;
  const ref = arg !== undefined ? await asModelKitRef(arg, o.cwd) : undefined;
  if (ref && o.file) throw new KitError("failed to complete options: -f/--file cannot be used with a ModelKit reference (the Kitfile comes from the ModelKit)");

  let storage: Promise<LayoutStore> | undefined;
  const getStorage = () => (storage ??= o.openStorage());
  const remote = o.remote;
  let contextDir: string;
  let kitfilePath: string;
  if (!ref) {
    contextDir = path.resolve(o.cwd, arg ?? ".");
    if (o.file) kitfilePath = path.resolve(o.cwd, o.file);
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
      o.logger.info(`Extracting ModelKit ${refToString(ref)} to cache directory...`);
      // With --verify-key, the kit is pinned to the digest whose signature verified.
      const verified = await o.verify(o.logger)(await sourceFor(store, ref, remote), ref);
      const ui = o.ui();
      let kit;
      try {
        kit = await extractModelKit({
          check: assertServableByName,
          ref: verified ? withDigest(ref, verified.digest) : ref,
          verify: o.verify(ui.log),
          source: (r) => sourceFor(store, r, remote),
          cacheRoot: homePaths(o.home).cache,
          logger: ui.log,
          progress: ui.progress,
          signal: o.signal,
        });
      } finally {
        ui.close();
      }
      o.logger.info(`ModelKit extracted to ${kit.dir}`);
      contextDir = kit.dir;
      kitfilePath = kit.kitfilePath;
    }
    const parsed = await readKitfile(kitfilePath!, { signal: o.signal });
    for (const w of parsed.warnings) o.logger.warn(w);
    o.logger.info(`Loaded Kitfile: ${kitfilePath!}`);
    const model = await resolveDevModel({
      kitfile: parsed.kitfile,
      kitfilePath: kitfilePath!,
      contextDir: contextDir!,
      parents: async (r) => localThenRemote(await getStorage(), remote)(r),
      logger: o.logger,
      signal: o.signal,
    });
    o.logger.debug(`Model file: ${model.file}`);

    await mkdir(paths.dir, { recursive: true });
    const launched = await withLock(paths.startLock, async () => {
      const running = await runningServer(paths, o.logger);
      if (running) throw running;
      const port = o.port || (await findFreePort(host));
      const argv = [
        ...selfCommand(),
        "dev", "serve",
        "--config", o.home,
        "--model", model.file,
        "--name", model.id,
        "--host", host,
        "--port", String(port),
        "--threads", String(o.threads),
        ...(o.verbosity > 0 ? ["-" + "v".repeat(Math.min(o.verbosity, 2))] : []),
      ];
      o.logger.debug(`Starting ${argv.join(" ")}`);
      o.logger.debug(`Saving server logs to ${paths.logFile}`);
      const l = await launchServer({ paths, argv, cwd: paths.dir, env: o.env });
      return { ...l, port };
    }, { signal: o.signal });

    const url = `http://${probeHost(host)}:${launched.port}`;
    try {
      await waitForHealthy({ url, exited: launched.exited, signal: o.signal, logger: o.logger });
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
    return address;
  } catch (e) {
    throw withContext("Failed to start dev server", e);
  }
}

/** `kit dev stop`. */
export async function stopDevServer(home: string, logger: Logger): Promise<void> {
  const paths = harnessPaths(home);
  logger.info("Stopping development server...");
  try {
    const pid = await readPidFile(paths.pidFile);
    if (pid === undefined) throw new KitError("no Running server found");
    if (!(await isServerProcess(pid))) {
      await removePidFileIfOwned(paths.pidFile, pid);
      throw new KitError(`no running process found with PID ${pid}`);
    }
    logger.debug(`Stopping process ${pid}`);
    await stopProcess(pid);
    await removePidFileIfOwned(paths.pidFile, pid);
  } catch (e) {
    throw withContext("Failed to stop dev server", e);
  }
  logger.info("Development server stopped");
}

/** Prints the log from `offset` on, 64 KiB at a time; returns the new offset. */
async function printFrom(print: (s: string) => void, file: string, offset: number): Promise<number> {
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
      print(dec.decode(buf.subarray(0, bytesRead), { stream: true }));
    }
    const rest = dec.decode();
    if (rest) print(rest);
    return offset;
  } finally {
    await fh.close();
  }
}

/** `kit dev logs [-f]`: the server's log; following ends quietly when the server stops (or on Ctrl-C). */
export async function printDevLogs(home: string, follow: boolean, logger: Logger, signal: AbortSignal): Promise<void> {
  const paths = harnessPaths(home);
  let offset: number;
  try {
    offset = await printFrom(logger.print, paths.logFile, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      logger.error("No log file found");
      return;
    }
    throw new KitError(`error reading log file: ${errorMessage(e)}`, { cause: e });
  }
  if (!follow) return;
  for (;;) {
    try {
      await sleep(1000, signal);
    } catch {
      return; // Ctrl-C ends following quietly
    }
    offset = await printFrom(logger.print, paths.logFile, offset).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw e;
    });
    // Stopped normally, the server removed its PID file: following ends quietly. A PID file
    // whose process is gone means the server died.
    const pid = await readPidFile(paths.pidFile).catch(() => undefined);
    if (pid === undefined) return;
    if (!(await isServerProcess(pid))) throw new KitError("server stopped unexpectedly");
  }
}
