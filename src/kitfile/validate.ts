/**
 * Kitfile validation with the newest kit rules (docs/format.md#validation): duplicate paths after
 * `filepath.Clean`, absolute paths, paths escaping the context, URL classification of every path,
 * remote dataset rules, MCP server names and `.mcpb` paths, model part types. Errors are sorted as
 * kit sorts them; an unknown `manifestVersion` is only a warning.
 * @module
 */
import { compareGoStrings } from "../util/go-json.ts";
import type { Logger } from "../util/log.ts";
import { KitfileError } from "./errors.ts";
import { cleanPath, isAbsPath, isLocalPath, pathKind, relPath } from "./paths.ts";
import type { Kitfile } from "./schema.ts";

/** The manifest version kit understands. */
export const MANIFEST_VERSION = "1.0.0";

/**
 * `1.0.0` and its shorter spellings: the KitOps docs and Python SDK write `manifestVersion: 1.0`,
 * a YAML number whose literal text is kept, and kit accepts it without a warning.
 */
const KNOWN_MANIFEST_VERSION = /^v?1(\.0){0,2}$/;

const PART_TYPE_RE = /^[\w][\w.-]*$/;
const PART_TYPE_MAX = 64;

/** Problems found by {@link validateKitfile}: `errors` sorted bytewise, `warnings` in order. */
export interface KitfileValidation {
  errors: string[];
  warnings: string[];
}

