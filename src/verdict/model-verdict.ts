import {
  VERDICT_KINDS,
  type ModelVerdict,
  type TensorKind,
  type TensorReport,
  type Thresholds,
  type WeightSummary,
} from '../report-schema.js';
import { elementwiseVerdict } from './recipes/elementwise-verdict.js';
import { weightedMedian } from './weighted-median.js';

/**
 * The model's verdict from its tensors' (statistics.md, "Per model"). `summary` is the
 * report stage's to write (its renderer words every sentence), so it is left out here.
 *
 * Neutral tensors: where the parents are bit-identical (identifiability reason
 * 'parents-identical', which also covers tensors with no finite element) every blend
 * explains the suspect equally, so such a tensor says nothing about which kind of
 * model this is. They are counted in `counts` but left out of the agreement, the
 * weights and the statistics — unless every tensor is neutral, when the kind is taken
 * from all of them (parents identical everywhere: the suspect can only be identical to
 * them, derived from them, or inconclusive).
 *
 * Kind: the tensors vote with their elements. A group is a kind, and for identical and
 * derived a kind with its parent (half identical to A and half to B is mixed, not
 * identical). The first that holds, in order:
 * 1. one group covers ≥ `agreement` of the elements → that kind;
 * 2. identical(j) + derived(j) cover ≥ `agreement` → derived from j (a fine-tune that
 *    left some tensors untouched);
 * 3. blend + modified-blend cover ≥ `agreement` → modified-blend (training after a
 *    merge that left some tensors at the floor);
 * 4. otherwise mixed, described by its largest group (the "agreeing majority").
 * Then, unless the kind is identical: when the element-wise sums show a TIES, DARE or
 * magnitude-pruned merge that no weighted sum reproduces (elementwiseVerdict), the kind
 * is modified-blend over all deciding tensors, with `elementwise` saying which merge.
 *
 * Weights (per parent, over the selected tensors — those of the chosen kind or kinds,
 * or of the majority group when mixed — that have a weight and a standard error):
 * mean = Σ n_t w_t / Σ n_t with n_t the tensor's elements; median = the element-weighted
 * median; spread = the element-weighted standard deviation across tensors; stdErr =
 * sqrt(Σ n_t² se_t²) / Σ n_t, the standard error of that mean if the tensors' errors
 * are independent. `weights` is the mean for blend-like kinds, and 1 for the parent, 0
 * for the others, for identical and derived; null for unrelated and inconclusive (and
 * for a mixed model whose majority is one of those).
 *
 * noiseRatio: median, 90th percentile (nearest rank) and maximum of the selected
 * tensors' values, one per tensor; all decided tensors for mixed, unrelated and
 * inconclusive. `alternatives`: per parent, the element-weighted median over the same
 * tensors (empty when no tensor was compared). `reproducedShare`: Σ informative·share / Σ informative over the same tensors
 * that report one (the share of all their informative elements reproduced).
 */
