/**
 * build/init/entrypoint.sh, the init container's entry point, run without a container: `kit` and
 * `cosign` on PATH are stubs that record their arguments (the real binary is exercised in
 * test/integration/release.test.ts). Runs under every POSIX shell found here.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const script = path.resolve(import.meta.dir, "../../build/init/entrypoint.sh");
const tmp = mkdtempSync(path.join(os.tmpdir(), "kit-init-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A stub recording `name [arg] [arg]…` lines into $STUB_LOG (with `{KIT_VERIFY_KEY=…}` when that
 * is in its environment); exits $STUB_EXIT_<NAME>_<ARG1> (default 0).
 */
function stub(dir: string, name: string) {
  writeFileSync(
    path.join(dir, name),
    `#!/bin/sh
{ printf '%s' "${name}"; for a in "$@"; do printf ' [%s]' "$a"; done; if [ -n "$KIT_VERIFY_KEY" ]; then printf ' {KIT_VERIFY_KEY=%s}' "$KIT_VERIFY_KEY"; fi; printf '\\n'; } >> "$STUB_LOG"
if [ "${name} $1" = "kit version" ]; then echo "Version: stub"; fi
eval "code=\\\${STUB_EXIT_${name.toUpperCase()}_$1:-0}"
exit "$code"
`,
    { mode: 0o755 },
  );
}

const shells = ["/bin/sh", "/bin/dash", "/bin/bash", "/usr/bin/busybox"].filter((s) => existsSync(s));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The stub calls, in order. */
  calls: string[];
}

