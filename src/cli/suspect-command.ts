import { PLAIN_STYLE } from '../report/text-style.js';
import { renderReportPieces } from '../report/renderers.js';
import type { Report } from '../report-schema.js';
import { textStyle, wantsColor } from './color.js';
import type { CliDependencies } from './dependencies.js';
import type { FailOnKind } from './exit-code.js';
import { hubOptionsFrom } from './hub-options.js';
import { ProgressLine } from './progress.js';
import { parseSuspectOptions, type SuspectCommandOptions } from './suspect-options.js';
import { checkOutputTarget, gathered, writeFileAtomically } from './write-output.js';

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

  if (run.output !== null) {
    await writeFileAtomically(run.output, renderReportPieces(run.format, report, { style: PLAIN_STYLE }), { force: run.force });
    if (!run.quiet) deps.stdout.write(`${report.verdict.summary}\n`);
  } else {
    const color = wantsColor({ flag: options.color, env: deps.env, isTTY: deps.stdout.isTTY === true });
    for (const text of gathered(renderReportPieces(run.format, report, { style: textStyle(color) }))) deps.stdout.write(text);
  }
  return { report, failOn: run.failOn };
}
