import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, FLOAT_FORMATS } from '../../src/format/dtype.js';
import { loadModel } from '../../src/format/load-model.js';
import type { LogicalTensor } from '../../src/format/logical-tensor.js';
import { readModelConfig } from '../../src/format/quantization/model-config.js';
import { inferScaleGrid, logicalModel, type LogicalModel } from '../../src/format/quantization/schemes.js';
import { quantizeFp8Blocks, quantizeMxfp4, quantizeNvfp4 } from '../../scripts/fixture-lib/quantize.js';
import { randomFor } from '../../scripts/fixture-lib/random.js';
import { writeModel, type TensorBytes } from '../helpers/safetensors-writer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'provcheck-schemes-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function weights(label: string, n: number): Float64Array {
  const values = randomFor(label).fillNormal(new Float64Array(n));
  for (let i = 0; i < n; i++) values[i] = values[i]! * 0.02;
  return values;
}

async function open(name: string, tensors: TensorBytes[], config: object | null): Promise<LogicalModel> {
  const dir = join(root, name);
  await writeModel(dir, tensors);
  if (config) await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const layout = await loadModel(dir);
  return logicalModel(layout, await readModelConfig(layout));
}

async function readAll(tensor: LogicalTensor): Promise<Float64Array> {
  const out = new Float64Array(tensor.elements);
  await tensor.read(0, tensor.elements, out);
  return out;
}

const norm: TensorBytes = { name: 'model.norm.weight', dtype: 'BF16', shape: [4], data: encode(FLOAT_FORMATS.BF16, [1, 1, 1, 1]) };

describe('round trip through each scheme', () => {
  it('fine-grained FP8: weight_scale_inv per block from weight_block_size, ragged edges, multiplied', async () => {
    const q = quantizeFp8Blocks('model.layers.0.mlp.up_proj', weights('fp8', 40 * 70), [40, 70], [16, 32], '.weight_scale_inv');
    const model = await open('fp8', [...q.tensors, norm], { quantization_config: { quant_method: 'fp8', weight_block_size: [16, 32] } });
    expect(model.quantMethod).toBe('fp8');
    expect(model.schemes).toEqual([{ id: 'fp8-block', title: 'fine-grained FP8 (weight_scale_inv)', detail: 'per 16×32 block', tensors: 1 }]);
    expect([...model.tensors.keys()]).toEqual(['model.layers.0.mlp.up_proj.weight', 'model.norm.weight']);
    expect(model.consumed).toContain('model.layers.0.mlp.up_proj.weight_scale_inv');
    const tensor = model.tensors.get('model.layers.0.mlp.up_proj.weight')!;
    expect(tensor.shape).toEqual([40, 70]);
    expect(await readAll(tensor)).toEqual(q.dequantized);
  });

  it('compressed-tensors FP8 per channel and per block, activation scales consumed', async () => {
    const channel = quantizeFp8Blocks('a', weights('ct-channel', 24 * 16), [24, 16], [1, 16], '.weight_scale');
    const block = quantizeFp8Blocks('b', weights('ct-block', 24 * 16), [24, 16], [8, 8], '.weight_scale');
    const inputScale: TensorBytes = { name: 'a.input_scale', dtype: 'F32', shape: [1], data: encode(FLOAT_FORMATS.F32, [0.5]) };
    const model = await open('ct-fp8', [...channel.tensors, ...block.tensors, inputScale], {
      quantization_config: { quant_method: 'compressed-tensors', format: 'float-quantized', config_groups: { group_0: { weights: { strategy: 'block', block_structure: [8, 8] } } } },
    });
    expect(model.schemes.map((s) => [s.id, s.detail, s.tensors])).toEqual([['compressed-tensors-fp8', 'per 8×8 block, per channel', 2]]);
    expect([...model.tensors.keys()]).toEqual(['a.weight', 'b.weight']);
    expect(model.consumed).toContain('a.input_scale');
    expect(await readAll(model.tensors.get('a.weight')!)).toEqual(channel.dequantized);
    expect(await readAll(model.tensors.get('b.weight')!)).toEqual(block.dequantized);
  });

  for (const flavour of ['compressed-tensors', 'modelopt'] as const) {
    it(`NVFP4 (${flavour}): packed E2M1 × E4M3 per 16 with the global scale ${flavour === 'modelopt' ? 'multiplied' : 'divided'}`, async () => {
      const q = quantizeNvfp4('x', weights(`nvfp4-${flavour}`, 8 * 64), [8, 64], flavour);
      const model = await open(`nvfp4-${flavour}`, q.tensors, null);
      expect(model.schemes.map((s) => [s.id, s.detail])).toEqual([[flavour === 'modelopt' ? 'modelopt-nvfp4' : 'compressed-tensors-nvfp4', 'per group of 16']]);
      expect([...model.tensors.keys()]).toEqual(['x.weight']);
      const tensor = model.tensors.get('x.weight')!;
      expect(tensor.shape).toEqual([8, 64]);
      expect(await readAll(tensor)).toEqual(q.dequantized);
    });
  }

  it('gpt-oss MXFP4: blocks × E8M0 per 32, read transposed as the BF16 release lays experts out', async () => {
    const q = quantizeMxfp4('model.layers.0.mlp.experts.down_proj', weights('mxfp4', 2 * 64 * 5), [2, 64, 5]);
    const model = await open('mxfp4', q.tensors, { quantization_config: { quant_method: 'mxfp4' } });
    expect(model.schemes.map((s) => s.id)).toEqual(['mxfp4']);
    const tensor = model.tensors.get('model.layers.0.mlp.experts.down_proj')!;
    expect(tensor.shape).toEqual([2, 64, 5]);
    expect(await readAll(tensor)).toEqual(q.dequantized);
  });

  it('reports tensors that are no weights it can read, and reads F8 tensors without scales as they are', async () => {
    const model = await open(
      'unsupported',
      [
        { name: 'packed.weight_packed', dtype: 'I32', shape: [2], data: new Uint8Array(8) },
        { name: 'raw.weight', dtype: 'F8_E5M2', shape: [2], data: Uint8Array.from([0x3c, 0xbc]) },
      ],
      null,
    );
    expect(model.unsupported).toEqual([{ name: 'packed.weight_packed', dtype: 'I32', reason: 'integer dtype I32 outside a known quantization scheme' }]);
    expect([...(await readAll(model.tensors.get('raw.weight')!))]).toEqual([1, -1]);
  });

  it('reads tie_word_embeddings from text_config too', async () => {
    const model = await open('tied', [norm], { text_config: { tie_word_embeddings: true } });
    expect(model.tieWordEmbeddings).toBe(true);
  });
});

