import {
  COMPONENTS,
  type Component,
  type Identifiability,
  type Report,
  type TensorReport,
  type Thresholds,
  type VerdictKind,
  type WeightMethod,
} from '../report-schema.js';
import {
  formatBytes,
  formatCompact,
  decimalsForError,
  formatCount,
  formatShare,
  formatSmall,
  formatSigma,
  formatWeight,
  formatWithError,
} from './format-numbers.js';
import { tensorsByLayer } from './report-aggregates.js';
import { MAX_LINE_WIDTH, renderTable, truncateMiddle, wrap } from './text-layout.js';
import { claimsTextSection, reproducibilityTextSection } from './text-record-sections.js';
import { forensicsTextSection } from './text-forensics-section.js';
import { readingTextSection } from './text-reading-section.js';
import type { TextStyle } from './text-style.js';
import { TENSOR_KINDS, VERDICT_WORDS } from './verdict-sentence.js';

export interface TextRenderOptions {
  readonly style: TextStyle;
}

/** How many tensors the "fit the verdict worst" list shows. */
const WORST_TENSORS = 10;
/** How many names a "not compared" line spells out before saying "and N more". */
const NAMES_PER_LINE = 3;

const METHOD_WORDS: Readonly<Record<WeightMethod, string>> = {
  'exact-hit-profile': 'exact-hit profile',
  'informative-least-squares': 'least squares on informative elements',
  'least-squares': 'least squares on all elements (biased when parents differ by few ulps)',
};

const UNIDENTIFIABLE_WORDS: Readonly<Record<NonNullable<Identifiability['reason']> | 'unknown', string>> = {
  'parents-identical': 'the parents are bit-identical',
  'parents-collinear': 'the parents are collinear',
  unknown: 'the weights are not identifiable',
};

const KIND_COLOR: Readonly<Record<VerdictKind, keyof TextStyle>> = {
  identical: 'red',
  blend: 'red',
  'modified-blend': 'yellow',
  derived: 'cyan',
  unrelated: 'green',
  mixed: 'yellow',
  inconclusive: 'dim',
};

const THRESHOLD_FLAGS: Readonly<Record<keyof Thresholds, string>> = {
  blendMaxNoise: 'blend-max-noise',
  minWeight: 'min-weight',
  modifiedMinWeight: 'modified-min-weight',
  unrelatedResidual: 'unrelated-residual',
  informativeUlps: 'informative-ulps',
  agreement: 'agreement',
};

/** The report for a person at a terminal: the sentence first, then the evidence behind it. */
export function renderText(report: Report, options: TextRenderOptions): string {
  const { style } = options;
  const sections: string[][] = [
    wrap(report.verdict.summary, MAX_LINE_WIDTH).map((line) => style.bold(line)),
    verdictSection(report, style),
    inputsSection(report, style),
    weightsSection(report, style),
    residualSection(report, style),
    claimsTextSection(report, style),
    forensicsTextSection(report, style),
    componentSection(report, style),
    layerSection(report, style),
    worstTensorsSection(report, style),
    readingTextSection(report, style),
    notComparedSection(report, style),
    reproducibilityTextSection(report, style),
    footerSection(report, style),
  ];
  return `${sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join('\n'))
    .join('\n\n')}\n`;
}

