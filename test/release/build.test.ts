/** scripts/build.ts: release targets, executable format checks, where the cross runtimes come from. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  RELEASE_TARGETS,
  type ReleaseTarget,
  binaryFormatOf,
  checkBinaryFormat,
  detectBinaryFormat,
  targetLlamaBins,
  targetRuntime,
} from "../../scripts/build.ts";
import { prebuiltFolderFor } from "../../scripts/nlc-plugin.ts";

const repoRoot = path.resolve(import.meta.dir, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "kit-release-build-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Minimal headers of each format (what the checks read, zeros elsewhere). */
function fakeExecutable(format: "elf-x86-64" | "elf-aarch64" | "macho-arm64" | "pe32+-x86-64"): Uint8Array {
  const b = new Uint8Array(512);
  const dv = new DataView(b.buffer);
  switch (format) {
    case "elf-x86-64":
    case "elf-aarch64":
      b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
      dv.setUint16(18, format === "elf-x86-64" ? 0x3e : 0xb7, true);
      break;
    case "macho-arm64":
      dv.setUint32(0, 0xfeedfacf, true);
      dv.setUint32(4, 0x0100000c, true);
      break;
    case "pe32+-x86-64":
      b.set([0x4d, 0x5a], 0);
      dv.setUint32(0x3c, 0x80, true);
      b.set([0x50, 0x45, 0, 0], 0x80);
      dv.setUint16(0x84, 0x8664, true);
      dv.setUint16(0x80 + 24, 0x20b, true);
      break;
  }
  return b;
}

const reader = (b: Uint8Array) => (offset: number, length: number) => b.subarray(offset, offset + length);

describe("release targets", () => {
  test("the four platforms, their Bun runtime packages and node-llama-cpp folders", () => {
    expect(RELEASE_TARGETS.map((t) => [t.name, t.bunTarget, t.runtimePackage, t.llamaFolder, t.binaryName, t.format])).toEqual([
      ["linux-x64", "bun-linux-x64", "@oven/bun-linux-x64", "linux-x64", "kit", "elf-x86-64"],
      ["linux-arm64", "bun-linux-arm64", "@oven/bun-linux-aarch64", "linux-arm64", "kit", "elf-aarch64"],
      ["darwin-arm64", "bun-darwin-arm64", "@oven/bun-darwin-aarch64", "mac-arm64-metal", "kit", "macho-arm64"],
      ["windows-x64", "bun-windows-x64", "@oven/bun-windows-x64", "win-x64", "kit.exe", "pe32+-x86-64"],
    ]);
    for (const t of RELEASE_TARGETS) expect(prebuiltFolderFor(t.bunTarget)).toBe(t.llamaFolder);
  });

  test("package.json pins every runtime and llama.cpp package at the versions of bun and node-llama-cpp", () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const t of RELEASE_TARGETS) {
      expect(pkg.devDependencies[t.runtimePackage]).toBe(pkg.devDependencies.bun!);
      expect(pkg.devDependencies[`@node-llama-cpp/${t.llamaFolder}`]).toBe(pkg.dependencies["node-llama-cpp"]!);
    }
    expect(pkg.devDependencies.bun).toBe("1.4.5");
    expect(readFileSync(path.join(repoRoot, ".npmrc"), "utf8")).toMatch(/^force=true$/m);
  });

  test("the lockfile lists the foreign packages as non-optional, so npm ci fetches them on any host", () => {
    const lock = JSON.parse(readFileSync(path.join(repoRoot, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version: string; optional?: boolean; integrity?: string }>;
    };
    for (const t of RELEASE_TARGETS) {
      for (const name of [t.runtimePackage, `@node-llama-cpp/${t.llamaFolder}`]) {
        const e = lock.packages[`node_modules/${name}`];
        expect(e, name).toBeDefined();
        expect(e!.optional ?? false).toBe(false);
        expect(e!.integrity).toMatch(/^sha512-/);
      }
    }
  });
});

