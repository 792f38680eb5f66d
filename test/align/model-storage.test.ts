import { describe, expect, it } from 'vitest';
import { storageSummary } from '../../src/align/model-storage.js';
import { parseMapRule } from '../../src/align/name-mapping.js';
import { loadModel } from '../../src/format/load-model.js';
import { readModelConfig } from '../../src/format/quantization/model-config.js';
import { logicalModel } from '../../src/format/quantization/schemes.js';
import { renderInspectText } from '../../src/report/render-inspect.js';
import { summarizeModel } from '../../src/format/model-summary.js';
import { textStyle } from '../../src/cli/color.js';

async function summaryOf(folder: string, rules: string[] = []) {
  const layout = await loadModel(`fixtures/${folder}/suspect`);
  try {
    const storage = storageSummary(logicalModel(layout, await readModelConfig(layout)), rules.map(parseMapRule));
    return { storage, text: renderInspectText({ ...summarizeModel(layout), storage }, { style: textStyle(false), all: false }) };
  } finally {
    await layout.close();
  }
}

describe('what inspect says about storage', () => {
  it('names the FP8 scheme and counts the scales consumed', async () => {
    const { storage, text } = await summaryOf('fp8-block');
    expect(storage.quantMethod).toBe('fp8');
    expect(storage.schemes.map((s) => [s.id, s.tensors])).toEqual([['fp8-block', 28]]);
    expect(storage.consumed).toBe(28);
    expect(storage.logicalTensors).toBe(47);
    expect(text).toContain('scheme: fine-grained FP8 (weight_scale_inv)');
    expect(text).toContain('47 weights to compare; 28 scale tensors read with their weights');
  });

  it('counts fused experts and the prefix normalised, and --map renames', async () => {
    const { storage, text } = await summaryOf('fused-experts', ['\\.self_attn\\.=.attention.']);
    expect(storage.experts).toEqual({ fusedTensors: 4, fusedSlices: 24, perExpertTensors: 0 });
    expect(storage.renames).toEqual([
      { rule: 'model.language_model. → model.', tensors: 20 },
      { rule: '--map \\.self_attn\\.=.attention.', tensors: 8 },
    ]);
    expect(text).toContain('experts: 4 fused tensors (24 per-expert matrices)');
  });
});
