import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { exitCode } from '../../src/cli/exit-code.js';
import { IoError, MalformedInputError, UsageError } from '../../src/errors.js';
import { VERDICT_KINDS, type VerdictKind } from '../../src/report-schema.js';

/** Every subset of the verdict kinds (2^7 = 128). */
function allSubsets(): VerdictKind[][] {
  return Array.from({ length: 2 ** VERDICT_KINDS.length }, (_, mask) =>
    VERDICT_KINDS.filter((_, bit) => (mask >> bit) & 1),
  );
}

describe('exitCode', () => {
  it('is 1 exactly when the model verdict is a --fail-on kind, for every kind and every gate', () => {
    for (const failOn of allSubsets()) {
      for (const kind of VERDICT_KINDS) {
        const expected = failOn.includes(kind) ? 1 : 0;
        expect(exitCode({ kind: 'report', report: { verdict: { kind } } }, failOn)).toBe(expected);
      }
    }
  });

  it('is 1 on undisclosed-merge exactly when the gate is asked for and the claims check found one', () => {
    const report = (undisclosedMerge: boolean) => ({ verdict: { kind: 'blend' as const }, claims: { undisclosedMerge } });
    expect(exitCode({ kind: 'report', report: report(true) }, ['undisclosed-merge'])).toBe(1);
    expect(exitCode({ kind: 'report', report: report(false) }, ['undisclosed-merge'])).toBe(0);
    expect(exitCode({ kind: 'report', report: report(true) }, ['unrelated'])).toBe(0);
    // A report without a claims section (written before the check existed) never trips the gate.
    expect(exitCode({ kind: 'report', report: { verdict: { kind: 'blend' } } }, ['undisclosed-merge'])).toBe(0);
  });

  it('is 0 when a reproduction matches and 1 when it differs, whatever the gate', () => {
    expect(exitCode({ kind: 'reproduce', matches: true }, ['blend'])).toBe(0);
    expect(exitCode({ kind: 'reproduce', matches: false }, [])).toBe(1);
  });

  it('is 0 for a command without a verdict, whatever the gate', () => {
    for (const failOn of allSubsets()) expect(exitCode({ kind: 'done' }, failOn)).toBe(0);
  });

  it('maps each error class to its code, never to the gate', () => {
    const cases: [unknown, number][] = [
      [new UsageError('--min-weight: expected a number'), 2],
      [new MalformedInputError('model.safetensors', 'header length exceeds file size'), 2],
      [new CommanderError(1, 'commander.unknownOption', "unknown option '--x'"), 2],
      [new CommanderError(1, 'commander.missingMandatoryOptionValue', 'missing'), 2],
      [new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), 0],
      [new CommanderError(0, 'commander.version', '0.1.0'), 0],
      [new IoError('model.safetensors', 'EIO: i/o error'), 3],
      [new TypeError('x is undefined'), 3],
      [new Error('boom'), 3],
      ['a thrown string', 3],
      [undefined, 3],
    ];
    for (const [error, code] of cases) {
      expect(exitCode({ kind: 'error', error }, [])).toBe(code);
      expect(exitCode({ kind: 'error', error }, [...VERDICT_KINDS])).toBe(code);
    }
  });
});
