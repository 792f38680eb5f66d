import type {
  ClaimFinding,
  ClaimsReport,
  DeclaredAs,
  DeclaredProvenance,
  MeasuredAs,
  ModelVerdict,
  VerdictKind,
} from '../report-schema.js';

/**
 * How far mergekit's declared weight may be from the measured one and still agree. bf16
 * arithmetic moves a weight by up to 2⁻⁸ of itself (0.6 → 0.6015625), and a fit on a
 * modified blend by a few thousandths; a declared 0.5 measured as 0.6 is another recipe.
 */
export const DECLARED_WEIGHT_TOLERANCE = 0.02;

/** Tags by which a card says "this is a merge" without a base_model_relation. */
const MERGE_TAGS = ['merge', 'mergekit'];

const MEASURED_AS: Readonly<Record<VerdictKind, MeasuredAs>> = {
  blend: 'merge',
  'modified-blend': 'merge',
  identical: 'copy',
  derived: 'finetune',
  unrelated: 'unrelated',
  mixed: 'unclear',
  inconclusive: 'unclear',
};

export interface ClaimsInput {
  readonly declared: DeclaredProvenance;
  readonly verdict: Pick<ModelVerdict, 'kind' | 'weights' | 'parent'>;
  /** The parents as the user gave them (paths or Hub ids), in --parents order. */
  readonly parentSources: readonly string[];
  /** A parent with at least this weight is mixed in (the verdict's own threshold). */
  readonly minWeight: number;
}

/**
 * Compares what the suspect's files declare with what its weights show. A merge that no
 * file declares is the finding upload gates care about (`--fail-on undisclosed-merge`):
 * a card that calls a 0.6/0.4 blend "a fine-tune of A" misleads whoever builds on it.
 */
export function checkClaims(input: ClaimsInput): ClaimsReport {
  const { declared, verdict, parentSources, minWeight } = input;
  const declaredAs = declaredAsOf(declared);
  const measuredAs = MEASURED_AS[verdict.kind];
  const declaredNames = [...declared.baseModels, ...(declared.mergekit?.models.map((m) => m.model) ?? [])];
  if (declared.mergekit?.baseModel) declaredNames.push(declared.mergekit.baseModel);
  const parentsDeclared = parentSources.map((source) => declaredNames.some((name) => namesSameModel(name, source)));
  const declaredWeights = declaredWeightsOf(declared, parentSources);

  const findings: ClaimFinding[] = [];
  if (measuredAs === 'merge' && declaredAs !== 'merge') findings.push({ kind: 'undisclosed-merge' });
  if (declaredAs === 'merge' && (measuredAs === 'copy' || measuredAs === 'finetune' || measuredAs === 'unrelated')) {
    findings.push({ kind: 'merge-not-measured' });
  }
  // Which parents does the measurement find in the suspect? Only checked when the files
  // name any model at all: a card without base_model is silent, not wrong about parents.
  if (declaredNames.length > 0) {
    for (const parent of measuredParents(verdict, parentSources.length, minWeight)) {
      if (parentsDeclared[parent] !== true) findings.push({ kind: 'parent-not-declared', parent });
    }
  }
  if (measuredAs === 'merge' && declaredWeights !== null && verdict.weights !== null) {
    declaredWeights.forEach((declaredWeight, parent) => {
      const measured = verdict.weights?.[parent];
      if (declaredWeight === null || measured === undefined) return;
      if (Math.abs(declaredWeight - measured) > DECLARED_WEIGHT_TOLERANCE) {
        findings.push({ kind: 'declared-weight-differs', parent, declared: declaredWeight, measured });
      }
    });
  }

  const status: ClaimsReport['status'] =
    findings.length > 0
      ? 'inconsistent'
      : measuredAs === 'unclear'
        ? 'not-comparable'
        : declaredAs === 'nothing'
          ? 'no-declaration'
          : 'consistent';
  return {
    declared,
    declaredAs,
    measuredAs,
    parentsDeclared,
    declaredWeights,
    status,
    findings,
    undisclosedMerge: findings.some((finding) => finding.kind === 'undisclosed-merge'),
  };
}

/** A recipe, a `merge` relation or a merge tag declares a merge; else the relation, else base_model alone. */
export function declaredAsOf(declared: DeclaredProvenance): DeclaredAs {
  const relation = declared.relation?.toLowerCase() ?? null;
  if (declared.mergekit !== null || relation === 'merge') return 'merge';
  if (declared.tags.some((tag) => MERGE_TAGS.includes(tag.toLowerCase()))) return 'merge';
  if (relation === 'finetune' || relation === 'adapter' || relation === 'quantized') return relation;
  return declared.baseModels.length > 0 ? 'derivative' : 'nothing';
}

function measuredParents(
  verdict: ClaimsInput['verdict'],
  parentCount: number,
  minWeight: number,
): number[] {
  if (verdict.kind === 'identical' || verdict.kind === 'derived') return verdict.parent === null ? [] : [verdict.parent];
  if (verdict.kind !== 'blend' && verdict.kind !== 'modified-blend') return [];
  const weights = verdict.weights ?? [];
  return Array.from({ length: parentCount }, (_, parent) => parent).filter(
    (parent) => Math.abs(weights[parent] ?? 0) >= minWeight,
  );
}

/**
 * mergekit's `linear` method divides by the sum of the weights unless told not to, so
 * the declared weights are compared after the same normalisation. Only when every model
 * that matches a parent has one number as its weight.
 */
function declaredWeightsOf(declared: DeclaredProvenance, parentSources: readonly string[]): (number | null)[] | null {
  const models = declared.mergekit?.models ?? [];
  const weighted = models.filter((model) => model.weight !== null);
  if (weighted.length === 0) return null;
  const total = weighted.reduce((sum, model) => sum + (model.weight ?? 0), 0);
  if (!Number.isFinite(total) || total === 0) return null;
  return parentSources.map((source) => {
    const model = weighted.find((candidate) => namesSameModel(candidate.model, source));
    return model === undefined ? null : (model.weight ?? 0) / total;
  });
}

/**
 * Whether a declared model id and an input name the same model. A card names Hub ids
 * ("Qwen/Qwen3-8B"); the user may have passed a Hub id or a local download
 * ("models/Qwen3-8B/", "Qwen3-8B/model.safetensors"): the repository name (the last path
 * segment, case-insensitive) is what both keep.
 */
export function namesSameModel(declared: string, source: string): boolean {
  const a = repositoryName(declared);
  const b = repositoryName(source);
  return a !== '' && a === b;
}

function repositoryName(id: string): string {
  const segments = id
    .trim()
    .replace(/^(hf|https?):\/\/(huggingface\.co\/)?/i, '')
    .split(/[\\/]+/)
    .filter((segment) => segment !== '' && segment !== '.');
  const last = segments.at(-1) ?? '';
  const name = /\.safetensors(\.index\.json)?$/i.test(last) ? (segments.at(-2) ?? '') : last;
  return name.toLowerCase();
}
