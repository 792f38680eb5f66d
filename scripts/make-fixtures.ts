/**
 * Generates fixtures/: tiny Qwen3-style models in bf16 whose provenance is known exactly,
 * with fixtures/README.md and fixtures/answers.json saying what the right answer is.
 *
 *   npx tsx scripts/make-fixtures.ts      (npm run fixtures)
 *
 * Deterministic to the byte (see fixture-lib/random.ts); test/fixtures/fixtures-are-fresh
 * regenerates everything and compares it with the committed files.
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode, FLOAT_FORMATS } from '../src/format/dtype.js';
import type { VerdictKind } from '../src/report-schema.js';
import { writeModel, type TensorBytes } from '../test/helpers/safetensors-writer.js';
import {
  equalShare,
  identicalTensors,
  relativeChange,
  twoParentFit,
  ulpDistribution,
  type TwoParentFit,
  type RelativeSizes,
  type UlpDistribution,
} from './fixture-lib/measure.js';
import { LAYOUT_FIXTURES_README, writeLayoutFixtures } from './fixture-lib/layout-fixtures.js';
import { renderReadme } from './fixture-lib/readme.js';
import { writeRecipeFixtures } from './fixture-lib/recipe-fixtures.js';
import {
  applyUpdate,
  bf16WeightSum,
  blendInBf16Arithmetic,
  blendInFloat32,
  initialise,
  tensorOf,
  type UpdateRecipe,
  type Weights,
} from './fixture-lib/synthesis.js';
import { tinyQwenConfigJson, tinyQwenTensors, type TensorSpec } from './fixture-lib/tiny-qwen.js';

/** Paths in answers.json and the README are as typed from the repository root. */
export const FIXTURES_PREFIX = 'fixtures';

/** One safetensors file, or shards (named as transformers names them) with or without an index. */
export type Layout = { kind: 'single' } | { kind: 'shards'; groups: string[][]; index: boolean };

export interface ParentModel {
  /** Folder under fixtures/parents/. */
  readonly key: string;
  readonly title: string;
  readonly recipe: string;
  readonly weights: Weights;
}

export interface FixtureCase {
  readonly name: string;
  readonly title: string;
  /** Markdown: how the suspect was made. */
  readonly recipe: string;
  readonly suspect: Weights;
  readonly layout: Layout;
  /** Keys of fixtures/parents/*, in --parents order. */
  readonly parents: string[];
  readonly kind: VerdictKind;
  readonly weights: number[] | null;
  readonly parent?: number;
  /** Largest acceptable |estimated − true| per weight. */
  readonly tolerance: number;
  /** Where the weights come from, for the README. */
  readonly weightsNote: string;
  /** What the suspect's own files declare about its origin (README.md front matter, mergekit_config.yml). */
  readonly card?: ModelCard;
}

/** Declared provenance written beside the weights, as the Hub and mergekit write it. */
export interface ModelCard {
  /** README.md, front matter and all. */
  readonly readme?: string;
  readonly mergekitConfig?: string;
  /** The right answer of the claims check: the card hides a merge the weights show. */
  readonly undisclosedMerge: boolean;
  /** One line for the fixtures README. */
  readonly note: string;
}

export interface Answer {
  case: string;
  suspect: string;
  parents: string[];
  base: string;
  kind: VerdictKind;
  weights: number[] | null;
  parent?: number;
  tolerance: number;
  /** Tensors on which two parents are bit-identical: their weights cannot be identified. */
  notIdentifiable: string[];
  /** Whether the claims check must report an undisclosed merge (the weights are a merge; no file says so). */
  undisclosedMerge: boolean;
}

export interface CaseMeasurements {
  /** |parent_j − parent_0| in ulps of the suspect, for each j ≥ 1. */
  parentDistances: { from: string; to: string; distribution: UlpDistribution }[];
  /** Share of elements where the suspect equals each parent bit for bit. */
  suspectEqualShare: number[];
  notIdentifiable: string[];
  /** For suspects with training after the fact: ‖suspect − start‖/‖start‖. */
  extraChange: { matrices: RelativeSizes; norms: RelativeSizes } | null;
  /** Two-parent cases with weights: how a naive estimate and the true weight fare. */
  fit: TwoParentFit | null;
}