function verdictSection(report: Report, style: TextStyle): string[] {
  const { verdict } = report;
  const title = VERDICT_WORDS[verdict.kind].title;
  const parent = verdict.parent === null ? '' : ` (${labelOf(report, verdict.parent)})`;
  const lines = [`${style.bold('Verdict')}  ${style[KIND_COLOR[verdict.kind]](title + parent)}`];
  const elements = totalElements(report);
  const kinds = TENSOR_KINDS.filter((kind) => verdict.counts[kind].tensors > 0)
    .sort((a, b) => verdict.counts[b].elements - verdict.counts[a].elements)
    .map((kind) => {
      const counts = verdict.counts[kind];
      const share = elements > 0 ? ` (${formatShare(counts.elements / elements)} of elements)` : '';
      return `${VERDICT_WORDS[kind].title} ${formatCount(counts.tensors)}${share}`;
    });
  const compared = `${formatCount(report.tensors.length)} tensors compared, ${formatCompact(elements)} elements`;
  lines.push(...wrap(kinds.length > 0 ? `${compared}: ${kinds.join(', ')}` : compared, MAX_LINE_WIDTH, '  '));
  if (verdict.reason !== null) lines.push(...wrap(`why: ${verdict.reason}`, MAX_LINE_WIDTH, '  '));
  const sampling = report.sampling;
  if (sampling) {
    const settled = `${formatCount(sampling.tensorsSettled)} of ${formatCount(sampling.tensorsSettled + sampling.tensorsUnsettled)} tensor verdicts settled`;
    const read = `read ${formatBytes(sampling.bytesRead)} of ${formatBytes(sampling.bytesTotal)} (${formatShare(sampling.fractionRead)})`;
    const text = `sampled (--seed ${sampling.seed}): ${read}; ${formatShare(sampling.confidence)} block-bootstrap intervals; ${settled}`;
    lines.push(...wrap(text, MAX_LINE_WIDTH, '  '));
  }
  return lines;
}

function inputsSection(report: Report, style: TextStyle): string[] {
  const describe = (input: Report['suspect'], note: string): string[] => [
    input.label,
    truncateMiddle(input.source, 40),
    `${input.layout}, ${formatCount(input.files.length)} ${input.files.length === 1 ? 'file' : 'files'}, ` +
      `${formatBytes(input.bytes)}, ${formatCount(input.tensors)} tensors${note}`,
  ];
  const rows = [
    describe(report.suspect, ''),
    ...report.parents.map((parent, index) => describe(parent, index === report.reference ? ', reference' : '')),
  ];
  return [
    style.bold('Inputs'),
    ...renderTable(
      [
        { header: 'label', align: 'left' },
        { header: 'source', align: 'left', shrink: 2 },
        { header: 'layout', align: 'left' },
      ],
      rows,
      { styleHeader: style.dim },
    ),
  ];
}

function weightsSection(report: Report, style: TextStyle): string[] {
  const { verdict } = report;
  const heading = `${style.bold('Weights')}  ${style.dim('blend fit, mean over identifiable tensors ± standard error')}`;
  if (verdict.weights === null) {
    return [heading, `  not estimated: the verdict is ${VERDICT_WORDS[verdict.kind].title}`];
  }
  const rows = report.parents.map((parent, index) => {
    const stats = verdict.weightStats[index] ?? null;
    const weight = verdict.weights?.[index];
    const reference = index === report.reference ? 'reference' : '';
    if (stats === null) {
      return [parent.label, reference, weight === undefined ? '–' : formatWeight(weight), '–', '–'];
    }
    return [
      parent.label,
      reference,
      formatWithError(stats.mean, stats.stdErr),
      stats.median.toFixed(decimalsForError(stats.stdErr)),
      formatSmall(stats.spread),
    ];
  });
  const lines = [
    heading,
    ...renderTable(
      [
        { header: 'parent', align: 'left' },
        { header: '', align: 'left' },
        { header: 'mean ± s.e.', align: 'right' },
        { header: 'median', align: 'right' },
        { header: 'spread', align: 'right' },
      ],
      rows,
      { styleHeader: style.dim },
    ),
  ];
  const identifiable = report.tensors.filter((tensor) => tensor.identifiability.identifiable);
  const methods = countBy(identifiable, (tensor) => tensor.weightMethod);
  if (methods.length > 0) {
    const used = methods.map(([method, count]) => `${METHOD_WORDS[method]} (${tensorCount(count)})`);
    lines.push(...wrap(`method: ${used.join(', ')}`, MAX_LINE_WIDTH, '  '));
  }
  const shown = tableParents(report);
  if (shown.length < report.parents.length) {
    const labels = shown.map((index) => labelOf(report, index)).join(', ');
    const note = `tables below show the weights of ${labels} only: the others are below ${report.options.thresholds.minWeight}`;
    lines.push(...wrap(note, MAX_LINE_WIDTH, '  '));
  }
  const unidentifiable = countBy(
    report.tensors.filter((tensor) => !tensor.identifiability.identifiable),
    (tensor) => tensor.identifiability.reason,
  );
  if (unidentifiable.length > 0) {
    const why = unidentifiable.map(([reason, count]) => `${tensorCount(count)} where ${UNIDENTIFIABLE_WORDS[reason ?? 'unknown']}`);
    lines.push(...wrap(`left out of the weights: ${why.join(', ')}`, MAX_LINE_WIDTH, '  '));
  }
  return lines;
}

