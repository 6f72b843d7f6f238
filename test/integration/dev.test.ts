/**
 * kit dev through the compiled binary, as users run it: pack a ModelKit holding the tiny model,
 * serve the unpacked kit and the ModelKit reference from an empty working directory, stream a
 * completion over HTTP, read the logs, stop. Also: a stale PID file, a model that fails to
 * load, two servers extracting the embedded llama.cpp runtime at once, and no network access.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { processRunning } from "../../src/dev/harness.ts";
import { writeFiles } from "../helpers/files.ts";
import { kitBinary, runKit, tempDir } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry } from "../helpers/registry.ts";
import { writeTinyGguf } from "../helpers/tiny-gguf.ts";

const HELLO = 'root ::= "Hello from the compiled kit."';
let home: string;
let project: string;
const env = () => ({ KITOPS_HOME: home });
const started: string[] = [];

beforeAll(async () => {
  home = path.join(tempDir("kit-deve2e-"), "home");
  project = tempDir("kit-deve2e-proj-");
  writeFiles(project, {
    Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: tiny\nmodel:\n  name: tiny-chat\n  path: model\ndocs:\n  - path: README.md\n",
    "README.md": "A tiny random model for tests.\n",
  });
  mkdirSync(path.join(project, "model"));
  writeTinyGguf(path.join(project, "model", "tiny.gguf"));
  const r = await runKit(["pack", project, "-t", "dev/tiny:v1"], { env: env() });
  expect(r.code).toBe(0);
});

afterAll(async () => {
  // never leave a server behind, whatever failed: stop each home's server, then any
  // `kit dev serve` still running for one of our homes (its PID file may have been replaced)
  const homes = new Set([home, ...started]);
  for (const h of homes) await runKit(["dev", "stop"], { env: { KITOPS_HOME: h } }).catch(() => {});
  if (process.platform !== "linux") return;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const i = argv.indexOf("--config");
      if (argv.includes("serve") && i >= 0 && homes.has(argv[i + 1]!)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
});

const pidFile = (h = home) => path.join(h, "harness", "process.pid");

/** Streams a chat completion from a running server and returns the text and the chunk count. */
async function streamChat(base: string): Promise<{ text: string; chunks: number }> {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], stream: true, grammar: HELLO }),
  });
  expect(r.status).toBe(200);
  const decoder = new TextDecoder();
  let buf = "";
  let text = "";
  let chunks = 0;
  let done = false;
  for await (const part of r.body!) {
    buf += decoder.decode(part, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      expect(event.startsWith("data: ")).toBe(true);
      const data = event.slice(6);
      if (data === "[DONE]") { done = true; continue; }
      const delta = JSON.parse(data).choices[0]?.delta?.content;
      if (delta) { text += delta; chunks++; }
    }
  }
  expect(done).toBe(true);
  return { text, chunks };
}

function startedUrl(stdout: string): string {
  const m = /^Development server started at (http:\/\/127\.0\.0\.1:(\d+))$/m.exec(stdout);
  if (!m) throw new Error(`no server address in: ${stdout}`);
  return m[1]!;
}

