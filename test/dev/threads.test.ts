import { describe, expect, test } from "bun:test";
import { defaultThreads, llamaThreads, physicalCores, physicalCoresFromCpuinfo } from "../../src/dev/threads.ts";

const cpu = (phys: number, core: number) => `processor\t: 0\nphysical id\t: ${phys}\ncore id\t\t: ${core}\nflags\t\t: fpu\n`;

describe("physical cores", () => {
  test("distinct physical id / core id pairs from /proc/cpuinfo", () => {
    // 2 sockets × 2 cores × 2 hyper-threads
    const info = [cpu(0, 0), cpu(0, 0), cpu(0, 1), cpu(0, 1), cpu(1, 0), cpu(1, 0), cpu(1, 1), cpu(1, 1)].join("\n");
    expect(physicalCoresFromCpuinfo(info)).toBe(4);
    expect(physicalCoresFromCpuinfo([cpu(0, 0), cpu(0, 1)].join("\n"))).toBe(2);
  });

  test("no core ids (some ARM kernels, sandboxes): unknown", () => {
    expect(physicalCoresFromCpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\n")).toBeUndefined();
    expect(physicalCoresFromCpuinfo("")).toBeUndefined();
  });

  test("this machine: at least one, never more than the CPUs we may use", () => {
    const n = physicalCores();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(navigator.hardwareConcurrency);
  });

  test("an explicit thread count wins; 0 or none means the physical cores less one, at least one", () => {
    expect(llamaThreads(3)).toBe(3);
    expect(defaultThreads()).toBe(Math.max(1, physicalCores() - 1));
    expect(llamaThreads(0)).toBe(defaultThreads());
    expect(llamaThreads(undefined)).toBe(defaultThreads());
  });
});
