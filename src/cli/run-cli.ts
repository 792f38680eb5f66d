import type { CliDependencies } from './dependencies.js';
import { errorLines } from './error-message.js';
import { exitCode, type ExitCode, type FailOnKind, type RunOutcome } from './exit-code.js';
import { buildProgram, USAGE_HINT } from './program.js';

/**
 * Runs one command line (the arguments after the executable) and returns its exit
 * code. Never throws: every error becomes a message on stderr and an exit code.
 */
export async function runCli(args: readonly string[], deps: CliDependencies): Promise<ExitCode> {
  let outcome: RunOutcome = { kind: 'done' };
  let failOn: readonly FailOnKind[] = [];
  try {
    const program = buildProgram(deps, ['provcheck', ...args], (result, kinds) => {
      outcome = result;
      failOn = kinds;
    });
    await program.parseAsync([...args], { from: 'user' });
  } catch (error) {
    outcome = { kind: 'error', error };
    // Decided from the raw arguments: when parsing itself failed there are no options.
    const debug = args.includes('--debug');
    for (const line of errorLines(error, { debug, usageHint: USAGE_HINT })) deps.stderr.write(`${line}\n`);
  }
  return exitCode(outcome, failOn);
}
