import { readFile } from 'node:fs/promises';
import type { AnalyzeOptions } from '../analyze.js';
import { IoError, MalformedInputError, UsageError } from '../errors.js';
import { renderJsonPieces, parseReportBytes } from '../report/render-json.js';
import { renderReproduction } from '../report/render-reproduction.js';
import { compareReports, type ReproductionResult } from '../report/reproducibility-check.js';
import { READABLE_SCHEMA_VERSIONS, VERDICT_KINDS, type Report, type ReproducibilityRecord, type Thresholds } from '../report-schema.js';
import { TENSOR_KINDS } from '../report/verdict-sentence.js';
import { COMMIT_SHA, HF_SCHEME, parseRepoReference } from '../source/hub/repo-reference.js';
import { textStyle, wantsColor } from './color.js';
import type { CliDependencies } from './dependencies.js';
import { hubOptionsFrom, type HubCommandOptions } from './hub-options.js';
import { ProgressLine } from './progress.js';
import { checkOutputTarget, writeFileAtomically } from './write-output.js';

export interface ReproduceCommandOptions extends HubCommandOptions {
  output?: string;
  force?: boolean;
  quiet?: boolean;
  color: boolean;
  debug?: boolean;
}

/**
 * `provcheck reproduce <report.json>`: runs the analysis the report records (same
 * inputs as typed, resolved from the current folder; same options) and says whether the
 * result matches. A Hub input is read at the commit the report recorded, not at the
 * branch it named, which may have moved since. With --output, the new report is
 * written there as JSON.
 */
export async function runReproduce(
  reportPath: string,
  options: ReproduceCommandOptions,
  command: readonly string[],
  deps: CliDependencies,
): Promise<ReproductionResult> {
  if (options.output !== undefined) await checkOutputTarget(options.output, options.force === true);
  const original = await readReport(reportPath);
  const record = recordOf(original, reportPath);
  // Checked before the re-run, which may take hours: the comparison reads these.
  checkComparable(original, reportPath);
  const analyzeOptions = analyzeOptionsOf(record, reportPath, command);
  const hub = await hubOptionsFrom(options, deps.env);

  const progress = deps.stderr.isTTY === true && options.quiet !== true ? new ProgressLine(deps.stderr, deps.now) : null;
  let rerun: Report;
  try {
    rerun = await deps.analyze({ ...analyzeOptions, hub }, progress === null ? undefined : (p) => progress.update(p));
  } finally {
    progress?.finish();
  }
  const result = compareReports(original, rerun);
  if (options.output !== undefined) {
    await writeFileAtomically(options.output, renderJsonPieces(rerun), { force: options.force === true });
  }
  if (options.quiet !== true) {
    const color = wantsColor({ flag: options.color, env: deps.env, isTTY: deps.stdout.isTTY === true });
    deps.stdout.write(renderReproduction(original, rerun, result, textStyle(color)));
  }
  return result;
}

