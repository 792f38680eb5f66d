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

/**
 * What --fail-on can name: a model verdict kind, or `undisclosed-merge` — the weights
 * are a blend and nothing the suspect ships (model card, mergekit_config.yml) says so.
 */
export const CLAIM_GATES = ['undisclosed-merge'] as const;
export type FailOnKind = VerdictKind | (typeof CLAIM_GATES)[number];

export type RunOutcome =
  /** An analysis finished; only its model verdict decides the gate. */
  | {
      readonly kind: 'report';
      readonly report: {
        readonly verdict: { readonly kind: VerdictKind };
        readonly claims?: { readonly undisclosedMerge: boolean };
      };
    }
  /** `reproduce` re-ran an analysis: 1 when the result differs from the report's. */
  | { readonly kind: 'reproduce'; readonly matches: boolean }
  /** A command without a verdict (inspect) finished. */
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly error: unknown };

/**
 * The exit-code policy, in one place. --fail-on matches the model verdict kind only:
 * per-tensor kinds are evidence for that verdict, and a gate on them would trip on
 * every frozen embedding that is bit-identical to a parent.
 */
export function exitCode(outcome: RunOutcome, failOn: readonly FailOnKind[]): ExitCode {
  switch (outcome.kind) {
    case 'report': {
      const undisclosed = outcome.report.claims?.undisclosedMerge === true && failOn.includes('undisclosed-merge');
      return undisclosed || failOn.includes(outcome.report.verdict.kind) ? 1 : 0;
    }
    case 'reproduce':
      return outcome.matches ? 0 : 1;
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