describe("kit dev with the compiled binary", () => {
  test("the unpacked kit, from an empty directory: start, stream, logs, second start refused, stop", async () => {
    const unpacked = tempDir("kit-deve2e-unpacked-");
    expect((await runKit(["unpack", "dev/tiny:v1", "-d", unpacked], { env: env() })).code).toBe(0);
    const cwd = tempDir("kit-deve2e-cwd-");

    const r = await runKit(["dev", "start", unpacked, "--threads", "1"], { cwd, env: env() });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const base = startedUrl(r.stdout);
    expect(r.stdout).toBe(
      `Loaded Kitfile: ${path.join(unpacked, "Kitfile")}\n` +
        `Development server started at ${base}\n` +
        `Use "kit dev stop" to stop the development server\n`,
    );
    const pid = Number(readFileSync(pidFile(), "utf8"));
    expect(readFileSync(pidFile(), "utf8")).toBe(String(pid));
    expect(processRunning(pid)).toBe(true);

    const health = await fetch(`${base}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
    const page = await fetch(base);
    expect(page.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    expect(await page.text()).toContain("<title>kit dev</title>");
    const models = await (await fetch(`${base}/v1/models`)).json();
    expect(models.data[0].id).toBe("tiny-chat");
    expect(models.data[0].meta.threads).toBe(1);

    const s = await streamChat(base);
    expect(s.text).toBe("Hello from the compiled kit.");
    expect(s.chunks).toBeGreaterThan(1);

    const again = await runKit(["dev", "start", unpacked, "--threads", "1"], { cwd, env: env() });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`[ERROR] Failed to start dev server: a development server is already running at ${base} (PID ${pid})\n`);
    expect(again.stdout).toBe('Use "kit dev stop" to stop it before starting another\n');

    const logs = await runKit(["dev", "logs"], { env: env() });
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain(`Serving ${path.join(unpacked, "model", "tiny.gguf")} at ${base}\n`);
    expect(logs.stdout).toMatch(/Chat completion: 20 prompt \+ \d+ completion tokens, [\d.]+ tokens\/s, finish stop\n/);

    const stop = await runKit(["dev", "stop"], { env: env() });
    expect(stop.stdout).toBe("Stopping development server...\nDevelopment server stopped\n");
    expect(stop.code).toBe(0);
    expect(existsSync(pidFile())).toBe(false);
    expect(processRunning(pid)).toBe(false);
    await expect(fetch(`${base}/health`)).rejects.toThrow();

    const none = await runKit(["dev", "stop"], { env: env() });
    expect(none.code).toBe(1);
    expect(none.stdout).toBe("Stopping development server...\n");
    expect(none.stderr).toBe("[ERROR] Failed to stop dev server: no Running server found\n");
  });

  test("a ModelKit reference: only the model and Kitfile are unpacked into the cache, then served", async () => {
    const cwd = tempDir("kit-deve2e-cwd-");
    const r = await runKit(["dev", "start", "dev/tiny:v1", "--threads", "1"], { cwd, env: env() });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const devCache = path.join(home, "cache", "dev");
    const dirs = readdirSync(devCache);
    expect(dirs.length).toBe(1);
    expect(dirs[0]).toMatch(/^sha256-[0-9a-f]{64}$/);
    const dir = path.join(devCache, dirs[0]!);
    const base = startedUrl(r.stdout);
    expect(r.stdout).toBe(
      "Extracting ModelKit localhost/dev/tiny:v1 to cache directory...\n" +
        `ModelKit extracted to ${dir}\n` +
        `Loaded Kitfile: ${path.join(dir, "Kitfile")}\n` +
        `Development server started at ${base}\n` +
        `Use "kit dev stop" to stop the development server\n`,
    );
    expect(readdirSync(dir).sort()).toEqual(["Kitfile", "model"]);
    expect(readdirSync(path.join(dir, "model"))).toEqual(["tiny.gguf"]);
    expect((await streamChat(base)).text).toBe("Hello from the compiled kit.");
    expect((await runKit(["dev", "stop"], { env: env() })).code).toBe(0);
  });

  test("a stale PID file is cleaned up", async () => {
    const h = path.join(tempDir("kit-deve2e-"), "home");
    started.push(h);
    mkdirSync(path.join(h, "harness"), { recursive: true });
    const dead = spawnSync("true").pid!;
    writeFileSync(pidFile(h), String(dead));
    const stop = await runKit(["dev", "stop"], { env: { KITOPS_HOME: h } });
    expect(stop.stderr).toBe(`[ERROR] Failed to stop dev server: no running process found with PID ${dead}\n`);
    expect(existsSync(pidFile(h))).toBe(false);

    writeFileSync(pidFile(h), String(dead));
    const r = await runKit(["dev", "start", project, "--threads", "1"], { env: { KITOPS_HOME: h } });
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(
      `Loaded Kitfile: ${path.join(project, "Kitfile")}\nThe process previously recorded is not running. Proceeding to start a new process.\nDevelopment server started at `,
    );
    expect(Number(readFileSync(pidFile(h), "utf8"))).not.toBe(dead);
    expect((await runKit(["dev", "stop"], { env: { KITOPS_HOME: h } })).code).toBe(0);
  });

  test("a model that cannot be loaded: a clear error, no server and no PID file left", async () => {
    const dir = tempDir("kit-deve2e-bad-");
    writeFiles(dir, { Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: broken.gguf\n" });
    writeFileSync(path.join(dir, "broken.gguf"), readFileSync(path.join(project, "model", "tiny.gguf")).subarray(0, 300_000));
    const h = path.join(tempDir("kit-deve2e-"), "home");
    started.push(h);
    const r = await runKit(["dev", "start", dir, "--threads", "1"], { env: { KITOPS_HOME: h } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`Loaded Kitfile: ${path.join(dir, "Kitfile")}\nThe server's output is in ${path.join(h, "harness", "harness.log")} ("kit dev logs")\n`);
    expect(r.stderr).toStartWith(
      "[ERROR] Failed to start dev server: The model could not be loaded: Failed to load model (llama_model_load: error loading model: " +
        "tensor 'blk.0.attn_output.weight' data is not within the file bounds, model is corrupted or incomplete)\n",
    );
    // then the last lines of the server's log
    expect(r.stderr).toContain("  [ERROR] [llama.cpp] llama_model_load_from_file_impl: failed to load model\n");
    expect(existsSync(pidFile(h))).toBe(false);
  });

  test("a file that only starts like GGUF fails within seconds with llama.cpp's reason; the server is stopped", async () => {
    const dir = tempDir("kit-deve2e-notgguf-");
    writeFiles(dir, { Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: m.gguf\n", "m.gguf": "GGUFnotreally" });
    const h = path.join(tempDir("kit-deve2e-"), "home");
    started.push(h);
    const t0 = Date.now();
    const r = await runKit(["dev", "start", dir, "--threads", "1"], { env: { KITOPS_HOME: h }, timeoutMs: 30_000 });
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(
      "[ERROR] Failed to start dev server: The model could not be loaded: gguf_init_from_file_impl: this GGUF file is version 1920233326 but this software only supports up to version 3\n",
    );
    expect(existsSync(pidFile(h))).toBe(false);
    const serving = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(h);
      } catch {
        return false;
      }
    });
    expect(serving).toBe(false);
  });

  test("a port in use is reported before anything is loaded; --port help says an omitted port is a free one", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const h = path.join(tempDir("kit-deve2e-"), "home");
      const r = await runKit(["dev", "start", project, "--port", String(port)], { env: { KITOPS_HOME: h } });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`[ERROR] Failed to start dev server: port ${port} on 127.0.0.1 is already in use\n`);
      expect(r.stdout).toBe("Choose another port with --port, or leave --port out to use a free one\n");
      expect(existsSync(path.join(h, "harness"))).toBe(false);
    } finally {
      busy.close();
    }
    const help = await runKit(["dev", "start", "--help"]);
    expect(help.stdout).toMatch(/--port int +Port for development server to listen on \(default: a free port\)\n/);
  });

  test("a model that is not GGUF is refused before any server starts", async () => {
    const dir = tempDir("kit-deve2e-st-");
    writeFiles(dir, { Kitfile: "manifestVersion: 1.0.0\nmodel:\n  path: weights\n", "weights/model.safetensors": "x", "weights/config.json": "{}" });
    const h = path.join(tempDir("kit-deve2e-"), "home");
    const r = await runKit(["dev", "start", dir], { env: { KITOPS_HOME: h } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[ERROR] Failed to start dev server: Could not find a .gguf model file in weights: it holds config.json, model.safetensors\n");
    expect(r.stdout).toBe(`Loaded Kitfile: ${path.join(dir, "Kitfile")}\nThe model for kit dev must be a .gguf file, or a directory holding exactly one .gguf model\n`);
    expect(existsSync(path.join(h, "harness"))).toBe(false);
  });

  test("no Kitfile: kit's message", async () => {
    const cwd = tempDir("kit-deve2e-cwd-");
    const r = await runKit(["dev", "start"], { cwd, env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`[ERROR] Failed to complete options: failed to find Kitfile in directory .: No Kitfile found in ${cwd}. Consider using the -f flag to specify its path\n`);
    // what looks like a path is a directory; a name that is no path is a ModelKit reference
    const p = await runKit(["dev", "start", "./nosuch"], { cwd, env: env() });
    expect(p.stderr).toBe(`[ERROR] Failed to complete options: failed to find Kitfile in directory ./nosuch: No Kitfile found in ${path.join(cwd, "nosuch")}. Consider using the -f flag to specify its path\n`);
    const ref = await runKit(["dev", "start", "nosuch"], { cwd, env: env() });
    expect(ref.stdout).toBe("Extracting ModelKit localhost/nosuch:latest to cache directory...\n");
    expect(ref.stderr).toBe("[ERROR] Failed to start dev server: failed to find reference nosuch:latest: not found\n");
  });

  test("`kit dev` alone prints help; logs without a log file", async () => {
    const r = await runKit(["dev"], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("Start a local server and interact with a model in the browser\n\nUsage:\n  kit dev [command]\n");
    expect(r.stdout).not.toMatch(/^\s+serve\s/m); // the background server command is hidden
    const h = path.join(tempDir("kit-deve2e-"), "home");
    const logs = await runKit(["dev", "logs"], { env: { KITOPS_HOME: h } });
    expect(logs.code).toBe(0);
    expect(logs.stderr).toBe("[ERROR] No log file found\n");
  });

  test("-f names the Kitfile; logs -f follows the log and ends quietly once the server is stopped", async () => {
    const h = path.join(tempDir("kit-deve2e-"), "home");
    started.push(h);
    const r = await runKit(["dev", "start", "-f", "Kitfile", "--threads", "1"], { cwd: project, env: { KITOPS_HOME: h } });
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(`Loaded Kitfile: ${path.join(project, "Kitfile")}\nDevelopment server started at `);
    const base = startedUrl(r.stdout);

    const follower = spawn(kitBinary, ["dev", "logs", "-f"], { env: { PATH: process.env.PATH, HOME: process.env.HOME, KITOPS_HOME: h }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    follower.stdout.on("data", (d) => (out += d));
    follower.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => follower.once("exit", resolve));
    // a request made while following shows up in the followed output
    for (let i = 0; i < 200 && !out.includes("Serving "); i++) await new Promise((res) => setTimeout(res, 25));
    await streamChat(base);
    for (let i = 0; i < 200 && !out.includes("Chat completion:"); i++) await new Promise((res) => setTimeout(res, 25));
    expect(out).toContain("Chat completion: 20 prompt + ");
    expect((await runKit(["dev", "stop"], { env: { KITOPS_HOME: h } })).code).toBe(0);
    expect(await exited).toBe(0);
    expect(err).toBe("");
    expect(out).toContain("Stopping the development server\n");
  });

  test("two servers starting at once both extract the embedded llama.cpp runtime safely", async () => {
    const h = path.join(tempDir("kit-deve2e-"), "home");
    const model = path.join(project, "model", "tiny.gguf");
    const serve = () => {
      const child = spawn(kitBinary, ["dev", "serve", "--model", model, "--port", "0", "--threads", "1"], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, KITOPS_HOME: h },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      const url = new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          out += String(d);
          const m = /Serving .* at (http:\/\/[^\s]+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
      });
      return { child, url };
    };
    const a = serve();
    const b = serve();
    try {
      for (const s of [a, b]) {
        const base = await s.url;
        let status = 0;
        for (let i = 0; i < 600 && status !== 200; i++) {
          status = (await fetch(`${base}/health`)).status;
          if (status !== 200) await new Promise((r) => setTimeout(r, 50));
        }
        expect(status).toBe(200);
        const r = await fetch(`${base}/v1/completions`, { method: "POST", body: JSON.stringify({ prompt: "x", grammar: 'root ::= " ok"' }) });
        expect((await r.json()).choices[0].text).toBe(" ok");
      }
      // one runtime directory, no temporary files left in it
      const runtimes = readdirSync(path.join(h, "harness", "llama.cpp"));
      expect(runtimes.length).toBe(1);
      const files = readdirSync(path.join(h, "harness", "llama.cpp", runtimes[0]!), { recursive: true }) as string[];
      expect(files.filter((f) => f.includes(".tmp-"))).toEqual([]);
      expect(files).toContain(path.join("bins", "linux-x64", "llama-addon.node"));
    } finally {
      for (const s of [a, b]) s.child.kill("SIGINT");
      await Promise.all([a, b].map((s) => new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once("exit", r)))));
    }
  });
});

