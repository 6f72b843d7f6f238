/**
 * The error every Kitfile problem is reported with: parse errors name the file, line and field;
 * validation errors use kit's `errors while validating Kitfile:` list.
 * @module
 */
import { KitError } from "../util/errors.ts";

/** One problem found while reading a Kitfile. */
export interface KitfileProblem {
  /** 1-based line in the Kitfile, when the problem has a position. */
  line?: number;
  /** Dotted field path (`model.parts[0].type`), or `""` for the document itself. */
  field: string;
  message: string;
}

/** A Kitfile that cannot be read, decoded, validated or encoded. */
export class KitfileError extends KitError {
  override name = "KitfileError";
  /** Line of the first problem, when known. */
  readonly line?: number;
  /** Field path of the first problem, when known. */
  readonly field?: string;
  /** Every problem, in document order (the message lists them all). */
  readonly problems: readonly KitfileProblem[];

  constructor(message: string, options?: { problems?: KitfileProblem[]; cause?: unknown; hint?: string }) {
    super(message, options);
    this.problems = options?.problems ?? [];
    const first = this.problems[0];
    if (first?.line !== undefined) this.line = first.line;
    if (first?.field) this.field = first.field;
  }
}
