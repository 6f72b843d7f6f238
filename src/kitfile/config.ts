/**
 * The ModelKit config blob: a Kitfile as Go's `json.Marshal` writes it
 * (docs/format.md#config), and the lenient reader for configs pulled from registries.
 *
 * Writing: struct field order, `omitempty` on everything except `manifestVersion`, `package`
 * (always `{}` at least) and `docs[].path`; `digest`/`diffId` after each entry's own fields;
 * `parameters` maps with keys sorted bytewise and Go's number formats; no indentation, no newline.
 * @module
 */
import * as v from "valibot";
import { GoFloat, GoMap, goJson, jsonTooDeep, MAX_JSON_DEPTH } from "../util/go-json.ts";
import { KitfileError } from "./errors.ts";
import { type Kitfile, KitfileSchema, type ParameterValue } from "./schema.ts";
import { formatTime } from "./values.ts";

/** `omitempty` for strings. */
function s(x: string | undefined): string | undefined {
  return x ? x : undefined;
}

/** `omitempty` for slices. */
function list<T, U>(xs: T[] | undefined, f: (x: T, i: number) => U): U[] | undefined {
  return xs && xs.length > 0 ? xs.map(f) : undefined;
}

interface Layered {
  digest?: string;
  diffId?: string;
}
function layer(e: Layered): { digest?: string; diffId?: string } {
  return { digest: s(e.digest), diffId: s(e.diffId) };
}

/**
 * The exact config bytes kit writes for `k` (as a string; encode as UTF-8).
 * Throws {@link KitfileError} for values JSON cannot hold (NaN, infinities), as Go does.
 */
export function kitfileToConfigJson(k: Kitfile): string {
  const p = k.package ?? {};
  const m = k.model;
  const obj = {
    manifestVersion: k.manifestVersion ?? "",
    package: {
      name: s(p.name),
      version: s(p.version),
      description: s(p.description),
      license: s(p.license),
      authors: list(p.authors, (a) => a),
    },
    model: m === undefined ? undefined : {
      name: s(m.name),
      path: s(m.path),
      license: s(m.license),
      framework: s(m.framework),
      format: s(m.format),
      version: s(m.version),
      description: s(m.description),
      parts: list(m.parts, (x) => ({ name: s(x.name), path: s(x.path), license: s(x.license), type: s(x.type), ...layer(x) })),
      parameters: jsonParameters(m.parameters, "model.parameters"),
      ...layer(m),
    },
    code: list(k.code, (x) => ({ path: s(x.path), description: s(x.description), license: s(x.license), ...layer(x) })),
    datasets: list(k.datasets, (x, i) => ({
      name: s(x.name),
      path: s(x.path),
      remotePath: s(x.remotePath),
      remoteHash: s(x.remoteHash),
      description: s(x.description),
      license: s(x.license),
      parameters: jsonParameters(x.parameters, `datasets[${i}].parameters`),
      ...layer(x),
    })),
    docs: list(k.docs, (x) => ({ path: x.path ?? "", description: s(x.description), ...layer(x) })),
    prompts: list(k.prompts, (x) => ({ name: s(x.name), path: s(x.path), description: s(x.description), ...layer(x) })),
    mcpServers: list(k.mcpServers, (x) => ({ name: s(x.name), path: s(x.path), description: s(x.description), ...layer(x) })),
  };
  return goJson(obj);
}

/**
 * A `parameters` value made ready for {@link goJson}: maps become sorted {@link GoMap}s, floats
 * {@link GoFloat}s, timestamps RFC 3339 strings. `undefined`/`null` (Go's nil) is omitted.
 */
function jsonParameters(x: unknown, field: string): unknown {
  if (x === undefined || x === null) return undefined;
  return toGo(x, field);
}