export interface ParentMeasurements {
  key: string;
  change: { matrices: RelativeSizes; norms: RelativeSizes } | null;
  fromBase: UlpDistribution | null;
}

export interface FixtureSummary {
  parents: ParentMeasurements[];
  cases: { fixture: FixtureCase; measured: CaseMeasurements }[];
  files: { path: string; bytes: number }[];
  totalBytes: number;
  answers: Answer[];
}

const SMALL_UPDATE = { matrixRelative: [4e-3, 1e-2], normRelative: [3e-3, 1.2e-2] } as const;
const LARGE_UPDATE = { matrixRelative: [5e-2, 2e-1], normRelative: [2e-2, 6e-2] } as const;

function isFrozenInFrozenParents(spec: TensorSpec): boolean {
  return spec.role === 'norm' || spec.name === 'model.embed_tokens.weight' || spec.name === 'lm_head.weight';
}

function parentPath(key: string): string {
  return `${FIXTURES_PREFIX}/parents/${key}`;
}

function suspectPath(caseName: string): string {
  return `${FIXTURES_PREFIX}/${caseName}/suspect`;
}

/** Builds every model in memory; writes nothing. */
export function buildFixtures(): { specs: TensorSpec[]; parents: ParentModel[]; cases: FixtureCase[] } {
  const specs = tinyQwenTensors();
  const base = initialise(specs, 'base');
  const fineTune = (label: string, from: Weights, sizes: Omit<UpdateRecipe, 'label'>): Weights =>
    applyUpdate(specs, from, { label, ...sizes });

  const a = fineTune('a', base, SMALL_UPDATE);
  const b = fineTune('b', base, SMALL_UPDATE);
  const c = fineTune('c', base, SMALL_UPDATE);
  const aLarge = fineTune('a-large', base, LARGE_UPDATE);
  const bLarge = fineTune('b-large', base, LARGE_UPDATE);
  const aFrozen = fineTune('a-frozen', base, { ...SMALL_UPDATE, frozen: isFrozenInFrozenParents });
  const bFrozen = fineTune('b-frozen', base, { ...SMALL_UPDATE, frozen: isFrozenInFrozenParents });

  const smallRecipe =
    'base + Δ, Δ per tensor: low-rank (rank 4–8, 60% of ‖Δ‖²) + dense Gaussian noise; ' +
    '‖Δ‖/‖W‖ uniform in [0.002, 0.010] for matrices, [0.003, 0.012] for norm vectors; rounded once to bf16';
  const parents: ParentModel[] = [
    { key: 'base', title: 'the common base', recipe: 'matrices N(0, 0.02²), norm vectors 1 + N(0, 0.02²), rounded once to bf16', weights: base },
    { key: 'a', title: 'fine-tune A of base', recipe: smallRecipe, weights: a },
    { key: 'b', title: 'fine-tune B of base', recipe: `${smallRecipe} (independent of A)`, weights: b },
    { key: 'c', title: 'fine-tune C of base', recipe: `${smallRecipe} (independent of A and B)`, weights: c },
    {
      key: 'a-large',
      title: 'fine-tune of base with a large update',
      recipe: 'as A, but ‖Δ‖/‖W‖ uniform in [0.05, 0.20] for matrices, [0.02, 0.06] for norm vectors',
      weights: aLarge,
    },
    { key: 'b-large', title: 'another large-update fine-tune of base', recipe: 'as a-large, independent of it', weights: bLarge },
    {
      key: 'a-frozen',
      title: 'fine-tune of base with embeddings, lm_head and all norms frozen',
      recipe: `as A (independent draws), but model.embed_tokens, lm_head and every *norm.weight are base's, bit for bit`,
      weights: aFrozen,
    },
    { key: 'b-frozen', title: 'another fine-tune with the same tensors frozen', recipe: 'as a-frozen, independent of it', weights: bFrozen },
  ];

  const demo = blendInFloat32([a, b], [0.4, 0.6], specs);
  const bf16Blend = blendInBf16Arithmetic([a, b], [0.4, 0.6], specs);
  // mergekit divides by the bf16 sum of the weights: 0.400390625 + 0.6015625 =
  // 1.001953125 = 1 + 2⁻⁹, below half of bf16's step at 1 (2⁻⁷), so it rounds to 1.0 and
  // the division changes nothing. Checked, so the README's effective weights stay true.
  if (bf16WeightSum([0.4, 0.6]) !== 1) throw new Error('fixtures: expected the bf16 weight sum 0.6 + 0.4 to round to 1');
  const [effectiveA, effectiveB] = bf16Blend.effective as [number, number];

  const stateDictOrder = specs.map((s) => s.name);
  const reversed = [...stateDictOrder].reverse();
  const cases: FixtureCase[] = [
    {
      name: 'blend-small-delta',
      title: 'the demo: a float32 blend of two close fine-tunes',
      recipe: 'bf16(0.4·A + 0.6·B), computed in float32 (weights, products and the sum each rounded to float32), rounded once to bf16',
      suspect: demo,
      layout: { kind: 'single' },
      parents: ['a', 'b'],
      kind: 'blend',
      weights: [0.4, 0.6],
      tolerance: 0.01,
      weightsNote: 'exact recipe weights (float32: 0.4000000059604645, 0.6000000238418579)',
      card: {
        readme: modelCardReadme({ baseModels: ['parents/a'], relation: 'finetune', tags: ['text-generation'] }, 'A fine-tune of parents/a on our own data.'),
        undisclosedMerge: true,
        note: 'README.md declares `base_model: parents/a`, `base_model_relation: finetune`: a merge passed off as a fine-tune (undisclosed merge)',
      },
    },
    {
      name: 'blend-large-delta',
      title: 'a float32 blend of two far-apart fine-tunes, other weights',
      recipe: 'bf16(0.3·A_large + 0.7·B_large), computed in float32, rounded once to bf16',
      suspect: blendInFloat32([aLarge, bLarge], [0.3, 0.7], specs),
      layout: { kind: 'single' },
      parents: ['a-large', 'b-large'],
      kind: 'blend',
      weights: [0.3, 0.7],
      tolerance: 0.01,
      weightsNote: 'exact recipe weights',
    },
    {
      name: 'blend-bf16-arith',
      title: 'the demo blend done in bf16 arithmetic, as mergekit with dtype: bfloat16',
      recipe:
        'mergekit `linear`, `dtype: bfloat16`, on CPU: weights rounded to bf16 (0.4 → 0.400390625, 0.6 → 0.6015625), ' +
        'each product rounded to bf16, the sum accumulated in float32 and rounded to bf16, then divided by the bf16 sum ' +
        'of the weights, which is exactly 1.0 (1.001953125 rounds to 1 in bf16)',
      suspect: bf16Blend.weights,
      layout: { kind: 'single' },
      parents: ['a', 'b'],
      kind: 'blend',
      weights: [effectiveA, effectiveB],
      tolerance: 0.01,
      weightsNote:
        'the bf16 weights the arithmetic really used; they sum to 1.001953125, so a fit that forces the sum to 1 ' +
        'lands in between (about 0.399 / 0.601), within the tolerance of both',
      card: {
        readme: modelCardReadme(
          { baseModels: ['parents/a', 'parents/b'], relation: 'merge', tags: ['merge', 'mergekit'] },
          'A linear merge of parents/a and parents/b made with mergekit.',
        ),
        mergekitConfig: [
          'merge_method: linear',
          'dtype: bfloat16',
          'models:',
          '  - model: parents/a',
          '    parameters:',
          '      weight: 0.4',
          '  - model: parents/b',
          '    parameters:',
          '      weight: 0.6',
          '',
        ].join('\n'),
        undisclosedMerge: false,
        note: 'README.md declares `base_model: [parents/a, parents/b]`, `base_model_relation: merge`, and mergekit_config.yml the recipe (linear, 0.4/0.6, bfloat16): an honest merge',
      },
    },
    {
      name: 'blend-then-trained',
      title: 'the demo blend, then trained',
      recipe:
        'bf16(demo suspect + Δ), Δ as a fine-tune update (low-rank + noise), ‖Δ‖/‖W‖ uniform in [0.005, 0.010] ' +
        'for matrices, [0.003, 0.010] for norm vectors',
      suspect: applyUpdate(specs, demo, { label: 'blend-then-trained', matrixRelative: [5e-3, 1e-2], normRelative: [3e-3, 1e-2] }),
      layout: { kind: 'single' },
      parents: ['a', 'b'],
      kind: 'modified-blend',
      weights: [0.4, 0.6],
      tolerance: 0.05,
      weightsNote: 'the blend underneath; the extra change is independent of A and B, so a fit lands near it',
    },
    {
      name: 'blend-lightly-trained',
      title: 'the demo blend, then trained a little',
      recipe:
        'bf16(demo suspect + Δ), Δ as a fine-tune update (low-rank + noise), ‖Δ‖/‖W‖ uniform in [0.0004, 0.0008] ' +
        'for matrices and norm vectors: well under the bf16 rounding noise (~0.0011 of ‖W‖), so the residual stays ' +
        'at the floor and only the bit-for-bit replay shows the change',
      suspect: applyUpdate(specs, demo, { label: 'blend-lightly-trained', matrixRelative: [4e-4, 8e-4], normRelative: [4e-4, 8e-4] }),
      layout: { kind: 'single' },
      parents: ['a', 'b'],
      kind: 'modified-blend',
      weights: [0.4, 0.6],
      tolerance: 0.02,
      weightsNote: 'the blend underneath; the extra change is tiny and independent of A and B',
    },
    {
      name: 'finetune',
      title: 'a fine-tune of A (no B in it)',
      recipe:
        'bf16(A + Δ), Δ as a fine-tune update, ‖Δ‖/‖W‖ uniform in [0.008, 0.012] for matrices, [0.003, 0.010] for norm vectors',
      suspect: applyUpdate(specs, a, { label: 'finetune', matrixRelative: [8e-3, 1.2e-2], normRelative: [3e-3, 1e-2] }),
      layout: { kind: 'single' },
      parents: ['a', 'b'],
      kind: 'derived',
      weights: [1, 0],
      parent: 0,
      tolerance: 0.05,
      weightsNote: 'A plus change: A weight 1, B weight 0',
      card: {
        readme: modelCardReadme({ baseModels: ['parents/a'], relation: 'finetune', tags: [] }, 'A fine-tune of parents/a.'),
        undisclosedMerge: false,
        note: 'README.md declares `base_model: parents/a`, `base_model_relation: finetune`: true',
      },
    },
    {
      name: 'unrelated',
      title: 'an independently initialised model with the same shapes',
      recipe: 'initialised like the base from an independent seed',
      suspect: initialise(specs, 'unrelated'),
      layout: { kind: 'single' },
      parents: ['a', 'b'],
      kind: 'unrelated',
      weights: null,
      tolerance: 0,
      weightsNote: 'the parents explain none of it',
    },
    {
      name: 'reupload',
      title: 'A re-uploaded with another shard layout',
      recipe:
        'A bit for bit, saved as 3 shards with model.safetensors.index.json, tensors in reverse state-dict order ' +
        '(A itself is one file with names sorted)',
      suspect: a,
      layout: { kind: 'shards', groups: splitByBytes(reversed, specs, 3), index: true },
      parents: ['a', 'b'],
      kind: 'identical',
      weights: [1, 0],
      parent: 0,
      // Bit-identical: any weight off [1, 0] by more than float64 noise is wrong.
      tolerance: 1e-9,
      weightsNote: 'A itself',
    },
    {
      name: 'frozen-parents',
      title: 'a blend of two fine-tunes that froze the same tensors',
      recipe: 'bf16(0.4·A_frozen + 0.6·B_frozen), computed in float32, rounded once to bf16',
      suspect: blendInFloat32([aFrozen, bFrozen], [0.4, 0.6], specs),
      layout: { kind: 'single' },
      parents: ['a-frozen', 'b-frozen'],
      kind: 'blend',
      weights: [0.4, 0.6],
      tolerance: 0.01,
      weightsNote: 'exact recipe weights, from the tensors where the parents differ; the frozen ones cannot say',
    },
    {
      name: 'three-parents',
      title: 'a float32 blend of three fine-tunes',
      recipe: 'bf16(0.5·A + 0.3·B + 0.2·C), computed in float32 left to right, rounded once to bf16',
      suspect: blendInFloat32([a, b, c], [0.5, 0.3, 0.2], specs),
      layout: { kind: 'single' },
      parents: ['a', 'b', 'c'],
      kind: 'blend',
      weights: [0.5, 0.3, 0.2],
      tolerance: 0.01,
      weightsNote: 'exact recipe weights',
    },
    {
      name: 'sharded-no-index',
      title: 'the demo suspect as two shards without an index file',
      recipe: 'the blend-small-delta suspect bit for bit, saved as model-00001-of-00002 and model-00002-of-00002, no index',
      suspect: demo,
      layout: { kind: 'shards', groups: splitByBytes(stateDictOrder, specs, 2), index: false },
      parents: ['a', 'b'],
      kind: 'blend',
      weights: [0.4, 0.6],
      tolerance: 0.01,
      weightsNote: 'as blend-small-delta',
    },
  ];
  return { specs, parents, cases };
}

