import { describe, expect, it } from 'vitest';
import type { AlignedGroup } from '../../src/align/align-models.js';
import { addMoments, emptyMoments, type TensorMoments } from '../../src/engine/moments.js';
import { blockOrder, UnitBlocks } from '../../src/engine/sample-plan.js';
import { SampledScanner } from '../../src/engine/sampled-scan.js';
import { encode, FLOAT_FORMATS } from '../../src/format/dtype.js';
import { storedTensor } from '../../src/format/logical-tensor.js';
import type { ShardDescriptor, TensorDescriptor } from '../../src/format/model-layout.js';
import { BOOTSTRAP_REPLICATES, bootstrapFits, fitIntervals, SAMPLE_GROUPS } from '../../src/fit/sampling-intervals.js';
import { fitTensor, type TensorFit } from '../../src/fit/tensor-fit.js';
import { MemorySource } from '../../src/source/memory-source.js';
import { blendRoundedOnce, fineTunes, gaussian, random } from '../fit/synthetic.js';

const BF16 = FLOAT_FORMATS.BF16;
const ROWS = 256;
const COLS = 512;
const BLOCK = 1024;
const BLOCKS = (ROWS * COLS) / BLOCK;

/**
 * A blend of two bf16 fine-tunes (parents ~6 steps apart), then trained: an update
 * whose size varies by row, so that blocks differ and the interval must carry that.
 */
function trainedBlend(): AlignedGroup {
  const [a, b] = fineTunes(BF16, ROWS, COLS, 2, 6, 11);
  const next = random(12);
  const blend = blendRoundedOnce(BF16, [a!, b!], [0.35, 0.65]);
  const suspect = Float64Array.from(blend, (x, i) => {
    const rowScale = 1 + 3 * ((Math.floor(i / COLS) * 7919) % 13) / 13;
    return x + 2e-4 * rowScale * gaussian(next);
  });
  const descriptor = (values: Float64Array, name: string): TensorDescriptor => {
    const bytes = encode(BF16, values);
    const source = new MemorySource(bytes, name);
    const shard: ShardDescriptor = { file: name, source, size: bytes.byteLength, dataStart: 0, metadata: {}, tensorNames: ['w'] };
    return { name: 'w', dtype: 'BF16', shape: [ROWS, COLS], elements: ROWS * COLS, shard, start: 0, byteLength: bytes.byteLength };
  };
  const unit = { name: 'w', group: 'w', groupShape: [ROWS, COLS], shape: [ROWS, COLS], suspect: storedTensor(descriptor(suspect, 'suspect')), parents: [storedTensor(descriptor(a!, 'a')), storedTensor(descriptor(b!, 'b'))] };
  return { name: 'w', shape: [ROWS, COLS], units: [unit] };
}

describe('sampled intervals', () => {
  it('95% block-bootstrap intervals contain the full-scan weights and noiseRatio in at least 93% of seeds', async () => {
    const tensor = trainedBlend();
    const scanner = new SampledScanner({ parents: 2, reference: 0, informativeUlps: 4, blockElements: BLOCK, maxGapBytes: 0, concurrency: 4 });
    const { moments: perBlock } = await scanner.scanBlocks(tensor, new UnitBlocks([ROWS * COLS], BLOCK), Array.from({ length: BLOCKS }, (_, i) => i), null);
    const all = emptyMoments(2, 0);
    for (const block of perBlock) addMoments(all, block);
    const full = fitTensor(all);
    expect(full.weightMethod).toBe('informative-least-squares');
    expect(full.noiseRatio).toBeGreaterThan(3);

    const seeds = 200;
    const sampled = 24;
    let weightHits = 0;
    let ratioHits = 0;
    for (let seed = 0; seed < seeds; seed++) {
      const order = blockOrder('w', BLOCKS, seed);
      const groups: TensorMoments[] = [];
      for (let i = 0; i < sampled; i++) {
        const group = (groups[i % SAMPLE_GROUPS] ??= emptyMoments(2, 0));
        addMoments(group, perBlock[order[i]!]!);
      }
      const total = emptyMoments(2, 0);
      for (const group of groups) addMoments(total, group);
      const point = fitTensor(total);
      const replicates: TensorFit[] = [];
      bootstrapFits(groups, BOOTSTRAP_REPLICATES, seed, (fit) => replicates.push(fit));
      const intervals = fitIntervals(point, replicates, 0.95, groups.length);
      const [low, high] = intervals.weights[1]!;
      if (low <= full.weights[1]! && full.weights[1]! <= high) weightHits++;
      if (intervals.noiseRatio[0] <= full.noiseRatio && full.noiseRatio <= intervals.noiseRatio[1]) ratioHits++;
    }
    expect(weightHits / seeds).toBeGreaterThanOrEqual(0.93);
    expect(ratioHits / seeds).toBeGreaterThanOrEqual(0.93);
  }, 60_000);
});
