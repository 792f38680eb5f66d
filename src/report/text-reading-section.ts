import type { Report, TensorKind, TensorReport } from '../report-schema.js';
import { formatCount, formatSigma } from './format-numbers.js';
import { MAX_LINE_WIDTH, wrap } from './text-layout.js';
import type { TextStyle } from './text-style.js';

/** Expert slices named in full, at most. */
const SLICES_SHOWN = 5;

function inputName(report: Report, input: number): string {
  return input < 0 ? report.suspect.label : (report.parents[input]?.label ?? `parent ${input + 1}`);
}

/** The kind of more than half of a sliced tensor's elements, by its slices; without one, the tensor's own kind. */
function usualKind(tensor: TensorReport): TensorKind {
  const elements = new Map<TensorKind, number>();
  let total = 0;
  for (const s of tensor.slices!) {
    elements.set(s.kind, (elements.get(s.kind) ?? 0) + s.elements);
    total += s.elements;
  }
  for (const [kind, count] of elements) if (2 * count > total) return kind;
  return tensor.kind;
}

/** Compares two residuals for a sort, NaN (nothing to fit) below every number. */
function residualOrder(x: number, y: number): number {
  const a = Number.isNaN(x) ? -Infinity : x;
  const b = Number.isNaN(y) ? -Infinity : y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * How the inputs were read and matched, when it was more than same-name plain tensors:
 * quantization schemes, renames, resized vocabularies, a suspect on a grid coarser than
 * its storage, and expert slices that disagree with their tensor ("expert 17 of layer
 * 40 differs"). Empty for tidy checkpoints.
 */
export function readingTextSection(report: Report, style: TextStyle): string[] {
  const lines: string[] = [];
  const add = (text: string, indent = '  '): void => {
    lines.push(...wrap(text, MAX_LINE_WIDTH, indent));
  };
  const alignment = report.alignment;
  if (alignment) {
    for (const input of alignment.inputs) {
      for (const scheme of input.schemes) {
        add(`${inputName(report, input.input)}: ${scheme.title}, ${scheme.detail}: ${formatCount(scheme.tensors)} weights, their ${formatCount(input.consumed)} scale tensors read with them`);
      }
    }
    for (const rename of alignment.renames) add(`${inputName(report, rename.input)} names: ${rename.rule} (${formatCount(rename.tensors)} tensors)`);
    if (alignment.mapRules.length > 0) add(`--map: ${alignment.mapRules.join('; ')}`);
    for (const resized of alignment.resized) {
      const rows = [`${report.suspect.label} ${formatCount(resized.rows.suspect)}`, ...resized.rows.parents.map((r, j) => `${inputName(report, j)} ${formatCount(r)}`)];
      add(`vocabulary resized: ${resized.name}: the first ${formatCount(resized.commonRows)} rows compared (rows: ${rows.join(', ')})`);
    }
    if (alignment.tied.length > 0) add(`lm_head tied to the embedding in: ${alignment.tied.map((i) => inputName(report, i)).join(', ')}`);
  }
  const onGrid = new Map<string, number>();
  for (const tensor of report.tensors) if (tensor.grid !== undefined) onGrid.set(`${tensor.dtype} on the ${tensor.grid} grid`, (onGrid.get(`${tensor.dtype} on the ${tensor.grid} grid`) ?? 0) + 1);
  for (const [what, count] of onGrid) add(`${report.suspect.label} stored ${what}: ${formatCount(count)} tensors judged on that grid's rounding`);

  const sliced = report.tensors.filter((t) => t.slices !== undefined);
  if (sliced.length > 0) {
    const parts = sliced.reduce((n, t) => n + t.slices!.length, 0);
    // The odd ones out: parts of another kind than most of their tensor's elements (the
    // tensor's own kind can be the odd one's: one expert copied over another can make a
    // small layer's tensor unrelated), farthest from a blend first.
    const differing = sliced
      .flatMap((t) => {
        const usual = usualKind(t);
        return t.slices!.filter((s) => s.kind !== usual).map((s) => ({ tensor: t, slice: s, usual }));
      })
      .sort((a, b) => residualOrder(b.slice.noiseRatio, a.slice.noiseRatio));
    add(
      `experts compared one by one: ${formatCount(sliced.length)} tensors, ${formatCount(parts)} parts; ` +
        (differing.length === 0 ? 'every part agrees with the rest of its tensor' : `${formatCount(differing.length)} differ from the rest of their tensor:`),
    );
    for (const { tensor, slice, usual } of differing.slice(0, SLICES_SHOWN)) {
      const where = slice.expert === null ? slice.name : `expert ${slice.expert}${tensor.layer === null ? '' : ` of layer ${tensor.layer}`} (${slice.name})`;
      add(`${where}: ${slice.kind}, ${formatSigma(slice.noiseRatio)}σ (the rest: ${usual}; tensor: ${tensor.kind})`, '    ');
    }
    if (differing.length > SLICES_SHOWN) add(`… ${formatCount(differing.length - SLICES_SHOWN)} more`, '    ');
  }
  return lines.length === 0 ? [] : [style.bold('How the inputs were read'), ...lines];
}