/** A model card as the Hub renders one: YAML front matter between `---` lines, then prose. */
function modelCardReadme(metadata: { baseModels: string[]; relation: string; tags: string[] }, prose: string): string {
  const lines = ['---', 'library_name: transformers', 'base_model:', ...metadata.baseModels.map((m) => `- ${m}`)];
  lines.push(`base_model_relation: ${metadata.relation}`);
  if (metadata.tags.length > 0) lines.push('tags:', ...metadata.tags.map((t) => `- ${t}`));
  lines.push('---', '', '# Model card', '', prose, '');
  return lines.join('\n');
}

/** Consecutive groups of names with about equal bytes, as save_pretrained's max_shard_size does. */
function splitByBytes(names: readonly string[], specs: readonly TensorSpec[], shards: number): string[][] {
  const sizeOf = new Map(specs.map((s) => [s.name, s.shape.reduce((x, y) => x * y, 1)]));
  const total = names.reduce((sum, n) => sum + sizeOf.get(n)!, 0);
  const groups: string[][] = [[]];
  let filled = 0;
  for (const name of names) {
    const size = sizeOf.get(name)!;
    const current = groups[groups.length - 1]!;
    if (current.length > 0 && groups.length < shards && filled + size / 2 > (total * groups.length) / shards) groups.push([name]);
    else current.push(name);
    filled += size;
  }
  if (groups.length !== shards) throw new Error(`fixtures: could not split into ${shards} shards`);
  return groups;
}

