import { serializePartial } from '../partial/merge-partials.js';
import { UsageError } from '../errors.js';
import type { CliDependencies } from './dependencies.js';
import { ProgressLine } from './progress.js';
import { parseSuspectOptions, type SuspectCommandOptions } from './suspect-options.js';
import { checkOutputTarget, writeFileAtomically } from './write-output.js';

/**
 * `provcheck suspect … --shard i/N --output part-i.json`: analyse one shard and write its
 * partial report (JSON, whatever --format says: it is for `provcheck merge`, not people).
 */
export async function runShard(suspect: string, options: SuspectCommandOptions, command: readonly string[], deps: CliDependencies): Promise<void> {
  const run = parseSuspectOptions(suspect, options, command);
  const shard = run.analyzeOptions.shard;
  if (!shard) throw new UsageError('--shard: missing');
  if (run.output === null) throw new UsageError('--shard: give --output <file> for the partial report (provcheck merge reads it)');
  await checkOutputTarget(run.output, run.force);
  const progress = deps.stderr.isTTY === true && !run.quiet ? new ProgressLine(deps.stderr, deps.now) : null;
  let report;
  try {
    report = await deps.analyze(run.analyzeOptions, progress === null ? undefined : (p) => progress.update(p));
  } finally {
    progress?.finish();
  }
  await writeFileAtomically(run.output, serializePartial({ shard: shard.index + 1, of: shard.count, report }), { force: run.force });
  if (!run.quiet) deps.stdout.write(`shard ${shard.index + 1}/${shard.count}: ${report.tensors.length} tensors written to ${run.output}\n`);
}
