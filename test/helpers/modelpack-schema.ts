/**
 * Validates a ModelPack config against the model-spec's own JSON Schema (vendored in
 * test/fixtures/modelpack with its licence) with ajv. The schema declares draft-04 but uses
 * `$defs`; ajv resolves `#/$defs/…` as JSON pointers, so the declaration is dropped before
 * compiling. `date-time` is RFC 3339's grammar (what the Go validator upstream checks).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import Ajv from "ajv";

const schemaFile = path.join(import.meta.dir, "..", "fixtures", "modelpack", "config-schema.json");

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

let validator: ((data: unknown) => boolean) & { errors?: unknown } | undefined;

/** The schema errors of `config` (empty when it is valid). */
export function modelPackConfigErrors(config: unknown): string[] {
  if (!validator) {
    const { $schema: _, ...schema } = JSON.parse(readFileSync(schemaFile, "utf8"));
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat("date-time", RFC3339);
    validator = ajv.compile(schema);
  }
  if (validator(config)) return [];
  return ((validator.errors ?? []) as Array<{ instancePath: string; message?: string }>).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`);
}
