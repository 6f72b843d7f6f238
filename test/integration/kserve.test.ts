/**
 * build/kserve/entrypoint.sh, KServe's storage initializer, run as KServe runs it
 * (`entrypoint.sh kit://<ref> <dir>`) with the compiled binary on PATH, against a real registry
 * (Debian's docker-registry with htpasswd), under every POSIX shell found here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashTree, project } from "../helpers/files.ts";
import { kitBinary, repoRoot, runKit, tempDir } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";

const script = path.join(repoRoot, "build", "kserve", "entrypoint.sh");
const shells = ["/bin/sh", "/bin/dash", "/bin/bash", "/usr/bin/busybox"].filter((s) => existsSync(s));
const PASSWORD = "irsa-T0ken";
const FILES = {
  Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: iris\nmodel:\n  name: iris\n  path: model.joblib\ndatasets:\n  - path: data.csv\n",
  "model.joblib": "model bytes",
  "data.csv": "a,b\n",
};

describe.skipIf(!hasDockerRegistry())("KServe storage initializer (build/kserve/entrypoint.sh)", () => {
  let reg: TestRegistry;
  let ref = "";
  const ctx = project(FILES);

  beforeAll(async () => {
    reg = await startRegistry("htpasswd", { username: "AWS", password: PASSWORD });
    ref = `${reg.host}/models/iris:v1`;
    const home = tempDir("kit-kserve-pub-");
    const env = { KITOPS_HOME: home };
    expect((await runKit(["pack", ctx, "-t", ref], { env })).code).toBe(0);
    expect((await runKit(["login", reg.host, "-u", "AWS", "--password-stdin", "--plain-http"], { env, stdin: PASSWORD })).code).toBe(0);
    const push = await runKit(["push", ref, "--plain-http"], { env });
    expect([push.code, push.stderr]).toEqual([0, ""]);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  /** Runs the script as KServe does, in a fresh HOME (so no stored credentials), kit on PATH. */
  function run(shell: string, args: string[], env: Record<string, string> = {}) {
    const home = tempDir("kit-kserve-home-");
    writeFileSync(path.join(home, "decoy"), ""); // what a glob in KIT_UNPACK_FLAGS would expand to
    const argv = shell.endsWith("busybox") ? ["sh", script, ...args] : [script, ...args];
    const r = spawnSync(shell, argv, {
      cwd: home,
      env: { PATH: `${path.dirname(kitBinary)}:/usr/bin:/bin`, HOME: home, KITOPS_HOME: path.join(home, ".kitops"), ...env },
      encoding: "utf8",
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, home };
  }

  for (const shell of shells) {
    describe(shell, () => {
      test("KIT_USER and KIT_PASSWORD: logs in, unpacks the kit:// reference into the destination, prints the Kitfile", () => {
        const dest = path.join(tempDir("kit-kserve-mnt-"), "models");
        const r = run(shell, [`kit://${ref}`, dest], { KIT_USER: "AWS", KIT_PASSWORD: PASSWORD, KIT_UNPACK_FLAGS: "--plain-http" });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toStartWith("Binary version info:\nVersion: ");
        expect(r.stdout).toContain(`Logging in using repo url: ${reg.host}\n`);
        expect(r.stdout).toContain(`Unpacking ${ref} to ${dest}\nUnpack options: --plain-http\n`);
        expect(r.stdout).toEndWith(`Unpacked modelkit:\n${readFileSync(path.join(dest, "Kitfile"), "utf8")}`);
        expect(r.stdout).not.toContain(PASSWORD);
        expect(hashTree(dest, ["Kitfile"])).toEqual(hashTree(ctx, ["Kitfile"]));
        // The credential was stored for the registry only.
        expect(readFileSync(path.join(r.home, ".kitops", "credentials.json"), "utf8")).toContain(reg.host);
      });

      test("KIT_UNPACK_FLAGS are split at whitespace and passed to kit unpack; no glob expansion", () => {
        const dest = path.join(tempDir("kit-kserve-mnt-"), "models");
        const r = run(shell, [`kit://${ref}`, dest], { KIT_USER: "AWS", KIT_PASSWORD: PASSWORD, KIT_UNPACK_FLAGS: "  --plain-http   --filter  model,kitfile  -v" });
        expect(r.code).toBe(0);
        expect(Object.keys(hashTree(dest))).toEqual(["Kitfile", "model.joblib"]);
        const star = run(shell, [`kit://${ref}`, path.join(tempDir("kit-kserve-mnt-"), "m")], { KIT_UNPACK_FLAGS: "--plain-http --filter *" });
        expect(star.code).toBe(1);
        expect(star.stderr).toContain("invalid filter type * ");
      });

      test("the EKS IRSA token file logs in as AWS when KIT_USER and KIT_PASSWORD are unset", () => {
        const token = path.join(tempDir("kit-kserve-irsa-"), "token");
        writeFileSync(token, PASSWORD);
        const dest = path.join(tempDir("kit-kserve-mnt-"), "models");
        const r = run(shell, [`kit://${ref}`, dest], { AWS_WEB_IDENTITY_TOKEN_FILE: token, KIT_UNPACK_FLAGS: "--plain-http" });
        expect([r.code, r.stderr]).toEqual([0, ""]);
        expect(r.stdout).toContain(`Logging in using IRSA token to repo url: ${reg.host}\n`);
        expect(existsSync(path.join(dest, "model.joblib"))).toBe(true);
      });

      test("without credentials the registry refuses and the script fails with kit's login hint; wrong arguments print the usage", () => {
        const r = run(shell, [`kit://${ref}`, path.join(tempDir("kit-kserve-mnt-"), "models")], { KIT_UNPACK_FLAGS: "--plain-http" });
        expect(r.code).toBe(1);
        expect(r.stdout).not.toContain("Logging in");
        expect(r.stderr).toContain("[ERROR] Failed to unpack");
        expect(r.stdout + r.stderr).toContain(`kit login ${reg.host}`);
        const bad = run(shell, [`kit://${ref}`]);
        expect(bad.code).toBe(1);
        expect(bad.stdout).toEndWith("Usage: entrypoint.sh <src-uri> <dest-path>\n");
      });
    });
  }
});
