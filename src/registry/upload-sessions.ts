/**
 * Where an interrupted blob upload can continue (docs/format.md#uploads): the upload session's
 * location and the offset the registry acknowledged last, per registry, repository and blob.
 * `kit push` keeps them in `<home>/uploads/` so that the next push after a cut connection, a
 * Ctrl-C or a kill asks the registry how far the session got and sends only the rest.
 *
 * Only the location is kept — never a credential: user information in the URL is dropped, and
 * the registry client authenticates a resumed request like any other. The directory is bounded
 * ({@link MAX_SESSIONS} files, none older than {@link MAX_AGE_MS}, when registries purge their
 * sessions anyway) and each file is removed once its blob is uploaded.
 * @module
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { sha256 } from "../runtime/runtime.ts";
import { ensureDir, errnoCode, randomHex } from "../util/fs.ts";

/** An upload session that may be continued. */
export interface UploadSession {
  /** The URL of the session's next request. */
  location: string;
  /** Bytes the registry acknowledged. */
  offset: number;
}

/** Sessions of unfinished uploads, by {@link sessionKey}. */
export interface UploadSessionStore {
  get(key: string): Promise<UploadSession | undefined>;
  put(key: string, session: UploadSession): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The key of a blob's upload session: registry, repository and digest. */
export function sessionKey(registry: string, repository: string, digest: string): string {
  return `${registry}/${repository}@${digest}`;
}

/** `location` without user information (a URL never carries a credential into kit's files). */
function withoutUserInfo(location: string): string {
  const u = new URL(location);
  u.username = "";
  u.password = "";
  return u.toString();
}

/** Sessions of this process only (the default: a retry within one push still resumes). */
export class MemoryUploadSessions implements UploadSessionStore {
  readonly #map = new Map<string, UploadSession>();
  get(key: string): Promise<UploadSession | undefined> {
    return Promise.resolve(this.#map.get(key));
  }
  put(key: string, session: UploadSession): Promise<void> {
    this.#map.set(key, { location: withoutUserInfo(session.location), offset: session.offset });
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.#map.delete(key);
    return Promise.resolve();
  }
}

/** Most sessions kept; the oldest go first. */
export const MAX_SESSIONS = 64;
/** Sessions older than this are dropped (distribution purges uploads after a week). */
export const MAX_AGE_MS = 7 * 24 * 3600_000;

interface SessionFile extends UploadSession {
  key: string;
}

/** Sessions in a directory, one small file each (`<sha256 of the key>.json`, mode 0600). */
export class FileUploadSessions implements UploadSessionStore {
  #pruned = false;

  constructor(readonly dir: string) {}

  #file(key: string): string {
    const h = sha256();
    h.update(new TextEncoder().encode(key));
    return path.join(this.dir, `${h.hex()}.json`);
  }

  async get(key: string): Promise<UploadSession | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.#file(key), "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw e;
    }
    try {
      const s = JSON.parse(text) as Partial<SessionFile>;
      if (s.key !== key || typeof s.location !== "string" || !Number.isSafeInteger(s.offset) || s.offset! < 0) return undefined;
      const u = new URL(s.location);
      if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
      return { location: s.location, offset: s.offset! };
    } catch {
      return undefined; // unreadable: as if there were none
    }
  }

  async put(key: string, session: UploadSession): Promise<void> {
    await ensureDir(this.dir, 0o700);
    if (!this.#pruned) {
      this.#pruned = true;
      await this.prune();
    }
    const file = this.#file(key);
    const body: SessionFile = { key, location: withoutUserInfo(session.location), offset: session.offset };
    const tmp = `${file}.${randomHex(4)}.tmp`;
    try {
      await fsp.writeFile(tmp, JSON.stringify(body), { mode: 0o600 });
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.#file(key), { force: true });
  }

  /** Drops sessions older than {@link MAX_AGE_MS} and all but the newest {@link MAX_SESSIONS}. */
  async prune(now = Date.now()): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return;
      throw e;
    }
    const files: Array<{ p: string; at: number }> = [];
    for (const n of names) {
      const p = path.join(this.dir, n);
      try {
        files.push({ p, at: (await fsp.stat(p)).mtimeMs });
      } catch {
        // removed meanwhile
      }
    }
    files.sort((a, b) => b.at - a.at);
    for (const [i, f] of files.entries()) {
      if (i >= MAX_SESSIONS - 1 || now - f.at > MAX_AGE_MS) await fsp.rm(f.p, { force: true });
    }
  }
}