function residualSection(report: Report, style: TextStyle): string[] {
  const { verdict } = report;
  const rows: string[][] = [];
  if (verdict.noiseRatio !== null) {
    const { median, p90, max } = verdict.noiseRatio;
    rows.push(['blend fit', formatSigma(median), formatSigma(p90), formatSigma(max)]);
  }
  verdict.alternatives.forEach((noiseRatio, index) => {
    rows.push([`${labelOf(report, index)} alone`, formatSigma(noiseRatio), '', '']);
  });
  if (rows.length === 0) return [];
  const lines = [
    `${style.bold('Residual')}  ${style.dim("in σ of the suspect's rounding noise, over tensors")}`,
    ...renderTable(
      [
        { header: 'hypothesis', align: 'left' },
        { header: 'median', align: 'right' },
        { header: 'p90', align: 'right' },
        { header: 'max', align: 'right' },
      ],
      rows,
      { styleHeader: style.dim },
    ),
  ];
  if (verdict.reproducedShare !== null) {
    lines.push(`  reproduced bit for bit: ${formatShare(verdict.reproducedShare)} of informative elements`);
  }
  return lines;
}

function componentSection(report: Report, style: TextStyle): string[] {
  const rows: string[][] = [];
  for (const component of COMPONENTS) {
    const tensors = report.tensors.filter((tensor) => tensor.component === component);
    if (tensors.length === 0) continue;
    rows.push([component satisfies Component, ...groupCells(report, tensors).slice(0, 5)]);
  }
  if (rows.length === 0) return [];
  return [
    style.bold('By component'),
    ...renderTable(
      [
        { header: 'component', align: 'left' },
        { header: 'tensors', align: 'right' },
        { header: 'elements', align: 'right' },
        { header: 'kinds', align: 'left', shrink: 2 },
        { header: `weights ${weightsHeader(report)}`, align: 'left' },
        { header: 'median σ', align: 'right' },
      ],
      rows,
      { styleHeader: style.dim },
    ),
  ];
}

/**
 * One row per run of consecutive layers that read the same (kinds and median weights),
 * so a uniform 80-layer blend is one line and a per-layer recipe shows its profile.
 */
function layerSection(report: Report, style: TextStyle): string[] {
  const byLayer = tensorsByLayer(report);
  if (byLayer.size === 0) return [];
  const runs: { first: number; last: number; tensors: TensorReport[]; key: string }[] = [];
  for (const [layer, tensors] of byLayer) {
    const [, , kinds, weights] = groupCells(report, tensors);
    const key = `${kinds}|${weights}`;
    const previous = runs.at(-1);
    if (previous !== undefined && previous.key === key && previous.last === layer - 1) {
      previous.last = layer;
      previous.tensors.push(...tensors);
    } else {
      runs.push({ first: layer, last: layer, tensors: [...tensors], key });
    }
  }
  const rows = runs.map((run) => {
    const [tensors, , kinds, weights, median] = groupCells(report, run.tensors);
    const max = Math.max(...run.tensors.map((tensor) => tensor.noiseRatio));
    const layersCell = run.first === run.last ? `${run.first}` : `${run.first}–${run.last}`;
    return [layersCell, tensors ?? '', kinds ?? '', weights ?? '', median ?? '', formatSigma(max)];
  });
  return [
    style.bold('By layer'),
    ...renderTable(
      [
        { header: 'layers', align: 'left' },
        { header: 'tensors', align: 'right' },
        { header: 'kinds', align: 'left', shrink: 2 },
        { header: `weights ${weightsHeader(report)}`, align: 'left' },
        { header: 'median σ', align: 'right' },
        { header: 'max σ', align: 'right' },
      ],
      rows,
      { styleHeader: style.dim },
    ),
  ];
}

