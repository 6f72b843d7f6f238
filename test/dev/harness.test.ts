/** The background-server helpers: PID file, liveness (zombies and reused PIDs), ports, log tail. */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { processAlive } from "../../src/util/fs.ts";
import path from "node:path";
import {
  findFreePort,
  harnessPaths,
  isServerProcess,
  logTail,
  probeHost,
  processRunning,
  readPidFile,
  removePidFileIfOwned,
} from "../../src/dev/harness.ts";
import { deadPid, tempDir } from "../helpers/kit.ts";


describe("PID file", () => {
  test("kit's paths under <home>/harness", () => {
    expect(harnessPaths("/h")).toEqual({
      dir: "/h/harness",
      pidFile: "/h/harness/process.pid",
      logFile: "/h/harness/harness.log",
      startLock: "/h/harness/start.lock",
      runtimeDir: "/h/harness/llama.cpp",
      urlFile: "/h/harness/server.url",
    });
  });

  test("missing → undefined; a number (kit writes no newline; one is tolerated); anything else is an error", async () => {
    const dir = tempDir("kit-devpid-");
    const f = path.join(dir, "process.pid");
    expect(await readPidFile(f)).toBeUndefined();
    writeFileSync(f, "1234");
    expect(await readPidFile(f)).toBe(1234);
    writeFileSync(f, "1234\n");
    expect(await readPidFile(f)).toBe(1234);
    writeFileSync(f, "12ab");
    await expect(readPidFile(f)).rejects.toThrow(`failed to read PID file: ${f} does not hold a process ID`);
  });

  test("removePidFileIfOwned removes only a file naming that PID", async () => {
    const f = path.join(tempDir("kit-devpid-"), "process.pid");
    writeFileSync(f, "42");
    await removePidFileIfOwned(f, 43);
    expect(existsSync(f)).toBe(true);
    await removePidFileIfOwned(f, 42);
    expect(existsSync(f)).toBe(false);
  });
});

describe("liveness", () => {
  test("this process runs; an exited one does not", () => {
    expect(processRunning(process.pid)).toBe(true);
    expect(processRunning(deadPid())).toBe(false);
  });

  test.if(process.platform === "linux")("an exited process not yet reaped (a zombie) counts as gone", async () => {
    // A parent that forks a child which exits at once and is never waited for: a zombie until the
    // parent ends, whatever the load (SIGCHLD reset to its default, or the kernel would reap it).
    const script = [
      "import os, signal, sys, time",
      "signal.signal(signal.SIGCHLD, signal.SIG_DFL)",
      "pid = os.fork()",
      "if pid == 0: os._exit(0)",
      "print(pid, flush=True)",
      "time.sleep(60)",
    ].join("\n");
    const parent = spawn("python3", ["-c", script], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout!.once("data", (d) => r(String(d).trim()))));
      let state = "";
      for (let i = 0; i < 3000 && state !== "Z"; i++) {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        if (state !== "Z") await new Promise((r) => setTimeout(r, 10));
      }
      expect(state).toBe("Z");
      expect(processAlive(pid)).toBe(true); // signal 0 still reaches a zombie
      expect(processRunning(pid)).toBe(false);
    } finally {
      parent.kill();
    }
  });

  test.if(process.platform === "linux")("a live process that is not a kit dev server is not taken for one", async () => {
    expect(await isServerProcess(process.pid)).toBe(false);
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      expect(await isServerProcess(sleeper.pid!)).toBe(false);
    } finally {
      sleeper.kill();
    }
    expect(await isServerProcess(deadPid())).toBe(false);
  });
});

describe("ports and addresses", () => {
  test("a free port can be bound", async () => {
    const port = await findFreePort("127.0.0.1");
    expect(port).toBeGreaterThan(0);
    const s = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response("ok") });
    expect(s.port).toBe(port);
    await s.stop(true);
  });

  test("wildcard binds are probed on loopback; IPv6 literals get brackets", () => {
    expect(probeHost("0.0.0.0")).toBe("127.0.0.1");
    expect(probeHost("::")).toBe("[::1]");
    expect(probeHost("::1")).toBe("[::1]");
    expect(probeHost("localhost")).toBe("localhost");
    expect(probeHost("192.168.1.5")).toBe("192.168.1.5");
  });
});

describe("log tail", () => {
  test("the last non-empty lines; a missing log gives none", async () => {
    const f = path.join(tempDir("kit-devlog-"), "harness.log");
    expect(await logTail(f)).toEqual([]);
    writeFileSync(f, Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n") + "\n\n");
    expect(await logTail(f, 3)).toEqual(["line 17", "line 18", "line 19"]);
  });
});
