import type { Report } from '../report-schema.js';
import { claimsWords } from './claims-words.js';
import { formatBytes, formatCount } from './format-numbers.js';
import { fileIdentity, reproduceCommand, reproducibilityFacts } from './reproducibility-words.js';
import { MAX_LINE_WIDTH, renderTable, wrap } from './text-layout.js';
import type { TextStyle } from './text-style.js';

/** Files listed per input in the terminal; the JSON report lists every one. */
const FILES_PER_INPUT = 6;

/** "Claims": what the suspect declares about its origin against what was measured. */
export function claimsTextSection(report: Report, style: TextStyle): string[] {
  const claims = report.claims;
  if (claims === undefined) return [];
  const words = claimsWords(report, claims);
  const status = claims.undisclosedMerge || claims.status === 'inconsistent' ? style.yellow(words.status) : words.status;
  const files = claims.declared.files.length > 0 ? ` (${claims.declared.files.join(', ')})` : '';
  return [
    `${style.bold('Claims')}  ${status}`,
    ...wrap(`declared${files}: ${words.declared}`, MAX_LINE_WIDTH, '  '),
    ...wrap(`measured: ${words.measured}`, MAX_LINE_WIDTH, '  '),
    ...words.findings.flatMap((finding) => hanging(`- ${finding}`)),
    ...wrap(words.conclusion, MAX_LINE_WIDTH, '  '),
  ];
}

/** "Reproducibility": the facts, then each input's files with size and hash (or why not). */
export function reproducibilityTextSection(report: Report, style: TextStyle): string[] {
  const record = report.reproducibility;
  if (record === undefined) return [];
  const facts = reproducibilityFacts(record).map(([label, value]) => [label, value]);
  const files: string[][] = [];
  for (const input of record.inputs) {
    for (const file of input.files.slice(0, FILES_PER_INPUT)) {
      files.push([input.label, file.path, formatBytes(file.bytes), fileIdentity(file)]);
    }
    const more = input.files.length - FILES_PER_INPUT;
    if (more > 0) files.push([input.label, `and ${formatCount(more)} more (JSON report)`, '', '']);
  }
  return [
    `${style.bold('Reproducibility')}  ${style.dim(`re-run and compare: ${reproduceCommand()} (the report saved as JSON)`)}`,
    ...facts.flatMap(([label, value]) => hanging(`${label}: ${value}`)),
    ...renderTable(
      [
        { header: 'input', align: 'left' },
        { header: 'file', align: 'left', shrink: 1, cut: 'start' },
        { header: 'size', align: 'right' },
        { header: 'identity', align: 'left', shrink: 2 },
      ],
      files,
      { styleHeader: style.dim },
    ),
  ];
}

/** Wrapped with the continuation lines indented under the first, so list items stay apart. */
function hanging(text: string): string[] {
  return wrap(text, MAX_LINE_WIDTH - 2, '').map((line, index) => (index === 0 ? `  ${line}` : `    ${line}`));
}
