/**
 * The integration tests skip themselves when a system tool is missing (a developer machine
 * without docker-registry, say). In CI (`.ci/run` sets KIT_TEST_REQUIRE_TOOLS=1) a missing tool
 * must fail the run instead of silently skipping the real-registry, skopeo and browser tests.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";

const TOOLS = ["docker-registry", "skopeo", "chromium", "openssl", "python3", "tar", "zsh", "fish"];
const required = process.env.KIT_TEST_REQUIRE_TOOLS === "1";

test.skipIf(!required)("every system tool the integration tests use is installed", () => {
  const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  expect(missing).toEqual([]);
  expect(spawnSync("test", ["-x", "/usr/bin/time"]).status).toBe(0);
  // The full-disk test mounts a tmpfs: CI runs as root.
  expect(process.getuid?.()).toBe(0);
});