export function modelVerdict(
  tensors: readonly TensorReport[],
  parentsCount: number,
  thresholds: Thresholds,
): Omit<ModelVerdict, 'summary'> {
  const counts = Object.fromEntries(
    VERDICT_KINDS.filter((kind) => kind !== 'mixed').map((kind) => [kind, { tensors: 0, elements: 0 }]),
  ) as Record<TensorKind, { tensors: number; elements: number }>;
  for (const tensor of tensors) {
    counts[tensor.kind].tensors++;
    counts[tensor.kind].elements += tensor.elements;
  }

  const seen = tensors.filter((tensor) => tensor.elements - tensor.nonFinite > 0);
  const informative = seen.filter((tensor) => !isNeutral(tensor));
  const deciding = informative.length > 0 ? informative : seen;
  const total = sum(deciding.map((tensor) => tensor.elements));
  const noEstimate = {
    counts,
    weights: null,
    parent: null,
    weightStats: new Array<WeightSummary | null>(parentsCount).fill(null),
  };
  if (total === 0) {
    return {
      ...noEstimate,
      kind: 'inconclusive',
      reason: 'no tensor with finite elements was compared',
      ...evidence(seen, parentsCount),
    };
  }

  const groups = new Map<string, { kind: TensorKind; parent: number | null; tensors: TensorReport[]; elements: number }>();
  for (const tensor of deciding) {
    const parent = tensor.kind === 'identical' || tensor.kind === 'derived' ? tensor.parent : null;
    const key = `${tensor.kind}:${parent}`;
    const group = groups.get(key) ?? { kind: tensor.kind, parent, tensors: [], elements: 0 };
    group.tensors.push(tensor);
    group.elements += tensor.elements;
    groups.set(key, group);
  }
  const ordered = [...groups.values()].sort(
    (a, b) =>
      b.elements - a.elements ||
      VERDICT_KINDS.indexOf(a.kind) - VERDICT_KINDS.indexOf(b.kind) ||
      (a.parent ?? -1) - (b.parent ?? -1),
  );
  const share = (elements: number): number => elements / total;
  const enough = (elements: number): boolean => share(elements) >= thresholds.agreement;

  let kind: ModelVerdict['kind'];
  let parent: number | null = null;
  let selected: TensorReport[];
  const majority = ordered[0]!;
  const derivedFrom = (j: number): TensorReport[] =>
    deciding.filter((t) => (t.kind === 'identical' || t.kind === 'derived') && t.parent === j);
  const blendLike = deciding.filter((t) => t.kind === 'blend' || t.kind === 'modified-blend');
  const nestedDerived = Array.from({ length: parentsCount }, (_, j) => j).find((j) =>
    enough(sum(derivedFrom(j).map((t) => t.elements))),
  );

  if (enough(majority.elements)) {
    kind = majority.kind;
    parent = majority.parent;
    selected = majority.tensors;
  } else if (nestedDerived !== undefined) {
    kind = 'derived';
    parent = nestedDerived;
    selected = derivedFrom(nestedDerived);
  } else if (enough(sum(blendLike.map((t) => t.elements)))) {
    kind = 'modified-blend';
    selected = blendLike;
  } else {
    kind = 'mixed';
    selected = majority.tensors;
  }
  // Element-wise merges leave tensors near the floor (blend) or above it (modified-blend,
  // derived) depending on how sparse each tensor's task vectors are; the sums over the
  // whole model say what they are. A copy of a parent is never one.
  const elementwise =
    kind === 'identical'
      ? null
      : elementwiseVerdict(tensors, parentsCount, thresholds, Array.from({ length: parentsCount }, (_, j) => weightSummary(deciding, j)?.mean ?? null));
  if (elementwise !== null) {
    kind = 'modified-blend';
    parent = null;
    selected = deciding;
  }

  const weightStats = Array.from({ length: parentsCount }, (_, j) => weightSummary(selected, j));
  const described = kind === 'mixed' ? majority.kind : kind;
  const describedParent = kind === 'mixed' ? majority.parent : parent;
  let weights: number[] | null = null;
  if (described === 'identical' || described === 'derived') {
    weights = Array.from({ length: parentsCount }, (_, j) => (j === describedParent ? 1 : 0));
  } else if (described === 'blend' || described === 'modified-blend') {
    weights = weightStats.every((stats) => stats !== null) ? weightStats.map((stats) => stats!.mean) : null;
  }
  const statsShown = described === 'unrelated' || described === 'inconclusive' ? noEstimate.weightStats : weightStats;
  const evidenceFrom = kind === 'mixed' || kind === 'unrelated' || kind === 'inconclusive' ? deciding : selected;

  return {
    counts,
    kind,
    weights,
    parent,
    weightStats: statsShown,
    reason: reasonFor(kind, majority, deciding === seen && informative.length === 0),
    ...evidence(evidenceFrom, parentsCount),
    ...(elementwise === null ? {} : { elementwise }),
  };
}