describe.if(hasDockerRegistry())("kit dev with a ModelKit in a registry", () => {
  test("a reference not in local storage is read from its registry (--plain-http) and served", async () => {
    const reg = await startRegistry("none");
    const h = path.join(tempDir("kit-deve2e-"), "home");
    started.push(h);
    try {
      const ref = `${reg.host}/dev/tiny:v1`;
      expect((await runKit(["pack", project, "-t", ref], { env: env() })).code).toBe(0);
      const push = await runKit(["push", ref, "--plain-http"], { env: env() });
      expect(push.code).toBe(0);
      // a fresh home: nothing local
      const r = await runKit(["dev", "start", ref, "--plain-http", "--threads", "1"], { env: { KITOPS_HOME: h } });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toStartWith(`Extracting ModelKit ${ref} to cache directory...\nModelKit extracted to ${path.join(h, "cache", "dev")}`);
      expect((await streamChat(startedUrl(r.stdout))).text).toBe("Hello from the compiled kit.");
      // streamed from the registry, not pulled into local storage
      const blobs = path.join(h, "storage", "blobs", "sha256");
      expect(existsSync(blobs) ? readdirSync(blobs) : []).toEqual([]);
      expect((await runKit(["dev", "stop"], { env: { KITOPS_HOME: h } })).code).toBe(0);
      // without --plain-http the registry cannot be reached over TLS: kit's error, no server
      const h2 = path.join(tempDir("kit-deve2e-"), "home");
      const tls = await runKit(["dev", "start", ref, "--threads", "1"], { env: { KITOPS_HOME: h2 } });
      expect(tls.code).toBe(1);
      expect(tls.stderr).toStartWith("[ERROR] Failed to start dev server: ");
      expect(existsSync(path.join(h2, "harness", "process.pid"))).toBe(false);
    } finally {
      await reg.stop();
    }
  });
});

