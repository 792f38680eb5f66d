/**
 * fixtures/recipes/: suspects made with mergekit's methods (our own implementation,
 * fixture-lib/mergekit-methods.ts) from the shared parents, with the parameters a
 * detector must recover, in fixtures/recipes/answers.json. Kept apart from the core
 * cases (fixtures/answers.json): their right answer is a recipe, which the core
 * verdict alone does not state.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode, FLOAT_FORMATS } from '../../src/format/dtype.js';
import { writeModel } from '../../test/helpers/safetensors-writer.js';
import { slerp, stackLayers, taskMerge, type LayerSlice, type TaskMergeRecipe } from './mergekit-methods.js';
import { randomFor } from './random.js';
import { tensorOf, type Weights } from './synthesis.js';
import { TINY_QWEN, tinyQwenConfigJson, type TensorSpec } from './tiny-qwen.js';

export interface RecipeAnswer {
  case: string;
  suspect: string;
  /** In --parents order; `base`, when set, is passed as --base. */
  parents: string[];
  base: string | null;
  recipe: string;
  /** What must be recovered, by the names of the report's forensics fields. */
  expect: Record<string, unknown>;
}

/** mergekit's gradient: anchor values spread evenly over the layers, interpolated linearly. */
export function gradientAt(anchors: readonly number[], layer: number, layers: number): number {
  const x = layers === 1 ? 0 : (layer / (layers - 1)) * (anchors.length - 1);
  const i = Math.min(Math.floor(x), anchors.length - 2);
  const f = x - i;
  return anchors[i]! * (1 - f) + anchors[i + 1]! * f;
}

function layerIndex(name: string): number | null {
  const match = /\.layers\.(\d+)\./.exec(name);
  return match ? Number(match[1]) : null;
}

async function writeSuspect(dir: string, specs: readonly TensorSpec[], weights: Weights, config = tinyQwenConfigJson()): Promise<void> {
  const tensors = specs
    .map((spec) => ({ name: spec.name, dtype: 'BF16', shape: [...spec.shape], data: encode(FLOAT_FORMATS.BF16, tensorOf(weights, spec.name)) }))
    .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  await writeModel(dir, tensors);
  await writeFile(join(dir, 'config.json'), config);
}