function toGo(x: unknown, field: string): unknown {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case "string":
    case "boolean":
    case "bigint":
      return x;
    case "number":
      if (!Number.isFinite(x)) {
        const text = Number.isNaN(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf";
        throw new KitfileError(`json: unsupported value: ${text} (in ${field}; JSON cannot represent NaN or infinity)`, {
          problems: [{ field, message: `unsupported value ${text}` }],
        });
      }
      return new GoFloat(x);
  }
  if (x instanceof GoFloat) return toGo(x.value, field);
  if (x instanceof Date) return formatTime(x);
  if (Array.isArray(x)) return x.map((e, i) => toGo(e, `${field}[${i}]`));
  if (x instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [key, val] of x) {
      if (typeof key !== "string") {
        throw new KitfileError(`json: unsupported type: map with ${typeof key} keys (in ${field}; parameter keys must be strings)`);
      }
      Object.defineProperty(o, key, { value: toGo(val, `${field}.${key}`), enumerable: true });
    }
    return new GoMap(o);
  }
  if (typeof x === "object") {
    const o: Record<string, unknown> = {};
    for (const [key, val] of Object.entries(x)) {
      Object.defineProperty(o, key, { value: toGo(val, `${field}.${key}`), enumerable: true });
    }
    return new GoMap(o);
  }
  throw new KitfileError(`json: unsupported type: ${typeof x} (in ${field})`);
}

/**
 * Reads a ModelKit config (the Kitfile as JSON), leniently as Go's `json.Unmarshal` does: unknown
 * fields (newer kits add sections) are ignored, `null` means absent, every number is a float64.
 * Throws {@link KitfileError} when the JSON is malformed or a known field has the wrong type.
 */
export function parseConfigJson(text: string): Kitfile {
  if (jsonTooDeep(text)) throw new KitfileError(`Invalid ModelKit config: exceeded max depth (more than ${MAX_JSON_DEPTH} nested arrays or objects)`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new KitfileError(`Invalid ModelKit config: ${(e as Error).message}`, { cause: e });
  }
  if (raw === null) return { manifestVersion: "", package: {} };
  const cleaned = dropNulls(raw, "");
  const r = v.safeParse(KitfileSchema, cleaned);
  if (!r.success) {
    const issue = r.issues[0];
    const where = v.getDotPath(issue) ?? "config";
    throw new KitfileError(`Invalid ModelKit config: ${where}: ${issue.message}`, {
      problems: r.issues.map((i) => ({ field: v.getDotPath(i) ?? "", message: i.message })),
    });
  }
  const k = r.output;
  checkNumbers(k.model?.parameters, "model.parameters");
  k.datasets?.forEach((d, i) => checkNumbers(d.parameters, `datasets[${i}].parameters`));
  const { manifestVersion, package: pkg, ...sections } = k;
  return { manifestVersion: manifestVersion ?? "", package: pkg ?? {}, ...sections };
}

/**
 * Go leaves a field untouched when the JSON has `null` for it (so `null` is "absent"), and a `null`
 * list element decodes to the zero value: `""` in `authors`, an empty entry in section lists.
 * Values inside `parameters` are kept as they are; a `null` `parameters` is Go's nil (absent).
 */
function dropNulls(x: unknown, key: string): unknown {
  if (Array.isArray(x)) return x.map((e) => (e === null ? (key === "authors" ? "" : {}) : dropNulls(e, "")));
  if (x === null || typeof x !== "object") return x;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(x)) {
    if (val === null) continue;
    Object.defineProperty(out, k, {
      value: k === "parameters" ? val : dropNulls(val, k),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function checkNumbers(x: unknown, field: string): void {
  if (typeof x === "number" && !Number.isFinite(x)) {
    throw new KitfileError(`Invalid ModelKit config: ${field}: number out of range for a float64`);
  }
  if (Array.isArray(x)) x.forEach((e, i) => checkNumbers(e, `${field}[${i}]`));
  else if (x !== null && typeof x === "object") {
    for (const [key, val] of Object.entries(x)) checkNumbers(val, `${field}.${key}`);
  }
}

export type { ParameterValue };
