/**
 * fixtures/README.md, rendered from the same run that wrote the models, so its recipes
 * and measured numbers can never drift from the bytes next to it.
 */
import type { Answer, FixtureSummary, ParentModel } from '../make-fixtures.js';
import { INFORMATIVE_ULPS, ULP_BUCKET_LABELS, type RelativeSizes, type UlpDistribution } from './measure.js';
import { elementCount, TINY_QWEN, type TensorSpec } from './tiny-qwen.js';

const percent = (share: number): string => `${(100 * share).toFixed(1)}%`;
const sci = (x: number): string => x.toExponential(1);
const range = (r: RelativeSizes): string => `${sci(r.min)} / ${sci(r.median)} / ${sci(r.max)}`;

function distributionRow(label: string, d: UlpDistribution): string {
  return `| ${label} | ${d.shares.map(percent).join(' | ')} | ${d.median.toFixed(2)} | ${percent(d.informative)} |`;
}

function distributionHeader(first: string): string {
  return [
    `| ${first} | ${ULP_BUCKET_LABELS.join(' | ')} | median | ≥ ${INFORMATIVE_ULPS} ulps |`,
    `|${'---|'.repeat(ULP_BUCKET_LABELS.length + 3)}`,
  ].join('\n');
}

function command(answer: Answer): string {
  return `provcheck suspect ${answer.suspect} --parents ${answer.parents.join(' ')}`;
}

function trueAnswer(answer: Answer, parentKeys: string[]): string {
  const weights =
    answer.weights === null
      ? 'none'
      : answer.weights.map((w, i) => `${parentKeys[i]} ${w}`).join(', ') + ` (± ${answer.tolerance})`;
  const parent = answer.parent === undefined ? '' : `, parent ${answer.parent} (${parentKeys[answer.parent]})`;
  return `**${answer.kind}**${parent}; weights in --parents order: ${weights}`;
}