describe('inferScaleGrid', () => {
  it('tells per-tensor, per-channel, per-group and per-block scales apart', () => {
    expect(inferScaleGrid([300, 200], [1], null)).toMatchObject({ blockRows: 300, blockCols: 200 });
    expect(inferScaleGrid([300, 200], [300, 1], null)).toMatchObject({ blockRows: 1, blockCols: 200 });
    expect(inferScaleGrid([300, 200], [300], null)).toMatchObject({ blockRows: 1, blockCols: 200 });
    expect(inferScaleGrid([300, 256], [300, 16], null)).toMatchObject({ blockRows: 1, blockCols: 16 });
    // Ragged: 300 rows in 3 blocks is 128 per block, not 100.
    expect(inferScaleGrid([300, 200], [3, 2], null)).toMatchObject({ blockRows: 128, blockCols: 128 });
    expect(inferScaleGrid([4, 300, 200], [4, 3, 2], null)).toMatchObject({ batch: 4, blockRows: 128, sharedAcrossBatch: false });
    expect(inferScaleGrid([300, 200], [5, 7], { rows: 64, cols: 32 })).toMatchObject({ blockRows: 64, blockCols: 32 });
    expect(inferScaleGrid([10, 10], [6, 6], null)).toBe('scale shape [6, 6] fits no block size for weight [10, 10]');
  });
});

describe('inferScaleGrid with a configured block', () => {
  it('describes a matrix smaller than the block by the block, one scale per block it touches', () => {
    const hint = { rows: 128, cols: 128 };
    expect(inferScaleGrid([64, 64], [1, 1], hint)).toMatchObject({ blockRows: 128, blockCols: 128 });
    expect(inferScaleGrid([256, 64], [2, 1], hint)).toMatchObject({ blockRows: 128, blockCols: 128 });
    expect(inferScaleGrid([64, 172], [1, 2], hint)).toMatchObject({ blockRows: 128, blockCols: 128 });
    // A group hint (one row) does not widen a per-channel scale.
    expect(inferScaleGrid([300, 200], [300, 1], { rows: 1, cols: 16 })).toMatchObject({ blockRows: 1, blockCols: 200 });
  });
});
