/**
 * Registry credentials (docs/format.md#credentials): `<home>/credentials.json` in Docker's `config.json` format
 * (tab-indented, mode 0600, written atomically, unknown keys kept), `credsStore`/`credHelpers`
 * through `docker-credential-<name>` helpers, a platform helper picked automatically for a fresh
 * file as kit does, and a read-only fallback to Docker's own config.
 * @module
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { decodeBase64, encodeBase64 } from "../util/base64.ts";
import { atomicWriteFile, ensureDir, errnoCode } from "../util/fs.ts";
import { KitError, errorMessage } from "../util/errors.ts";
import { goJsonIndent, GoMap } from "../util/go-json.ts";
import { type Credential, type CredentialFn, EMPTY_CREDENTIAL, isEmptyCredential } from "./auth.ts";

/** The key Docker uses for Docker Hub. */
export const DOCKER_HUB_KEY = "https://index.docker.io/v1/";

/** The config key for a registry: Docker Hub's legacy URL for docker.io, else `host[:port]`. */
export function serverAddressKey(registry: string): string {
  const r = registry.toLowerCase();
  if (r === "docker.io" || r === "registry-1.docker.io" || r === "index.docker.io") return DOCKER_HUB_KEY;
  return registry;
}

/** The host part of a config key (`https://host/v1/` → `host`). */
export function keyHostname(key: string): string {
  let k = key;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(k);
  if (scheme) k = k.slice(scheme[0].length);
  const slash = k.indexOf("/");
  return slash < 0 ? k : k.slice(0, slash);
}

type Json = unknown;
type Entry = Record<string, Json>;

interface ConfigFile {
  /** Every top-level key as read (unknown ones are written back untouched). */
  content: Record<string, Json>;
}


/** An `auths` entry → credential (`auth` wins over legacy `username`/`password`). */
export function entryToCredential(e: Entry, where: string): Credential {
  const cred: Credential = {};
  const auth = typeof e.auth === "string" ? e.auth : "";
  if (auth) {
    const bytes = decodeBase64(auth);
    if (!bytes) throw new KitError(`Invalid auth entry in ${where}: not base64`);
    const text = new TextDecoder().decode(bytes);
    const i = text.indexOf(":");
    if (i < 0) throw new KitError(`Invalid auth entry in ${where}: expected base64 of "username:password"`);
    cred.username = text.slice(0, i);
    cred.password = text.slice(i + 1);
  } else {
    if (typeof e.username === "string" && e.username) cred.username = e.username;
    if (typeof e.password === "string" && e.password) cred.password = e.password;
  }
  if (typeof e.identitytoken === "string" && e.identitytoken) cred.refreshToken = e.identitytoken;
  if (typeof e.registrytoken === "string" && e.registrytoken) cred.accessToken = e.registrytoken;
  return cred;
}

/** A credential → `auths` entry (oras' field order: auth, identitytoken, registrytoken). */
export function credentialToEntry(c: Credential): Entry {
  const e: Entry = {};
  if (c.username || c.password) e.auth = encodeBase64(`${c.username ?? ""}:${c.password ?? ""}`);
  if (c.refreshToken) e.identitytoken = c.refreshToken;
  if (c.accessToken) e.registrytoken = c.accessToken;
  return e;
}

async function readConfig(file: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw new KitError(`failed to read config file ${file}: ${errorMessage(e)}`, { cause: e });
  }
  if (text.trim() === "") return { content: {} };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new KitError(`failed to decode config file ${file}: ${errorMessage(e)}`, { cause: e });
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new KitError(`failed to decode config file ${file}: not a JSON object`);
  return { content: v as Record<string, Json> };
}

function auths(cfg: ConfigFile | undefined): Record<string, Entry> {
  const a = cfg?.content.auths;
  return a && typeof a === "object" && !Array.isArray(a) ? (a as Record<string, Entry>) : {};
}

function credHelpers(cfg: ConfigFile | undefined): Record<string, string> {
  const h = cfg?.content.credHelpers;
  return h && typeof h === "object" && !Array.isArray(h) ? (h as Record<string, string>) : {};
}

function credsStore(cfg: ConfigFile | undefined): string {
  const s = cfg?.content.credsStore;
  return typeof s === "string" ? s : "";
}

/** Finds `auths[key]`, else an entry whose host part equals `key`'s. */
function findEntry(cfg: ConfigFile | undefined, key: string): Entry | undefined {
  const a = auths(cfg);
  if (a[key] && typeof a[key] === "object") return a[key];
  const host = keyHostname(key);
  for (const [k, v] of Object.entries(a)) {
    if (keyHostname(k) === host && v && typeof v === "object") return v;
  }
  return undefined;
}

