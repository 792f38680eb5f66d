import { describe, expect, it } from 'vitest';
import type { ModelSummary, TensorSummary } from '../../src/format/model-summary.js';
import { INSPECT_SCHEMA_VERSION, renderInspectJson, renderInspectText } from '../../src/report/render-inspect.js';
import { MAX_LINE_WIDTH } from '../../src/report/text-layout.js';
import { PLAIN_STYLE } from '../../src/report/text-style.js';

function tensor(name: string, shape: number[], file: string, dtype = 'BF16'): TensorSummary {
  return { name, dtype, shape, bytes: shape.reduce((a, b) => a * b, 1) * 2, file };
}

/** A 40-layer model in two shards: 2 + 40 × 3 = 122 tensors. */
function layeredModel(): ModelSummary {
  const tensors: TensorSummary[] = [tensor('model.embed_tokens.weight', [1000, 64], 'model-00001-of-00002.safetensors')];
  for (let layer = 0; layer < 40; layer++) {
    const file = layer < 20 ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors';
    tensors.push(tensor(`model.layers.${layer}.self_attn.q_proj.weight`, [64, 64], file));
    tensors.push(tensor(`model.layers.${layer}.mlp.up_proj.weight`, [256, 64], file));
    tensors.push(tensor(`model.layers.${layer}.input_layernorm.weight`, [64], file, 'F32'));
  }
  tensors.push(tensor('lm_head.weight', [1000, 64], 'model-00002-of-00002.safetensors'));
  return {
    input: 'llama-mini/',
    root: '/models/llama-mini',
    kind: 'folder-indexed',
    indexFile: 'model.safetensors.index.json',
    files: [
      { file: 'model-00001-of-00002.safetensors', bytes: 1_000_000, headerBytes: 4_088, tensorCount: 61, metadata: { format: 'pt' } },
      { file: 'model-00002-of-00002.safetensors', bytes: 900_000, headerBytes: 4_000, tensorCount: 61, metadata: {} },
    ],
    dtypes: [
      { dtype: 'BF16', tensors: 82, elements: 948_480, bytes: 1_896_960 },
      { dtype: 'F32', tensors: 40, elements: 2_560, bytes: 5_120 },
    ],
    totals: { tensors: 122, elements: 951_040, tensorBytes: 1_902_080, fileBytes: 1_900_000 },
    tensors,
  };
}

describe('renderInspectText', () => {
  it('groups numbered layers of a large model into one row per kind of tensor', () => {
    expect(renderInspectText(layeredModel(), { style: PLAIN_STYLE, all: false })).toMatchInlineSnapshot(`
      "llama-mini/
        folder-indexed (index model.safetensors.index.json), 2 files, 1.9 MB, 122 tensors

      Files
        #  file                                  size  header  tensors
        1  model-00001-of-00002.safetensors    1.0 MB  4.1 kB       61
        2  model-00002-of-00002.safetensors  900.0 kB  4.0 kB       61

      Metadata
        model-00001-of-00002.safetensors
          format: pt

      Dtypes
        dtype  tensors  elements    size
        BF16        82    948.5k  1.9 MB
        F32         40      2.6k  5.1 kB

      Tensors
        122 tensors in 5 groups (numbered parts merged; size is per tensor); --all lists every tensor
        tensor                                        dtype  shape           size  count  file
        model.embed_tokens.weight                     BF16   [1000, 64]  128.0 kB     ×1     1
        model.layers.{0..39}.self_attn.q_proj.weight  BF16   [64, 64]      8.2 kB    ×40   1–2
        model.layers.{0..39}.mlp.up_proj.weight       BF16   [256, 64]    32.8 kB    ×40   1–2
        model.layers.{0..39}.input_layernorm.weight   F32    [64]           128 B    ×40   1–2
        lm_head.weight                                BF16   [1000, 64]  128.0 kB     ×1     2
      "
    `);
  });

  it('lists every tensor with --all', () => {
    const text = renderInspectText(layeredModel(), { style: PLAIN_STYLE, all: true });
    expect(text).toContain('model.layers.39.input_layernorm.weight');
    expect(text.split('\n').filter((line) => line.includes('.weight')).length).toBe(122);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(MAX_LINE_WIDTH);
  });

  it('shows sparse numbered parts as a set', () => {
    const summary = layeredModel();
    const sparse = summary.tensors.filter((t) => !/layers\.(?:[1-9]|[1-3]\d)\./.test(t.name) || /layers\.(?:7|21)\./.test(t.name));
    for (let i = 0; i < 90; i++) sparse.push(tensor(`extra.${i}.weight`, [i + 1], 'model-00002-of-00002.safetensors'));
    const text = renderInspectText({ ...summary, tensors: sparse }, { style: PLAIN_STYLE, all: false });
    expect(text).toContain('model.layers.{0,7,21}.mlp.up_proj.weight ');
    expect(text).toContain('… 15 more groups');
    expect(text).toContain('95 groups');
  });
});

describe('renderInspectJson', () => {
  it('puts the schema version first and keeps every tensor', () => {
    const parsed = JSON.parse(renderInspectJson(layeredModel())) as Record<string, unknown> & { tensors: unknown[] };
    expect(Object.keys(parsed)[0]).toBe('schemaVersion');
    expect(parsed['schemaVersion']).toBe(INSPECT_SCHEMA_VERSION);
    expect(parsed.tensors).toHaveLength(122);
    expect(parsed).toEqual({ schemaVersion: INSPECT_SCHEMA_VERSION, ...layeredModel() });
  });
});
