/**
 * The signing commands in process, on local storage: password prompts, flag errors, and
 * --verify-key on unpack and dev start refusing before anything is written (the registry cases
 * are in test/integration/signing.test.ts).
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitEnv } from "../helpers/kit.ts";

function packed(name = "signed") {
  const env = kitEnv("kit-sign-cli-", { KIT_PASSWORD: "pw" });
  writeFileSync(path.join(env.root, "Kitfile"), `manifestVersion: 1.0.0\npackage:\n  name: ${name}\nmodel:\n  path: model.gguf\n`);
  writeFileSync(path.join(env.root, "model.gguf"), "not really a model\n");
  return env;
}

test("key generate asks for the password twice on a terminal, refuses a mismatch and a non-terminal without KIT_PASSWORD", async () => {
  const env = kitEnv("kit-sign-cli-");
  const r = await env.run(["key", "generate"], { stdinIsTTY: true, answers: ["secret", "secret"] });
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("Enter password for private key: Enter password for private key again: Private key written to cosign.key\nPublic key written to cosign.pub\n");
  expect(readFileSync(path.join(env.root, "cosign.key"), "utf8")).toStartWith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
  const mismatch = await env.run(["key", "generate", "--output-key-prefix", "b"], { stdinIsTTY: true, answers: ["one", "two"] });
  expect(mismatch.code).toBe(1);
  expect(mismatch.stderr).toBe("[ERROR] Passwords do not match\n");
  expect(existsSync(path.join(env.root, "b.key"))).toBe(false);
  const noTty = await env.run(["key", "generate", "--output-key-prefix", "c"]);
  expect(noTty.code).toBe(1);
  expect(noTty.stderr).toBe("[ERROR] No password for the private key: set KIT_PASSWORD, or run kit on a terminal to be asked\n");
});

test("sign asks for the key's password; a wrong one fails clearly; flags are checked", async () => {
  const env = packed();
  expect((await env.run(["pack", ".", "-t", "org/model:v1"])).code).toBe(0);
  expect((await env.run(["key", "generate"])).code).toBe(0);
  const wrong = await env.run(["sign", "org/model:v1", "--key", "cosign.key"], { env: { KIT_PASSWORD: "nope" } });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toBe("[ERROR] Cosign.key: decryption failed: wrong password, or the key file was changed\n");
  const prompted = await env.run(["sign", "org/model:v1", "--key", "cosign.key"], { env: { KIT_PASSWORD: undefined }, stdinIsTTY: true, answers: ["pw"] });
  expect(prompted.stdout).toMatch(/^Enter password for private key: Signed org\/model:v1 \(sha256:[0-9a-f]{64}\) in local storage: signature stored under sha256-[0-9a-f]{64}\.sig\n$/);
  expect((await env.run(["sign", "org/model:v1"])).stderr).toContain("A private key is required: --key cosign.key");
  expect((await env.run(["sign", "org/model:v1", "--key", "cosign.key", "-a", "novalue"])).stderr).toContain('Invalid annotation "novalue": expected KEY=VALUE');
  expect((await env.run(["verify", "org/model:v1", "--key", "cosign.key"])).stderr).toContain('Cosign.key: unsupported PEM type "ENCRYPTED SIGSTORE PRIVATE KEY" (expected PUBLIC KEY)');
  expect((await env.run(["verify", "org/model:v9", "--key", "cosign.pub"])).stderr).toBe("[ERROR] ModelKit org/model:v9 not found in local storage\n");
  expect((await env.run(["attest", "org/model:v1", "--key", "cosign.key", "--predicate", "Kitfile", "--type", "not a type"])).stderr).toContain('Invalid predicate type "not a type"');
});

test("--verify-key on unpack and dev start: refused before any file is written, accepted once signed", async () => {
  const env = packed();
  expect((await env.run(["pack", ".", "-t", "org/model:v1"])).code).toBe(0);
  expect((await env.run(["key", "generate"])).code).toBe(0);
  const out = path.join(env.root, "out");

  const unpack = await env.run(["unpack", "org/model:v1", "-d", out, "--verify-key", "cosign.pub"]);
  expect(unpack.code).toBe(1);
  expect(unpack.stderr).toMatch(/^\[ERROR\] Failed to unpack: refusing org\/model:v1: localhost\/org\/model@sha256:[0-9a-f]{64} is not signed: no signatures \(tag sha256-[0-9a-f]{64}\.sig\)\n$/);
  expect(existsSync(path.join(out, "Kitfile"))).toBe(false);
  expect(existsSync(path.join(out, "model.gguf"))).toBe(false);

  const dev = await env.run(["dev", "start", "org/model:v1"], { env: { KIT_VERIFY_KEY: "cosign.pub" } });
  expect(dev.code).toBe(1);
  expect(dev.stderr).toContain("refusing org/model:v1");
  expect(existsSync(path.join(env.home, "cache", "dev"))).toBe(false);

  expect((await env.run(["sign", "org/model:v1", "--key", "cosign.key"])).code).toBe(0);
  const ok = await env.run(["unpack", "org/model:v1", "-d", out, "--verify-key", "cosign.pub"]);
  expect(ok.stderr).toBe("");
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/Verified signature of org\/model:v1 \(sha256:[0-9a-f]{64}\) with cosign\.pub\n/);
  expect(readFileSync(path.join(out, "model.gguf"), "utf8")).toBe("not really a model\n");
});