/** Encodes the file as kit (Go `MarshalIndent(…, "", "\t")` of a map) writes it: sorted keys, tabs. */
export function encodeConfig(content: Record<string, Json>): string {
  const toGo = (v: Json, sortKeys: boolean): Json => {
    if (Array.isArray(v)) return v.map((x) => toGo(x, false));
    if (v && typeof v === "object") {
      const o: Record<string, Json> = {};
      for (const [k, x] of Object.entries(v as Record<string, Json>)) o[k] = toGo(x, false);
      return sortKeys ? new GoMap(o) : o;
    }
    return v;
  };
  const top: Record<string, Json> = {};
  for (const [k, v] of Object.entries(content)) {
    // `auths` and `credHelpers` are Go maps (sorted); entries inside keep their own order.
    top[k] = k === "auths" || k === "credHelpers" ? toGo(v, true) : toGo(v, false);
  }
  return goJsonIndent(new GoMap(top), "\t");
}

/** Runs `docker-credential-<name>` helpers (get/store/erase protocol). */
export interface HelperRunner {
  run(helper: string, action: "get" | "store" | "erase", input: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** True when `docker-credential-<helper>` (or any program `name`) is on PATH. */
  exists(program: string): boolean;
}

function searchPath(program: string, env: Record<string, string | undefined>): string | undefined {
  const dirs = (env.PATH ?? "").split(path.delimiter).filter(Boolean);
  const exts = process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  for (const d of dirs) {
    for (const ext of exts) {
      const p = path.join(d, program + ext);
      try {
        const st = fs.statSync(p);
        if (st.isFile() && (process.platform === "win32" || (st.mode & 0o111) !== 0)) return p;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** Runs helpers found on `env.PATH`. */
export function processHelperRunner(env: Record<string, string | undefined>): HelperRunner {
  return {
    exists: (program) => searchPath(program, env) !== undefined,
    run(helper, action, input) {
      const program = `docker-credential-${helper}`;
      const bin = searchPath(program, env);
      if (!bin) {
        return Promise.reject(new KitError(`credential helper ${program} was not found on PATH`, {
          hint: `Install ${program}, or remove "${helper}" from the credsStore/credHelpers of the credentials file`,
        }));
      }
      return new Promise((resolve, reject) => {
        const child = spawn(bin, [action], { env: env as NodeJS.ProcessEnv, stdio: ["pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => err.push(d));
        child.on("error", reject);
        child.stdin.on("error", () => {}); // a helper that exits without reading: its exit code tells
        child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
        child.stdin.end(input);
      });
    },
  };
}

/** The helper username that marks an identity token. */
const TOKEN_USERNAME = "<token>";

async function helperGet(runner: HelperRunner, helper: string, key: string): Promise<Credential> {
  const r = await runner.run(helper, "get", key);
  if (r.code !== 0) {
    const msg = (r.stdout + r.stderr).trim();
    if (/credentials not found/i.test(msg)) return EMPTY_CREDENTIAL;
    throw new KitError(`credential helper docker-credential-${helper} failed to get credentials for ${key}: ${msg || `exit code ${r.code}`}`);
  }
  let v: { Username?: string; Secret?: string };
  try {
    v = JSON.parse(r.stdout);
  } catch {
    throw new KitError(`credential helper docker-credential-${helper} returned invalid output for ${key}`);
  }
  if (v.Username === TOKEN_USERNAME) return { refreshToken: v.Secret ?? "" };
  return { username: v.Username ?? "", password: v.Secret ?? "" };
}

async function helperStore(runner: HelperRunner, helper: string, key: string, c: Credential): Promise<void> {
  const payload = c.refreshToken && !c.username
    ? { ServerURL: key, Username: TOKEN_USERNAME, Secret: c.refreshToken }
    : { ServerURL: key, Username: c.username ?? "", Secret: c.password ?? "" };
  const r = await runner.run(helper, "store", JSON.stringify(payload));
  if (r.code !== 0) {
    throw new KitError(`credential helper docker-credential-${helper} failed to store credentials for ${key}: ${(r.stdout + r.stderr).trim() || `exit code ${r.code}`}`);
  }
}

async function helperErase(runner: HelperRunner, helper: string, key: string): Promise<void> {
  const r = await runner.run(helper, "erase", key);
  if (r.code !== 0) {
    const msg = (r.stdout + r.stderr).trim();
    if (/credentials not found/i.test(msg)) return;
    throw new KitError(`credential helper docker-credential-${helper} failed to erase credentials for ${key}: ${msg || `exit code ${r.code}`}`);
  }
}

export interface CredentialStoreOptions {
  /** `<home>/credentials.json`. */
  file: string;
  env?: Record<string, string | undefined>;
  /** Docker's own config for the read-only fallback (default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`; "" = none). */
  dockerConfig?: string;
  helpers?: HelperRunner;
  platform?: NodeJS.Platform;
}

/** The platform helper kit picks for a fresh credentials file (docs/format.md#credentials), if installed. */
export function detectNativeHelper(runner: HelperRunner, platform: NodeJS.Platform): string | undefined {
  switch (platform) {
    case "darwin":
      return runner.exists("docker-credential-osxkeychain") ? "osxkeychain" : undefined;
    case "win32":
      return runner.exists("docker-credential-wincred") ? "wincred" : undefined;
    default:
      if (runner.exists("pass") && runner.exists("docker-credential-pass")) return "pass";
      return runner.exists("docker-credential-secretservice") ? "secretservice" : undefined;
  }
}

/** kit's credential store; see the module comment. */
export class CredentialStore {
  readonly file: string;
  readonly dockerConfig: string;
  readonly #helpers: HelperRunner;
  readonly #platform: NodeJS.Platform;

  constructor(opts: CredentialStoreOptions) {
    this.file = opts.file;
    const env = opts.env ?? {};
    this.dockerConfig = opts.dockerConfig ??
      (env.DOCKER_CONFIG ? path.join(env.DOCKER_CONFIG, "config.json") : path.join(env.HOME || os.homedir(), ".docker", "config.json"));
    this.#helpers = opts.helpers ?? processHelperRunner(env);
    this.#platform = opts.platform ?? process.platform;
  }

  /** The credential for `registry` (host[:port]); empty when none is stored anywhere. */
  async get(registry: string): Promise<Credential> {
    const key = serverAddressKey(registry);
    const own = await this.#lookup(await readConfig(this.file), key, this.file);
    if (!isEmptyCredential(own)) return own;
    if (!this.dockerConfig) return EMPTY_CREDENTIAL;
    return this.#lookup(await readConfig(this.dockerConfig), key, this.dockerConfig);
  }

  async #lookup(cfg: ConfigFile | undefined, key: string, where: string): Promise<Credential> {
    if (!cfg) return EMPTY_CREDENTIAL;
    const helper = credHelpers(cfg)[key] ?? credHelpers(cfg)[keyHostname(key)];
    if (helper) return helperGet(this.#helpers, helper, key);
    const store = credsStore(cfg);
    if (store) return helperGet(this.#helpers, store, key);
    const e = findEntry(cfg, key);
    return e ? entryToCredential(e, where) : EMPTY_CREDENTIAL;
  }

  /** Stores a credential for `registry` (in a helper when the file says so). */
  async put(registry: string, cred: Credential): Promise<void> {
    const key = serverAddressKey(registry);
    const cfg = (await readConfig(this.file)) ?? { content: {} };
    const helper = credHelpers(cfg)[key] ?? credHelpers(cfg)[keyHostname(key)];
    if (helper) return helperStore(this.#helpers, helper, key, cred);
    const store = credsStore(cfg);
    const fresh = Object.keys(auths(cfg)).length === 0 && !store && Object.keys(credHelpers(cfg)).length === 0;
    if (!store && fresh) {
      const native = detectNativeHelper(this.#helpers, this.#platform);
      if (native) {
        await helperStore(this.#helpers, native, key, cred);
        cfg.content.credsStore = native;
        await this.#write(cfg);
        return;
      }
    }
    if (store) return helperStore(this.#helpers, store, key, cred);
    const a = { ...auths(cfg) };
    const old = a[key];
    const entry = credentialToEntry(cred);
    if (old && typeof old === "object") {
      for (const [k, v] of Object.entries(old)) {
        if (!["auth", "identitytoken", "registrytoken", "username", "password"].includes(k)) entry[k] = v;
      }
    }
    a[key] = entry;
    cfg.content.auths = a;
    await this.#write(cfg);
  }

  /** Removes the credential for `registry`; nothing happens when there is none. */
  async delete(registry: string): Promise<void> {
    const key = serverAddressKey(registry);
    const cfg = await readConfig(this.file);
    if (!cfg) return;
    const helper = credHelpers(cfg)[key] ?? credHelpers(cfg)[keyHostname(key)];
    if (helper) return helperErase(this.#helpers, helper, key);
    const store = credsStore(cfg);
    if (store) return helperErase(this.#helpers, store, key);
    const a = { ...auths(cfg) };
    let changed = false;
    for (const k of Object.keys(a)) {
      if (k === key || keyHostname(k) === keyHostname(key)) {
        delete a[k];
        changed = true;
      }
    }
    if (!changed) return;
    cfg.content.auths = a;
    await this.#write(cfg);
  }

  async #write(cfg: ConfigFile): Promise<void> {
    const dir = path.dirname(this.file);
    if (!fs.existsSync(dir)) await ensureDir(dir, 0o700);
    await atomicWriteFile(this.file, encodeConfig(cfg.content), 0o600);
    await fsp.chmod(this.file, 0o600).catch(() => {});
  }

  /** A {@link CredentialFn} over this store. */
  credentialFn(): CredentialFn {
    return (host) => this.get(host);
  }
}
