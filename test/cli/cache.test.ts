import { expect, test } from "bun:test";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runInProcess, tempDir } from "../helpers/kit.ts";

test("cache info on an empty or missing cache", async () => {
  const home = tempDir();
  expect(await runInProcess(["cache", "info", "--config", home])).toEqual({ code: 0, stdout: "Cache is currently empty\n", stderr: "" });
});

test("cache info lists entries with kit's sizes (directory entries counted) and cache clear empties it", async () => {
  const home = tempDir();
  const cache = path.join(home, "cache");
  mkdirSync(path.join(cache, "pack"), { recursive: true });
  mkdirSync(path.join(cache, "dev-models", "m"), { recursive: true });
  writeFileSync(path.join(cache, "dev-models", "m", "w.gguf"), new Uint8Array(5000));
  writeFileSync(path.join(cache, "a.txt"), "hello");
  const dirSize = (p: string) => statSync(p).size;
  const packSize = dirSize(path.join(cache, "pack"));
  const devSize = dirSize(path.join(cache, "dev-models")) + dirSize(path.join(cache, "dev-models", "m")) + 5000;
  const r = await runInProcess(["cache", "info"], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(0);
  const fmt = (n: number) => (n < 1024 ? `${n} B` : `${(Math.floor((n / 1024) * 10) / 10).toFixed(1)} KiB`);
  expect(r.stdout).toBe(
    `Total size of cache directory: ${fmt(5 + packSize + devSize)}\nCache contents:\n` +
      `  ./a.txt         ${fmt(5)}\n  ./dev-models    ${fmt(devSize)}\n  ./pack          ${fmt(packSize)}\n`,
  );
  expect(await runInProcess(["cache", "clear"], { env: { KITOPS_HOME: home } })).toEqual({ code: 0, stdout: "", stderr: "" });
  expect(readdirSync(cache)).toEqual([]);
});

test("kit cache without a sub-command prints help and exits 0", async () => {
  const r = await runInProcess(["cache"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Available Commands:");
  expect(r.stdout).toContain("clear");
});