async function readReport(path: string): Promise<Report> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    if (code === 'ENOENT') throw new UsageError(`reproduce: '${path}' does not exist`);
    if (code === 'EISDIR') throw new UsageError(`reproduce: '${path}' is a folder; give the report's JSON file`);
    throw new IoError(path, `cannot read the report: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = parseReportBytes(bytes);
  } catch {
    throw new MalformedInputError(path, 'is not a JSON report (write one with provcheck suspect --format json)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MalformedInputError(path, 'is not a provcheck report (expected a JSON object)');
  }
  const version = (parsed as { schemaVersion?: unknown }).schemaVersion;
  if (typeof version !== 'number' || !READABLE_SCHEMA_VERSIONS.includes(version)) {
    throw new MalformedInputError(path, `has report schema ${JSON.stringify(version)}; this provcheck reads schemas ${READABLE_SCHEMA_VERSIONS.join(' and ')}`);
  }
  return parsed as Report;
}

/** The record, checked field by field: the report may have been edited or truncated by hand. */
function recordOf(report: Report, path: string): ReproducibilityRecord {
  const record: unknown = report.reproducibility;
  const fail = (what: string): never => {
    throw new MalformedInputError(path, `reproducibility record: ${what}`);
  };
  if (typeof record !== 'object' || record === null) {
    throw new MalformedInputError(path, 'has no reproducibility record (it was written before provcheck recorded one); run provcheck suspect again instead');
  }
  const analysis = (record as { analysis?: unknown }).analysis;
  if (typeof analysis !== 'object' || analysis === null) return fail('no `analysis`');
  const fields = analysis as Record<string, unknown>;
  if (typeof fields.suspect !== 'string') fail('`analysis.suspect` is not a path');
  if (!isStringArray(fields.parents) || fields.parents.length === 0) fail('`analysis.parents` is not a list of paths');
  if (!Number.isInteger(fields.reference)) fail('`analysis.reference` is not an index');
  if (!isStringArray(fields.include) || !isStringArray(fields.exclude)) fail('`analysis.include`/`exclude` are not lists of patterns');
  if (typeof fields.thresholds !== 'object' || fields.thresholds === null) fail('`analysis.thresholds` is missing');
  for (const [key, value] of Object.entries(fields.thresholds as Record<string, unknown>)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(`threshold ${key} is not a number`);
  }
  if (fields.seed !== null && !Number.isInteger(fields.seed)) fail('`analysis.seed` is neither null nor an integer');
  const inputs = (record as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs) || inputs.length !== 1 + (fields.parents as string[]).length) {
    fail('`inputs` does not list the suspect and each parent');
  }
  for (const input of inputs as unknown[]) {
    const files = typeof input === 'object' && input !== null ? (input as { files?: unknown }).files : undefined;
    if (!Array.isArray(files) || !files.every((f) => typeof f === 'object' && f !== null && typeof (f as { path?: unknown }).path === 'string')) {
      fail('an input\'s `files` is not a list of files with paths');
    }
    const revision = typeof input === 'object' && input !== null ? (input as { revision?: unknown }).revision : undefined;
    if (revision !== null && !(typeof revision === 'string' && COMMIT_SHA.test(revision))) {
      fail('an input\'s `revision` is neither null nor a 40-hex commit sha');
    }
  }
  return record as ReproducibilityRecord;
}

/** The fields the comparison and its rendering read, checked: a report edited by hand must fail here, not after the re-run. */
function checkComparable(report: Report, path: string): void {
  const fields = report as unknown as Record<string, unknown>;
  const tool = fields.tool as { version?: unknown } | undefined;
  if (typeof tool !== 'object' || tool === null || typeof tool.version !== 'string') {
    throw new MalformedInputError(path, 'does not say which provcheck version wrote it (tool.version)');
  }
  const verdict = fields.verdict as { kind?: unknown } | undefined;
  if (typeof verdict !== 'object' || verdict === null || typeof verdict.kind !== 'string') {
    throw new MalformedInputError(path, 'has no model verdict (verdict.kind)');
  }
  const tensors = fields.tensors;
  if (!Array.isArray(tensors) || !tensors.every((t) => typeof t === 'object' && t !== null && typeof (t as { name?: unknown }).name === 'string')) {
    throw new MalformedInputError(path, '`tensors` is not a list of named tensor reports');
  }
  if (!Array.isArray(fields.parents)) throw new MalformedInputError(path, '`parents` is not a list');
  // The comparison's text names the command the report came from (the record's, else the report's).
  const ran = (fields.reproducibility as { command?: unknown } | undefined)?.command ?? fields.command;
  if (!Array.isArray(ran) || !ran.every((word) => typeof word === 'string')) {
    throw new MalformedInputError(path, 'the command that made it is not a list of words (reproducibility.command)');
  }
  // What the comparison reads (report/reproducibility-check.ts) and its text prints: kinds it
  // names by their words, numbers it formats.
  const fail = (what: string): never => {
    throw new MalformedInputError(path, `${what}; was the report edited?`);
  };
  const v = verdict as Record<string, unknown>;
  if (!(VERDICT_KINDS as readonly unknown[]).includes(v.kind)) fail(`verdict.kind ${JSON.stringify(v.kind)} is not a verdict`);
  if (v.parent !== null && v.parent !== undefined && !Number.isInteger(v.parent)) fail('verdict.parent is neither null nor a parent index');
  const numberList = (value: unknown): boolean => value === null || value === undefined || (Array.isArray(value) && value.every(isNumberOrNull));
  if (!numberList(v.weights)) fail('verdict.weights is not a list of numbers');
  if (!numberList(v.alternatives)) fail('verdict.alternatives is not a list of numbers');
  const median = (v.noiseRatio as { median?: unknown } | null | undefined)?.median;
  if (!isNumberOrNull(median ?? null)) fail('verdict.noiseRatio.median is not a number');
  for (const t of tensors as Record<string, unknown>[]) {
    if (!(TENSOR_KINDS as readonly unknown[]).includes(t.kind)) fail(`tensor ${t.name as string}: kind ${JSON.stringify(t.kind)} is not a tensor kind`);
    if (!numberList(t.weights)) fail(`tensor ${t.name as string}: weights is not a list of numbers`);
    if (!isNumberOrNull(t.noiseRatio ?? null)) fail(`tensor ${t.name as string}: noiseRatio is not a number`);
  }
}

function isNumberOrNull(value: unknown): boolean {
  return value === null || typeof value === 'number';
}

function analyzeOptionsOf(record: ReproducibilityRecord, path: string, command: readonly string[]): AnalyzeOptions {
  const { analysis } = record;
  const compile = (pattern: string): RegExp => {
    try {
      return new RegExp(pattern);
    } catch {
      throw new MalformedInputError(path, `reproducibility record: '${pattern}' is not a valid regular expression`);
    }
  };
  const pin = (input: string, index: number): string => pinnedInput(input, record.inputs[index]?.revision ?? null);
  return {
    suspect: pin(analysis.suspect, 0),
    parents: analysis.parents.map((parent, j) => pin(parent, j + 1)),
    reference: analysis.reference,
    include: analysis.include.map(compile),
    exclude: analysis.exclude.map(compile),
    thresholds: { ...analysis.thresholds } satisfies Partial<Thresholds>,
    ...(analysis.map && analysis.map.length > 0 ? { map: [...analysis.map] } : {}),
    ...(analysis.floor ? { floor: analysis.floor } : {}),
    ...(analysis.recipes === false ? { recipes: false } : {}),
    ...(analysis.sample ? { sample: analysis.sample } : {}),
    ...(analysis.baseGiven ? { baseGiven: true } : {}),
    command: [...command],
  };
}

/**
 * A Hub input (or a cached one) pinned to the commit it was read at: `org/name@<sha>`,
 * with the `hf://` scheme kept when it was typed. A local path, and an input that no
 * longer reads as a repo id, stay as they were.
 */
export function pinnedInput(input: string, revision: string | null): string {
  if (revision === null) return input;
  let reference: ReturnType<typeof parseRepoReference>;
  try {
    reference = parseRepoReference(input);
  } catch {
    return input;
  }
  if (reference === null) return input;
  return `${input.startsWith(HF_SCHEME) ? HF_SCHEME : ''}${reference.repo}@${revision}`;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
