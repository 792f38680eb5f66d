import type { ClaimsReport, Report, ReproducibilityRecord, TensorReport } from '../report-schema.js';
import { forensicsMarkdownSection } from './forensics-sections.js';
import { claimsWords } from './claims-words.js';
import {
  decimalsForError,
  formatBytes,
  formatCompact,
  formatCount,
  formatShare,
  formatSigma,
  formatSmall,
  formatWeight,
  formatWithError,
} from './format-numbers.js';
import { layerSummaries, tensorsWorthALook } from './report-aggregates.js';
import { fileIdentity, reproduceCommand, reproducibilityFacts } from './reproducibility-words.js';
import { TENSOR_KINDS, VERDICT_WORDS } from './verdict-sentence.js';

/** As in the text report: enough to see the outliers, few enough for an issue comment. */
const WORST_TENSORS = 10;
/** Files listed per input; a 160-shard model keeps the rest in the JSON report. */
const FILES_PER_INPUT = 12;

const KIND_MARK: Readonly<Record<Report['verdict']['kind'], string>> = {
  identical: '🟥',
  blend: '🟥',
  'modified-blend': '🟧',
  derived: '🟦',
  unrelated: '🟩',
  mixed: '🟧',
  inconclusive: '⬜',
};

/**
 * GitHub-flavoured Markdown for an issue comment or a CI job summary: the verdict and
 * the claims check first (what a reviewer reads in ten seconds), the evidence in tables,
 * the long parts folded in <details>. Well under GitHub's 65,536-character comment limit
 * for any model, since per-tensor rows are capped and layers are one row each.
 */
export function renderMarkdown(report: Report): string {
  const sections = [
    headline(report),
    verdictTable(report),
    weightsSection(report),
    residualSection(report),
    claimsSection(report, report.claims),
    forensicsMarkdownSection(report, escapeText),
    layersSection(report),
    tensorsSection(report),
    notComparedSection(report),
    reproducibilitySection(report.reproducibility),
    howToRead(report),
  ];
  return `${sections.filter((section) => section !== '').join('\n\n')}\n`;
}

function headline(report: Report): string {
  const { verdict } = report;
  const title = VERDICT_WORDS[verdict.kind].title;
  const claims = report.claims?.undisclosedMerge === true ? ' · ⚠️ undisclosed merge' : '';
  return `## ${KIND_MARK[verdict.kind]} provcheck: ${title}${claims}\n\n> ${escapeText(verdict.summary)}`;
}

function verdictTable(report: Report): string {
  const { verdict } = report;
  const elements = TENSOR_KINDS.reduce((sum, kind) => sum + verdict.counts[kind].elements, 0);
  const rows = TENSOR_KINDS.filter((kind) => verdict.counts[kind].tensors > 0)
    .sort((a, b) => verdict.counts[b].elements - verdict.counts[a].elements)
    .map((kind) => [
      VERDICT_WORDS[kind].title,
      formatCount(verdict.counts[kind].tensors),
      elements > 0 ? formatShare(verdict.counts[kind].elements / elements) : '–',
    ]);
  const inputs = [report.suspect, ...report.parents].map((input, index) => {
    const role = index === 0 ? 'suspect' : index - 1 === report.reference ? 'parent, reference' : 'parent';
    return [`**${escapeCell(input.label)}**`, code(input.source), role, `${formatBytes(input.bytes)}, ${formatCount(input.tensors)} tensors`];
  });
  const reason = verdict.reason === null ? '' : `\n\nWhy: ${escapeText(verdict.reason)}`;
  return [
    `**Verdict: ${VERDICT_WORDS[verdict.kind].title}** — ${formatCount(report.tensors.length)} tensors compared, ${formatCompact(elements)} elements.${reason}`,
    table(['kind', 'tensors', 'elements'], ['l', 'r', 'r'], rows),
    table(['input', 'source', 'role', 'size'], ['l', 'l', 'l', 'r'], inputs),
  ].join('\n\n');
}

