import type { Report } from '../report-schema.js';
import { formatBytes, formatCount, formatSigma, formatWeight } from './format-numbers.js';
import type { InputChange, ReproductionDifference, ReproductionResult } from './reproducibility-check.js';
import { shellCommand } from './reproducibility-words.js';
import { MAX_LINE_WIDTH, wrap } from './text-layout.js';
import type { TextStyle } from './text-style.js';
import { VERDICT_WORDS } from './verdict-sentence.js';

/** Differences spelled out; a model with 1,000 changed tensors does not need 2,000 lines. */
const DIFFERENCES_SHOWN = 20;

/** What `provcheck reproduce` prints: the answer first, then what differs and why it might. */
export function renderReproduction(original: Report, rerun: Report, result: ReproductionResult, style: TextStyle): string {
  const lines: string[] = [];
  if (result.matches) {
    lines.push(style.bold(style.green('Reproduced: the re-run matches the report.')));
    const exactness = result.identical ? 'every number bit-identical' : 'numbers equal to 6 significant digits (not all bit-identical)';
    lines.push(
      ...wrap(
        `verdict ${VERDICT_WORDS[rerun.verdict.kind].title} both times; ${formatCount(result.compared.tensors)} tensors with the same kinds; ` +
          `${formatCount(result.compared.numbers)} weights and residuals compared, ${exactness}.`,
        MAX_LINE_WIDTH,
        '  ',
      ),
    );
  } else {
    lines.push(style.bold(style.red('Not reproduced: the re-run differs from the report.')));
    for (const difference of result.differences.slice(0, DIFFERENCES_SHOWN)) {
      lines.push(...wrap(`- ${differenceLine(original, difference)}`, MAX_LINE_WIDTH, '    ').map((line, index) => (index === 0 ? `  ${line.trimStart()}` : line)));
    }
    const more = result.differences.length - DIFFERENCES_SHOWN;
    if (more > 0) lines.push(`  and ${formatCount(more)} more differences`);
  }
  lines.push('');
  lines.push(...inputLines(result, style));
  lines.push('');
  lines.push(...wrap(`report: ${describeRun(original)}`, MAX_LINE_WIDTH, '  '));
  lines.push(...wrap(`re-run: ${describeRun(rerun)}`, MAX_LINE_WIDTH, '  '));
  if (original.tool.version !== rerun.tool.version) {
    lines.push(...wrap(`the report was written by provcheck ${original.tool.version}, the re-run is ${rerun.tool.version}: a change of version can explain differences`, MAX_LINE_WIDTH, '  '));
  }
  return `${lines.join('\n')}\n`;
}

function inputLines(result: ReproductionResult, style: TextStyle): string[] {
  const { bySha256, bySizeAndTime } = result.filesChecked;
  const checked = `${formatCount(bySha256 + bySizeAndTime)} files checked: ${formatCount(bySha256)} by SHA-256, ${formatCount(bySizeAndTime)} by size and time`;
  if (result.inputChanges.length === 0) return [`${style.bold('Inputs')}  unchanged (${checked})`];
  return [
    `${style.bold('Inputs')}  ${style.yellow(`${formatCount(result.inputChanges.length)} changed`)} (${checked})`,
    ...result.inputChanges.slice(0, DIFFERENCES_SHOWN).map((change) => `  - ${changeLine(change)}`),
  ];
}

function changeLine(change: InputChange): string {
  const file = `${change.label} ${change.path}`;
  switch (change.kind) {
    case 'missing':
      return `${file}: no longer there`;
    case 'added':
      return `${file}: new since the report`;
    case 'size':
      return `${file}: ${formatBytes(change.original)} then, ${formatBytes(change.now)} now`;
    case 'content':
      return `${file}: different content (SHA-256)`;
    case 'modified':
      return `${file}: same size, modified since (not hashed: may be unchanged)`;
  }
}

function differenceLine(report: Report, difference: ReproductionDifference): string {
  const parent = (index: number | null): string => (index === null ? 'none' : (report.parents[index]?.label ?? `parent ${index + 1}`));
  switch (difference.kind) {
    case 'verdict-kind':
      return `verdict: ${VERDICT_WORDS[difference.original].title} in the report, ${VERDICT_WORDS[difference.rerun].title} now`;
    case 'verdict-parent':
      return `verdict parent: ${parent(difference.original)} in the report, ${parent(difference.rerun)} now`;
    case 'tensor-missing':
      return difference.missingFrom === 'rerun'
        ? `${difference.name}: in the report, not compared now`
        : `${difference.name}: compared now, not in the report`;
    case 'tensor-kind':
      return `${difference.name}: ${VERDICT_WORDS[difference.original].title} in the report, ${VERDICT_WORDS[difference.rerun].title} now`;
    case 'number': {
      const show = difference.where.includes('weights') ? weightText : sigmaText;
      return `${difference.where}: ${show(difference.original)} in the report, ${show(difference.rerun)} now`;
    }
  }
}

function weightText(value: number | null): string {
  if (value === null) return 'not identifiable';
  // Differences hide in digits the report does not print: show enough of them.
  return Math.abs(value) < 10 ? value.toFixed(6) : formatWeight(value);
}

function sigmaText(value: number | null): string {
  if (value === null) return 'none';
  return `${formatSigma(value)}σ (${value.toPrecision(7)})`;
}

function describeRun(report: Report): string {
  const command = report.reproducibility?.command ?? report.command;
  return `provcheck ${report.tool.version}, ${report.createdAt}: ${shellCommand(command)}`;
}