/** TCP sockets of a process (from /proc), as `local remote state` with addresses in hex. */
function tcpSockets(pid: number): Array<{ local: string; remote: string; state: string }> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: Array<{ local: string; remote: string; state: string }> = [];
  for (const table of ["tcp", "tcp6"]) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1);
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if (inodes.has(f[9]!)) out.push({ local: f[1]!, remote: f[2]!, state: f[3]! });
    }
  }
  return out;
}

/** 127.x.x.x (hex little-endian in /proc), ::1, or IPv4-mapped 127.x; 0.0.0.0 only for a remote of a listener. */
const loopback = (hexAddr: string) => {
  const ip = hexAddr.split(":")[0]!;
  if (ip.length === 8) return ip.endsWith("7F");
  return ip === "00000000000000000000000001000000" || (ip.startsWith("0000000000000000FFFF0000") && ip.endsWith("7F"));
};

describe.if(process.platform === "linux")("kit dev without a network", () => {
  const canUnshare = process.getuid?.() === 0 && spawnSync("unshare", ["-n", "true"]).status === 0 && spawnSync("sh", ["-c", "command -v ip"]).status === 0;

  // In a fresh network namespace only a loopback interface exists: nothing but 127.0.0.1 can be
  // reached, so a start that tried to download anything (kit's llamafile, a model) would fail.
  test.if(canUnshare)("starts, answers and stops inside `unshare -n` (loopback only)", async () => {
    const h = path.join(tempDir("kit-deve2e-"), "home");
    const cwd = tempDir("kit-deve2e-cwd-");
    const script = path.join(cwd, "..", `${path.basename(cwd)}.sh`);
    const fetchJs = `const r = await fetch(process.argv[1] + "/v1/chat/completions", { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], grammar: ${JSON.stringify(HELLO)} }) }); console.log((await r.json()).choices[0].message.content);`;
    writeFileSync(script, [
      "set -e",
      "ip link set lo up",
      `out=$("${kitBinary}" dev start "${project}" --threads 1)`,
      `echo "$out"`,
      `url=$(echo "$out" | sed -n 's/^Development server started at //p')`,
      `"${process.execPath}" -e '${fetchJs.replace(/'/g, "'\\''")}' "$url"`,
      `"${kitBinary}" dev stop`,
    ].join("\n"));
    const r = spawnSync("unshare", ["-n", "sh", script], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, KITOPS_HOME: h }, encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Development server started at http:\/\/127\.0\.0\.1:\d+\n/);
    expect(r.stdout).toContain("Hello from the compiled kit.\nStopping development server...\nDevelopment server stopped\n");
  });

  // Without root there is no namespace to make; check instead that the running server holds no
  // TCP socket other than loopback ones (its listener and the client connection).
  test("the running server has only loopback sockets", async () => {
    const h = path.join(tempDir("kit-deve2e-"), "home");
    started.push(h);
    const r = await runKit(["dev", "start", project, "--threads", "1"], { env: { KITOPS_HOME: h } });
    expect(r.code).toBe(0);
    const base = startedUrl(r.stdout);
    expect((await streamChat(base)).text).toBe("Hello from the compiled kit.");
    const pid = Number(readFileSync(pidFile(h), "utf8"));
    const socks = tcpSockets(pid);
    expect(socks.some((s) => s.state === "0A")).toBe(true); // the listener
    for (const s of socks) {
      expect(loopback(s.local)).toBe(true);
      if (s.state !== "0A") expect(loopback(s.remote)).toBe(true);
    }
    expect((await runKit(["dev", "stop"], { env: { KITOPS_HOME: h } })).code).toBe(0);
  });
});
