import type { Report } from '../report-schema.js';
import type { CliDependencies } from './dependencies.js';
import type { FailOnKind } from './exit-code.js';
import { hubOptionsFrom } from './hub-options.js';
import { ProgressLine } from './progress.js';
import { parseSuspectOptions, type SuspectCommandOptions } from './suspect-options.js';
import { checkOutputTarget, emitReport } from './write-output.js';

/**
 * `provcheck suspect`: validate, analyse, render. With --output the report goes to the
 * file (never coloured) and stdout gets only the one-line verdict, unless --quiet.
 */
export async function runSuspect(
  suspect: string,
  options: SuspectCommandOptions,
  command: readonly string[],
  deps: CliDependencies,
): Promise<{ report: Report; failOn: readonly FailOnKind[] }> {
  const run = parseSuspectOptions(suspect, options, command);
  if (run.output !== null) await checkOutputTarget(run.output, run.force);

  const progress = deps.stderr.isTTY === true && !run.quiet ? new ProgressLine(deps.stderr, deps.now) : null;
  let report: Report;
  try {
    const hub = await hubOptionsFrom(options, deps.env);
    report = await deps.analyze({ ...run.analyzeOptions, hub }, progress === null ? undefined : (p) => progress.update(p));
  } finally {
    progress?.finish();
  }

  await emitReport(report, { format: run.format, output: run.output, force: run.force, quiet: run.quiet, color: options.color }, deps);
  return { report, failOn: run.failOn };
}