describe("detectBinaryFormat", () => {
  for (const f of ["elf-x86-64", "elf-aarch64", "macho-arm64", "pe32+-x86-64"] as const) {
    test(f, () => expect(detectBinaryFormat(reader(fakeExecutable(f)))).toBe(f));
  }

  test("other machines and formats are not accepted", () => {
    const elf32 = fakeExecutable("elf-x86-64");
    elf32[4] = 1;
    expect(detectBinaryFormat(reader(elf32))).toBeUndefined();
    const riscv = fakeExecutable("elf-x86-64");
    new DataView(riscv.buffer).setUint16(18, 0xf3, true);
    expect(detectBinaryFormat(reader(riscv))).toBeUndefined();
    const machoX64 = fakeExecutable("macho-arm64");
    new DataView(machoX64.buffer).setUint32(4, 0x01000007, true);
    expect(detectBinaryFormat(reader(machoX64))).toBeUndefined();
    const pe32 = fakeExecutable("pe32+-x86-64");
    new DataView(pe32.buffer).setUint16(0x80 + 24, 0x10b, true);
    expect(detectBinaryFormat(reader(pe32))).toBeUndefined();
    const peArm = fakeExecutable("pe32+-x86-64");
    new DataView(peArm.buffer).setUint16(0x84, 0xaa64, true);
    expect(detectBinaryFormat(reader(peArm))).toBeUndefined();
    expect(detectBinaryFormat(reader(new TextEncoder().encode("#!/bin/sh\necho hi\n")))).toBeUndefined();
    expect(detectBinaryFormat(reader(new Uint8Array(0)))).toBeUndefined();
  });

  test("a PE header pointer past the end of the file", () => {
    const b = fakeExecutable("pe32+-x86-64").slice(0, 64);
    expect(detectBinaryFormat(reader(b))).toBeUndefined();
  });

  test("checkBinaryFormat names what it found", () => {
    const f = path.join(tmp, "exe");
    writeFileSync(f, fakeExecutable("macho-arm64"));
    expect(binaryFormatOf(f)).toBe("macho-arm64");
    expect(() => checkBinaryFormat(f, "macho-arm64")).not.toThrow();
    expect(() => checkBinaryFormat(f, "elf-aarch64")).toThrow(`Wrong executable format for ${f}: found macho-arm64, expected elf-aarch64`);
    writeFileSync(f, "not an executable");
    expect(() => checkBinaryFormat(f, "pe32+-x86-64")).toThrow(`Wrong executable format for ${f}: found none known, expected pe32+-x86-64`);
  });
});

describe("targetRuntime / targetLlamaBins", () => {
  const darwin = RELEASE_TARGETS.find((t) => t.name === "darwin-arm64")!;
  const hostName = `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  const host = RELEASE_TARGETS.find((t) => t.name === hostName);

  function fakeRoot(pkgs: Record<string, { version: string; bin?: boolean }>): string {
    const root = mkdtempSync(path.join(tmp, "root-"));
    for (const [name, p] of Object.entries(pkgs)) {
      const dir = path.join(root, "node_modules", ...name.split("/"));
      mkdirSync(path.join(dir, "bin"), { recursive: true });
      writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: p.version }));
      if (p.bin) writeFileSync(path.join(dir, "bin", name.includes("windows") ? "bun.exe" : "bun"), "");
    }
    return root;
  }

  test("the runtime package's binary, at this Bun's version", () => {
    const root = fakeRoot({ "@oven/bun-darwin-aarch64": { version: Bun.version, bin: true } });
    expect(targetRuntime(darwin, root)).toBe(path.join(root, "node_modules", "@oven", "bun-darwin-aarch64", "bin", "bun"));
  });

  test("a missing package says how to get it", () => {
    const root = fakeRoot({});
    expect(() => targetRuntime(darwin, root)).toThrow(
      "@oven/bun-darwin-aarch64 is not installed, so darwin-arm64 cannot be built offline: run npm ci (the project .npmrc makes npm install other platforms' packages)",
    );
  });

  test("another version than the Bun running the build is refused", () => {
    const root = fakeRoot({ "@oven/bun-darwin-aarch64": { version: "1.0.0", bin: true } });
    expect(() => targetRuntime(darwin, root)).toThrow(
      `@oven/bun-darwin-aarch64 is version 1.0.0 but this is Bun ${Bun.version}: run npm ci, and build with node_modules/.bin/bun`,
    );
  });

  test.skipIf(!host)("the host's own target may have no binary in its package (Bun's install moves it): Bun uses itself", () => {
    const root = fakeRoot({ [host!.runtimePackage]: { version: Bun.version } });
    expect(targetRuntime(host!, root)).toBeUndefined();
  });

  test("node-llama-cpp's prebuilt folder must be installed", () => {
    const root = fakeRoot({});
    expect(() => targetLlamaBins(darwin, root)).toThrow(
      "@node-llama-cpp/mac-arm64-metal is not installed, so darwin-arm64 would have no llama.cpp runtime: run npm ci",
    );
    const bins = path.join(root, "node_modules", "@node-llama-cpp", "mac-arm64-metal", "bins", "mac-arm64-metal");
    mkdirSync(bins, { recursive: true });
    writeFileSync(path.join(bins, "llama-addon.node"), "");
    expect(targetLlamaBins(darwin, root)).toBe(bins);
  });

  test("in this checkout every release target has its runtime and llama.cpp files (npm ci)", () => {
    for (const t of RELEASE_TARGETS as ReleaseTarget[]) {
      const rt = targetRuntime(t);
      if (rt !== undefined) expect(binaryFormatOf(rt)).toBe(t.format);
      expect(targetLlamaBins(t)).toContain(t.llamaFolder);
    }
  });
});
