import { CommanderError } from 'commander';
import { IoError, MalformedInputError, UsageError } from '../errors.js';

/**
 * What to print on stderr for an error that ended the run. Known errors get one line
 * (a user error needs the message, not our stack); anything else is a bug, so it says
 * so and shows the whole error with --debug.
 */
export function errorLines(error: unknown, options: { debug: boolean; usageHint: string }): string[] {
  // Commander printed its own message (or the help / version) already.
  if (error instanceof CommanderError) return [];
  const debugLines = options.debug ? [stackOf(error)] : [];
  if (error instanceof UsageError) return [`provcheck: ${error.message}`, options.usageHint, ...debugLines];
  if (error instanceof MalformedInputError || error instanceof IoError) {
    return [`provcheck: ${error.message}`, ...debugLines];
  }
  const message = error instanceof Error ? error.message : String(error);
  return [
    `provcheck: internal error: ${message}`,
    ...(options.debug ? debugLines : ['Re-run with --debug to see the full error, and please report it.']),
  ];
}

function stackOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const lines = [error.stack ?? `${error.name}: ${error.message}`];
  let cause: unknown = error.cause;
  while (cause !== undefined) {
    lines.push(`caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return lines.join('\n');
}
