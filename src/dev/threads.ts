/**
 * How many threads llama.cpp may use. Its threads spin while they wait for each other, so a
 * thread that has to share its core (hyper-threads, the server's own event loop, the OS) stalls
 * all of them: on a 2-core VM node-llama-cpp's default of 4 threads gave 3.8 tokens/s where one
 * thread gave ~1000 in an early measurement, and scripts/bench-dev.ts measured 2 threads at 15 (kit dev)
 * and 54 (node-llama-cpp alone) tokens/s against ~600 for 1 thread on a 384-wide model. So the
 * default leaves one physical core to the rest of the process and the system.
 * @module
 */
import { readFileSync } from "node:fs";
import os from "node:os";

/** Physical cores from Linux's /proc/cpuinfo (distinct `physical id` + `core id` pairs). */
export function physicalCoresFromCpuinfo(cpuinfo: string): number | undefined {
  const cores = new Set<string>();
  let phys = "0";
  let sawCoreId = false;
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    let core: string | undefined;
    phys = "0";
    for (const line of block.split("\n")) {
      const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
      if (!m) continue;
      if (m[1] === "physical id") phys = m[2]!;
      else if (m[1] === "core id") core = m[2]!;
    }
    if (core !== undefined) {
      sawCoreId = true;
      cores.add(`${phys}/${core}`);
    }
  }
  return sawCoreId && cores.size > 0 ? cores.size : undefined;
}

/**
 * The number of physical cores this process may use: on Linux from /proc/cpuinfo, elsewhere
 * the logical count, halved on x64 (where two hyper-threads per core is the rule; Apple and
 * other arm64 chips have none); never more than the CPUs the process is allowed to run on.
 */
export function physicalCores(): number {
  const logical = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  let physical: number | undefined;
  if (process.platform === "linux") {
    try {
      physical = physicalCoresFromCpuinfo(readFileSync("/proc/cpuinfo", "utf8"));
    } catch {
      // not readable (sandbox): fall through to the estimate
    }
  }
  physical ??= process.arch === "x64" || process.arch === "ia32" ? Math.ceil(os.cpus().length / 2) : os.cpus().length;
  return Math.max(1, Math.min(physical, logical));
}

/** The default thread count: the physical cores less one, at least one. */
export function defaultThreads(): number {
  return Math.max(1, physicalCores() - 1);
}

/** The thread count to use: `requested` when given (> 0), else {@link defaultThreads}. */
export function llamaThreads(requested: number | undefined): number {
  return requested && requested > 0 ? Math.floor(requested) : defaultThreads();
}