function weightsSection(report: Report): string {
  const { verdict } = report;
  if (verdict.weights === null) return `### Weights\n\nNot estimated: the verdict is ${VERDICT_WORDS[verdict.kind].title}.`;
  const rows = report.parents.map((parent, index) => {
    const stats = verdict.weightStats[index] ?? null;
    const weight = verdict.weights?.[index];
    const label = `**${escapeCell(parent.label)}**${index === report.reference ? ' (reference)' : ''}`;
    if (stats === null) return [label, weight === undefined ? '–' : formatWeight(weight), '–', '–'];
    return [label, formatWithError(stats.mean, stats.stdErr), stats.median.toFixed(decimalsForError(stats.stdErr)), formatSmall(stats.spread)];
  });
  return [
    '### Weights',
    'Blend fit, element-weighted mean over identifiable tensors ± standard error; weights sum to 1.',
    table(['parent', 'mean ± s.e.', 'median', 'spread'], ['l', 'r', 'r', 'r'], rows),
  ].join('\n\n');
}

function residualSection(report: Report): string {
  const { verdict } = report;
  const rows: string[][] = [];
  if (verdict.noiseRatio !== null) {
    const { median, p90, max } = verdict.noiseRatio;
    rows.push(['blend fit', `${formatSigma(median)}σ`, `${formatSigma(p90)}σ`, `${formatSigma(max)}σ`]);
  }
  verdict.alternatives.forEach((noiseRatio, index) => {
    rows.push([`${escapeCell(report.parents[index]?.label ?? `parent ${index + 1}`)} alone`, `${formatSigma(noiseRatio)}σ`, '', '']);
  });
  if (rows.length === 0) return '';
  const reproduced =
    verdict.reproducedShare === null
      ? ''
      : `\n\nReproduced bit for bit: **${formatShare(verdict.reproducedShare)}** of informative elements.`;
  return [
    '### Residual',
    "In σ of the suspect's own rounding noise, over tensors. About 1σ or below: that hypothesis reproduces the suspect up to rounding.",
    table(['hypothesis', 'median', 'p90', 'max'], ['l', 'r', 'r', 'r'], rows) + reproduced,
  ].join('\n\n');
}

function claimsSection(report: Report, claims: ClaimsReport | undefined): string {
  if (claims === undefined) return '';
  const words = claimsWords(report, claims);
  const mark = claims.status === 'consistent' ? '✅' : claims.status === 'inconsistent' ? '⚠️' : 'ℹ️';
  const files = claims.declared.files.length > 0 ? ` (from ${claims.declared.files.map(code).join(', ')})` : '';
  return [
    '### Claims',
    `${mark} **${escapeText(capitalise(words.status))}.** ${escapeText(words.conclusion)}`,
    [`- **Declared**${files}: ${escapeText(words.declared)}`, `- **Measured**: ${escapeText(words.measured)}`].join('\n'),
    words.findings.map((finding) => `- ${escapeText(finding)}`).join('\n'),
  ]
    .filter((part) => part !== '')
    .join('\n\n');
}

function layersSection(report: Report): string {
  const layers = layerSummaries(report);
  if (layers.length === 0) return '';
  const labels = report.parents.map((parent) => parent.label).join('/');
  const rows = layers.map((summary) => [
    String(summary.layer),
    formatCount(summary.tensors),
    summary.kinds.map((entry) => `${VERDICT_WORDS[entry.kind].title} ${entry.tensors}`).join(', '),
    summary.weights.every((weight) => weight === null)
      ? 'not identifiable'
      : summary.weights.map((weight) => (weight === null ? '–' : formatWeight(weight))).join('/'),
    `${formatSigma(summary.medianNoiseRatio)}σ`,
    `${formatSigma(summary.maxNoiseRatio)}σ`,
  ]);
  return details(
    `By layer (${formatCount(layers.length)} layers)`,
    table(['layer', 'tensors', 'kinds', `weights ${labels}`, 'median', 'max'], ['r', 'r', 'l', 'l', 'r', 'r'], rows),
  );
}

function tensorsSection(report: Report): string {
  const shown = tensorsWorthALook(report, WORST_TENSORS);
  if (shown.length === 0) return '';
  const anyDiffers = shown.some((entry) => entry.differs);
  const title = anyDiffers ? 'Tensors that disagree with the verdict most' : 'Highest residuals';
  const rows = shown.map(({ tensor }) => [
    code(tensor.name),
    tensorKind(report, tensor),
    tensor.weights.every((weight) => weight === null)
      ? 'not identifiable'
      : tensor.weights.map((weight) => (weight === null ? '–' : formatWeight(weight))).join('/'),
    `${formatSigma(tensor.noiseRatio)}σ`,
    tensor.reproducedShare === null ? '–' : formatShare(tensor.reproducedShare),
  ]);
  const labels = report.parents.map((parent) => parent.label).join('/');
  return details(
    `${title} (${shown.length} of ${formatCount(report.tensors.length)})`,
    table(['tensor', 'kind', `weights ${labels}`, 'σ', 'reproduced'], ['l', 'l', 'l', 'r', 'r'], rows),
  );
}