function run(shell: string, env: Record<string, string>, opts: { cosign?: boolean } = {}): Run {
  const dir = mkdtempSync(path.join(tmp, "run-"));
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  stub(bin, "kit");
  if (opts.cosign !== false) stub(bin, "cosign");
  // the shell's own PATH lookups need sh utilities only for `command -v`; no cosign anywhere else
  const log = path.join(dir, "calls.log");
  writeFileSync(log, "");
  const argv = shell.endsWith("busybox") ? [shell, "sh", script] : [shell, script];
  const r = spawnSync(argv[0]!, argv.slice(1), {
    cwd: dir,
    env: { PATH: `${bin}:/usr/bin:/bin`, STUB_LOG: log, ...env },
    encoding: "utf8",
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, calls: readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

test("cosign is not installed on this machine (the missing-cosign case depends on it)", () => {
  expect(spawnSync("/bin/sh", ["-c", "command -v cosign"], { env: { PATH: "/usr/bin:/bin" } }).status).not.toBe(0);
});

for (const shell of shells) {
  describe(`entrypoint.sh under ${shell}`, () => {
    test("MODELKIT_REF is required", () => {
      const r = run(shell, {});
      expect(r).toEqual({ code: 1, stdout: "Environment variable $MODELKIT_REF is required\n", stderr: "", calls: [] });
    });

    test("defaults: /home/user/modelkit/, filter model, --ignore-existing", () => {
      const r = run(shell, { MODELKIT_REF: "registry.example.com/org/model:v1" });
      expect(r.code).toBe(0);
      expect(r.calls).toEqual([
        "kit [version]",
        "kit [unpack] [registry.example.com/org/model:v1] [--dir] [/home/user/modelkit/] [--filter=model] [--ignore-existing]",
      ]);
      expect(r.stdout).toBe(
        "Signature verification is disabled\n" +
          "Binary version info:\n" +
          "Version: stub\n" +
          "Unpacking modelkit registry.example.com/org/model:v1 to /home/user/modelkit/ with filter 'model'. Additional flags: --ignore-existing\n",
      );
      expect(r.stderr).toBe("");
    });

    test("UNPACK_PATH, UNPACK_FILTER and EXTRA_FLAGS (split at whitespace, no globbing, replacing the default)", () => {
      const r = run(shell, {
        MODELKIT_REF: "org/model@sha256:" + "a".repeat(64),
        UNPACK_PATH: "/models/llm",
        UNPACK_FILTER: "model,datasets:training",
        // a lone * would match bin/ and calls.log in the working directory if it were globbed
        EXTRA_FLAGS: "  -o\t--plain-http   *  ",
      });
      expect(r.code).toBe(0);
      expect(r.calls).toEqual([
        "kit [version]",
        `kit [unpack] [org/model@sha256:${"a".repeat(64)}] [--dir] [/models/llm] [--filter=model,datasets:training] [-o] [--plain-http] [*]`,
      ]);
      expect(r.stdout).toContain("with filter 'model,datasets:training'. Additional flags: -o --plain-http *\n");
    });

    for (const [flags, expected] of [
      ["--dir /data -i", "[--dir] [/data] [-i]"],
      ["--dir=/data", "[--dir=/data]"],
      ["-d /data", "[-d] [/data]"],
      ["-d/data -o", "[-d/data] [-o]"],
    ] as const) {
      test(`EXTRA_FLAGS with its own directory (${flags}): no --dir from UNPACK_PATH`, () => {
        const r = run(shell, { MODELKIT_REF: "org/model:v1", UNPACK_PATH: "/ignored", EXTRA_FLAGS: flags });
        expect(r.code).toBe(0);
        expect(r.calls).toEqual(["kit [version]", `kit [unpack] [org/model:v1] [--filter=model] ${expected}`]);
        expect(r.stdout).toContain(`Unpacking modelkit org/model:v1 with flags '--filter=model ${flags}'\n`);
      });
    }

    test("COSIGN_KEY: cosign verify --key runs first", () => {
      const r = run(shell, { MODELKIT_REF: "org/model:v1", COSIGN_KEY: "k8s://ns/cosign key" });
      expect(r.code).toBe(0);
      expect(r.calls).toEqual([
        "cosign [verify] [--key] [k8s://ns/cosign key] [org/model:v1]",
        "kit [version]",
        "kit [unpack] [org/model:v1] [--dir] [/home/user/modelkit/] [--filter=model] [--ignore-existing]",
      ]);
      expect(r.stdout.split("\n")[0]).toBe("Verifying signature for modelkit org/model:v1 via key");
    });

    test("keyless: identity and OIDC issuer", () => {
      const r = run(shell, {
        MODELKIT_REF: "org/model:v1",
        COSIGN_CERT_IDENTITY: "Ada Lovelace <ada@example.com>",
        COSIGN_CERT_OIDC_ISSUER: "https://github.com/login/oauth",
      });
      expect(r.code).toBe(0);
      expect(r.calls[0]).toBe(
        "cosign [verify] [--certificate-identity=Ada Lovelace <ada@example.com>] [--certificate-oidc-issuer=https://github.com/login/oauth] [org/model:v1]",
      );
      expect(r.calls.slice(1)).toEqual(["kit [version]", "kit [unpack] [org/model:v1] [--dir] [/home/user/modelkit/] [--filter=model] [--ignore-existing]"]);
      expect(r.stdout.split("\n")[0]).toBe("Verifying signature for modelkit org/model:v1");
    });

    test("an identity without an issuer does not verify", () => {
      const r = run(shell, { MODELKIT_REF: "org/model:v1", COSIGN_CERT_IDENTITY: "ada@example.com" });
      expect(r.code).toBe(0);
      expect(r.calls.map((c) => c.split(" ")[0])).toEqual(["kit", "kit"]);
      expect(r.stdout.split("\n")[0]).toBe("Signature verification is disabled");
    });

    test("a failed verification stops before kit runs", () => {
      const r = run(shell, { MODELKIT_REF: "org/model:v1", COSIGN_KEY: "/keys/cosign.pub", STUB_EXIT_COSIGN_verify: "10" });
      expect(r.code).toBe(10);
      expect(r.calls).toEqual(["cosign [verify] [--key] [/keys/cosign.pub] [org/model:v1]"]);
    });

    test("verification requested without cosign installed: a clear error, kit does not run", () => {
      const key = run(shell, { MODELKIT_REF: "org/model:v1", COSIGN_KEY: "/keys/cosign.pub" }, { cosign: false });
      expect(key.code).toBe(1);
      expect(key.calls).toEqual([]);
      expect(key.stderr).toBe(
        "Signature verification was requested through COSIGN_KEY but cosign is not installed: use an image that includes cosign (the init target of kit's Dockerfile), or unset COSIGN_KEY (KIT_VERIFY_KEY verifies a key signature without cosign)\n",
      );
      const keyless = run(shell, { MODELKIT_REF: "m:v1", COSIGN_CERT_IDENTITY: "a", COSIGN_CERT_OIDC_ISSUER: "b" }, { cosign: false });
      expect(keyless.code).toBe(1);
      expect(keyless.stderr).toContain("requested through COSIGN_CERT_IDENTITY and COSIGN_CERT_OIDC_ISSUER but cosign is not installed");
    });

    test("KIT_VERIFY_KEY: kit unpack verifies the signature itself, no cosign needed", () => {
      const r = run(shell, { MODELKIT_REF: "org/model:v1", KIT_VERIFY_KEY: "/keys/a.pub,/keys/b.pub" }, { cosign: false });
      expect(r.code).toBe(0);
      expect(r.calls).toEqual([
        "kit [version] {KIT_VERIFY_KEY=/keys/a.pub,/keys/b.pub}",
        "kit [unpack] [org/model:v1] [--dir] [/home/user/modelkit/] [--filter=model] [--ignore-existing] {KIT_VERIFY_KEY=/keys/a.pub,/keys/b.pub}",
      ]);
      expect(r.stdout.split("\n")[0]).toBe("Verifying signature for modelkit org/model:v1 with kit (KIT_VERIFY_KEY)");
      expect(r.stdout).not.toContain("Signature verification is disabled");
      // A failed verification is kit unpack's exit code.
      expect(run(shell, { MODELKIT_REF: "org/model:v1", KIT_VERIFY_KEY: "/k.pub", STUB_EXIT_KIT_unpack: "1" }, { cosign: false }).code).toBe(1);
    });

    test("kit's exit code is the script's (kit version and kit unpack)", () => {
      expect(run(shell, { MODELKIT_REF: "org/model:v1", STUB_EXIT_KIT_unpack: "3" }).code).toBe(3);
      const v = run(shell, { MODELKIT_REF: "org/model:v1", STUB_EXIT_KIT_version: "2" });
      expect(v.code).toBe(2);
      expect(v.calls).toEqual(["kit [version]"]);
    });
  });
}

test("the script is executable and starts with #!/bin/sh", () => {
  const text = readFileSync(script, "utf8");
  expect(text.startsWith("#!/bin/sh\n")).toBe(true);
  expect(spawnSync("test", ["-x", script]).status).toBe(0);
  // no bashisms the POSIX shells above would also accept by accident
  expect(text).not.toMatch(/\[\[|\$\{[A-Za-z_]+\[@\]\}|<<<|read -a|==/);
});