function worstTensorsSection(report: Report, style: TextStyle): string[] {
  if (report.tensors.length === 0) return [];
  const differs = (tensor: TensorReport): boolean => disagreesWithVerdict(report, tensor);
  const ranked = [...report.tensors].sort(
    (a, b) => Number(differs(b)) - Number(differs(a)) || compareDescending(a.noiseRatio, b.noiseRatio),
  );
  const shown = ranked.slice(0, WORST_TENSORS);
  const anyDiffers = shown.some(differs);
  const title = anyDiffers ? 'Tensors that disagree with the verdict most' : 'Highest residuals';
  const note = anyDiffers ? 'differing kind first, then highest residual' : 'every tensor agrees with the verdict';
  const rows = shown.map((tensor) => [
    tensor.name,
    tensorKindLabel(report, tensor),
    weightsCell(report, tensor.weights),
    formatSigma(tensor.noiseRatio),
    tensor.reproducedShare === null ? '–' : formatShare(tensor.reproducedShare),
  ]);
  return [
    `${style.bold(title)}  ${style.dim(`${note}; ${shown.length} of ${formatCount(report.tensors.length)}`)}`,
    ...renderTable(
      [
        { header: 'tensor', align: 'left', shrink: 2 },
        { header: 'kind', align: 'left' },
        { header: `weights ${weightsHeader(report)}`, align: 'left' },
        { header: 'σ', align: 'right' },
        { header: 'reproduced', align: 'right' },
      ],
      rows,
      { styleHeader: style.dim },
    ),
  ];
}

function notComparedSection(report: Report, style: TextStyle): string[] {
  const lines: string[] = [];
  const named = (what: string, names: readonly string[]): void => {
    if (names.length === 0) return;
    const shown = names.slice(0, NAMES_PER_LINE).join(', ');
    const more = names.length > NAMES_PER_LINE ? `, and ${formatCount(names.length - NAMES_PER_LINE)} more` : '';
    lines.push(...wrap(`${what}: ${formatCount(names.length)} (${shown}${more})`, MAX_LINE_WIDTH, '  '));
  };
  named(`only in ${report.suspect.label}`, report.unmatched.suspectOnly);
  for (const { parent, names } of report.unmatched.parentOnly) named(`only in ${labelOf(report, parent)}`, names);
  const shapes = report.mismatched.filter((entry) => entry.reason === 'shape');
  const dtypes = report.mismatched.filter((entry) => entry.reason === 'unsupported-dtype');
  named('different shapes', shapes.map((entry) => `${entry.name}: ${entry.detail}`));
  named('unsupported dtypes', dtypes.map((entry) => `${entry.name}: ${entry.detail}`));
  if (report.filtered > 0) lines.push(`  left out by --include/--exclude: ${formatCount(report.filtered)}`);
  if (lines.length === 0) return [];
  return [style.bold('Not compared'), ...lines];
}

function footerSection(report: Report, style: TextStyle): string[] {
  const thresholds = (Object.keys(THRESHOLD_FLAGS) as (keyof Thresholds)[])
    .map((key) => `${THRESHOLD_FLAGS[key]} ${report.options.thresholds[key]}`)
    .join(', ');
  const text =
    "σ is one standard deviation of the rounding noise that storing a value in the suspect's dtype " +
    'adds. A blend fit at about 1σ or below reproduces the suspect up to rounding (a merge done in ' +
    'bf16 arithmetic leaves a little more); any training leaves far more. "alone" rows test ' +
    'suspect = that parent, with nothing fitted. Weights are per parent and sum to 1.';
  return [
    style.bold('How to read this'),
    ...wrap(text, MAX_LINE_WIDTH, '  ').map((line) => style.dim(line)),
    ...wrap(`thresholds: ${thresholds}`, MAX_LINE_WIDTH, '  ').map((line) => style.dim(line)),
    style.dim(`  provcheck ${report.tool.version}, report schema ${report.schemaVersion}, ${report.createdAt}`),
  ];
}

