/**
 * The JSON report: the contract for machines. Changing the meaning of a field, removing
 * one, or adding a set of them bumps SCHEMA_VERSION (docs/report-schema.md describes
 * every field and what each version added).
 * Numbers follow ../docs/statistics.md; `null` always means "not defined here" and
 * comes with a reason nearby, never as a stand-in for zero.
 */

export const SCHEMA_VERSION = 2;
/**
 * Versions this provcheck reads back (reproduce, merge): 2 only added optional fields to
 * 1 (forensics, recipes, element-wise sums, sampling, stacking), so a 1 reads as a 2
 * without them.
 */
export const READABLE_SCHEMA_VERSIONS: readonly number[] = [1, 2];

export const VERDICT_KINDS = [
  'identical',
  'blend',
  'modified-blend',
  'derived',
  'unrelated',
  'mixed',
  'inconclusive',
] as const;
export type VerdictKind = (typeof VERDICT_KINDS)[number];

/** Per-tensor kinds are the verdict kinds except `mixed` (a model-level finding). */
export type TensorKind = Exclude<VerdictKind, 'mixed'>;

export const COMPONENTS = ['embedding', 'attention', 'mlp', 'experts', 'norm', 'head', 'vision', 'other'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface InputReport {
  /** Short name used in sentences: "A", "B", ... for parents, "suspect". */
  label: string;
  /** What the user passed. */
  source: string;
  /**
   * Where it was read from: a local path, a snapshot in the Hugging Face cache, or the
   * Hub (streamed). Added within schema 1; reports written before it lack the three
   * fields origin, repo and revision (read a missing one as local / null).
   */
  origin?: 'local' | 'hf-cache' | 'hub';
  /** The Hub repo id ("org/name") for Hub and cache inputs; null for local paths. */
  repo?: string | null;
  /** The 40-hex commit sha every read of a Hub or cache input used; null for local paths. */
  revision?: string | null;
  /** How the tensors were found: file, folder-single, folder-indexed, folder-shards. */
  layout: string;
  files: { path: string; bytes: number }[];
  tensors: number;
  bytes: number;
}

/** How a weight estimate was obtained (statistics.md, "a few rounding steps"). */
export type WeightMethod =
  /** Peak of the exact-hit profile: the weight that reproduces most elements exactly. */
  | 'exact-hit-profile'
  /** Least squares over informative elements (parent differences ≥ T ulps). */
  | 'informative-least-squares'
  /** Least squares over all elements: biased toward a parent when parents differ by few ulps. */
  | 'least-squares';

export interface Identifiability {
  identifiable: boolean;
  /** Rank of the parents' difference block used in the fit (k - 1 when full). */
  rank: number;
  /** Condition number of that block (Infinity when singular). */
  conditionNumber: number;
  /** Why the weights are not identifiable, when they are not. */
  reason: 'parents-identical' | 'parents-collinear' | null;
}

export interface FitReport {
  /** One per parent, in --parents order; null where not identifiable. */
  weights: (number | null)[];
  stdErr: (number | null)[];
  rss: number;
  /** sqrt(rss / floor). */
  noiseRatio: number;
  /** (rss - floor) / sqrt(floorVar). */
  z: number;
}

export interface ExactHitProfile {
  /** Weight of the non-reference parent at the profile's peak (the middle of its top plateau). */
  peak: number;
  /** Width in weight of that top plateau: every weight in it reproduces as many elements. */
  plateau: number;
  /** Share of informative elements reproduced bit for bit at the peak. */
  hitShare: number;
  /** Typical share away from the peak (more than 0.05 from it): what chance gives. */
  chanceShare: number;
  informative: number;
}

export interface TensorReport {
  name: string;
  shape: number[];
  /** The suspect's dtype; parents' in `parentDtypes`. */
  dtype: string;
  parentDtypes: string[];
  component: Component;
  layer: number | null;
  elements: number;
  nonFinite: number;
  kind: TensorKind;
  /** For identical/derived: the parent index; else null. */
  parent: number | null;
  /** Why, when the kind is inconclusive: 'no-finite-elements' or 'weights-not-identifiable'. */
  reason: string | null;
  /** Blend-fit weights, one per parent in --parents order (null where not identifiable). */
  weights: (number | null)[];
  weightsStdErr: (number | null)[];
  weightMethod: WeightMethod;
  /** Residual of the blend fit at `weights`, in σ of the suspect's rounding noise. */
  noiseRatio: number;
  z: number;
  /** 1 - rss/‖e‖²: share of the suspect's change from the reference that the blend explains. */
  explained: number | null;
  /** sqrt(rss / ‖s‖²): residual relative to the suspect's own size. */
  relativeResidual: number | null;
  /** Single-parent hypotheses s = p_j: their noiseRatio, per parent. */
  alternatives: number[];
  /** Unconstrained fit s ≈ Σ w_j p_j (plain least squares over all elements). */
  freeFit: { weights: (number | null)[]; sum: number | null; noiseRatio: number };
  /** Plain least squares over all elements (the biased estimate, for comparison). */
  leastSquares: FitReport;
  /** Share of elements bit-equal to each parent. */
  equalShare: number[];
  informative: number;
  profile: ExactHitProfile | null;
  /** Share of informative elements the reported blend reproduces bit for bit, when known. */
  reproducedShare: number | null;
  identifiability: Identifiability;
  floor: number;
  rss: number;
  /** The sums behind the fits, for recipe forensics (added in schema 2: optional). */
  sums?: TensorSums;
  /**
   * How each input stores this tensor, when some input is not a plain float tensor
   * ("F8_E4M3 × F32 scale per 128×128 block"). Added in schema 2: optional.
   */
  encodings?: { suspect: string; parents: string[] };
  /**
   * The grid the suspect's values lie on when it is coarser than their storage ("BF16":
   * a bf16 merge saved as F32); that grid's cells are the floor, the profile and the
   * reproduction test. Added in schema 2: optional (absent: the storage's own grid).
   */
  grid?: string;
  /**
   * Per expert slice (or other unit) when the tensor was compared in parts, each fitted on
   * its own ("expert 17 of layer 40 differs"); the tensor's own numbers are over all
   * of them. Added in schema 2: optional.
   */
  slices?: SliceReport[];
  /**
   * How `rss` (and noiseRatio, z, explained, relativeResidual) was obtained: 'direct',
   * summed element by element in the recipe pass, or 'gram', from the moments' Gram
   * formula (which can cancel for F32 suspects). Absent in reports from before it: 'gram'.
   */
  rssMethod?: 'direct' | 'gram';
  /** What the recipe pass measured on this tensor (added in schema 2: optional). */
  recipes?: TensorRecipesReport;
  /**
   * Present when the tensor was sampled (--sample): what was read and the confidence
   * intervals of the estimates (added in schema 2: optional; docs/report-schema.md, "sampling").
   */
  sample?: TensorSampleReport;
}

/** What a sampled tensor's estimates rest on, and how far they can be off. */
export interface TensorSampleReport {
  /** Blocks read, and blocks the tensor has (of Report.sampling.blockElements elements each). */
  blocks: number;
  blocksTotal: number;
  /** Elements read: every estimate of the tensor is over these. */
  elementsRead: number;
  /** Read whole: the estimates are exact, the intervals are points. */
  whole: boolean;
  /** Intervals at Report.sampling.confidence for each weight (null where no weight) and for noiseRatio. */
  weights: ([number, number] | null)[];
  noiseRatio: [number, number];
  /** Share of bootstrap replicates whose verdict is this tensor's kind (1 when read whole). */
  agreement: number;
  /** agreement ≥ confidence: the kind would not change with more blocks, at that confidence. */
  settled: boolean;
}

/** How a sampled report was sampled (docs/report-schema.md, "sampling"). */
export interface SamplingReport {
  /** 'fraction' / 'bytes': a fixed share of each tensor; 'auto': read until every verdict settled or the budget was spent. */
  mode: 'fraction' | 'bytes' | 'auto';
  /** The fraction of bytes asked for ('fraction', 'bytes' as a share of the total; 'auto': the budget's share). */
  requestedFraction: number;
  seed: number;
  /** Level of every interval, and (auto) the agreement a verdict needs to count as settled. */
  confidence: number;
  /** How the intervals are computed: percentile bootstrap over groups of sampled blocks. */
  method: 'block-bootstrap';
  replicates: number;
  blockElements: number;
  /** Input bytes read (suspect and parents), of the bytes of every analysed tensor. */
  bytesRead: number;
  bytesTotal: number;
  fractionRead: number;
  /** Range reads made (after coalescing nearby blocks). */
  requests: number;
  tensorsSettled: number;
  tensorsUnsettled: number;
}

export interface WeightSummary {
  /** Element-weighted mean over identifiable tensors of the verdict's kind. */
  mean: number;
  median: number;
  /** Element-weighted standard deviation across tensors. */
  spread: number;
  /** Standard error of the mean, from the per-tensor standard errors. */
  stdErr: number;
}

export interface ModelVerdict {
  kind: VerdictKind;
  /** Model-level weights per parent (--parents order), null for unrelated/inconclusive. */
  weights: number[] | null;
  /** For identical/derived: the parent index. */
  parent: number | null;
  /** One plain sentence. */
  summary: string;
  /** Why, when inconclusive or mixed. */
  reason: string | null;
  /** Tensors and elements per kind. */
  counts: Record<TensorKind, { tensors: number; elements: number }>;
  weightStats: (WeightSummary | null)[];
  noiseRatio: { median: number; p90: number; max: number } | null;
  /** Elements-weighted noiseRatio of each single-parent hypothesis (median over tensors). */
  alternatives: number[];
  reproducedShare: number | null;
  /**
   * Present when the verdict rests on an element-wise merge (TIES, DARE, magnitude
   * pruning): kind is then modified-blend. Added in schema 2: optional.
   */
  elementwise?: ElementwiseVerdict;
  /**
   * Present when the suspect is a layer-stacked composition of parent layers (mergekit
   * passthrough, "frankenmerge"): kind is then mixed. Added in schema 2: optional.
   */
  stacking?: StackingVerdict;
}

export interface Thresholds {
  /** A blend fit at or below this noiseRatio is explained to the rounding floor. */
  blendMaxNoise: number;
  /** A parent whose weight is at least this (and every other's at most 1 - this) counts as mixed in. */
  minWeight: number;
  /** Above this relative residual, the parents do not explain the suspect. */
  unrelatedResidual: number;
  /** Weight of the second parent that, with a residual above the floor, marks a modified blend. */
  modifiedMinWeight: number;
  /** Parent differences below this many suspect ulps are not informative. */
  informativeUlps: number;
  /** Share of elements (by count) that must agree for a model-level kind other than mixed. */
  agreement: number;
}

export interface Report {
  schemaVersion: typeof SCHEMA_VERSION;
  tool: { name: 'provcheck'; version: string };
  createdAt: string;
  command: string[];
  suspect: InputReport;
  /** In --parents order. */
  parents: InputReport[];
  /** Index of the reference parent (--base, or 0). */
  reference: number;
  /** `floor`: 'all' when the parents' rounding noise was added to the floor (--floor all; absent: suspect only). */
  options: { include: string[]; exclude: string[]; thresholds: Thresholds; floor?: 'suspect' | 'all' };
  verdict: ModelVerdict;
  tensors: TensorReport[];
  /** Tensors present on one side only. */
  unmatched: { suspectOnly: string[]; parentOnly: { parent: number; names: string[] }[] };
  /** Same name, different shape (or a dtype provcheck cannot decode). */
  mismatched: { name: string; reason: 'shape' | 'unsupported-dtype'; detail: string }[];
  /** Tensors left out by --include/--exclude. */
  filtered: number;
  /**
   * How to run this analysis again, and what it read (added within schema 1: optional,
   * absent from reports written before it).
   */
  reproducibility?: ReproducibilityRecord;
  /** The suspect's declared provenance against the measurement (added within schema 1: optional). */
  claims?: ClaimsReport;
  /** How the merge was made, with the evidence (added in schema 2: optional; docs/report-schema.md, "forensics"). */
  forensics?: ForensicsReport;
  /** How the inputs were read and matched (added within schema 1: optional; docs/report-schema.md, "alignment"). */
  alignment?: AlignmentReport;
  /** Present when only a sample of each tensor was read (--sample; added in schema 2: optional). */
  sampling?: SamplingReport;
}

/** One file of an input as it was when the report was made. */
export interface FileRecord {
  /** Relative to the input's folder (the file name for a single file). */
  path: string;
  bytes: number;
  /** Last modification time (ISO 8601) of a local file; null where unknown (remote files). */
  modified: string | null;
  /**
   * SHA-256 of the content, lower-case hex; null where it was not cheap to get: large
   * local files are never hashed (size and time identify them), Hub files carry their LFS hash.
   */
  sha256: string | null;
  /** Where `sha256` came from: hashed here from the bytes, or the Hub's LFS pointer. */
  sha256From: 'content' | 'hub-lfs' | null;
}

export interface InputRecord {
  /** The input's label in the report ("suspect", "A", …). */
  label: string;
  /** What the user passed. */
  source: string;
  /** The absolute local path, or the Hub repository. */
  resolved: string;
  /** The resolved commit of a Hub repository; null for local inputs. */
  revision: string | null;
  /** Tensor files, the shard index, and the small files beside them (config, model card). */
  files: FileRecord[];
}

/** Everything needed to run an analysis again and to tell whether its inputs changed. */
export interface ReproducibilityRecord {
  tool: { name: 'provcheck'; version: string };
  runtime: { node: string; platform: string; arch: string };
  /** The command line, as typed, starting with `provcheck`. */
  command: string[];
  /** Where it ran: relative paths in `analysis` were relative to this folder. */
  workingDirectory: string;
  createdAt: string;
  /** What decides the numbers: the same inputs with these options give the same report. */
  analysis: {
    suspect: string;
    parents: string[];
    reference: number;
    include: string[];
    exclude: string[];
    thresholds: Thresholds;
    /** Seed of the block sampler; null: every element was read. */
    seed: number | null;
    /**
     * The rest of what decides the numbers (added within schema 1; a report without them
     * was made with the defaults): --map rules, --floor, --no-recipes, --sample, and
     * whether --base was typed (it changes the forensics' readings, not the fits).
     */
    map?: string[];
    floor?: 'suspect' | 'all';
    recipes?: boolean;
    sample?: SampleOptions | null;
    baseGiven?: boolean;
  };
  /** The suspect first, then the parents in --parents order. */
  inputs: InputRecord[];
}

/** How much of each tensor a sampled analysis reads (--sample). */
export type SampleSize =
  | { kind: 'fraction'; fraction: number }
  | { kind: 'bytes'; bytes: number }
  /** Read until settled, within `budget` (a fraction of the bytes, or bytes). */
  | { kind: 'auto'; budget: { kind: 'fraction'; fraction: number } | { kind: 'bytes'; bytes: number } };

export interface SampleOptions {
  size: SampleSize;
  seed: number;
  /** Interval level and (auto) the agreement that settles a verdict; default 0.95. */
  confidence?: number;
  blockElements?: number;
  replicates?: number;
}

/** Relations a model card's `base_model_relation` may state (the Hugging Face Hub's values). */
export const DECLARED_RELATIONS = ['merge', 'finetune', 'adapter', 'quantized'] as const;
export type DeclaredRelation = (typeof DECLARED_RELATIONS)[number];

/** What the suspect's own files say about where it came from. */
export interface DeclaredProvenance {
  /** Files the declaration was read from, relative to the suspect's folder (or its Hub repo). */
  files: string[];
  /** The model card's `base_model` (one id or several). */
  baseModels: string[];
  /** `base_model_relation` as written; null when absent. */
  relation: string | null;
  tags: string[];
  /** mergekit_config.yml, when present. */
  mergekit: {
    method: string | null;
    baseModel: string | null;
    dtype: string | null;
    /** Models merged, with their `parameters.weight` where it is one number. */
    models: { model: string; weight: number | null }[];
  } | null;
  /** What could not be read ("README.md: front matter is not valid YAML …"); the rest still counts. */
  problems: string[];
}

/** What a declaration amounts to, and what the measurement amounts to, in the same terms. */
export type DeclaredAs = DeclaredRelation | 'derivative' | 'nothing';
export type MeasuredAs = 'merge' | 'finetune' | 'copy' | 'unrelated' | 'unclear';

export type ClaimFinding =
  /** Measured a blend of two or more parents; nothing declares a merge. */
  | { kind: 'undisclosed-merge' }
  /** Declared a merge; measured a copy, a fine-tune or an unrelated model. */
  | { kind: 'merge-not-measured' }
  /** A parent the measurement finds in the suspect is not among the declared models. */
  | { kind: 'parent-not-declared'; parent: number }
  /** mergekit_config.yml's weight for a parent differs from the measured one. */
  | { kind: 'declared-weight-differs'; parent: number; declared: number; measured: number };

export interface ClaimsReport {
  declared: DeclaredProvenance;
  declaredAs: DeclaredAs;
  measuredAs: MeasuredAs;
  /** Per parent (--parents order): named in `base_model` or among mergekit's models. */
  parentsDeclared: boolean[];
  /** Per parent: mergekit's weight, normalised to sum 1 as its linear merge does; null where not declared. */
  declaredWeights: (number | null)[] | null;
  /** consistent: declared and measured agree; inconsistent: see findings. */
  status: 'consistent' | 'inconsistent' | 'no-declaration' | 'not-comparable';
  findings: ClaimFinding[];
  undisclosedMerge: boolean;
}

// --- recipe forensics (issue 7; added in schema 2, optional) -----------------------

/** How a merge tool computed Σ w_j·p_j (src/engine/recipes/merge-arithmetic.ts defines each). */
export type MergeArithmeticName = 'exact-once' | 'float32' | 'torch-in-dtype' | 'format-steps';

export interface RecipeReport {
  /** Nominal weights per parent (--parents order), as typed into a merge config. */
  weights: number[];
  arithmetic: MergeArithmeticName;
  /** Divided by the arithmetic's sum of the weights (mergekit linear's default). */
  normalise: boolean;
  /** Weights as the arithmetic really used them (bf16 0.6 → 0.6015625), after the division. */
  effectiveWeights: number[];
  /** Where the candidate came from: the raw fit, typed decimals, or the format's own values. */
  origin: 'fitted' | 'decimal' | 'format-value';
  /** Optional (added in schema 2): absent for a weighted sum; else the recipe's fields as in RecipeMethodFields. */
  method?: RecipeMethodFields['method'];
  t?: number;
  base?: number;
}

/**
 * A recipe that is not a plain weighted sum (src/engine/recipes/merge-arithmetic.ts,
 * MERGE_METHODS); optional fields added in schema 2, absent for a weighted sum.
 */
export interface RecipeMethodFields {
  /** mergekit's slerp (float32 numpy steps) or task_arithmetic. */
  method?: 'slerp' | 'task-arithmetic';
  /** slerp: the weight toward parent 1 (parent 0 taken as mergekit's base_model); `weights` are then [1 − t, t]. */
  t?: number;
  /** task-arithmetic: the base's index; `weights` hold λ_j for the task parents and, at the base, its own coefficient 1 − Σλ (0 when normalised). */
  base?: number;
}

/** Exact reconstruction: a second read replays candidate recipes and counts elements reproduced bit for bit. */
export interface ReconstructionReport {
  recipe: RecipeReport;
  /** Finite elements compared, and those where some parent differs from another. */
  elements: number;
  parentsDiffer: number;
  reproduced: number;
  /** reproduced / elements. */
  reproducedShare: number;
  /** Share among the elements where the parents differ; null when they never do. */
  reproducedWhereParentsDifferShare: number | null;
  /** Other recipes reproducing exactly as many elements: the data cannot tell them apart. */
  consistent: RecipeReport[];
  /** Runner-up recipes with their share (where parents differ), best first; at most five. */
  runnersUp: { recipe: RecipeReport; share: number }[];
}

/** Two parents: is the suspect a SLERP or a linear blend? (src/fit/recipes/slerp-reading.ts) */
export interface InterpolationReport {
  /** Tensors read (two parents, free fit identifiable). */
  tensors: number;
  /** Element-weighted medians over those tensors. */
  angle: number;
  t: number;
  coefficientSum: number;
  slerpSum: number;
  /** Tensors where each hypothesis is consistent with the coefficient sum. */
  consistentTensors: { linear: number; linearFormatWeights: number; slerp: number };
  /** Tensors where SLERP's and linear's predicted sums are more than twice the consistency tolerance apart. */
  separableTensors: number;
  /** The hypotheses consistent with most tensors, in the order linear, linear-format-weights, slerp. */
  consistent: ('linear' | 'linear-format-weights' | 'slerp')[];
}

/** With --base among the parents: the scale of each task vector p_j − base. */
export interface TaskArithmeticReport {
  base: number;
  /** Per parent (--parents order): the model-level weight, i.e. λ_j; null for the base. */
  scales: (number | null)[];
  /** 1 − Σ λ_j: the base's own weight; ≈ 0 for a plain blend of the task parents. */
  baseWeight: number;
  /** Σ λ_j. */
  scaleSum: number;
}

/** Element-wise merges, relative to the reference (src/fit/recipes/elementwise-reading.ts). */
export interface ElementwiseReport {
  method: 'ties' | 'dare' | 'magnitude-pruned' | 'element-wise' | null;
  density: number | null;
  signElection: boolean;
  keptBaseShare: number | null;
  largeKeptBaseShare: number | null;
  densityFromKeptBase: number | null;
  densityFromVariance: number | null;
  conflictAtParentShare: number | null;
  agreementAtParentShare: number | null;
  /** Per parent (--parents order): task-vector scale over large elements; null for the reference. */
  scales: (number | null)[];
  /**
   * Per parent: scale where the suspect moved ÷ scale over all large elements (≈ 1 without
   * rescaling; DARE: 1/(1 − (1 − p)^m)); null for the reference. Added in schema 2: optional.
   */
  rescale?: (number | null)[];
}

export interface LayerProfileReport {
  parent: number;
  group: 'all' | Component;
  points: { layer: number; weight: number; stdErr: number; spread: number; tensors: number; elements: number }[];
  schedule: { kind: 'constant' | 'ramp' | 'step' | 'gradient-3'; parameters: number[]; rmsResidual: number } | null;
}

export interface ParentDiscoveryReport {
  explaining: number[];
  addNothing: number[];
  noiseRatioAll: number;
  noiseRatioExplaining: number;
  withoutEach: { parent: number; noiseRatio: number }[];
  weights: (number | null)[];
}

export interface LayerStackingReport {
  ranges: { suspectFrom: number; suspectTo: number; parent: number | null; parentFrom: number | null; parentTo: number | null }[];
  /** Suspect tensors whose best source is a parent tensor under another name. */
  renamed: { name: string; parent: number; source: string }[];
  /**
   * Per suspect tensor: the parent tensor that explains it and how (added in schema 2:
   * optional; absent in reports from before the stacking pass). `exact`: elements
   * bit-identical to the source, `withinCell`: elements within the suspect's rounding
   * cell of it (a copy stored in another dtype); `source` null when no parent tensor of
   * its shape came close.
   */
  tensors?: { name: string; layer: number | null; parent: number | null; source: string | null; distance: number | null; elements: number; exact: number; withinCell: number }[];
}

/** The element-wise merge a modified-blend verdict rests on (src/verdict/recipes/elementwise-verdict.ts). */
export interface ElementwiseVerdict {
  method: 'ties' | 'dare' | 'magnitude-pruned';
  /** mergekit's methods this reading cannot tell apart, by their mergekit names (added in schema 2: optional). */
  consistentWith?: string[];
  /** The parent the task vectors are measured from (the reference). */
  base: number;
  /** Task parents merged (weight at least thresholds.modifiedMinWeight), --parents order. */
  merged: number[];
  /** Share of each task vector's entries kept. */
  density: number;
  /** Per parent: blend-fit weight of its task vector over the sum of the merged ones' (Σ = 1); null for the base and parents not merged. */
  relativeWeights: (number | null)[];
  /** Evidence: share of large changes (some task delta ≥ informativeUlps steps) left bit for bit at the base. */
  keptBaseShare: number;
  /** Fit of the change on each task vector where the suspect moved ÷ over all large elements, averaged over the merged parents. */
  rescale: number | null;
  /** What `rescale` is for this method and density: 1/(1 − (1 − density)^m) for random drops with survivors ÷ density (m task parents), 1 without rescaling. */
  expectedRescale: number;
  /** Sign conflicts between task parents resolved to exactly one parent, and the same for agreeing deltas (the control). */
  conflictAtParentShare: number | null;
  agreementAtParentShare: number | null;
  /** The best weighted sum's share of elements reproduced bit for bit (where the parents differ); null when not replayed. */
  weightedSumReproduced: number | null;
}

/** A layer-stacked composition (src/verdict/recipes/stacking-verdict.ts). */
export interface StackingVerdict {
  /** Parents that contribute layers, in the order their first layer appears. */
  parents: number[];
  /** Suspect layer ranges and their sources, as forensics.layerStacking.ranges. */
  ranges: LayerStackingReport['ranges'];
  /** Suspect tensors, and those a parent tensor reproduces bit for bit or within the rounding cell. */
  tensors: number;
  exact: number;
  withinCell: number;
}

export interface ForensicsReport {
  /** The reference parent when --base named it (task arithmetic is read relative to it), else null. */
  base: number | null;
  reconstruction: ReconstructionReport | null;
  interpolation: InterpolationReport | null;
  taskArithmetic: TaskArithmeticReport | null;
  elementwise: ElementwiseReport | null;
  layerProfiles: LayerProfileReport[];
  parentDiscovery: ParentDiscoveryReport | null;
  layerStacking: LayerStackingReport | null;
}

/**
 * The sums of statistics.md behind one tensor's fits (the engine's moments without the
 * exact-hit profile), so that fits over other parent subsets and the SLERP reading can
 * be made after the scan, from the report alone — also for merged shard reports.
 * Added in schema 2, optional. Vectors [r, d_1 … d_{k−1}, e] as in statistics.md.
 */
export interface TensorSums {
  used: number;
  /** (k+1)² dot products, row-major. */
  gram: number[];
  floor: number;
  floorVar: number;
  parentsEqual: number;
  informative: { count: number; gram: number[]; floor: number };
}

/** One candidate recipe replayed on a tensor. */
export interface RecipeCandidateReport {
  weights: number[];
  arithmetic: MergeArithmeticName;
  normalise: boolean;
  origin: 'fitted' | 'decimal' | 'format-value';
  /** Decimal digits a person typed (0.35: 2); null for format values and the raw fit. */
  digits: number | null;
  reproduced: number;
  reproducedWhereParentsDiffer: number;
  /** Optional (added in schema 2): as in RecipeMethodFields; absent for a weighted sum. */
  method?: RecipeMethodFields['method'];
  t?: number;
  base?: number;
  /** slerp: cos θ between this tensor's parents, from which the coefficients were computed. */
  cosine?: number;
}

/** The element-wise sums of src/engine/recipes/elementwise-sums.ts, as plain numbers. */
export interface ElementwiseSumsRecord {
  parents: number;
  reference: number;
  finite: number;
  changed: number;
  changedKeptBase: number;
  allMoved: number;
  allMovedKeptBase: number;
  large: number;
  largeKeptBase: number;
  conflicts: number;
  conflictsAtParent: number;
  agreements: number;
  agreementsAtParent: number;
  moved: number;
  movedGram: number[];
  largeGram: number[];
}

export interface TensorRecipesReport {
  /** Elements the candidates were replayed on (the tensor's first ones), and those where the parents differ. */
  replayed: number;
  parentsDiffer: number;
  /** The best candidates (at most eight), most elements reproduced where parents differ first. */
  candidates: RecipeCandidateReport[];
  elementwise: ElementwiseSumsRecord;
}

/** One part of a tensor compared on its own: an expert's matrix of a fused or per-expert layout. */
export interface SliceReport {
  /** Canonical per-expert name ("model.layers.40.mlp.experts.17.gate_proj.weight"). */
  name: string;
  expert: number | null;
  elements: number;
  kind: TensorKind;
  parent: number | null;
  weights: (number | null)[];
  noiseRatio: number;
  /** From the exact-hit profile (two parents); null otherwise. */
  reproducedShare: number | null;
}

/**
 * How the inputs were read and matched. Added within schema 1: optional. Input indexes:
 * -1 the suspect, j ≥ 0 parent j.
 */
export interface AlignmentReport {
  /** Wrapper prefixes normalised ("model.language_model. → model."), per input, with the tensors renamed. */
  renames: { input: number; rule: string; tensors: number }[];
  /** The --map rules, as typed. */
  mapRules: string[];
  /** Vocabulary resizes: the common rows were compared; rows per input. */
  resized: { name: string; commonRows: number; rows: { suspect: number; parents: number[] } }[];
  /** Inputs whose lm_head is their tied embedding. */
  tied: number[];
  /** Per input: the quantization schemes found and the scale tensors consumed with their weights. */
  inputs: { input: number; quantMethod: string | null; schemes: { id: string; title: string; detail: string; tensors: number }[]; consumed: number }[];
  /** Tensors compared in parts (expert slices), and how many parts in all. */
  groups: { tensors: number; units: number };
}