function tensorBytes(specs: readonly TensorSpec[], weights: Weights): TensorBytes[] {
  return specs.map((spec) => ({
    name: spec.name,
    dtype: 'BF16',
    shape: [...spec.shape],
    data: encode(FLOAT_FORMATS.BF16, tensorOf(weights, spec.name)),
  }));
}

async function writeModelFolder(dir: string, specs: readonly TensorSpec[], weights: Weights, layout: Layout, card?: ModelCard): Promise<void> {
  const tensors = tensorBytes(specs, weights);
  if (layout.kind === 'single') {
    // safetensors' own writer orders tensors by name (all share one dtype here).
    tensors.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    await writeModel(dir, tensors);
  } else {
    await writeModel(dir, tensors, { shards: layout.groups, index: layout.index });
  }
  await writeFile(join(dir, 'config.json'), tinyQwenConfigJson());
  if (card?.readme !== undefined) await writeFile(join(dir, 'README.md'), card.readme);
  if (card?.mergekitConfig !== undefined) await writeFile(join(dir, 'mergekit_config.yml'), card.mergekitConfig);
}

function measureCase(specs: readonly TensorSpec[], fixture: FixtureCase, parentWeights: (key: string) => Weights, start: Weights | null): CaseMeasurements {
  const parents = fixture.parents.map(parentWeights);
  const reference = parents[0]!;
  const notIdentifiable = new Set<string>();
  for (let i = 0; i < parents.length; i++) {
    for (let j = i + 1; j < parents.length; j++) {
      for (const name of identicalTensors(specs, parents[i]!, parents[j]!)) notIdentifiable.add(name);
    }
  }
  return {
    parentDistances: parents.slice(1).map((p, j) => ({
      from: fixture.parents[0]!,
      to: fixture.parents[j + 1]!,
      distribution: ulpDistribution(specs, reference, p, fixture.suspect),
    })),
    suspectEqualShare: parents.map((p) => equalShare(specs, fixture.suspect, p)),
    notIdentifiable: specs.map((s) => s.name).filter((n) => notIdentifiable.has(n)),
    extraChange: start ? relativeChange(specs, start, fixture.suspect) : null,
    fit:
      parents.length === 2 && fixture.weights !== null
        ? twoParentFit(specs, reference, parents[1]!, fixture.suspect, fixture.weights[1]!)
        : null,
  };
}

