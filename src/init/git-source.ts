/**
 * `kit import --tool git`: a shallow clone of one ref with the system `git` (docs/format.md#import): `git
 * clone --depth 1 --branch <ref>` (a commit id is fetched with `git fetch --depth 1`), Git LFS
 * files pulled with `git lfs pull` when the repository uses LFS, then `.git`, `.gitattributes`
 * and `.gitignore` removed so that nothing of git's goes into the ModelKit.
 *
 * A token reaches git only through the environment, read by a credential helper given on the
 * command line (never in argv, never in a URL); messages from git have credentials in URLs and the
 * token masked, and terminal control characters dropped.
 * @module
 */
import { spawn } from "node:child_process";
import fsp from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { KitError } from "../util/errors.ts";
import { pathExists } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { abortReason } from "../util/pool.ts";

/** What a clone gives: the directory and the commit checked out. */
export interface GitCheckout {
  dir: string;
  commit: string;
}

export interface CloneOptions {
  token?: string;
  env: Record<string, string | undefined>;
  cwd: string;
  logger: Logger;
  signal?: AbortSignal;
}

/** The environment variable the credential helper reads the token from. */
const TOKEN_ENV = "KIT_IMPORT_GIT_TOKEN";
/** Most bytes of git's output kept for messages. */
const MAX_OUTPUT = 64 * 1024;

/** `url` for git: a local path becomes a `file://` URL (so `--depth` applies); URLs and `host:path` stay. */
export function gitUrl(repo: string, cwd: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/]*@[^/]*:/.test(repo)) return repo;
  if (repo.startsWith("/") || repo.startsWith(".")) return pathToFileURL(path.resolve(cwd, repo)).href;
  return repo;
}

/** A URL for messages and attestations: no user name or password. */
export function sanitizeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

function cleanOutput(s: string, token: string | undefined): string {
  let t = s.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1");
  if (token) t = t.replaceAll(token, "***");
  // deno-lint-ignore no-control-regex
  t = t.replace(/\r/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "");
  const lines = t.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.slice(-5).join("; ");
}

interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `scheme://host[:port]` of an http(s) URL, or undefined. */
function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs git; ENOENT (no git) becomes a KitError saying so. With a token, a credential helper scoped
 * to the repository's origin answers from the environment (only that host can get the token).
 */
function runGit(args: string[], opts: CloneOptions, cwd?: string, url?: string): Promise<GitRun> {
  const env: Record<string, string | undefined> = { ...opts.env, GIT_TERMINAL_PROMPT: "0", GIT_LFS_SKIP_SMUDGE: "1", GIT_ASKPASS: "", SSH_ASKPASS: "" };
  const pre: string[] = [];
  const origin = url ? originOf(url) : undefined;
  if (opts.token && origin) {
    env[TOKEN_ENV] = opts.token;
    pre.push("-c", `credential.${origin}.helper=`, "-c", `credential.${origin}.helper=!f() { test "$1" = get && echo username=kit && echo "password=$${TOKEN_ENV}"; }; f`);
  }
  opts.logger.debug(`Running git ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn("git", [...pre, ...args], { cwd: cwd ?? opts.cwd, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    const out: string[] = [];
    const err: string[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on("data", (d: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(d.toString());
      outLen += d.length;
    });
    child.stderr.on("data", (d: Buffer) => {
      err.push(d.toString());
      errLen += d.length;
      while (errLen > MAX_OUTPUT && err.length > 1) errLen -= err.shift()!.length;
    });
    const onAbort = () => child.kill("SIGTERM");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e) => {
      opts.signal?.removeEventListener("abort", onAbort);
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        reject(new KitError("git was not found: importing a git repository needs git on PATH", {
          hint: "Install git (and git-lfs for repositories that use it), or import a Hugging Face repository with --tool hf",
        }));
      } else {
        reject(new KitError(`Failed to run git: ${e.message}`, { cause: e }));
      }
    });
    child.on("close", (code) => {
      opts.signal?.removeEventListener("abort", onAbort);
      if (opts.signal?.aborted) return reject(abortReason(opts.signal));
      resolve({ code: code ?? 1, stdout: out.join(""), stderr: err.join("") });
    });
  });
}

async function git(args: string[], opts: CloneOptions, what: string, cwd?: string, url?: string): Promise<string> {
  const r = await runGit(args, opts, cwd, url);
  if (r.code !== 0) {
    const msg = cleanOutput(r.stderr || r.stdout, opts.token);
    throw new KitError(`${what} failed${msg ? `: ${msg}` : ` (git exited with ${r.code})`}`);
  }
  return r.stdout;
}

/** True when `.gitattributes` of the checkout routes files through Git LFS. */
async function usesLfs(dir: string): Promise<boolean> {
  try {
    return /filter\s*=\s*lfs/.test(await fsp.readFile(path.join(dir, ".gitattributes"), "utf8"));
  } catch {
    return false;
  }
}

/**
 * Clones `ref` of `url` into `dest` (which must not exist), with Git LFS files, and removes git's
 * files from the checkout. Returns the commit checked out.
 */
export async function cloneRepository(url: string, ref: string, dest: string, opts: CloneOptions): Promise<GitCheckout> {
  const shown = sanitizeUrl(url);
  if (/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(ref)) {
    await fsp.mkdir(dest, { recursive: true });
    await git(["init", "--quiet", dest], opts, "git init");
    await git(["fetch", "--quiet", "--depth", "1", "--", url, ref], opts, `Fetching commit ${ref} of ${shown}`, dest, url);
    await git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "FETCH_HEAD"], opts, `Checking out ${ref}`, dest);
  } else {
    await git(["-c", "advice.detachedHead=false", "clone", "--quiet", "--depth", "1", "--branch", ref, "--", url, dest], opts, `Cloning ${ref} of ${shown}`, undefined, url);
  }
  const commit = (await git(["rev-parse", "HEAD"], opts, "Reading the commit", dest)).trim();
  if (await usesLfs(dest)) {
    const lfs = await runGit(["lfs", "version"], opts, dest);
    if (lfs.code !== 0) {
      throw new KitError(`${shown} stores files in Git LFS, but git-lfs is not installed`, { hint: "Install git-lfs, or import from the Hugging Face Hub with --tool hf" });
    }
    opts.logger.info("Downloading Git LFS files");
    await git(["lfs", "pull"], opts, `git lfs pull of ${shown}`, dest, url);
  }
  for (const name of [".git", ".gitattributes", ".gitignore"]) {
    const p = path.join(dest, name);
    if (await pathExists(p)) await fsp.rm(p, { recursive: true, force: true });
  }
  return { dir: dest, commit };
}
