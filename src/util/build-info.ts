/**
 * Version, commit and build time. `scripts/build.ts` replaces the `KIT_BUILD_*` identifiers at
 * compile time; running from source they are absent and the package.json version is used.
 * @module
 */
import pkg from "../../package.json" with { type: "json" };

declare const KIT_BUILD_VERSION: string;
declare const KIT_BUILD_COMMIT: string;
declare const KIT_BUILD_TIME: string;

export const buildInfo = {
  version: typeof KIT_BUILD_VERSION === "string" ? KIT_BUILD_VERSION : pkg.version,
  commit: typeof KIT_BUILD_COMMIT === "string" ? KIT_BUILD_COMMIT : "unknown",
  built: typeof KIT_BUILD_TIME === "string" ? KIT_BUILD_TIME : "unknown",
};
