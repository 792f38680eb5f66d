/**
 * Errors typed by cause. The CLI maps each class to an exit code in one place
 * (src/cli/exit-code.ts); everything else only throws the right class.
 */

/** The input is malformed or unsupported: permanent, names the file and the problem. */
export class MalformedInputError extends Error {
  override readonly name = 'MalformedInputError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** The user asked for something that cannot be done (bad option, unknown parent, ...). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Reading failed (disk, network): possibly transient, never the input's fault. */
export class IoError extends Error {
  override readonly name = 'IoError';
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

/** One of the classes above: an error provcheck raised on purpose, with its own one-line message. */
export function isProvcheckError(error: unknown): error is MalformedInputError | UsageError | IoError {
  return error instanceof MalformedInputError || error instanceof UsageError || error instanceof IoError;
}
