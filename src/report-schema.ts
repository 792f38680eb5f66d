/**
 * The JSON report: the contract for machines. Changing the meaning of a field, or
 * removing one, bumps SCHEMA_VERSION (docs/report-schema.md describes every field).
 * Numbers follow ../docs/statistics.md; `null` always means "not defined here" and
 * comes with a reason nearby, never as a stand-in for zero.
 */

export const SCHEMA_VERSION = 1;

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
  options: { include: string[]; exclude: string[]; thresholds: Thresholds };
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
  };
  /** The suspect first, then the parents in --parents order. */
  inputs: InputRecord[];
}

/** Relations a model card's `base_model_relation` may state (the Hugging Face Hub's values). */
export const DECLARED_RELATIONS = ['merge', 'finetune', 'adapter', 'quantized'] as const;
export type DeclaredRelation = (typeof DECLARED_RELATIONS)[number];

/** What the suspect's own files say about where it came from. */
export interface DeclaredProvenance {
  /** Files the declaration was read from, relative to the suspect's folder. */
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
