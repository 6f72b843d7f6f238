/**
 * A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) serving on
 * 127.0.0.1 with a free port and a temporary storage directory, in three setups — no auth,
 * htpasswd (bcrypt) and token auth with the test token server. Stop it with `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startTokenServer, type TokenServer } from "./token-server.ts";

export type RegistryAuth = "none" | "htpasswd" | "token";

export interface RegistryRequest {
  method: string;
  path: string;
  status: number;
}

export interface TestRegistry {
  auth: RegistryAuth;
  /** `127.0.0.1:<port>`: what goes into references. */
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The user that may push (htpasswd and token setups). */
  username: string;
  password: string;
  dataDir: string;
  tokenServer?: TokenServer;
  /** The registry's access log so far, parsed. */
  requests(): RegistryRequest[];
  /** The raw log output. */
  log(): string;
  stop(): Promise<void>;
}

/** True when `docker-registry` is installed (the CI script installs it). */
export function hasDockerRegistry(): boolean {
  return spawnSync("sh", ["-c", "command -v docker-registry"], { stdio: "ignore" }).status === 0;
}

/** True when `skopeo` is installed. */
export function hasSkopeo(): boolean {
  return spawnSync("sh", ["-c", "command -v skopeo"], { stdio: "ignore" }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const ACCESS_RE = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/;

function configYaml(dataDir: string, port: number, authBlock: string): string {
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${dataDir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: kit-test-secret
${authBlock}`;
}

async function waitReady(url: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${readFileSync(logPath, "utf8")}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`docker-registry did not start: ${readFileSync(logPath, "utf8")}`);
}

/** Starts a registry in the given setup. */
export async function startRegistry(auth: RegistryAuth, opts: { username?: string; password?: string } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `kit-registry-${auth}-`));
  const dataDir = path.join(dir, "data");
  const username = opts.username ?? "testuser";
  const password = opts.password ?? "s3cret-Pa55";
  let tokenServer: TokenServer | undefined;
  let authBlock = "";
  if (auth === "htpasswd") {
    const hash = await Bun.password.hash(password, { algorithm: "bcrypt", cost: 5 });
    writeFileSync(path.join(dir, "htpasswd"), `${username}:${hash}\n`);
    authBlock = `auth:\n  htpasswd:\n    realm: kit-test\n    path: ${path.join(dir, "htpasswd")}\n`;
  } else if (auth === "token") {
    tokenServer = await startTokenServer({ dir, users: { [username]: password } });
    authBlock = `auth:\n  token:\n    realm: ${tokenServer.realm}\n    service: ${tokenServer.service}\n    issuer: ${tokenServer.issuer}\n    rootcertbundle: ${tokenServer.certPath}\n`;
  }
  const logPath = path.join(dir, "registry.log");
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const cfg = path.join(dir, "config.yml");
    writeFileSync(cfg, configYaml(dataDir, port, authBlock));
    writeFileSync(logPath, "");
    const fd = openSync(logPath, "a");
    const child = spawn("docker-registry", ["serve", cfg], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(url, child, logPath);
    } catch (e) {
      child.kill("SIGKILL");
      if (tries < 3 && /address already in use/.test(String(e))) continue;
      await tokenServer?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return {
      auth,
      host: `127.0.0.1:${port}`,
      port,
      url,
      username,
      password,
      dataDir,
      tokenServer,
      log: () => readFileSync(logPath, "utf8"),
      requests: () => {
        const out: RegistryRequest[] = [];
        for (const line of readFileSync(logPath, "utf8").split("\n")) {
          const m = ACCESS_RE.exec(line);
          if (m) out.push({ method: m[1]!, path: m[2]!, status: Number(m[3]) });
        }
        return out;
      },
      stop: async () => {
        if (child.exitCode === null) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
          await exited;
          clearTimeout(timer);
        }
        await tokenServer?.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
