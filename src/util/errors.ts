/**
 * Error types shared by every layer. Messages follow kit's wording where kit has one; otherwise
 * they name the thing that failed and, in `hint`, what the user can do about it.
 * @module
 */

/** An error meant for the user: `main.ts` prints its message (and hint) and exits 1. */
export class KitError extends Error {
  override name = "KitError";
  /** An extra line telling the user how to fix the problem. */
  hint?: string;
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.hint) this.hint = options.hint;
  }
}

/** Bad command-line usage: printed cobra-style (`Error: ...` plus usage). */
export class UsageError extends KitError {
  override name = "UsageError";
}

/** The thing asked for does not exist (blob, manifest, tag, file). */
export class NotFoundError extends KitError {
  override name = "NotFoundError";
}

/** Pushing content that is already present; copy treats it as success. */
export class AlreadyExistsError extends KitError {
  override name = "AlreadyExistsError";
}

/** Content did not match its descriptor (digest or size). Never trusted, never stored. */
export class IntegrityError extends KitError {
  override name = "IntegrityError";
}

/** The operation was cancelled (Ctrl-C or an AbortSignal). */
export class CancelledError extends KitError {
  override name = "CancelledError";
  constructor(message = "Operation cancelled") {
    super(message);
  }
}

/** Returns the message of any thrown value. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