function notComparedSection(report: Report): string {
  const lines: string[] = [];
  if (report.unmatched.suspectOnly.length > 0) lines.push(`- only in the suspect: ${formatCount(report.unmatched.suspectOnly.length)} tensors`);
  for (const { parent, names } of report.unmatched.parentOnly) {
    if (names.length > 0) lines.push(`- only in ${escapeText(report.parents[parent]?.label ?? `parent ${parent + 1}`)}: ${formatCount(names.length)} tensors`);
  }
  if (report.mismatched.length > 0) lines.push(`- not comparable (shape or dtype): ${formatCount(report.mismatched.length)} tensors`);
  if (report.filtered > 0) lines.push(`- left out by --include/--exclude: ${formatCount(report.filtered)} tensors`);
  return lines.length === 0 ? '' : ['### Not compared', lines.join('\n')].join('\n\n');
}

function reproducibilitySection(record: ReproducibilityRecord | undefined): string {
  if (record === undefined) return '';
  const facts = table(
    ['', ''],
    ['l', 'l'],
    reproducibilityFacts(record).map(([label, value]) => [label, label === 'command' || label === 'working directory' ? code(value) : escapeCell(value)]),
  );
  const files: string[][] = [];
  for (const input of record.inputs) {
    const revision = input.revision === null ? '' : ` @ ${input.revision.slice(0, 12)}`;
    for (const file of input.files.slice(0, FILES_PER_INPUT)) {
      files.push([escapeCell(input.label), code(`${input.source}${revision}`), code(file.path), formatBytes(file.bytes), escapeCell(fileIdentity(file))]);
    }
    const more = input.files.length - FILES_PER_INPUT;
    if (more > 0) files.push([escapeCell(input.label), code(input.source), `and ${formatCount(more)} more (JSON report)`, '', '']);
  }
  return details(
    'Reproducibility',
    [
      `Re-run and compare: \`${reproduceCommand()}\` (with this report saved as JSON).`,
      facts,
      table(['input', 'source', 'file', 'size', 'identity'], ['l', 'l', 'l', 'r', 'l'], files),
    ].join('\n\n'),
  );
}

function howToRead(report: Report): string {
  return details(
    'How to read this',
    [
      "σ is one standard deviation of the rounding noise that storing a value in the suspect's dtype adds. " +
        'A blend fit at about 1σ or below reproduces the suspect up to rounding (a merge done in bf16 arithmetic ' +
        'leaves a little more); any training leaves far more. "alone" rows test suspect = that parent, with nothing fitted.',
      `provcheck ${escapeText(report.tool.version)}, report schema ${report.schemaVersion}, ${report.createdAt}.`,
    ].join('\n\n'),
  );
}

function tensorKind(report: Report, tensor: TensorReport): string {
  const title = VERDICT_WORDS[tensor.kind].title;
  if (tensor.parent !== null) return `${title} ${escapeCell(report.parents[tensor.parent]?.label ?? '?')}`;
  return tensor.reason === null ? title : `${title}: ${escapeCell(tensor.reason)}`;
}

function table(headers: readonly string[], align: readonly ('l' | 'r')[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rule = `|${align.map((side) => (side === 'r' ? '---:' : ':---')).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function details(summary: string, body: string): string {
  // GitHub renders Markdown inside <details> only with a blank line after <summary>.
  return `<details>\n<summary>${escapeHtml(summary)}</summary>\n\n${body}\n\n</details>`;
}

/** Inline code that survives backticks and pipes in tensor names or paths. */
function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const padded = text.startsWith('`') || text.endsWith('`') ? ` ${text} ` : text;
  return `${fence}${padded.replace(/\|/g, '\\|')}${fence}`;
}

function escapeCell(text: string): string {
  return escapeText(text).replace(/\|/g, '\\|');
}

/** Text from reports (paths, names, sentences) must not turn into Markdown or HTML. */
function escapeText(text: string): string {
  return text.replace(/[\\`*_[\]<>]/g, (character) => `\\${character}`).replace(/\r?\n/g, ' ');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
