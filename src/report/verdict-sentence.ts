import { VERDICT_KINDS, type ElementwiseVerdict, type ModelVerdict, type Report, type TensorKind, type VerdictKind } from '../report-schema.js';
import { formatCount, formatShare, formatSigma, formatWeight } from './format-numbers.js';
import { elementwiseEvidence, elementwiseHeadline, stackingHeadline } from './forensics-words.js';

/** A report before its one-line summary exists: what the sentence is made from. */
export type ReportWithoutSummary = Omit<Report, 'verdict'> & { verdict: Omit<ModelVerdict, 'summary'> };

/** Per-tensor kinds in schema order: iterate this, not Object.keys, for stable output. */
export const TENSOR_KINDS: readonly TensorKind[] = VERDICT_KINDS.filter(
  (kind): kind is TensorKind => kind !== 'mixed',
);

/** The facts every sentence draws on, computed once. */
interface SentenceFacts {
  readonly suspect: string;
  readonly parents: readonly string[];
  readonly verdict: Omit<ModelVerdict, 'summary'>;
  /** Tensors compared (the denominator of every "in N of M tensors"). */
  readonly tensors: number;
  readonly elements: number;
  /** "bf16 rounding noise": named after the grid most of the suspect's elements were judged on (dominantDtype). */
  readonly noise: string;
  readonly agreement: number;
  readonly minWeight: number;
  /** The one parent all tensors of a kind point to (identical/derived), else null. */
  readonly parentOfKind: Readonly<Record<TensorKind, number | null>>;
}

/** A residual this many σ is no longer within reach of any blend arithmetic (statistics.md). */
const FAR_ABOVE_BLEND = 3;

interface KindWords {
  /** The kind as a reader says it, for tables and headings. */
  readonly title: string;
  /** One sentence, without the final period. */
  readonly sentence: (facts: SentenceFacts) => string;
}

/**
 * The words for every verdict kind. Typed as a Record so that a new kind cannot ship
 * without its title and sentence (the compiler refuses a missing key).
 */
export const VERDICT_WORDS: Readonly<Record<VerdictKind, KindWords>> = {
  identical: {
    title: 'identical',
    sentence: (facts) => {
      const parent = parentLabel(facts, facts.verdict.parent);
      return `${facts.suspect} is bit-identical to ${parent} ${coverage(facts, 'identical', 'all')}${rest(facts, 'identical')}`;
    },
  },
  blend: {
    title: 'blend',
    sentence: (facts) =>
      [
        `${facts.suspect} = ${blendFormula(facts)} ${coverage(facts, 'blend', 'every one of')}`,
        medianResidual(facts),
        reproduced(facts),
        bestAlternative(facts, 'would leave'),
      ]
        .filter((part) => part !== null)
        .join('; ') + rest(facts, 'blend'),
  },
  'modified-blend': {
    title: 'modified blend',
    sentence: (facts) =>
      facts.verdict.elementwise
        ? elementwiseSentence(facts, facts.verdict.elementwise)
        : [
            `${facts.suspect} is mostly ${blendFormula(facts)} with real change on top ` +
              coverage(facts, 'modified-blend', 'all'),
            `${medianResidual(facts) ?? 'residual unknown'}, where an untouched blend leaves ~1σ`,
            reproduced(facts),
            bestAlternative(facts, 'would leave'),
          ]
            .filter((part) => part !== null)
            .join('; ') + rest(facts, 'modified-blend'),
  },
  derived: {
    title: 'derived',
    sentence: (facts) => {
      const parent = facts.verdict.parent;
      const label = parentLabel(facts, parent);
      const alone = parent === null ? undefined : facts.verdict.alternatives[parent];
      const parts = [`${facts.suspect} is a modification of ${label} ${coverage(facts, 'derived', 'all')}`];
      if (alone !== undefined) {
        const relation = alone >= FAR_ABOVE_BLEND ? 'far above' : 'above';
        parts.push(`${label} alone leaves ${formatSigma(alone)}σ of ${facts.noise}, ${relation} a blend's ~1σ`);
      }
      const residual = facts.verdict.noiseRatio;
      const weights = facts.verdict.weights;
      if (weights !== null && residual !== null) {
        // A "blend" of one parent is that parent: naming it again would read as a blend.
        const mixedIn = weights.filter((weight) => Math.abs(weight) >= facts.minWeight).length;
        const blend = mixedIn > 1 ? `the best blend, ${blendFormula(facts)},` : 'the best blend of the parents';
        parts.push(`${blend} still leaves ${formatSigma(residual.median)}σ`);
      }
      return parts.join('; ') + rest(facts, 'derived');
    },
  },
  unrelated: {
    title: 'unrelated',
    sentence: (facts) => {
      const parts = [`the parents do not explain ${facts.suspect} ${coverage(facts, 'unrelated', 'all')}`];
      const closest = closestParent(facts);
      const residual = facts.verdict.noiseRatio;
      const evidence: string[] = [];
      if (residual !== null) {
        evidence.push(`the best blend leaves a median ${formatSigma(residual.median)}σ of ${facts.noise}`);
      }
      if (closest !== null) {
        evidence.push(`the closest parent, ${closest.label}, alone ${formatSigma(closest.noiseRatio)}σ`);
      }
      if (evidence.length > 0) parts.push(evidence.join(' and '));
      return parts.join(': ') + rest(facts, 'unrelated');
    },
  },
  mixed: {
    title: 'mixed',
    sentence: (facts) => {
      if (facts.verdict.stacking) return `${facts.suspect} is ${stackingHeadline(facts.verdict.stacking, facts.parents)}`;
      const kinds = kindsByElements(facts).map(
        ({ kind, tensors, elements }, index) =>
          `${kindPhrase(facts, kind)} in ${formatCount(tensors)}${index === 0 ? ' tensors' : ''} ` +
          `(${formatShare(elements / facts.elements)}${index === 0 ? ' of elements' : ''})`,
      );
      const parts = [
        `${facts.suspect}'s tensors disagree: ${kinds.join(', ')}`,
        `no kind reaches the ${formatShare(facts.agreement)} agreement threshold`,
      ];
      if (facts.verdict.reason !== null) parts.push(withoutPeriod(facts.verdict.reason));
      return parts.join('; ');
    },
  },
  inconclusive: {
    title: 'inconclusive',
    sentence: (facts) => {
      const reason = facts.verdict.reason === null ? 'no tensor gave enough evidence' : withoutPeriod(facts.verdict.reason);
      return `inconclusive for ${facts.suspect}: ${reason} (${formatCount(facts.tensors)} tensors compared)`;
    },
  },
};

