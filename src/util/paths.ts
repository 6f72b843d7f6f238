/**
 * Where kit keeps its files (docs/format.md#home, docs/format.md#storage-layout).
 * @module
 */
import path from "node:path";
import os from "node:os";
import { KitError } from "./errors.ts";

export interface HomeSources {
  /** `--config` flag value ("" when not given). */
  flag: string;
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  cwd: string;
  homedir: string;
}

/** Resolves the kit home: `--config` → `$KITOPS_HOME` → the platform default. */
export function resolveHome(src: HomeSources): string {
  if (src.flag) return path.resolve(src.cwd, src.flag);
  const fromEnv = src.env.KITOPS_HOME;
  if (fromEnv) return path.resolve(src.cwd, fromEnv);
  switch (src.platform) {
    case "darwin":
      if (!src.homedir) break;
      return path.join(src.homedir, "Library", "Caches", "kitops");
    case "win32": {
      const local = src.env.LOCALAPPDATA;
      if (local) return path.win32.join(local, "kitops");
      break;
    }
    default: {
      const xdg = src.env.XDG_DATA_HOME;
      if (xdg) return path.join(xdg, "kitops");
      const home = src.env.HOME ?? src.homedir;
      if (home) return path.join(home, ".local", "share", "kitops");
    }
  }
  throw new KitError("Failed to read base config directory", {
    hint: "Set $KITOPS_HOME or pass --config to choose where kit stores its data",
  });
}

export function defaultHomeSources(flag: string): HomeSources {
  return { flag, env: process.env, platform: process.platform, cwd: process.cwd(), homedir: os.homedir() };
}

/** The well-known paths under a kit home. */
export function homePaths(home: string) {
  return {
    home,
    storage: path.join(home, "storage"),
    cache: path.join(home, "cache"),
    harness: path.join(home, "harness"),
    credentials: path.join(home, "credentials.json"),
    uploads: path.join(home, "uploads"),
    disableUpdateNotifications: path.join(home, "disable-update-notifications"),
  };
}
