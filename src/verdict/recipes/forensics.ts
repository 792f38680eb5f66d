import type { ElementwiseSums } from '../../engine/recipes/elementwise-sums.js';
import { classifyElementwise, readElementwise } from '../../fit/recipes/elementwise-reading.js';
import type { Reconstruction } from '../../fit/recipes/reconstruction.js';
import { readSlerp, type SlerpReading } from '../../fit/recipes/slerp-reading.js';
import type { RecipeCandidate } from '../../fit/recipes/snap-candidates.js';
import { MAX_DISCOVERY_PARENTS, subsetFits, type SubsetFits } from '../../fit/recipes/subset-fits.js';
import { momentsOfSums } from '../../fit/recipes/tensor-sums.js';
import { floatFormat } from '../../format/dtype.js';
import type {
  ElementwiseReport,
  ForensicsReport,
  InterpolationReport,
  LayerProfileReport,
  LayerStackingReport,
  ModelVerdict,
  ReconstructionReport,
  RecipeReport,
  TaskArithmeticReport,
  TensorReport,
} from '../../report-schema.js';
import { weightedMedian } from '../weighted-median.js';
import { layerProfiles } from './layer-schedule.js';
import type { LayerRange, TensorSource } from './layer-map.js';
import { modelReconstruction, recipeReportOf } from './model-reconstruction.js';
import { discoverParents } from './parent-discovery.js';
import { summedElementwise } from './elementwise-verdict.js';

/** What the analysis gathered for recipe forensics; every optional part is left out of the report when absent. */
export interface ForensicsInputs {
  tensors: readonly TensorReport[];
  verdict: Pick<ModelVerdict, 'weights'>;
  parents: number;
  reference: number;
  /** The reference was named with --base (task arithmetic is read only then). */
  baseGiven: boolean;
  /** Per tensor, in `tensors` order (null where not read); by default read from the tensors' `sums`. */
  slerp?: readonly (SlerpReading | null)[];
  /** By default fitted from the tensors' `sums`. */
  subsetFits?: readonly SubsetFits[];
  /** Summed over the tensors. */
  elementwise?: ElementwiseSums | null;
  reconstruction?: Reconstruction | null;
  stacking?: { sources: readonly TensorSource[]; ranges: readonly LayerRange[]; tensors?: LayerStackingReport['tensors'] } | null;
}

/** The report's `forensics` section from what the analysis gathered (pure). */
export function forensicsReport(inputs: ForensicsInputs): ForensicsReport {
  const slerp = inputs.slerp ?? (inputs.parents === 2 ? slerpFromSums(inputs) : undefined);
  const subsets = inputs.subsetFits ?? (inputs.parents >= 3 && inputs.parents <= MAX_DISCOVERY_PARENTS ? subsetsFromSums(inputs) : undefined);
  return {
    base: inputs.baseGiven ? inputs.reference : null,
    reconstruction: inputs.reconstruction ? reconstructionReport(inputs.reconstruction, inputs.tensors) : modelReconstruction(inputs.tensors),
    interpolation: slerp ? interpolationReport(inputs.tensors, slerp) : null,
    taskArithmetic: taskArithmeticReport(inputs),
    elementwise: elementwiseOf(inputs),
    layerProfiles: profiles(inputs),
    parentDiscovery: subsets && subsets.length > 0 && inputs.parents >= 3 ? discoverParents(subsets) : null,
    layerStacking: inputs.stacking
      ? {
          ranges: inputs.stacking.ranges.map((r) => ({ ...r })),
          renamed: inputs.stacking.sources
            .filter((s) => s.parent !== null && s.source !== null && s.source !== s.name)
            .map((s) => ({ name: s.name, parent: s.parent!, source: s.source! })),
          ...(inputs.stacking.tensors ? { tensors: inputs.stacking.tensors.map((t) => ({ ...t })) } : {}),
        }
      : null,
  };
}

/** The given sums, else the tensors' recipe-pass sums added up; null when there are none. */
function elementwiseOf(inputs: ForensicsInputs): ElementwiseReport | null {
  const sums = inputs.elementwise ?? summedElementwise(inputs.tensors, inputs.parents, inputs.reference);
  return sums ? elementwiseReport(sums) : null;
}

/** Undefined when no tensor carries its sums (a report from before they were recorded). */
function slerpFromSums(inputs: ForensicsInputs): (SlerpReading | null)[] | undefined {
  if (!inputs.tensors.some((t) => t.sums)) return undefined;
  return inputs.tensors.map((t) => {
    const format = floatFormat(t.dtype);
    const moments = t.sums && format ? momentsOfSums(t.sums, inputs.parents, inputs.reference) : null;
    return moments && format ? readSlerp(moments, format) : null;
  });
}

function subsetsFromSums(inputs: ForensicsInputs): SubsetFits[] | undefined {
  if (!inputs.tensors.some((t) => t.sums)) return undefined;
  return inputs.tensors.flatMap((t) => {
    const moments = t.sums ? momentsOfSums(t.sums, inputs.parents, inputs.reference) : null;
    return moments ? [subsetFits(moments)] : [];
  });
}

