/**
 * The fake Hugging Face Hub of the tests (test/helpers/fake-hub.ts: API on one port, LFS files
 * redirected to a "CDN" on another) as its own process, serving one repository whose files are
 * read from disk: the benchmark's timed commands block this process, so the server cannot run in it.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

export interface HubProcess {
  /** What HF_ENDPOINT is set to. */
  endpoint: string;
  stop(): Promise<void>;
}

const root = path.resolve(import.meta.dir, "../..");

/** Starts the fake Hub with repository `repo` holding `files` (repository path → file on disk). */
export async function startHub(repo: string, files: Record<string, string>): Promise<HubProcess> {
  const args = [path.join(root, "test/helpers/fake-hub.ts"), "--repo", repo];
  for (const [name, file] of Object.entries(files)) args.push("--file", `${name}=${file}`);
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr?.on("data", (d) => (err += d));
  let exited = false;
  child.on("exit", () => (exited = true));
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the fake Hub did not start within 120 s:\n${err}`)), 120_000);
    child.stdout?.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { endpoint: string }).endpoint);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the fake Hub exited with ${code}:\n${err}`));
    });
  });
  return {
    endpoint,
    async stop() {
      if (exited) return;
      const done = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      await done;
    },
  };
}
