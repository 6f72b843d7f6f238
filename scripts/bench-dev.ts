/**
 * kit dev benchmark: generation speed of the compiled binary's server against node-llama-cpp
 * run directly under Bun (same model, same thread count, same prompt and settings), and the
 * time from `kit dev start` to a healthy server (first start, which extracts the embedded
 * llama.cpp runtime, and later starts). Prints a Markdown table.
 *
 *   bun scripts/bench-dev.ts [--threads N] [--tokens N] [--runs N] [--embd N] [--layers N]
 *
 * Needs dist/kit (bun scripts/build.ts). The model is a generated random-weight llama model,
 * larger than the tests' one (default n_embd 384, 4 layers, f32), written under .bench/; its
 * end-of-generation logit is zeroed so greedy decoding always runs the full token count.
 * Generation speed is measured from the first streamed token to the last, so prompt
 * evaluation and HTTP setup are not counted; the compiled side still streams every token as
 * an SSE event over loopback HTTP.
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultThreads, physicalCores } from "../src/dev/threads.ts";
import { writeTinyGguf } from "../test/helpers/tiny-gguf.ts";
import { median } from "./bench/measure.ts";

const root = path.resolve(import.meta.dir, "..");
const kit = path.join(root, "dist", process.platform === "win32" ? "kit.exe" : "kit");
const PROMPT = "The ModelKit packs the model, its datasets and code";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

interface GenRun { tokens: number; tokensPerSecond: number }

// ---- direct mode: node-llama-cpp in this Bun process (run as a child of the main mode) ----------

async function direct(model: string, threads: number, tokens: number, runs: number): Promise<GenRun[]> {
  const { getLlama, LlamaCompletion } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, maxThreads: threads, logLevel: "warn" as never });
  const m = await llama.loadModel({ modelPath: model });
  const ctx = await m.createContext({ threads, sequences: 1 });
  const seq = ctx.getSequence();
  const completion = new LlamaCompletion({ contextSequence: seq });
  const out: GenRun[] = [];
  for (let i = 0; i < runs + 1; i++) {
    seq.clearHistory();
    let first = 0;
    let last = 0;
    let n = 0;
    await completion.generateCompletion(PROMPT, {
      maxTokens: tokens,
      temperature: 0,
      onToken: (t) => {
        last = performance.now();
        if (!first) first = last;
        n += t.length;
      },
    });
    if (i > 0) out.push({ tokens: n, tokensPerSecond: (n - 1) / ((last - first) / 1000) }); // run 0 warms up
  }
  await llama.dispose();
  return out;
}

if (process.argv[2] === "--direct") {
  const [, , , model, threads, tokens, runs] = process.argv;
  console.log(JSON.stringify(await direct(model!, Number(threads), Number(tokens), Number(runs))));
  process.exit(0);
}

// ---- main mode -----------------------------------------------------------------------------

async function streamCompletion(base: string, tokens: number): Promise<GenRun> {
  const r = await fetch(`${base}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: PROMPT, max_tokens: tokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const dec = new TextDecoder();
  let buf = "";
  let first = 0;
  let last = 0;
  let n = 0;
  for await (const part of r.body!) {
    buf += dec.decode(part, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const data = buf.slice(6, cut);
      buf = buf.slice(cut + 2);
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.usage) n = chunk.usage.completion_tokens;
      else if (chunk.choices?.[0]?.text) {
        last = performance.now();
        if (!first) first = last;
      }
    }
  }
  return { tokens: n, tokensPerSecond: (n - 1) / ((last - first) / 1000) };
}

function runKit(args: string[], home: string): { ms: number; stdout: string; stderr: string; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(kit, args, { env: { ...process.env, KITOPS_HOME: home }, encoding: "utf8" });
  return { ms: performance.now() - t0, stdout: r.stdout, stderr: r.stderr, status: r.status };
}

async function main() {
  if (!existsSync(kit)) throw new Error(`${kit} is missing: run "bun scripts/build.ts" first`);
  const threads = arg("threads", defaultThreads());
  const tokens = arg("tokens", 256);
  const runs = arg("runs", 5);
  const embd = arg("embd", 384);
  const layers = arg("layers", 4);

  const benchDir = path.join(root, ".bench", "dev");
  mkdirSync(benchDir, { recursive: true });
  const project = path.join(benchDir, `model-${embd}x${layers}`);
  mkdirSync(project, { recursive: true });
  const modelFile = path.join(project, "bench.gguf");
  const info = writeTinyGguf(modelFile, { embd, layers, heads: embd / 64, neverEnd: true, contextLength: 4096, name: "bench" });
  writeFileSync(path.join(project, "Kitfile"), "manifestVersion: 1.0.0\nmodel:\n  name: bench\n  path: bench.gguf\n");
  const home = mkdtempSync(path.join(os.tmpdir(), "kit-bench-dev-"));

  try {
    // time to a healthy server: the first start extracts the runtime, later ones reuse it
    const starts: number[] = [];
    let base = "";
    const compiled: GenRun[] = [];
    for (let i = 0; i < 4; i++) {
      const r = runKit(["dev", "start", project, "--threads", String(threads)], home);
      if (r.status !== 0) throw new Error(`kit dev start failed: ${r.stderr}`);
      starts.push(r.ms);
      base = /Development server started at (\S+)/.exec(r.stdout)![1]!;
      if (i === 3) {
        await streamCompletion(base, tokens); // warm-up
        for (let j = 0; j < runs; j++) compiled.push(await streamCompletion(base, tokens));
      }
      const s = runKit(["dev", "stop"], home);
      if (s.status !== 0) throw new Error(`kit dev stop failed: ${s.stderr}`);
    }

    const child = spawn(process.execPath, [import.meta.path, "--direct", modelFile, String(threads), String(tokens), String(runs)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    await new Promise((r) => child.once("exit", r));
    const direct: GenRun[] = JSON.parse(out.trim().split("\n").at(-1)!);

    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    const gpu = spawnSync("sh", ["-c", "command -v nvidia-smi"]).status === 0 ? "an NVIDIA GPU is present but kit's Linux build embeds the CPU runtime only" : "no NVIDIA GPU on this machine: CPU only";
    const fmt = (x: number) => x.toFixed(1);
    console.log(`\n### kit dev benchmark\n`);
    console.log(`Model: random llama, n_embd ${embd}, ${layers} layers, vocab ${info.vocabSize}, f32, ${(info.bytes / 2 ** 20).toFixed(1)} MiB. ` +
      `${threads} thread${threads === 1 ? "" : "s"} (physical cores: ${physicalCores()}), ${tokens} tokens per run, greedy, median of ${runs}. ` +
      `${cpu}; ${gpu}. Bun ${Bun.version}.\n`);
    console.log("| measure | compiled `dist/kit` (HTTP, SSE) | node-llama-cpp under Bun |");
    console.log("|---|---:|---:|");
    console.log(`| generation, tokens/s | ${fmt(median(compiled.map((r) => r.tokensPerSecond)))} | ${fmt(median(direct.map((r) => r.tokensPerSecond)))} |`);
    console.log(`| tokens generated per run | ${median(compiled.map((r) => r.tokens))} | ${median(direct.map((r) => r.tokens))} |`);
    console.log("");
    console.log("| `kit dev start` until /health answers ok | ms |");
    console.log("|---|---:|");
    console.log(`| first start (extracts the llama.cpp runtime) | ${starts[0]!.toFixed(0)} |`);
    console.log(`| later starts (median of ${starts.length - 1}) | ${median(starts.slice(1)).toFixed(0)} |`);
  } finally {
    spawnSync(kit, ["dev", "stop"], { env: { ...process.env, KITOPS_HOME: home } });
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