/**
 * The one plain sentence that opens every rendering and fills `verdict.summary`, e.g.
 * "suspect = 0.600·B + 0.400·A in every one of 291 tensors; median residual 1.00σ of
 * bf16 rounding noise; B alone would leave 3,810σ."
 */
export function verdictSentence(report: ReportWithoutSummary): string {
  const facts = sentenceFacts(report);
  return `${VERDICT_WORDS[report.verdict.kind].sentence(facts)}.`;
}

function sentenceFacts(report: ReportWithoutSummary): SentenceFacts {
  let elements = 0;
  for (const kind of TENSOR_KINDS) elements += report.verdict.counts[kind].elements;
  return {
    suspect: report.suspect.label,
    parents: report.parents.map((parent) => parent.label),
    verdict: report.verdict,
    tensors: report.tensors.length,
    elements,
    noise: `${dominantDtype(report)} rounding noise`.trimStart(),
    agreement: report.options.thresholds.agreement,
    minWeight: report.options.thresholds.minWeight,
    parentOfKind: commonParents(report),
  };
}

function commonParents(report: ReportWithoutSummary): Record<TensorKind, number | null> {
  const parents = {} as Record<TensorKind, number | null | undefined>;
  for (const tensor of report.tensors) {
    const seen = parents[tensor.kind];
    if (seen === undefined) parents[tensor.kind] = tensor.parent;
    else if (seen !== tensor.parent) parents[tensor.kind] = null;
  }
  const common = {} as Record<TensorKind, number | null>;
  for (const kind of TENSOR_KINDS) common[kind] = parents[kind] ?? null;
  return common;
}

/** "identical to A", "derived from B", or just the kind's title. */
function kindPhrase(facts: SentenceFacts, kind: TensorKind): string {
  const parent = facts.parentOfKind[kind];
  if (parent === null) return VERDICT_WORDS[kind].title;
  const preposition = kind === 'derived' ? 'from' : 'to';
  return `${VERDICT_WORDS[kind].title} ${preposition} ${parentLabel(facts, parent)}`;
}

/**
 * The dtype whose rounding the most elements were judged against, lower-cased as people
 * write it ("bf16"): a tensor's grid when its values lie on one coarser than their
 * storage (a bf16 merge saved in F32 leaves σ of bf16 rounding, not of f32's), else its dtype.
 */
function dominantDtype(report: ReportWithoutSummary): string {
  const elementsByDtype = new Map<string, number>();
  for (const tensor of report.tensors) {
    const judged = tensor.grid ?? tensor.dtype;
    elementsByDtype.set(judged, (elementsByDtype.get(judged) ?? 0) + tensor.elements);
  }
  let best = '';
  let bestElements = -1;
  for (const [dtype, elements] of elementsByDtype) {
    if (elements > bestElements) {
      best = dtype;
      bestElements = elements;
    }
  }
  return best.toLowerCase();
}

