/**
 * A throw-away CNCF distribution registry (Debian's `docker-registry`) on 127.0.0.1 with its own
 * data directory, and the export of a stored ModelKit into a plain OCI layout that skopeo can
 * copy from (`oci:<dir>:<tag>`).
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { removeTree } from "./data.ts";

export interface Registry {
  /** `127.0.0.1:<port>` */
  host: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `docker-registry serve` with storage under `dir` (removed by `stop()`). */
export async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = path.join(dir, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${path.join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${host}`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  let exited = false;
  child.on("exit", () => (exited = true));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`docker-registry exited at start:\n${stderr}`);
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not answer on ${host} within 15 s:\n${stderr}`);
    }
    await Bun.sleep(50);
  }
  return {
    host,
    async stop() {
      if (!exited) {
        const done = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        await done;
      }
      removeTree(dir);
    },
  };
}

interface ManifestJson {
  mediaType?: string;
  config: { digest: string };
  layers: Array<{ digest: string }>;
}

/**
 * Writes a plain OCI image layout at `dest` holding one ModelKit of kit's storage `storageDir`
 * (manifest `manifestDigest`, tagged `tag`): blobs are hard-linked (copied across file systems).
 */
export function exportOciLayout(storageDir: string, manifestDigest: string, dest: string, tag: string): void {
  const blob = (d: string) => path.join("blobs", "sha256", d.replace(/^sha256:/, ""));
  const manifestBytes = readFileSync(path.join(storageDir, blob(manifestDigest)));
  const manifest = JSON.parse(manifestBytes.toString("utf8")) as ManifestJson;
  mkdirSync(path.join(dest, "blobs", "sha256"), { recursive: true });
  for (const d of [manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
    const from = path.join(storageDir, blob(d));
    const to = path.join(dest, blob(d));
    try {
      linkSync(from, to);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") continue;
      if (code !== "EXDEV" && code !== "EPERM") throw e;
      copyFileSync(from, to);
    }
  }
  writeFileSync(path.join(dest, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: manifest.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
        digest: manifestDigest,
        size: manifestBytes.byteLength,
        annotations: { "org.opencontainers.image.ref.name": tag },
      },
    ],
  };
  writeFileSync(path.join(dest, "index.json"), JSON.stringify(index));
}