async function listFiles(root: string, dir = root): Promise<{ path: string; bytes: number }[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const files: { path: string; bytes: number }[] = [];
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(root, full)));
    else files.push({ path: relative(root, full).split('\\').join('/'), bytes: (await stat(full)).size });
  }
  return files;
}

/** Writes every fixture, README.md and answers.json into `outDir` (which should be empty). */
export async function makeFixtures(outDir: string): Promise<FixtureSummary> {
  const { specs, parents, cases } = buildFixtures();
  const byKey = new Map(parents.map((p) => [p.key, p.weights]));
  const parentWeights = (key: string): Weights => {
    const weights = byKey.get(key);
    if (!weights) throw new Error(`fixtures: no parent ${key}`);
    return weights;
  };
  const base = parentWeights('base');

  await mkdir(outDir, { recursive: true });
  for (const parent of parents) await writeModelFolder(join(outDir, 'parents', parent.key), specs, parent.weights, { kind: 'single' });
  for (const fixture of cases) await writeModelFolder(join(outDir, fixture.name, 'suspect'), specs, fixture.suspect, fixture.layout, fixture.card);

  const starts: Record<string, Weights> = {
    'blend-then-trained': cases.find((c) => c.name === 'blend-small-delta')!.suspect,
    'blend-lightly-trained': cases.find((c) => c.name === 'blend-small-delta')!.suspect,
    finetune: parentWeights('a'),
  };
  const measuredCases = cases.map((fixture) => ({
    fixture,
    measured: measureCase(specs, fixture, parentWeights, starts[fixture.name] ?? null),
  }));
  for (const { fixture, measured } of measuredCases) {
    const expectFrozen = fixture.name === 'frozen-parents';
    const frozenNames = specs.filter(isFrozenInFrozenParents).map((s) => s.name);
    const expected = expectFrozen ? frozenNames : [];
    if (measured.notIdentifiable.join() !== expected.join()) {
      throw new Error(`fixtures: ${fixture.name} has parents identical on ${measured.notIdentifiable.join(', ') || 'nothing'}`);
    }
  }
  const parentMeasurements: ParentMeasurements[] = parents.map((p) =>
    p.key === 'base'
      ? { key: p.key, change: null, fromBase: null }
      : { key: p.key, change: relativeChange(specs, base, p.weights), fromBase: ulpDistribution(specs, base, p.weights, p.weights) },
  );

  const answers: Answer[] = measuredCases.map(({ fixture, measured }) => ({
    case: fixture.name,
    suspect: suspectPath(fixture.name),
    parents: fixture.parents.map(parentPath),
    base: parentPath('base'),
    kind: fixture.kind,
    weights: fixture.weights,
    ...(fixture.parent === undefined ? {} : { parent: fixture.parent }),
    tolerance: fixture.tolerance,
    notIdentifiable: measured.notIdentifiable,
    // No card at all hides a merge as well as a misleading one: every blend without a
    // declaration is undisclosed.
    undisclosedMerge: fixture.card?.undisclosedMerge ?? (fixture.kind === 'blend' || fixture.kind === 'modified-blend'),
  }));
  // Checkpoints stored otherwise (FP8 blocks, fused experts, resized vocabulary, F32-stored bf16): appended.
  const largeBlend = cases.find((c) => c.name === 'blend-large-delta')!.suspect;
  answers.push(...(await writeLayoutFixtures(outDir, FIXTURES_PREFIX, { specs, largeBlend })));
  await writeFile(join(outDir, 'answers.json'), JSON.stringify(answers, null, 2) + '\n');
  // Recipe forensics (mergekit's methods with known parameters): their own folder and answers.
  await writeRecipeFixtures(outDir, specs, parentWeights, FIXTURES_PREFIX);

  const modelFiles = await listFiles(outDir);
  const modelBytes = modelFiles.reduce((sum, f) => sum + f.bytes, 0);
  const summaryWithoutReadme: FixtureSummary = {
    parents: parentMeasurements,
    cases: measuredCases,
    files: modelFiles,
    totalBytes: modelBytes,
    answers,
  };
  await writeFile(join(outDir, 'README.md'), renderReadme(summaryWithoutReadme, parents, specs, FIXTURES_PREFIX) + LAYOUT_FIXTURES_README);
  const files = await listFiles(outDir);
  return { ...summaryWithoutReadme, files, totalBytes: files.reduce((sum, f) => sum + f.bytes, 0) };
}