function parentLabel(facts: SentenceFacts, index: number | null): string {
  if (index === null) return 'one parent';
  return facts.parents[index] ?? `parent ${index + 1}`;
}

/**
 * "0.600·B + 0.400·A": heaviest parent first, so the sentence leads with what matters.
 * Parents whose weight is below `minWeight` in magnitude (not mixed in, by the verdict's
 * own threshold) are counted, not listed: "(2 other parents each below 0.02)".
 */
export function blendFormulaOf(weights: readonly number[], labels: readonly string[], minWeight = 0): string {
  const terms = weights
    .map((weight, index) => ({ weight, label: labels[index] ?? `parent ${index + 1}` }))
    .sort((a, b) => b.weight - a.weight);
  const listed = terms.filter(({ weight }) => Math.abs(weight) >= minWeight);
  const shown = listed.length > 0 ? listed : terms;
  const formula = shown
    .map(({ weight, label }, index) => {
      const negative = formatWeight(weight).startsWith('-');
      const term = `${formatWeight(Math.abs(weight))}·${label}`;
      if (index === 0) return negative ? `-${term}` : term;
      return negative ? `- ${term}` : `+ ${term}`;
    })
    .join(' ');
  const omitted = terms.length - shown.length;
  if (omitted === 0) return formula;
  const others = omitted === 1 ? '1 other parent' : `${formatCount(omitted)} other parents each`;
  return `${formula} (${others} below ${minWeight})`;
}

function blendFormula(facts: SentenceFacts): string {
  const weights = facts.verdict.weights;
  if (weights === null) return 'a blend of the parents';
  return blendFormulaOf(weights, facts.parents, facts.minWeight);
}

/** "in every one of 291 tensors" or "in 280 of 291 tensors (98.1% of elements)". */
function coverage(facts: SentenceFacts, kind: TensorKind, allWords: 'all' | 'every one of'): string {
  const counts = facts.verdict.counts[kind];
  if (counts.tensors === facts.tensors) return `in ${allWords} ${formatCount(facts.tensors)} tensors`;
  const share = facts.elements > 0 ? ` (${formatShare(counts.elements / facts.elements)} of elements)` : '';
  return `in ${formatCount(counts.tensors)} of ${formatCount(facts.tensors)} tensors${share}`;
}

/** "; the other 11: 9 derived, 2 unrelated" when the verdict's kind does not cover all tensors. */
function rest(facts: SentenceFacts, kind: TensorKind): string {
  const others = kindsByElements(facts).filter((entry) => entry.kind !== kind);
  if (others.length === 0) return '';
  const total = others.reduce((sum, entry) => sum + entry.tensors, 0);
  const list = others.map((entry) => `${formatCount(entry.tensors)} ${kindPhrase(facts, entry.kind)}`);
  return `; the other ${formatCount(total)}: ${list.join(', ')}`;
}

function kindsByElements(facts: SentenceFacts): { kind: TensorKind; tensors: number; elements: number }[] {
  return TENSOR_KINDS.map((kind) => ({ kind, ...facts.verdict.counts[kind] }))
    .filter((entry) => entry.tensors > 0)
    .sort((a, b) => b.elements - a.elements);
}

function medianResidual(facts: SentenceFacts): string | null {
  const residual = facts.verdict.noiseRatio;
  if (residual === null) return null;
  return `median residual ${formatSigma(residual.median)}σ of ${facts.noise}`;
}

function reproduced(facts: SentenceFacts): string | null {
  const share = facts.verdict.reproducedShare;
  if (share === null) return null;
  return `${formatShare(share)} of informative elements reproduced bit for bit`;
}

function closestParent(facts: SentenceFacts): { label: string; noiseRatio: number } | null {
  let closest: { label: string; noiseRatio: number } | null = null;
  for (const [index, noiseRatio] of facts.verdict.alternatives.entries()) {
    if (closest === null || noiseRatio < closest.noiseRatio) {
      closest = { label: parentLabel(facts, index), noiseRatio };
    }
  }
  return closest;
}

/** "B alone would leave 3,810σ": the strongest single-parent rival, the one a sceptic would pick. */
function bestAlternative(facts: SentenceFacts, verb: string): string | null {
  const closest = closestParent(facts);
  if (closest === null) return null;
  return `${closest.label} alone ${verb} ${formatSigma(closest.noiseRatio)}σ`;
}

function withoutPeriod(text: string): string {
  return text.trim().replace(/\.+$/, '');
}

/** "suspect is a TIES merge of B and C on base A (density ≈ 0.46, …): 11.2% of large changes left …; …". */
function elementwiseSentence(facts: SentenceFacts, merge: ElementwiseVerdict): string {
  return `${facts.suspect} is a ${elementwiseHeadline(merge, facts.parents)}: ${elementwiseEvidence(merge).join('; ')}`;
}
