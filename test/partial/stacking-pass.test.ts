/**
 * The stacking pass on the committed passthrough fixture (fixtures/recipes/passthrough-stack:
 * our implementation of mergekit passthrough with slices A[0, 2) + B[1, 4)), through the
 * whole analysis, and its parts.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze.js';
import { sketchBlocks, SKETCH_BLOCK_ELEMENTS, SKETCH_BLOCKS, stackingNeeded } from '../../src/partial/stacking-pass.js';
import { renderJson } from '../../src/report/render-json.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { renderHtml } from '../../src/report/render-html.js';
import { renderText } from '../../src/report/render-text.js';
import { PLAIN_STYLE } from '../../src/report/text-style.js';
import { stackingVerdict } from '../../src/verdict/recipes/stacking-verdict.js';
import type { Report } from '../../src/report-schema.js';

const at = (path: string): string => new URL(`../../${path}`, import.meta.url).pathname;
const answers = JSON.parse(await readFile(at('fixtures/recipes/answers.json'), 'utf8')) as { case: string; suspect: string; parents: string[]; expect: { layerMap?: string } }[];
const stack = answers.find((a) => a.case === 'passthrough-stack')!;

describe('layer stacking, end to end', () => {
  it('passthrough-stack: the exact layer map, every tensor a bit-for-bit copy, a verdict naming the parents', async () => {
    const report = await analyze({ suspect: at(stack.suspect), parents: stack.parents.map(at), threads: 0 });
    const stacking = report.verdict.stacking!;
    expect(report.verdict.kind).toBe('mixed');
    expect(stacking.parents).toEqual([0, 1]);
    expect(stacking.ranges).toEqual([
      { suspectFrom: 0, suspectTo: 1, parent: 0, parentFrom: 0, parentTo: 1 },
      { suspectFrom: 2, suspectTo: 4, parent: 1, parentFrom: 1, parentTo: 3 },
    ]);
    // 5 layers × 11 tensors + embed_tokens, model.norm and lm_head.
    expect(stacking).toMatchObject({ tensors: 58, exact: 58, withinCell: 58 });
    expect(report.verdict.summary).toBe(
      `suspect is a layer-stacked composition (passthrough) of A and B: suspect layers ${stack.expect.layerMap!.replace('A 0', 'A layers 0').replace('B 1', 'B layers 1')}; 58 of 58 tensors bit for bit copies of a parent tensor.`,
    );
    const checked = report.forensics!.layerStacking!.tensors!;
    expect(checked.length).toBe(58);
    expect(checked.every((t) => t.exact === t.elements && t.distance === 0)).toBe(true);
    const layer4 = checked.find((t) => t.name === 'model.layers.4.self_attn.q_proj.weight')!;
    expect(layer4).toMatchObject({ parent: 1, source: 'model.layers.3.self_attn.q_proj.weight' });
    expect(checked.find((t) => t.name === 'lm_head.weight')).toMatchObject({ parent: 0, source: 'lm_head.weight' });
    expect(report.forensics!.layerStacking!.renamed.length).toBe(33);

    const json = JSON.parse(renderJson(report)) as Report;
    expect(json.verdict.stacking).toEqual(stacking);
    expect(json.forensics!.layerStacking!.tensors).toEqual(checked);
    expect(renderMarkdown(report)).toContain('- layer map: suspect layers 0–1 = A layers 0–1; 2–4 = B layers 1–3 (found by seeded sketches, then checked whole: 58 of 58 suspect tensors bit-identical');
    expect(renderHtml(report)).toContain('<h2>Recipe</h2>');
  });

  it('an unrelated model runs the pass and finds no stack; a plain blend does not run it', async () => {
    const unrelated = await analyze({ suspect: at('fixtures/unrelated/suspect'), parents: [at('fixtures/parents/a'), at('fixtures/parents/b')], threads: 0 });
    expect(unrelated.verdict.kind).toBe('unrelated');
    expect(unrelated.verdict.stacking).toBeUndefined();
    expect(unrelated.forensics!.layerStacking!.ranges.every((r) => r.parent === null)).toBe(true);
    const blend = await analyze({ suspect: at('fixtures/blend-small-delta/suspect'), parents: [at('fixtures/parents/a'), at('fixtures/parents/b')], threads: 0 });
    expect(stackingNeeded(blend.tensors, blend.unmatched.suspectOnly)).toBe(false);
    expect(blend.forensics!.layerStacking).toBeNull();
  });

  it('an expert copied over another in a per-expert model: one slice unrelated, the pass names its source', async () => {
    // moe-a with layer 0's expert 3 down_proj replaced by expert 1's bytes.
    const dir = await mkdtemp(join(tmpdir(), 'provcheck-expert-copy-'));
    try {
      const bytes = new Uint8Array(await readFile(at('fixtures/parents/moe-a/model.safetensors')));
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, { data_offsets: [number, number] }>;
      const [from, to] = ['1', '3'].map((e) => header[`model.layers.0.mlp.experts.${e}.down_proj.weight`]!.data_offsets.map((o) => 8 + headerLength + o));
      bytes.copyWithin(to![0]!, from![0]!, from![1]!);
      await writeFile(join(dir, 'model.safetensors'), bytes);
      await copyFile(at('fixtures/parents/moe-a/config.json'), join(dir, 'config.json'));

      const report = await analyze({ suspect: dir, parents: [at('fixtures/parents/moe-a'), at('fixtures/parents/moe-b')], threads: 0 });
      const down = report.tensors.find((t) => t.name === 'model.layers.0.mlp.experts.down_proj')!;
      expect(down.slices!.filter((s) => s.kind !== 'identical').map((s) => [s.expert, s.kind])).toEqual([[3, 'unrelated']]);
      const copied = report.forensics!.layerStacking!.tensors!.find((t) => t.name === 'model.layers.0.mlp.experts.3.down_proj.weight')!;
      expect(copied).toMatchObject({ parent: 0, source: 'model.layers.0.mlp.experts.1.down_proj.weight', exact: 1024, elements: 1024 });
      // Listed as the odd one out, though the small layer's tensor is unrelated as a whole; its identical experts are not.
      const text = renderText(report, { style: PLAIN_STYLE }).replace(/\n\s+/g, ' ');
      expect(text).toContain('1 differ from the rest of their tensor: expert 3 of layer 0 (model.layers.0.mlp.experts.3.down_proj.weight): unrelated');
      expect(text).not.toContain('expert 0 of layer 0');
      // Among many experts the tensor stays close to its parent, and the slice alone asks
      // for the pass, when it is a stored tensor (per expert); a fused tensor's slice is not.
      const slices = down.slices!.map((s) => ({ ...s, kind: s.expert === 3 ? ('unrelated' as const) : ('identical' as const) }));
      const stored = new Set(down.slices!.map((s) => s.name));
      expect(stackingNeeded([{ ...down, kind: 'derived', slices }], [], stored)).toBe(true);
      expect(stackingNeeded([{ ...down, kind: 'derived', slices }], [], new Set())).toBe(false);
      expect(stackingNeeded([{ ...down, kind: 'derived', slices: slices.map((s) => ({ ...s, kind: 'identical' as const })) }], [], stored)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sketch blocks: one per stratum, inside the tensor, the same for every tensor of a size', () => {
    expect(sketchBlocks(100, 1)).toEqual([{ first: 0, count: 100 }]);
    expect(sketchBlocks(0, 1)).toEqual([]);
    const n = 1_000_003;
    const blocks = sketchBlocks(n, 7);
    expect(blocks).toEqual(sketchBlocks(n, 7));
    expect(blocks).not.toEqual(sketchBlocks(n, 8));
    expect(blocks.length).toBe(SKETCH_BLOCKS);
    const stratum = Math.floor(n / SKETCH_BLOCKS);
    blocks.forEach((b, i) => {
      expect(b.count).toBe(SKETCH_BLOCK_ELEMENTS);
      expect(b.first).toBeGreaterThanOrEqual(i * stratum);
      expect(b.first + b.count).toBeLessThanOrEqual((i + 1) * stratum);
    });
  });

  it('stackingVerdict: not for a copy in place, a layer without source, or too little explained', () => {
    const tensor = (parent: number | null, elements = 10) => ({ name: 'x', layer: 0, parent, source: parent === null ? null : 'x', distance: 0, elements, exact: elements, withinCell: elements });
    const range = (suspectFrom: number, suspectTo: number, parent: number | null, parentFrom: number | null) => ({
      suspectFrom,
      suspectTo,
      parent,
      parentFrom,
      parentTo: parentFrom === null ? null : parentFrom + suspectTo - suspectFrom,
    });
    expect(stackingVerdict({ ranges: [range(0, 3, 0, 0)], tensors: [tensor(0)] }, 0.95)).toBeNull();
    expect(stackingVerdict({ ranges: [range(0, 1, 0, 0), range(2, 2, null, null)], tensors: [tensor(0)] }, 0.95)).toBeNull();
    expect(stackingVerdict({ ranges: [range(0, 1, 0, 0), range(2, 3, 1, 1)], tensors: [tensor(0, 90), tensor(null, 10)] }, 0.95)).toBeNull();
    // A model stacked with itself: one parent, a repeated layer.
    expect(stackingVerdict({ ranges: [range(0, 3, 0, 0), range(4, 4, 0, 3)], tensors: [tensor(0, 99), tensor(null, 1)] }, 0.95)).toEqual({
      parents: [0],
      ranges: [range(0, 3, 0, 0), range(4, 4, 0, 3)],
      tensors: 2,
      exact: 1,
      withinCell: 1,
    });
  });
});