export function renderReadme(summary: FixtureSummary, parents: readonly ParentModel[], specs: readonly TensorSpec[], prefix: string): string {
  const q = TINY_QWEN;
  const elements = specs.reduce((sum, s) => sum + elementCount(s), 0);
  const modelBytes = elements * 2;
  const lines: string[] = [];
  const add = (...text: string[]): void => {
    lines.push(...text);
  };

  add(
    '# Fixtures: tiny models with known provenance',
    '',
    'Generated — do not edit. Everything in this folder, this README included, is written by',
    '',
    '```sh',
    'npx tsx scripts/make-fixtures.ts    # npm run fixtures',
    '```',
    '',
    'The generator is deterministic to the byte (its own seeded xoshiro128** generator, polar',
    'Box–Muller normals with a logarithm built from IEEE basic operations only), and',
    '`test/fixtures/fixtures-are-fresh.test.ts` regenerates everything into a temporary folder',
    'and compares it with these files.',
    '',
    '## The model',
    '',
    `A tiny Qwen3-style causal LM (\`Qwen3ForCausalLM\`, see any \`config.json\`), every tensor BF16:`,
    `vocabulary ${q.vocabSize}, hidden ${q.hiddenSize}, ${q.layers} layers, ${q.attentionHeads} query heads and`,
    `${q.keyValueHeads} key/value heads of dimension ${q.headDim} (GQA), MLP ${q.intermediateSize}, untied \`lm_head\`.`,
    `${specs.length} tensors, ${elements.toLocaleString('en-US')} parameters, ${modelBytes.toLocaleString('en-US')} bytes of tensor data per model.`,
    'Names are transformers\'s:',
    '',
    '| tensor | shape |',
    '|---|---|',
    ...specs
      .filter((s) => !s.name.startsWith('model.layers.') || s.name.startsWith('model.layers.0.'))
      .map((s) => `| \`${s.name.replace('model.layers.0.', 'model.layers.{i}.')}\` | [${s.shape.join(', ')}] |`),
    '',
    `Matrices start as N(0, 0.02²), norm vectors as 1 + N(0, 0.02²) (near 1, where the bf16 step`,
    'is 2⁻⁸ below 1 and 2⁻⁷ above). All values are rounded to bf16 once, from float64 (or from',
    'float32 where a merge is done in float32, as PyTorch would).',
    '',
    '## Layout',
    '',
    `- \`${prefix}/parents/<name>/\` — every parent and the base, shared by the cases (one`,
    '  `model.safetensors`, tensors sorted by name as safetensors writes them, plus `config.json`).',
    `- \`${prefix}/<case>/suspect/\` — the model to judge.`,
    `- \`${prefix}/answers.json\` — the true answers, one entry per case:`,
    '  `{case, suspect, parents, base, kind, weights, parent?, tolerance, notIdentifiable}`.',
    '  Paths are relative to the repository root. `weights` are in `parents` order (null when',
    '  there are none); `tolerance` is the largest acceptable |estimate − truth| per weight;',
    '  `parent` is the index for `identical` and `derived`; `notIdentifiable` lists the tensors',
    '  on which two parents are bit-identical, whose weights must be reported as not',
    '  identifiable. `base` is the common ancestor of all parents: passed as an extra',
    '  reference (`--base`), its true weight is 0 and the weights above are unchanged.',
    '',
    `Besides this README: ${summary.files.length} files, ${summary.totalBytes.toLocaleString('en-US')} bytes.`,
    '',
    '## How hard the cases are',
    '',
    'What decides whether a blend can be recognised is how far apart its parents are in units',
    'of the suspect\'s bf16 step (ulp): a blend of parents one ulp apart rounds to one of them.',
    'The tables give, over all elements, the share of |parent − other parent| / ulp(suspect) in',
    `each bucket, its median, and the share of informative elements (≥ ${INFORMATIVE_ULPS} ulps, statistics.md).`,
    '',
    '## Parents',
    '',
    '‖Δ‖/‖W‖ is ‖parent − base‖ / ‖base‖ per tensor after rounding (min / median / max over tensors).',
    '',
    '| parent | what | recipe | ‖Δ‖/‖W‖ matrices | ‖Δ‖/‖W‖ norm vectors |',
    '|---|---|---|---|---|',
  );
  for (const parent of parents) {
    const measured = summary.parents.find((p) => p.key === parent.key);
    const change = measured?.change;
    add(
      `| \`${prefix}/parents/${parent.key}\` | ${parent.title} | ${parent.recipe} | ${change ? range(change.matrices) : '—'} | ${change ? range(change.norms) : '—'} |`,
    );
  }
  add('', 'How far each parent moved from the base, |parent − base| / ulp(parent):', '', distributionHeader('parent'));
  for (const p of summary.parents) if (p.fromBase) add(distributionRow(p.key, p.fromBase));
  add('', '## Cases', '');

  for (const [index, { fixture, measured }] of summary.cases.entries()) {
    const answer = summary.answers[index]!;
    add(
      `### ${index + 1}. \`${fixture.name}\` — ${fixture.title}`,
      '',
      `- Recipe: ${fixture.recipe}.`,
      `- Parents: ${fixture.parents.map((k) => `\`${k}\``).join(', ')}.`,
      `- Layout: ${layoutText(fixture.layout)}.`,
      `- Declared provenance: ${fixture.card === undefined ? 'none (no model card, no mergekit_config.yml)' : fixture.card.note}` +
        `; the claims check must ${answer.undisclosedMerge ? '' : 'not '}report an undisclosed merge.`,
      `- True answer: ${trueAnswer(answer, fixture.parents)} — ${fixture.weightsNote}.`,
      `- Suspect bit-equal to each parent: ${fixture.parents.map((k, i) => `${k} ${percent(measured.suspectEqualShare[i]!)}`).join(', ')}.`,
    );
    if (measured.extraChange) {
      add(
        `- The change on top, ‖suspect − start‖/‖start‖ (min / median / max): matrices ${range(measured.extraChange.matrices)}, norm vectors ${range(measured.extraChange.norms)}.`,
      );
    }
    if (measured.notIdentifiable.length > 0) {
      add(
        `- Not identifiable (parents bit-identical, ${measured.notIdentifiable.length} tensors): ${measured.notIdentifiable.map((n) => `\`${n}\``).join(', ')}.`,
      );
    }
    if (measured.fit) {
      const other = fixture.parents[1]!;
      add(
        `- On informative elements (parents ≥ ${INFORMATIVE_ULPS} ulps apart): least squares gives ${other} ${measured.fit.informativeLeastSquares.toFixed(4)}` +
          ` (element-weighted over tensors); bf16(${fixture.parents[0]} + w·(${other} − ${fixture.parents[0]})) at the true w = ${answer.weights![1]}` +
          ` reproduces ${percent(measured.fit.reproducedAtTruth)} of them bit for bit.`,
      );
    }
    add('', '```sh', command(answer), '```', '', distributionHeader('parents'));
    for (const d of measured.parentDistances) add(distributionRow(`${d.to} − ${d.from}`, d.distribution));
    add('');
  }
  return lines.join('\n');
}

function layoutText(layout: FixtureSummary['cases'][number]['fixture']['layout']): string {
  if (layout.kind === 'single') return 'one `model.safetensors`';
  const sizes = layout.groups.map((g) => g.length).join(' + ');
  return `${layout.groups.length} shards (${sizes} tensors) ${layout.index ? 'with' : '**without**'} \`model.safetensors.index.json\``;
}