/** [tensors, elements, kinds, median weights, median σ] for a group of tensors. */
function groupCells(report: Report, tensors: readonly TensorReport[]): string[] {
  const kinds = countBy(tensors, (tensor) => tensorKindLabel(report, tensor));
  const kindsCell =
    kinds.length === 1 ? (kinds[0]?.[0] ?? '') : kinds.map(([label, count]) => `${label} ${count}`).join(', ');
  const medians = report.parents.map((_, index) => {
    const values: number[] = [];
    for (const tensor of tensors) {
      const weight = tensor.weights[index];
      if (weight !== null && weight !== undefined) values.push(weight);
    }
    return values.length === 0 ? null : median(values);
  });
  return [
    formatCount(tensors.length),
    formatCompact(tensors.reduce((sum, tensor) => sum + tensor.elements, 0)),
    kindsCell,
    weightsCell(report, medians),
    formatSigma(median(tensors.map((tensor) => tensor.noiseRatio))),
  ];
}

function tensorKindLabel(report: Report, tensor: TensorReport): string {
  const title = VERDICT_WORDS[tensor.kind].title;
  if (tensor.parent !== null) return `${title} ${labelOf(report, tensor.parent)}`;
  return tensor.reason === null ? title : `${title}: ${tensor.reason}`;
}

function disagreesWithVerdict(report: Report, tensor: TensorReport): boolean {
  const { verdict } = report;
  if (verdict.kind === 'mixed' || verdict.kind === 'inconclusive') return false;
  if (tensor.kind !== verdict.kind) return true;
  return verdict.parent !== null && tensor.parent !== null && tensor.parent !== verdict.parent;
}

/** Up to this many parents, tables show every parent's weight. */
const ALL_PARENTS_UP_TO = 3;

/**
 * The parents whose weights the tables show: all of a few, else those mixed in (weight
 * at least minWeight in the model verdict, or in the median tensor when the verdict has
 * no weights), so eight candidate parents do not push tensor names off the screen.
 */
function tableParents(report: Report): number[] {
  const all = report.parents.map((_, index) => index);
  if (report.parents.length <= ALL_PARENTS_UP_TO) return all;
  const { minWeight } = report.options.thresholds;
  const modelWeights = report.verdict.weights;
  const mixedIn = all.filter((index) => {
    if (modelWeights !== null) return Math.abs(modelWeights[index] ?? 0) >= minWeight;
    const values = report.tensors.map((tensor) => Math.abs(tensor.weights[index] ?? 0));
    return median(values) >= minWeight;
  });
  return mixedIn.length > 0 ? mixedIn : all;
}

function weightsHeader(report: Report): string {
  return tableParents(report)
    .map((index) => labelOf(report, index))
    .join('/');
}

function weightsCell(report: Report, weights: readonly (number | null)[]): string {
  if (weights.every((weight) => weight === null)) return 'not identifiable';
  return tableParents(report)
    .map((index) => weights[index] ?? null)
    .map((weight) => (weight === null ? '–' : formatWeight(weight)))
    .join('/');
}

function tensorCount(count: number): string {
  return `${formatCount(count)} ${count === 1 ? 'tensor' : 'tensors'}`;
}

function labelOf(report: Report, index: number): string {
  return report.parents[index]?.label ?? `parent ${index + 1}`;
}

function totalElements(report: Report): number {
  let elements = 0;
  for (const kind of TENSOR_KINDS) elements += report.verdict.counts[kind].elements;
  return elements;
}

/** Entries by descending count, ties in first-seen order (so output is stable). */
function countBy<T, K>(items: readonly T[], key: (item: T) => K): [K, number][] {
  const counts = new Map<K, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Larger first; NaN (no residual defined) last, so it never hides a real outlier. */
function compareDescending(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return b - a;
}
