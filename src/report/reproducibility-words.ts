import type { FileRecord, ReproducibilityRecord, Thresholds } from '../report-schema.js';
import { formatBytes } from './format-numbers.js';

/** Flags of the thresholds, for a command line a reader can copy. */
export const THRESHOLD_FLAGS: Readonly<Record<keyof Thresholds, string>> = {
  blendMaxNoise: '--blend-max-noise',
  minWeight: '--min-weight',
  modifiedMinWeight: '--modified-min-weight',
  unrelatedResidual: '--unrelated-residual',
  informativeUlps: '--informative-ulps',
  agreement: '--agreement',
};

/** How many hex digits of a hash a table shows; the JSON report keeps all 64. */
export const SHORT_HASH = 12;

/** The record as label → value rows, the same in every format. */
export function reproducibilityFacts(record: ReproducibilityRecord): [string, string][] {
  const { analysis } = record;
  const thresholds = (Object.keys(THRESHOLD_FLAGS) as (keyof Thresholds)[])
    .map((key) => `${THRESHOLD_FLAGS[key]} ${analysis.thresholds[key]}`)
    .join(' ');
  const filters = [
    ...analysis.include.map((pattern) => `--include ${shellQuote(pattern)}`),
    ...analysis.exclude.map((pattern) => `--exclude ${shellQuote(pattern)}`),
  ];
  return [
    ['tool', `${record.tool.name} ${record.tool.version}`],
    ['runtime', `Node ${record.runtime.node.replace(/^v/, '')}, ${record.runtime.platform} ${record.runtime.arch}`],
    ['date', record.createdAt],
    ['command', shellCommand(record.command)],
    ['working directory', record.workingDirectory],
    ['reference', `parent ${analysis.reference + 1} (${analysis.parents[analysis.reference] ?? '?'})`],
    ['tensor filter', filters.length > 0 ? filters.join(' ') : 'none (every tensor)'],
    ['thresholds', thresholds],
    ['sampling', analysis.seed === null ? 'none: every element read' : `seed ${analysis.seed}`],
  ];
}

/** "sha256 3f2a9c01b7de…", "size and time only (not hashed)", "size only". */
export function fileIdentity(file: FileRecord, digits: number = SHORT_HASH): string {
  if (file.sha256 !== null) {
    const hash = digits >= file.sha256.length ? file.sha256 : `${file.sha256.slice(0, digits)}…`;
    return `sha256 ${hash}${file.sha256From === 'hub-lfs' ? ' (Hub LFS)' : ''}`;
  }
  return file.modified === null ? 'size only' : `not hashed; modified ${file.modified}`;
}

export function fileSize(file: FileRecord): string {
  return formatBytes(file.bytes);
}

/** What re-running takes, as a command to copy. */
export function reproduceCommand(reportPath = 'report.json'): string {
  return `provcheck reproduce ${shellQuote(reportPath)}`;
}

/** The command line as a POSIX shell would take it back. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}

export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