function formatShares(d: UlpDistribution): string {
  return d.shares.map((s) => `${(100 * s).toFixed(1).padStart(5)}%`).join(' ');
}

async function main(): Promise<void> {
  const outDir = fileURLToPath(new URL('../fixtures/', import.meta.url));
  // Everything under fixtures/ is generated: start clean so a renamed case leaves nothing behind.
  await rm(outDir, { recursive: true, force: true });
  const started = Date.now();
  const summary = await makeFixtures(outDir);
  const out = process.stdout;
  out.write(`wrote ${summary.files.length} files, ${(summary.totalBytes / 1e6).toFixed(2)} MB, to ${outDir} in ${Date.now() - started} ms\n\n`);
  out.write(`|Δ|/ulp buckets: ${['0', '(0,1]', '(1,2]', '(2,4]', '(4,8]', '(8,16]', '(16,64]', '>64'].join(' | ')}\n\n`);
  for (const p of summary.parents) {
    if (!p.change || !p.fromBase) continue;
    out.write(
      `parents/${p.key}: ‖Δ‖/‖W‖ matrices ${p.change.matrices.min.toExponential(2)}..${p.change.matrices.max.toExponential(2)} ` +
        `(median ${p.change.matrices.median.toExponential(2)}), norms median ${p.change.norms.median.toExponential(2)}\n` +
        `  |p − base|/ulp(p): ${formatShares(p.fromBase)}  median ${p.fromBase.median.toFixed(2)}\n`,
    );
  }
  out.write('\n');
  for (const { fixture, measured } of summary.cases) {
    out.write(`${fixture.name}: ${fixture.kind} ${JSON.stringify(fixture.weights)}\n`);
    for (const d of measured.parentDistances) {
      out.write(`  |${d.to} − ${d.from}|/ulp(s): ${formatShares(d.distribution)}  median ${d.distribution.median.toFixed(2)}, informative ${(100 * d.distribution.informative).toFixed(1)}%\n`);
    }
    out.write(`  suspect bit-equal to parents: ${measured.suspectEqualShare.map((s) => `${(100 * s).toFixed(1)}%`).join(', ')}\n`);
    if (measured.notIdentifiable.length > 0) out.write(`  not identifiable: ${measured.notIdentifiable.length} tensors\n`);
    if (measured.fit) {
      out.write(
        `  informative least squares: weight of ${fixture.parents[1]} ${measured.fit.informativeLeastSquares.toFixed(4)}; ` +
          `true weight reproduces ${(100 * measured.fit.reproducedAtTruth).toFixed(1)}% of informative elements\n`,
      );
    }
  }
  const folders = new Map<string, number>();
  for (const f of summary.files) {
    const folder = f.path.includes('/') ? f.path.slice(0, f.path.lastIndexOf('/')) : '.';
    folders.set(folder, (folders.get(folder) ?? 0) + f.bytes);
  }
  out.write('\n');
  for (const [folder, bytes] of folders) out.write(`${String(bytes).padStart(9)}  ${folder}\n`);
}

const invokedAsScript = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedAsScript) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
