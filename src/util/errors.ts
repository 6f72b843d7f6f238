/**
 * Error types shared by every layer. Messages follow kit's wording where kit has one; otherwise
 * they name the thing that failed and, in `hint`, what the user can do about it.
 * @module
 */

/** An error meant for the user: `cli/run.ts` prints its message (and hint) and the exit code is 1. */
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

/**
 * A failure worth trying again (a dropped connection, a 5xx, an upload session the registry
 * forgot): the generic copy pushes the content again after `retryAfterMs`.
 */
export class TransientError extends KitError {
  override name = "TransientError";
  readonly retryAfterMs: number;
  constructor(message: string, options: { cause?: unknown; hint?: string; retryAfterMs?: number } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs ?? 0;
  }
}

/**
 * Content that does not read as its format: a compressed stream that does not decompress, a tar
 * archive with a broken header. Says nothing about whether the bytes match their digest.
 */
export class CorruptDataError extends KitError {
  override name = "CorruptDataError";
}

/** The operation was cancelled (Ctrl-C or an AbortSignal). */
export class CancelledError extends KitError {
  override name = "CancelledError";
  constructor(message = "Operation cancelled") {
    super(message);
  }
}

/**
 * True for a thrown value that means a bug in kit (exit code 2) rather than a failure of the input
 * or the environment (exit code 1): anything except a KitError, a DOMException (abort, timeout) and
 * an error the runtime reports with a code (file system, network, zlib: `ENOENT`, `ECONNRESET`,
 * `Z_DATA_ERROR`, …). A TypeError, RangeError, ReferenceError or SyntaxError is always a bug, with
 * or without a code (Node's argument checks set one).
 */
export function isInternalError(e: unknown): boolean {
  if (e instanceof KitError || e instanceof DOMException) return false;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return true;
  return !(e instanceof Error) || typeof (e as NodeJS.ErrnoException).code !== "string";
}

/** Returns the message of any thrown value. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const SYSTEM_ERRORS: Record<string, [string, string?]> = {
  ENOSPC: ["No space left on device", "Free some disk space, or point KITOPS_HOME (or --config) at a disk with more room"],
  EDQUOT: ["Disk quota exceeded", "Free some space within your quota, or point KITOPS_HOME at another disk"],
  EACCES: ["Permission denied", "Check the permissions of the path, or run kit as a user that may write there"],
  EPERM: ["Operation not permitted", "Check the permissions of the path"],
  EROFS: ["Read-only file system", "Point KITOPS_HOME (or --config, or the target directory) at a writable location"],
  EMFILE: ["Too many open files", "Raise the open-file limit (ulimit -n)"],
  ENOTDIR: ["Not a directory"],
  EISDIR: ["Is a directory"],
  ENOENT: ["No such file or directory"],
  ENAMETOOLONG: ["File name too long", "Use shorter file names or a shorter target directory"],
  ELOOP: ["Too many levels of symbolic links"],
};

/**
 * Turns an operating-system error (ENOSPC, EACCES, …) into a KitError naming the file and the
 * fix; other errors are returned unchanged.
 */
export function asKitError(e: unknown): unknown {
  if (e instanceof KitError || !(e instanceof Error)) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const known = code ? SYSTEM_ERRORS[code] : undefined;
  if (!known) return e;
  const where = (e as NodeJS.ErrnoException).path;
  return new KitError(`${known[0]}${where ? ` (${where})` : ""}`, { cause: e, hint: known[1] });
}

/**
 * Puts the command's context before a KitError's message (`<prefix>: <message>`), keeping its
 * hint and the error itself as the cause. A cancellation, or an error that is not a KitError, is
 * returned unchanged.
 */
export function withContext(prefix: string, e: unknown): unknown {
  if (!(e instanceof KitError) || e instanceof CancelledError) return e;
  return new KitError(`${prefix}: ${e.message}`, { cause: e, hint: e.hint });
}

/** The first hint in an error's cause chain (a wrapped error keeps the hint of what it wraps). */
export function hintIn(e: unknown): string | undefined {
  for (let c: unknown = e, i = 0; c && i < 10; c = (c as { cause?: unknown }).cause, i++) {
    const h = (c as { hint?: unknown }).hint;
    if (typeof h === "string" && h) return h;
  }
  return undefined;
}
