/**
 * The integration tests skip themselves when a system tool is missing (a developer machine
 * without docker-registry, say). In CI (`.ci/run` sets KIT_TEST_REQUIRE_TOOLS=1) a missing tool
 * must fail the run instead of silently skipping the real-registry, skopeo and browser tests.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";

const TOOLS = ["docker-registry", "skopeo", "chromium", "openssl", "python3", "tar", "dash", "curl", "unzip", "qemu-aarch64-static", "zsh", "fish"];
/** The arm64 loader and C++ runtime (multiarch) that qemu-aarch64-static runs the linux-arm64 binary with. */
const FILES = ["/usr/bin/time", "/lib/ld-linux-aarch64.so.1", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"];
const required = process.env.KIT_TEST_REQUIRE_TOOLS === "1";

test.skipIf(!required)("every system tool the integration tests use is installed", () => {
  const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  expect(missing).toEqual([]);
  expect(FILES.filter((f) => spawnSync("test", ["-e", f]).status !== 0)).toEqual([]);
  // The full-disk test mounts a tmpfs: CI runs as root.
  expect(process.getuid?.()).toBe(0);
});