/**
 * Parents bit-identical on this tensor and the suspect at the floor of them: every blend
 * fits it equally, so it says nothing about which kind of model this is. A suspect
 * changed there (derived) or unlike them (unrelated) is evidence and votes.
 */
export function isNeutral(tensor: TensorReport): boolean {
  return (
    tensor.identifiability.reason === 'parents-identical' &&
    (tensor.kind === 'identical' || tensor.kind === 'blend' || tensor.kind === 'inconclusive')
  );
}

function reasonFor(
  kind: ModelVerdict['kind'],
  majority: { kind: TensorKind; parent: number | null },
  parentsIdenticalEverywhere: boolean,
): string | null {
  if (kind === 'mixed') {
    const who = majority.parent === null ? '' : ` ${parentName(majority.parent)}`;
    return `the weights shown are those of the largest group, the ${majority.kind}${who} tensors`;
  }
  if (kind !== 'inconclusive') return null;
  if (parentsIdenticalEverywhere) {
    return 'the parents are bit-identical in every compared tensor, so no blend weight can be seen';
  }
  return 'the parents are collinear where the suspect differs from them, so their weights cannot be told apart';
}

/** "A", "B", … as the report labels parents. */
function parentName(index: number): string {
  return index < 26 ? String.fromCharCode(65 + index) : `parent ${index + 1}`;
}

function evidence(
  tensors: readonly TensorReport[],
  parentsCount: number,
): Pick<ModelVerdict, 'noiseRatio' | 'alternatives' | 'reproducedShare'> {
  const ratios = tensors.map((t) => t.noiseRatio).sort((a, b) => a - b);
  const noiseRatio =
    ratios.length === 0
      ? null
      : {
          median: unweightedMedian(ratios),
          p90: ratios[Math.max(0, Math.ceil(0.9 * ratios.length) - 1)]!,
          max: ratios[ratios.length - 1]!,
        };
  const elements = tensors.map((t) => t.elements);
  const alternatives = Array.from({ length: tensors.length > 0 ? parentsCount : 0 }, (_, j) =>
    weightedMedian(tensors.map((t) => t.alternatives[j]!), elements) ?? 0,
  );
  let reproducedElements = 0;
  let informativeElements = 0;
  for (const t of tensors) {
    if (t.reproducedShare === null) continue;
    reproducedElements += t.reproducedShare * t.informative;
    informativeElements += t.informative;
  }
  return {
    noiseRatio,
    alternatives,
    reproducedShare: informativeElements > 0 ? reproducedElements / informativeElements : null,
  };
}

/* weightSummary reads a model's tensors in parallel arrays of numbers (weighted-median.ts says why). */
function weightSummary(tensors: readonly TensorReport[], parent: number): WeightSummary | null {
  const weights: number[] = [];
  const stdErrs: number[] = [];
  const ns: number[] = [];
  for (const t of tensors) {
    const weight = t.weights[parent];
    const stdErr = t.weightsStdErr[parent];
    if (weight === null || weight === undefined || stdErr === null || stdErr === undefined || t.elements <= 0) continue;
    weights.push(weight);
    stdErrs.push(stdErr);
    ns.push(t.elements);
  }
  if (weights.length === 0) return null;
  // Each sum in the estimates' order, as one pass over them adds it.
  const total = sum(ns);
  let weighted = 0;
  for (let i = 0; i < ns.length; i++) weighted += ns[i]! * weights[i]!;
  const mean = weighted / total;
  let squares = 0;
  for (let i = 0; i < ns.length; i++) squares += ns[i]! * (weights[i]! - mean) ** 2;
  let errors = 0;
  for (let i = 0; i < ns.length; i++) errors += (ns[i]! * stdErrs[i]!) ** 2;
  return {
    mean,
    median: weightedMedian(weights, ns) ?? 0,
    spread: Math.sqrt(squares / total),
    stdErr: Math.sqrt(errors) / total,
  };
}

function unweightedMedian(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
