import { CommanderError } from 'commander';
import { MalformedInputError, UsageError } from '../errors.js';
import type { VerdictKind } from '../report-schema.js';

/**
 * 0 — the command completed and no --fail-on gate tripped;
 * 1 — the model verdict is one of the --fail-on kinds;
 * 2 — the command line or an input is wrong (fix it and re-run: re-running as is won't help);
 * 3 — reading failed or provcheck itself failed (re-running may help; a bug if it persists).
 */
export type ExitCode = 0 | 1 | 2 | 3;

export type RunOutcome =
  /** An analysis finished; only its model verdict decides the gate. */
  | { readonly kind: 'report'; readonly report: { readonly verdict: { readonly kind: VerdictKind } } }
  /** A command without a verdict (inspect) finished. */
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly error: unknown };

/**
 * The exit-code policy, in one place. --fail-on matches the model verdict kind only:
 * per-tensor kinds are evidence for that verdict, and a gate on them would trip on
 * every frozen embedding that is bit-identical to a parent.
 */
export function exitCode(outcome: RunOutcome, failOn: readonly VerdictKind[]): ExitCode {
  switch (outcome.kind) {
    case 'report':
      return failOn.includes(outcome.report.verdict.kind) ? 1 : 0;
    case 'done':
      return 0;
    case 'error':
      return exitCodeForError(outcome.error);
  }
}

function exitCodeForError(error: unknown): ExitCode {
  if (error instanceof UsageError || error instanceof MalformedInputError) return 2;
  // Commander has already printed its message; --help and --version arrive here as
  // "errors" with exit code 0 because the program overrides commander's process.exit.
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  // IoError (disk, network: possibly transient) and anything unexpected (a bug).
  return 3;
}