/** Checks a Kitfile (the merged one, when it has parents) the way kit does before packing. */
export function validateKitfile(k: Kitfile): KitfileValidation {
  const warnings: string[] = [];
  const errors: string[] = [];
  const mv = k.manifestVersion ?? "";
  if (!KNOWN_MANIFEST_VERSION.test(mv)) warnings.push(`Unrecognized manifestVersion ${mv}: treating Kitfile as 1.0.0`);

  // Cleaned path → ids of the entries using it (insertion order, as kit's id lists).
  const paths = new Map<string, string[]>();
  const addPath = (p: string | undefined, id: string) => {
    const clean = cleanPath(p || ".");
    const ids = paths.get(clean);
    if (ids) ids.push(id);
    else paths.set(clean, [id]);
  };
  /** Local paths only: reports URL errors with kit's `invalid path for <what> (<p>)` wording. */
  const localOnly = (p: string | undefined, what: string) => {
    const path = p ?? "";
    const t = pathKind(path);
    if (t.error) errors.push(`invalid path for ${what} (${path}): ${t.error}`);
    if (t.kind !== "local") errors.push(`invalid path for ${what} (${path}): only local paths are permitted`);
  };
  const remoteDatasetPaths: string[] = [];

  const m = k.model;
  if (m) {
    addPath(m.path, `model ${m.name ?? ""}`);
    const t = pathKind(m.path ?? "");
    if (t.error) errors.push(`invalid path for model: ${t.error}`);
    if (t.kind !== "local" && t.kind !== "reference") {
      errors.push("invalid path for model: only local paths and ModelKit references are permitted");
    }
    for (const part of m.parts ?? []) {
      addPath(part.path, `modelpart ${part.name ?? ""}`);
      localOnly(part.path, "model part");
      const type = part.type ?? "";
      if (type !== "") {
        if (!PART_TYPE_RE.test(type)) {
          errors.push(`modelpart ${part.name ?? ""} has invalid type (must be alphanumeric with dots, dashes, and underscores)`);
        }
        if (new TextEncoder().encode(type).length > PART_TYPE_MAX) {
          errors.push(`modelpart ${part.name ?? ""} type is too long (must be fewer than ${PART_TYPE_MAX} characters)`);
        }
      }
    }
  }
  (k.code ?? []).forEach((c, i) => {
    addPath(c.path, `code layer ${i}`);
    localOnly(c.path, "code");
  });
  (k.datasets ?? []).forEach((d, i) => {
    addPath(d.path, `dataset layer ${i}`);
    localOnly(d.path, "dataset");
    const remote = d.remotePath ?? "";
    if (remote !== "") {
      const t = pathKind(remote);
      if (t.error) errors.push(`invalid remote path for dataset (${remote}): ${t.error}`);
      if (t.kind === "s3") {
        if (!d.remoteHash) errors.push(`remoteHash is required when remote dataset paths are used (${remote})`);
      } else if (t.kind === "reference") {
        // A ModelKit reference carries its own integrity (tag or digest).
        if (d.remoteHash) warnings.push(`remoteHash is ignored for ModelKit references in datasets (${d.path ?? ""})`);
        remoteDatasetPaths.push(cleanPath(d.path ?? ""));
      } else {
        errors.push(`only S3 URLs and ModelKit references are supported for remote dataset paths (${remote})`);
      }
    } else if (d.remoteHash) {
      errors.push("remote hash is only applicable when remotePath is set");
    }
  });
  (k.docs ?? []).forEach((d, i) => {
    addPath(d.path, `docs layer ${i}`);
    localOnly(d.path, "doc");
  });
  (k.prompts ?? []).forEach((p, i) => {
    addPath(p.path, `prompt layer ${i}`);
    localOnly(p.path, "prompt");
  });
  const serverNames = new Set<string>();
  (k.mcpServers ?? []).forEach((s, i) => {
    const path = s.path ?? "";
    addPath(path, `mcpServer layer ${i}`);
    const t = pathKind(path);
    if (t.error) errors.push(`invalid path for mcpServer (${path}): ${t.error}`);
    if (t.kind !== "local") errors.push(`invalid path for mcpServer (${path}): only local paths are permitted`);
    else if (!path.endsWith(".mcpb")) errors.push(`invalid path for mcpServer (${path}): path must point to a single .mcpb file`);
    const name = s.name ?? "";
    if (name === "") errors.push(`mcpServer with path ${path} must have a name`);
    else if (serverNames.has(name)) errors.push(`duplicate mcpServer name ${name}: names must be unique`);
    else serverNames.add(name);
  });

  for (const [p, ids] of paths) {
    if (ids.length > 1) errors.push(`${ids.slice(0, -1).join(", ")} and ${ids[ids.length - 1]} use the same path ${p}`);
    if (isAbsPath(p)) errors.push(`absolute paths are not supported in a Kitfile (path ${p} in ${ids[0]})`);
    else if (!isLocalPath(p)) errors.push(`paths outside the context directory are not supported in a Kitfile (path ${p} in ${ids[0]})`);
    for (const remote of remoteDatasetPaths) {
      if (remote === p) continue;
      const rel = relPath(remote, p);
      if (typeof rel !== "string") {
        errors.push(`error calculating relative path for remote dataset: ${rel.error}`);
        continue;
      }
      if (rel !== ".." && !rel.startsWith("../")) {
        errors.push(`${ids[0]} uses a path (${p}) that is within the path for a remote dataset`);
      }
    }
  }
  errors.sort(compareGoStrings);
  return { errors, warnings };
}

/** kit's message for a failed validation: `errors while validating Kitfile: \n  * a\n  * b`. */
export function formatValidationErrors(errors: string[]): string {
  return `errors while validating Kitfile: \n${errors.map((e) => `  * ${e}`).join("\n")}`;
}

/**
 * Validates `k`, logs its warnings at warn level (when a logger is given) and returns them;
 * throws {@link KitfileError} with kit's message when there are errors.
 */
export function assertValidKitfile(k: Kitfile, logger?: Logger): string[] {
  const { errors, warnings } = validateKitfile(k);
  for (const w of warnings) logger?.warn(w);
  if (errors.length > 0) {
    throw new KitfileError(formatValidationErrors(errors), { problems: errors.map((message) => ({ field: "", message })) });
  }
  return warnings;
}
