import type { ClaimFinding, ClaimsReport, DeclaredAs, Report } from '../report-schema.js';
import { formatCount, formatSigma, formatWeight, listWords } from './format-numbers.js';
import { blendFormulaOf } from './verdict-sentence.js';

/** The claims check in words, for every renderer: one sentence pair, then the findings. */
export interface ClaimsWords {
  /** "consistent", "undisclosed merge", …: a label for a badge or a heading. */
  readonly status: string;
  readonly declared: string;
  readonly measured: string;
  /** One sentence per finding, then one per problem reading the declaration. */
  readonly findings: readonly string[];
  /** What the status means, in one sentence. */
  readonly conclusion: string;
}

const STATUS_WORDS: Readonly<Record<ClaimsReport['status'], string>> = {
  consistent: 'consistent',
  inconsistent: 'inconsistent',
  'no-declaration': 'nothing declared',
  'not-comparable': 'not comparable',
};

const DECLARED_WORDS: Readonly<Record<DeclaredAs, (models: string) => string>> = {
  merge: (models) => (models === '' ? 'a merge' : `a merge of ${models}`),
  finetune: (models) => (models === '' ? 'a fine-tune' : `a fine-tune of ${models}`),
  adapter: (models) => (models === '' ? 'an adapter' : `an adapter on ${models}`),
  quantized: (models) => (models === '' ? 'a quantization' : `a quantization of ${models}`),
  derivative: (models) => `based on ${models} (no relation stated)`,
  nothing: () => 'nothing (no model card metadata, no mergekit_config.yml)',
};

export function claimsWords(report: Report, claims: ClaimsReport): ClaimsWords {
  const status = claims.undisclosedMerge ? 'undisclosed merge' : STATUS_WORDS[claims.status];
  return {
    status,
    declared: declaredPhrase(claims),
    measured: measuredPhrase(report),
    findings: [
      ...claims.findings.map((finding) => findingSentence(report, claims, finding)),
      ...claims.declared.problems.map((problem) => `Could not read all of the declaration: ${problem}.`),
    ],
    conclusion: conclusionOf(claims),
  };
}

/** "declared: a fine-tune of parents/a; measured: a blend 0.600·b + 0.400·a, no training". */
export function claimsSentence(report: Report, claims: ClaimsReport): string {
  const words = claimsWords(report, claims);
  return `declared: ${words.declared}; measured: ${words.measured}`;
}

function declaredPhrase(claims: ClaimsReport): string {
  const { declared } = claims;
  const names = declared.mergekit !== null && declared.mergekit.models.length > 0
    ? declared.mergekit.models.map((model) => model.model)
    : declared.baseModels;
  let phrase = DECLARED_WORDS[claims.declaredAs](listWords(names));
  if (declared.mergekit !== null) {
    const weights = declared.mergekit.models.filter((model) => model.weight !== null);
    const method = declared.mergekit.method === null ? 'mergekit' : `mergekit ${declared.mergekit.method}`;
    const weightText = weights.length > 0 ? `, weights ${weights.map((model) => model.weight).join('/')}` : '';
    const dtype = declared.mergekit.dtype === null ? '' : `, ${declared.mergekit.dtype}`;
    phrase += ` (${method}${weightText}${dtype})`;
  }
  return phrase;
}

/** The measurement in the same terms, naming parents by what the user passed. */
export function measuredPhrase(report: Report): string {
  const { verdict } = report;
  const sources = report.parents.map((parent) => parent.source);
  const source = (index: number | null): string => (index === null ? 'one parent' : (sources[index] ?? `parent ${index + 1}`));
  const residual = verdict.noiseRatio === null ? '' : ` (${formatSigma(verdict.noiseRatio.median)}σ)`;
  switch (verdict.kind) {
    case 'blend':
      return `a blend ${formula(report, sources)}, no training${residual}`;
    case 'modified-blend':
      return `mostly a blend ${formula(report, sources)}, with real change on top${residual}`;
    case 'identical':
      return `a bit-identical copy of ${source(verdict.parent)}`;
    case 'derived':
      return `${source(verdict.parent)} plus real change (a fine-tune or a re-quantization)`;
    case 'unrelated':
      return 'not made from the given parents';
    case 'mixed':
      return 'tensors that disagree (a partial blend or a layer-stacking merge?)';
    case 'inconclusive':
      return 'not clear (the verdict is inconclusive)';
  }
}

function formula(report: Report, names: readonly string[]): string {
  const weights = report.verdict.weights;
  if (weights === null) return 'of the parents';
  return blendFormulaOf(weights, names, report.options.thresholds.minWeight);
}

function findingSentence(report: Report, claims: ClaimsReport, finding: ClaimFinding): string {
  const name = (index: number): string => {
    const parent = report.parents[index];
    return parent === undefined ? `parent ${index + 1}` : `${parent.label} (${parent.source})`;
  };
  switch (finding.kind) {
    case 'undisclosed-merge': {
      const mixedIn = (report.verdict.weights ?? []).filter((w) => Math.abs(w) >= report.options.thresholds.minWeight).length;
      const parents = mixedIn >= 2 ? `${formatCount(mixedIn)} parents` : 'several parents';
      return `Undisclosed merge: the weights are a blend of ${parents}, but neither the model card nor a mergekit_config.yml declares a merge.`;
    }
    case 'merge-not-measured':
      return `A merge is declared, but the weights are ${measuredPhrase(report)}.`;
    case 'parent-not-declared':
      return `${name(finding.parent)} is in the weights but not among the declared models (${listWords(declaredNames(claims)) || 'none'}).`;
    case 'declared-weight-differs':
      return (
        `mergekit_config.yml gives ${name(finding.parent)} the weight ${formatWeight(finding.declared)} ` +
        `(normalised); the weights show ${formatWeight(finding.measured)}.`
      );
  }
}

function conclusionOf(claims: ClaimsReport): string {
  switch (claims.status) {
    case 'consistent':
      return 'The declaration agrees with what the weights show.';
    case 'inconsistent':
      return 'The declaration does not match what the weights show.';
    case 'no-declaration':
      return 'The suspect declares no origin; nothing measured is a merge that would need declaring.';
    case 'not-comparable':
      return 'The measurement is not clear enough to check the declaration against.';
  }
}

function declaredNames(claims: ClaimsReport): string[] {
  return [...claims.declared.baseModels, ...(claims.declared.mergekit?.models.map((model) => model.model) ?? [])].filter(
    (name, index, all) => all.indexOf(name) === index,
  );
}
