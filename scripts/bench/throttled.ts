/**
 * The throttled-pull rows: a registry behind a proxy that caps every connection at a fixed rate
 * (as CDNs and object stores do), pulled by kit (parallel Range parts) and by skopeo (one
 * connection per blob) through the same proxy, runs alternating.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { measure, run, type Sample, syncDisks } from "./measure.ts";
import { startRegistry } from "./registry.ts";
import { removeTree } from "./data.ts";

export interface ThrottledRun {
  kit: string;
  /** The project to pack (one large file). */
  project: string;
  /** Scratch directory (removed). */
  work: string;
  /** Bytes per second of each connection. */
  rate: number;
  runs: number;
  /** Stops the registry and proxy if the bench is interrupted. */
  cleanups: Array<() => Promise<void> | void>;
}

/** Starts the proxy process in front of `registryPort`; resolves with its port. */
async function startProxy(registryPort: number, rate: number): Promise<{ port: number; child: ChildProcess }> {
  const script = path.join(import.meta.dir, "throttle-proxy.ts");
  const child = spawn(process.execPath, [script, "127.0.0.1", String(registryPort), String(rate)], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", (l) => resolve(l));
    child.once("exit", (code) => reject(new Error(`the throttling proxy exited with ${code}`)));
  });
  return { port: Number(line), child };
}

/** Median-ready samples of `kit pull` and `skopeo copy` through the capped connections. */
export async function throttledPull(o: ThrottledRun): Promise<{ ours: Sample[]; ref: Sample[] }> {
  const env = (home: string) => ({ KITOPS_HOME: home });
  const src = path.join(o.work, "throttled-src");
  removeTree(src);
  const packed = run([o.kit, "pack", o.project, "-t", "bench/throttled:v1", "--progress", "none"], { env: env(src) });
  const digest = /Model saved: (sha256:[a-f0-9]{64})/.exec(packed)?.[1];
  if (!digest) throw new Error(`kit pack printed no manifest digest:\n${packed}`);
  const reg = await startRegistry(path.join(o.work, "registry-throttled"));
  o.cleanups.push(() => reg.stop());
  let proxy: { port: number; child: ChildProcess } | undefined;
  try {
    run([o.kit, "push", "bench/throttled:v1", `${reg.host}/bench/throttled:v1`, "--plain-http", "--progress", "none"], { env: env(src) });
    proxy = await startProxy(Number(reg.host.split(":")[1]), o.rate);
    const ref = `127.0.0.1:${proxy.port}/bench/throttled:v1`;
    const ours: Sample[] = [];
    const theirs: Sample[] = [];
    const home = path.join(o.work, "throttled-pull");
    const layout = path.join(o.work, "throttled-layout");
    for (let i = 0; i < o.runs; i++) {
      removeTree(home);
      syncDisks();
      ours.push(measure({ argv: [o.kit, "pull", ref, "--plain-http", "--progress", "none"], env: env(home) }));
      removeTree(home);
      removeTree(layout);
      syncDisks();
      theirs.push(measure({ argv: ["skopeo", "copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${layout}:v1`] }));
      removeTree(layout);
    }
    return { ours, ref: theirs };
  } finally {
    proxy?.child.kill("SIGTERM");
    await reg.stop();
    o.cleanups.pop();
    removeTree(src);
  }
}