/** Writes fixtures/recipes/ under `outDir`; `parent(key)` gives fixtures/parents/<key>'s weights. */
export async function writeRecipeFixtures(outDir: string, specs: readonly TensorSpec[], parent: (key: string) => Weights, prefix: string): Promise<RecipeAnswer[]> {
  const root = join(outDir, 'recipes');
  await mkdir(root, { recursive: true });
  const answers: RecipeAnswer[] = [];
  const parentPath = (key: string): string => `${prefix}/parents/${key}`;
  const add = async (
    name: string,
    weights: Weights,
    answer: Omit<RecipeAnswer, 'case' | 'suspect'>,
    layout: { specs: readonly TensorSpec[]; config: string } = { specs, config: tinyQwenConfigJson() },
  ): Promise<void> => {
    await writeSuspect(join(root, name, 'suspect'), layout.specs, weights, layout.config);
    answers.push({ case: name, suspect: `${prefix}/recipes/${name}/suspect`, ...answer });
  };
  const base = parent('base');
  const a = parent('a');
  const b = parent('b');
  const aLarge = parent('a-large');
  const bLarge = parent('b-large');
  const layers = TINY_QWEN.layers;

  // SLERP with per-layer t, as a typical mergekit config: attention on a gradient, MLP constant.
  const slerpT = (name: string): number => {
    const layer = layerIndex(name);
    if (layer !== null && name.includes('.self_attn.')) return gradientAt([0.2, 0.8], layer, layers);
    if (layer !== null && name.includes('.mlp.')) return 0.3;
    return 0.5;
  };
  const slerped = new Map(specs.map((s) => [s.name, slerp(slerpT(s.name), tensorOf(aLarge, s.name), tensorOf(bLarge, s.name)).values]));
  await add('slerp-gradient', slerped, {
    parents: [parentPath('a-large'), parentPath('b-large')],
    base: null,
    recipe:
      'mergekit slerp of A_large (base_model) and B_large: t on a gradient [0.2, 0.8] over the 4 layers for self_attn ' +
      '(0.2, 0.4, 0.6, 0.8), 0.3 for mlp, 0.5 elsewhere; float32, rounded once to bf16',
    expect: { interpolation: ['slerp'], attentionT: [0.2, 0.4, 0.6, 0.8], mlpT: 0.3, attentionSchedule: 'ramp', mlpSchedule: 'constant' },
  });

  const task = (recipe: TaskMergeRecipe): Weights =>
    new Map(specs.map((s) => [s.name, taskMerge(tensorOf(base, s.name), [tensorOf(a, s.name), tensorOf(b, s.name)], recipe)]));
  await add('task-arithmetic', task({ weights: [0.7, 0.5], sparsification: { kind: 'none' }, signConsensus: false, normalize: false }), {
    parents: [parentPath('base'), parentPath('a'), parentPath('b')],
    base: parentPath('base'),
    recipe: 'mergekit task_arithmetic, base_model base: base + 0.7·(A − base) + 0.5·(B − base), float32, rounded once to bf16',
    expect: { scales: [null, 0.7, 0.5], baseWeight: -0.2, elementwise: null },
  });
  await add('ties', task({ weights: [0.5, 0.5], sparsification: { kind: 'magnitude', density: 0.5 }, signConsensus: true, normalize: true }), {
    parents: [parentPath('base'), parentPath('a'), parentPath('b')],
    base: parentPath('base'),
    recipe: 'mergekit ties, base_model base, A and B at weight 0.5, density 0.5 (top half of |Δ| per tensor), sign election by sum, normalised',
    expect: { elementwise: 'ties', consistentWith: 'ties', density: 0.5 },
  });
  let dareTensor = 0;
  await add(
    'dare',
    new Map(
      specs.map((s) => [
        s.name,
        taskMerge(tensorOf(base, s.name), [tensorOf(a, s.name), tensorOf(b, s.name)], {
          weights: [0.5, 0.5],
          sparsification: { kind: 'random', density: 0.3, random: randomFor(`recipes/dare/${dareTensor++}/${s.name}`) },
          signConsensus: false,
          normalize: false,
        }),
      ]),
    ),
    {
      parents: [parentPath('base'), parentPath('a'), parentPath('b')],
      base: parentPath('base'),
      recipe: 'mergekit dare_linear, base_model base, A and B at weight 0.5, density 0.3 (each Δ kept with probability 0.3, survivors ÷ 0.3)',
      expect: { elementwise: 'dare', consistentWith: 'dare_linear', density: 0.3, scales: [null, 0.5, 0.5] },
    },
  );
  // Breadcrumbs and DELLA are close relatives of TIES and DARE: the reading names the
  // family (`elementwise`) and the verdict lists the mergekit methods it cannot tell apart,
  // which must include the one used (`consistentWith`).
  await add(
    'breadcrumbs',
    task({ weights: [0.5, 0.5], sparsification: { kind: 'magnitude-outliers', density: 0.5, gamma: 0.01 }, signConsensus: false, normalize: false }),
    {
      parents: [parentPath('base'), parentPath('a'), parentPath('b')],
      base: parentPath('base'),
      recipe:
        'mergekit breadcrumbs, base_model base, A and B at weight 0.5, density 0.5, gamma 0.01 (per tensor the largest 1% of |Δ| ' +
        'and the smallest 49% dropped), no sign election, not normalised',
      expect: { elementwise: 'magnitude-pruned', consistentWith: 'breadcrumbs', density: 0.5, gamma: 0.01 },
    },
  );
  let dellaTensor = 0;
  await add(
    'della',
    new Map(
      specs.map((s) => [
        s.name,
        taskMerge(tensorOf(base, s.name), [tensorOf(a, s.name), tensorOf(b, s.name)], {
          weights: [0.5, 0.5],
          sparsification: {
            kind: 'magnitude-ranked',
            density: 0.5,
            epsilon: 0.1,
            rowLength: s.shape[s.shape.length - 1]!,
            random: randomFor(`recipes/della/${dellaTensor++}/${s.name}`),
          },
          signConsensus: true,
          normalize: true,
          lambda: 1,
        }),
      ]),
    ),
    {
      parents: [parentPath('base'), parentPath('a'), parentPath('b')],
      base: parentPath('base'),
      recipe:
        'mergekit della, base_model base, A and B at weight 0.5, density 0.5, epsilon 0.1 (keep probability 0.4–0.6 by |Δ| rank ' +
        'within each row), lambda 1.0, survivors rescaled to the L1 norm, sign election by sum, normalised',
      expect: { elementwise: 'dare', consistentWith: 'della', density: 0.5, epsilon: 0.1, lambda: 1 },
    },
  );

  // Passthrough: 5 layers from A's [0, 2) and B's [1, 4); embeddings, final norm and head from A.
  const slices: LayerSlice[] = [{ source: 0, from: 0, to: 2 }, { source: 1, from: 1, to: 4 }];
  const plan = stackLayers(slices);
  const stackSpecs: TensorSpec[] = [];
  const stacked = new Map<string, Float64Array>();
  for (const spec of specs) {
    const layer = layerIndex(spec.name);
    if (layer !== null) continue;
    stackSpecs.push(spec);
    stacked.set(spec.name, tensorOf(a, spec.name).slice());
  }
  plan.forEach(({ source, layer }, suspectLayer) => {
    for (const spec of specs.filter((s) => layerIndex(s.name) === layer)) {
      const name = spec.name.replace(`.layers.${layer}.`, `.layers.${suspectLayer}.`);
      stackSpecs.push({ ...spec, name });
      stacked.set(name, tensorOf([a, b][source]!, spec.name).slice());
    }
  });
  const stackConfig = tinyQwenConfigJson()
    .replace(`"num_hidden_layers": ${layers}`, `"num_hidden_layers": ${plan.length}`)
    .replace(`"max_window_layers": ${layers}`, `"max_window_layers": ${plan.length}`);
  await add('passthrough-stack', stacked, {
    parents: [parentPath('a'), parentPath('b')],
    base: null,
    recipe: 'mergekit passthrough, slices: A layers [0, 2) then B layers [1, 4) (5 layers); embed_tokens, model.norm and lm_head from A',
    expect: { layerMap: '0–1 = A 0–1; 2–4 = B 1–3' },
  }, { specs: stackSpecs, config: stackConfig });

  // Parent discovery needs no new weights: existing suspects against more candidates than were merged.
  answers.push(
    {
      case: 'discover-two-of-four',
      suspect: `${prefix}/blend-small-delta/suspect`,
      parents: ['a', 'b', 'c', 'base'].map(parentPath),
      base: null,
      recipe: 'the blend-small-delta suspect (0.4·A + 0.6·B) against four candidates',
      expect: { explaining: [0, 1], addNothing: [2, 3] },
    },
    {
      case: 'discover-three-of-five',
      suspect: `${prefix}/three-parents/suspect`,
      parents: ['base', 'a', 'b', 'c', 'a-large'].map(parentPath),
      base: null,
      recipe: 'the three-parents suspect (0.5·A + 0.3·B + 0.2·C) against five candidates',
      expect: { explaining: [1, 2, 3], addNothing: [0, 4] },
    },
  );
  await writeFile(join(root, 'answers.json'), JSON.stringify(answers, null, 2) + '\n');
  await writeFile(join(root, 'README.md'), recipeReadme(answers));
  return answers;
}

function recipeReadme(answers: readonly RecipeAnswer[]): string {
  const lines = [
    '# fixtures/recipes',
    '',
    "Suspects made with mergekit's merge methods — our own implementation of the published",
    'recipes (scripts/fixture-lib/mergekit-methods.ts) — from the models in ../parents, with',
    'the parameters a detector must recover. Generated by `npm run fixtures`; do not edit.',
    'answers.json holds the same list for tests (test/fit/recipes/recipe-fixtures.test.ts).',
    '',
    '| case | suspect | parents (--base) | recipe | to recover |',
    '|---|---|---|---|---|',
  ];
  for (const a of answers) {
    const parents = a.parents.map((p) => (p === a.base ? `${p} (base)` : p)).join(', ');
    const cell = (text: string): string => text.replaceAll('|', '\\|');
    lines.push(`| ${a.case} | ${a.suspect} | ${cell(parents)} | ${cell(a.recipe)} | \`${JSON.stringify(a.expect)}\` |`);
  }
  return lines.join('\n') + '\n';
}
