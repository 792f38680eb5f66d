import { resolve } from 'node:path';
import type { AnalyzeOptions } from '../analyze.js';
import { UsageError } from '../errors.js';
import type { HubCommandOptions } from './hub-options.js';
import { VERDICT_KINDS, type Thresholds } from '../report-schema.js';
import { isOutputFormat, OUTPUT_FORMATS, type OutputFormat } from '../report/renderers.js';
import { CLAIM_GATES, type FailOnKind } from './exit-code.js';
import { parseSampleOptions, type SampleCommandOptions } from './sample-options.js';
import { parseScaleOptions, type ScaleCommandOptions } from './scale-options.js';
import { parseReadOptions, type ReadCommandOptions } from './read-options.js';
import { parseThresholds } from './threshold-options.js';

/**
 * One parent is enough for a question the tool can answer — "is this A, or A changed?"
 * (identical, derived or unrelated); a blend needs two. Zero parents is no question.
 */
export const MIN_PARENTS = 1;

/** The `suspect` command's options as commander hands them over: strings, unvalidated. */
export interface SuspectCommandOptions
  extends Partial<Record<keyof Thresholds, string>>, HubCommandOptions, ScaleCommandOptions, SampleCommandOptions, ReadCommandOptions {
  parents: string[];
  base?: string;
  format: string;
  output?: string;
  force?: boolean;
  failOn?: string[];
  include?: string[];
  exclude?: string[];
  quiet?: boolean;
  color: boolean;
  debug?: boolean;
}

/** Everything the suspect command does, decided before any file is opened. */
export interface SuspectRun {
  readonly analyzeOptions: AnalyzeOptions;
  readonly format: OutputFormat;
  /** Where the rendered report goes; null: stdout. */
  readonly output: string | null;
  readonly force: boolean;
  readonly failOn: readonly FailOnKind[];
  readonly quiet: boolean;
}

/**
 * Validates the command line and turns it into analyze() options. Pure (no file is
 * touched), so every rule here is tested without running an analysis. Throws
 * UsageError naming the option and the bad value.
 */
export function parseSuspectOptions(
  suspect: string,
  options: SuspectCommandOptions,
  command: readonly string[],
): SuspectRun {
  const parents = options.parents;
  if (parents.length < MIN_PARENTS) throw new UsageError(`--parents: give at least ${MIN_PARENTS} parent`);
  const seen = new Map<string, string>();
  for (const parent of parents) {
    const previous = seen.get(resolve(parent));
    if (previous !== undefined) {
      throw new UsageError(`--parents: '${parent}' is the same model as '${previous}'; give each parent once`);
    }
    seen.set(resolve(parent), parent);
  }
  if (!isOutputFormat(options.format)) {
    throw new UsageError(`--format: expected one of ${OUTPUT_FORMATS.join(', ')}, got '${options.format}'`);
  }
  const analyzeOptions: AnalyzeOptions = {
    suspect,
    parents: [...parents],
    reference: options.base === undefined ? 0 : referenceIndex(options.base, parents),
    baseGiven: options.base !== undefined,
    include: compileAll('--include', options.include ?? []),
    exclude: compileAll('--exclude', options.exclude ?? []),
    thresholds: parseThresholds(options),
    command: [...command],
    ...parseScaleOptions(options),
    ...parseSampleOptions(options),
    ...parseReadOptions(options),
  };
  return {
    analyzeOptions,
    format: options.format,
    output: options.output ?? null,
    force: options.force === true,
    failOn: parseFailOn(options.failOn ?? []),
    quiet: options.quiet === true,
  };
}

/** --base names one of the parents, as typed or as the same path written differently. */
function referenceIndex(base: string, parents: readonly string[]): number {
  const exact = parents.indexOf(base);
  if (exact >= 0) return exact;
  const resolved = parents.findIndex((parent) => resolve(parent) === resolve(base));
  if (resolved >= 0) return resolved;
  throw new UsageError(`--base: '${base}' is not one of --parents (${parents.join(', ')})`);
}

function compileAll(flag: string, patterns: readonly string[]): RegExp[] {
  return patterns.map((pattern) => {
    try {
      return new RegExp(pattern);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new UsageError(`${flag}: '${pattern}' is not a valid regular expression (${why})`);
    }
  });
}

/** --fail-on takes kinds separated by commas, and may be repeated. */
export function parseFailOn(values: readonly string[]): FailOnKind[] {
  const kinds: FailOnKind[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const name = part.trim();
      if (name === '') continue;
      if (!isFailOnKind(name)) {
        const known = [...VERDICT_KINDS, ...CLAIM_GATES].join(', ');
        throw new UsageError(`--fail-on: unknown verdict kind '${name}' (known: ${known})`);
      }
      if (!kinds.includes(name)) kinds.push(name);
    }
  }
  return kinds;
}

function isFailOnKind(name: string): name is FailOnKind {
  return (VERDICT_KINDS as readonly string[]).includes(name) || (CLAIM_GATES as readonly string[]).includes(name);
}
