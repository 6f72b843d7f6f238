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
  /** `http://127.0.0.1:<port>` (`https://` with `tls`). */
  url: string;
  /** The user that may push (htpasswd and token setups). */
  username: string;
  password: string;
  dataDir: string;
  tokenServer?: TokenServer;
  /** With `tls`: the CA that signed the server (and client) certificates, and the client's pair. */
  tlsFiles?: { ca: string; clientCert: string; clientKey: string };
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

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makeTlsFiles(dir: string) {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => {
    const r = spawnSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=kit-test-ca");
  writeFileSync(f("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const who of ["server", "client"]) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${who}.key`), "-out", f(`${who}.csr`), "-subj", who === "server" ? "/CN=127.0.0.1" : "/CN=kit-client");
    ssl("x509", "-req", "-in", f(`${who}.csr`), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f(`${who}.crt`), "-days", "2", ...(who === "server" ? ["-extfile", f("ext")] : []));
  }
  return { ca: f("ca.crt"), serverCert: f("server.crt"), serverKey: f("server.key"), clientCert: f("client.crt"), clientKey: f("client.key") };
}

function configYaml(dataDir: string, port: number, authBlock: string, tlsBlock = ""): string {
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
${tlsBlock}${authBlock}`;
}

async function waitReady(url: string, child: ChildProcess, logPath: string, tls?: { clientCert: string; clientKey: string }): Promise<void> {
  const deadline = Date.now() + 15_000;
  const init = tls
    ? { tls: { rejectUnauthorized: false, cert: readFileSync(tls.clientCert, "utf8"), key: readFileSync(tls.clientKey, "utf8") } }
    : {};
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${readFileSync(logPath, "utf8")}`);
    try {
      const res = await fetch(`${url}/v2/`, init as RequestInit);
      await res.body?.cancel();
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`docker-registry did not start: ${readFileSync(logPath, "utf8")}`);
}

/**
 * Starts a registry in the given setup. `tls: "tls"` serves HTTPS with a certificate from a test
 * CA; `"mtls"` also requires a client certificate signed by that CA.
 */
export async function startRegistry(
  auth: RegistryAuth,
  opts: { username?: string; password?: string; tls?: "tls" | "mtls" } = {},
): Promise<TestRegistry> {
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
  let tlsBlock = "";
  let tlsFiles: TestRegistry["tlsFiles"];
  if (opts.tls) {
    const t = makeTlsFiles(dir);
    tlsFiles = { ca: t.ca, clientCert: t.clientCert, clientKey: t.clientKey };
    tlsBlock = `  tls:\n    certificate: ${t.serverCert}\n    key: ${t.serverKey}\n` + (opts.tls === "mtls" ? `    clientcas:\n      - ${t.ca}\n` : "");
  }
  const logPath = path.join(dir, "registry.log");
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const cfg = path.join(dir, "config.yml");
    writeFileSync(cfg, configYaml(dataDir, port, authBlock, tlsBlock));
    writeFileSync(logPath, "");
    const fd = openSync(logPath, "a");
    const child = spawn("docker-registry", ["serve", cfg], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
    try {
      await waitReady(url, child, logPath, tlsFiles);
    } catch (e) {
      child.kill("SIGKILL");
      if (tries < 3 && /address already in use/.test(String(e))) continue;
      await tokenServer?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // Never leave a registry behind, even when the test process ends abruptly.
    const onExit = () => child.kill("SIGKILL");
    process.once("exit", onExit);
    void exited.then(() => process.off("exit", onExit));
    return {
      auth,
      host: `127.0.0.1:${port}`,
      port,
      url,
      username,
      password,
      dataDir,
      tokenServer,
      tlsFiles,
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
