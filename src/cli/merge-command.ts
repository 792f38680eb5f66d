import { readFile } from 'node:fs/promises';
import { IoError, isProvcheckError, UsageError } from '../errors.js';
import { damagedShard, mergePartials, parsePartial } from '../partial/merge-partials.js';
import { isOutputFormat, OUTPUT_FORMATS, REPORT_RENDERERS, type OutputFormat } from '../report/renderers.js';
import { PLAIN_STYLE } from '../report/text-style.js';
import type { Report } from '../report-schema.js';
import type { CliDependencies } from './dependencies.js';
import type { FailOnKind } from './exit-code.js';
import { parseFailOn } from './suspect-options.js';
import { emitReport, checkOutputTarget } from './write-output.js';

export interface MergeCommandOptions {
  format: string;
  output?: string;
  force?: boolean;
  failOn?: string[];
  quiet?: boolean;
  color: boolean;
  debug?: boolean;
}

/** `provcheck merge <partials…>`: the single-run report from the partial reports of every shard. */
export async function runMerge(
  files: readonly string[],
  options: MergeCommandOptions,
  command: readonly string[],
  deps: CliDependencies,
): Promise<{ report: Report; failOn: readonly FailOnKind[] }> {
  if (!isOutputFormat(options.format)) {
    throw new UsageError(`--format: expected one of ${OUTPUT_FORMATS.join(', ')}, got '${options.format}'`);
  }
  const failOn = parseFailOn(options.failOn ?? []);
  const output = options.output ?? null;
  if (output !== null) await checkOutputTarget(output, options.force === true);
  const partials = await Promise.all(
    files.map(async (file) => {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file);
      } catch (error) {
        const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : String(error);
        throw new IoError(file, `cannot read the partial report (${code})`, { cause: error });
      }
      return { file, partial: parsePartial(bytes, file) };
    }),
  );
  const report = mergePartials(partials, command);
  const target = { format: options.format, output, force: options.force === true, quiet: options.quiet === true, color: options.color };
  const style = { style: PLAIN_STYLE };
  const format = options.format as OutputFormat;
  const render = (made: Report): void => {
    for (const piece of REPORT_RENDERERS[format](made, style)) void piece;
  };
  try {
    // JSON goes to stdout a MiB at a time as it is made: rendered once first (and dropped),
    // so that a renderer failing on a damaged tensor report leaves no output behind. Text,
    // Markdown and HTML are made whole before a byte is written, and a file is written
    // aside and renamed.
    if (output === null && format === 'json') render(report);
    await emitReport(report, target, deps);
  } catch (error) {
    if (isProvcheckError(error)) throw error;
    // A renderer failed on a tensor report damaged by hand: name the shard it is in by rendering each one alone.
    throw damagedShard(partials, command, render) ?? error;
  }
  return { report, failOn };
}