function recipeReport(candidate: RecipeCandidate, dtype: string | undefined): RecipeReport {
  return recipeReportOf(candidate, dtype === undefined ? null : floatFormat(dtype));
}

function reconstructionReport(found: Reconstruction, tensors: readonly TensorReport[]): ReconstructionReport {
  const dtype = tensors[0]?.dtype;
  const bestShare = found.ranking[0]?.share;
  return {
    recipe: { ...recipeReport(found.recipe, dtype), effectiveWeights: [...found.effectiveWeights] },
    elements: found.finite,
    parentsDiffer: found.parentsDiffer,
    reproduced: found.reproduced,
    reproducedShare: found.reproducedShare,
    reproducedWhereParentsDifferShare: found.reproducedWhereParentsDifferShare,
    consistent: found.consistent.filter((c) => c !== found.recipe).map((c) => recipeReport(c, dtype)),
    runnersUp: found.ranking
      .filter((entry) => entry.share !== bestShare)
      .slice(0, 5)
      .map((entry) => ({ recipe: recipeReport(entry.recipe, dtype), share: entry.share })),
  };
}

function interpolationReport(tensors: readonly TensorReport[], readings: readonly (SlerpReading | null)[]): InterpolationReport | null {
  const read: SlerpReading[] = [];
  const elements: number[] = [];
  readings.forEach((r, i) => {
    if (r === null) return;
    read.push(r);
    elements.push(tensors[i]!.elements);
  });
  if (read.length === 0) return null;
  const median = (pick: (r: SlerpReading) => number): number => weightedMedian(read.map(pick), elements) ?? NaN;
  const count = (hypothesis: SlerpReading['consistent'][number]): number => read.filter((reading) => reading.consistent.includes(hypothesis)).length;
  const consistentTensors = { linear: count('linear'), linearFormatWeights: count('linear-format-weights'), slerp: count('slerp') };
  const half = read.length / 2;
  const consistent: InterpolationReport['consistent'] = [];
  if (consistentTensors.linear >= half) consistent.push('linear');
  if (consistentTensors.linearFormatWeights >= half) consistent.push('linear-format-weights');
  if (consistentTensors.slerp >= half) consistent.push('slerp');
  return {
    tensors: read.length,
    angle: median((r) => r.angle),
    t: median((r) => r.t),
    coefficientSum: median((r) => r.sum),
    slerpSum: median((r) => r.slerpSum),
    consistentTensors,
    separableTensors: read.filter((reading) => reading.separation > 2).length,
    consistent,
  };
}

function taskArithmeticReport(inputs: ForensicsInputs): TaskArithmeticReport | null {
  const weights = inputs.verdict.weights;
  if (!inputs.baseGiven || weights === null || inputs.parents < 2) return null;
  const scales = weights.map((w, j) => (j === inputs.reference ? null : w));
  const scaleSum = scales.reduce<number>((s, w) => s + (w ?? 0), 0);
  return { base: inputs.reference, scales, baseWeight: 1 - scaleSum, scaleSum };
}

function elementwiseReport(sums: ElementwiseSums): ElementwiseReport {
  const reading = readElementwise(sums);
  const finding = classifyElementwise(reading);
  const scales: (number | null)[] = new Array<number | null>(sums.parents).fill(null);
  const rescale: (number | null)[] = new Array<number | null>(sums.parents).fill(null);
  reading.taskParents.forEach((parent, q) => {
    scales[parent] = reading.scales[q] ?? null;
    rescale[parent] = reading.rescale[q] ?? null;
  });
  return {
    method: finding?.method ?? null,
    density: finding?.density ?? null,
    signElection: finding?.signElection ?? false,
    keptBaseShare: reading.keptBaseShare,
    largeKeptBaseShare: reading.largeKeptBaseShare,
    densityFromKeptBase: reading.densityFromKeptBase,
    densityFromVariance: reading.densityFromVariance,
    conflictAtParentShare: reading.conflictAtParentShare,
    agreementAtParentShare: reading.agreementAtParentShare,
    scales,
    rescale,
  };
}

/** Profiles of every parent but the reference (whose weight is the rest); only those spanning two layers or more. */
function profiles(inputs: ForensicsInputs): LayerProfileReport[] {
  const out: LayerProfileReport[] = [];
  for (let parent = 0; parent < inputs.parents; parent++) {
    if (parent === inputs.reference) continue;
    for (const profile of layerProfiles(inputs.tensors, parent)) {
      if (profile.points.length < 2) continue;
      out.push({
        parent,
        group: profile.group,
        points: profile.points.map((p) => ({ ...p })),
        schedule: profile.schedule ? { kind: profile.schedule.kind, parameters: [...profile.schedule.parameters], rmsResidual: profile.schedule.rmsResidual } : null,
      });
    }
  }
  return out;
}
