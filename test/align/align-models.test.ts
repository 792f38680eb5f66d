import { describe, expect, it } from 'vitest';
import { alignModels, groupUnits } from '../../src/align/align-models.js';
import { canonicalName, expertGroupName, expertOf, fusedExpertParts, hasFusedExpertParts, parseMapRule } from '../../src/align/name-mapping.js';
import type { LogicalTensor } from '../../src/format/logical-tensor.js';
import type { LogicalModel } from '../../src/format/quantization/schemes.js';
import type { ModelLayout, TensorDescriptor } from '../../src/format/model-layout.js';
import { UsageError } from '../../src/errors.js';

/** A tensor whose element i holds base + i, so a slice shows where it came from. */
function counting(name: string, shape: number[], base: number): LogicalTensor {
  const elements = shape.reduce((a, b) => a * b, 1);
  return {
    name,
    shape,
    elements,
    encoding: 'test',
    storedBytes: elements * 2,
    recipe: { kind: 'stored', leaf: {} as TensorDescriptor, codes: 'BF16', shape: null, name },
    read: (first, count, out) => {
      for (let i = 0; i < count; i++) out[i] = base + first + i;
      return Promise.resolve();
    },
  };
}

function model(tensors: Record<string, [number[], number]>, tie = false): LogicalModel {
  return {
    layout: {} as ModelLayout,
    quantMethod: null,
    schemes: [],
    tensors: new Map(Object.entries(tensors).map(([name, [shape, base]]) => [name, counting(name, shape, base)])),
    consumed: [],
    unsupported: [],
    tieWordEmbeddings: tie,
  };
}

async function valuesOf(tensor: LogicalTensor): Promise<number[]> {
  const out = new Float64Array(tensor.elements);
  await tensor.read(0, tensor.elements, out);
  return [...out];
}

const none = { include: [], exclude: [] };

describe('name mapping', () => {
  it('normalises wrapper prefixes and says which', () => {
    expect(canonicalName('model.language_model.layers.0.mlp.up_proj.weight', [])).toEqual({
      name: 'model.layers.0.mlp.up_proj.weight',
      prefix: 'model.language_model. → model.',
      mapped: false,
    });
    expect(canonicalName('model.layers.0.x', []).prefix).toBeNull();
  });

  it('applies --map rules before the prefixes, with capture groups', () => {
    const rule = parseMapRule('^transformer\\.h\\.(\\d+)\\.=model.layers.$1.');
    expect(canonicalName('transformer.h.3.attn.weight', [rule])).toEqual({ name: 'model.layers.3.attn.weight', prefix: null, mapped: true });
    expect(parseMapRule('a\\=b=c').replacement).toBe('c');
    expect(() => parseMapRule('no-separator')).toThrow(UsageError);
    expect(() => parseMapRule('(=x')).toThrow(/--map '\(=x'/);
  });

  it('splits fused experts into per-expert matrices, gate rows before up rows', () => {
    expect(fusedExpertParts('model.layers.1.mlp.experts.gate_up_proj', [2, 4, 3])).toEqual([
      { name: 'model.layers.1.mlp.experts.0.gate_proj.weight', offset: 0, shape: [2, 3] },
      { name: 'model.layers.1.mlp.experts.0.up_proj.weight', offset: 6, shape: [2, 3] },
      { name: 'model.layers.1.mlp.experts.1.gate_proj.weight', offset: 12, shape: [2, 3] },
      { name: 'model.layers.1.mlp.experts.1.up_proj.weight', offset: 18, shape: [2, 3] },
    ]);
    expect(fusedExpertParts('model.layers.1.mlp.experts.down_proj', [2, 3, 2])?.map((p) => [p.name, p.offset])).toEqual([
      ['model.layers.1.mlp.experts.0.down_proj.weight', 0],
      ['model.layers.1.mlp.experts.1.down_proj.weight', 6],
    ]);
    expect(fusedExpertParts('model.layers.1.mlp.up_proj.weight', [2, 4, 3])).toBeNull();
    expect(expertOf('model.layers.40.mlp.experts.17.up_proj.weight')).toBe(17);
  });

  it('says a tensor has fused expert parts exactly when fusedExpertParts makes them', () => {
    // The alignment asks hasFusedExpertParts and makes the parts only when needed, so the
    // two must agree on every shape: odd gate_up rows (no parts), no experts at all (an
    // empty list of parts, odd rows or not), other ranks and names.
    const names = ['m.layers.0.mlp.experts.gate_up_proj', 'm.layers.0.mlp.experts.down_proj.weight', 'm.layers.0.mlp.gate_up_proj', 'm.layers.0.mlp.experts.up_proj'];
    const shapes = [[0, 7, 3], [0, 6, 3], [1, 7, 3], [2, 6, 3], [3, 5, 4], [2, 6], [2, 2, 2, 2], [0, 0, 0]];
    for (const name of names) {
      for (const shape of shapes) expect([name, shape, hasFusedExpertParts(name, shape)]).toEqual([name, shape, fusedExpertParts(name, shape) !== null]);
    }
    // As before the parts were made lazily: no experts is an empty list whatever the rows.
    expect(fusedExpertParts(names[0]!, [0, 7, 3])).toEqual([]);
    expect(fusedExpertParts(names[0]!, [1, 7, 3])).toBeNull();
  });
});

describe('alignModels', () => {
  const perExpert = (base: number): Record<string, [number[], number]> => ({
    'model.layers.0.mlp.experts.0.gate_proj.weight': [[2, 3], base],
    'model.layers.0.mlp.experts.0.up_proj.weight': [[2, 3], base + 100],
    'model.layers.0.mlp.experts.1.gate_proj.weight': [[2, 3], base + 200],
    'model.layers.0.mlp.experts.1.up_proj.weight': [[2, 3], base + 300],
  });

  it('matches a fused suspect under model.language_model. with per-expert parents under model.', async () => {
    const suspect = model({ 'model.language_model.layers.0.mlp.experts.gate_up_proj': [[2, 4, 3], 0] });
    const alignment = alignModels(suspect, [model(perExpert(1000)), model(perExpert(2000))], none);
    expect(alignment.units.map((u) => [u.name, u.group])).toEqual([
      ['model.layers.0.mlp.experts.0.gate_proj.weight', 'model.layers.0.mlp.experts.gate_up_proj'],
      ['model.layers.0.mlp.experts.0.up_proj.weight', 'model.layers.0.mlp.experts.gate_up_proj'],
      ['model.layers.0.mlp.experts.1.gate_proj.weight', 'model.layers.0.mlp.experts.gate_up_proj'],
      ['model.layers.0.mlp.experts.1.up_proj.weight', 'model.layers.0.mlp.experts.gate_up_proj'],
    ]);
    expect(alignment.renames).toEqual([{ input: -1, rule: 'model.language_model. → model.', tensors: 1 }]);
    expect([alignment.suspectOnly, alignment.parentOnly.map((p) => p.names)]).toEqual([[], [[], []]]);
    const up1 = alignment.units[3]!;
    expect(await valuesOf(up1.suspect)).toEqual([18, 19, 20, 21, 22, 23]);
    expect(await valuesOf(up1.parents[1]!)).toEqual([2300, 2301, 2302, 2303, 2304, 2305]);
  });

  it('matches per-expert suspect tensors with fused parents', async () => {
    const alignment = alignModels(model(perExpert(0)), [model({ 'model.layers.0.mlp.experts.gate_up_proj': [[2, 4, 3], 500] })], none);
    expect(alignment.units.map((u) => u.group)).toEqual(Array(4).fill('model.layers.0.mlp.experts.gate_up_proj'));
    expect(await valuesOf(alignment.units[1]!.parents[0]!)).toEqual([506, 507, 508, 509, 510, 511]);
    expect(alignment.parentOnly[0]!.names).toEqual([]);
  });

  it('groups per-expert tensors on every side as the fused tensor that holds them', async () => {
    // Stored as a header sorted as text stores them: expert 10 before expert 2.
    const experts = (base: number): Record<string, [number[], number]> => {
      const tensors: Record<string, [number[], number]> = {};
      for (const e of [0, 1, 10, 2]) {
        tensors[`model.layers.3.mlp.experts.${e}.down_proj.weight`] = [[3, 2], base + 10 * e];
        tensors[`model.layers.3.mlp.experts.${e}.gate_proj.weight`] = [[2, 3], base + 10 * e + 1];
        tensors[`model.layers.3.mlp.experts.${e}.up_proj.weight`] = [[2, 3], base + 10 * e + 2];
      }
      tensors['model.layers.3.mlp.gate.weight'] = [[11, 3], base];
      return tensors;
    };
    const alignment = alignModels(model(experts(0)), [model(experts(1000)), model(experts(2000))], none);
    const groups = groupUnits(alignment.units);
    expect(groups.map((g) => [g.name, g.shape, g.units.map((u) => u.name.replace('model.layers.3.mlp.', ''))])).toEqual([
      ['model.layers.3.mlp.experts.down_proj', [4, 3, 2], [0, 1, 10, 2].map((e) => `experts.${e}.down_proj.weight`)],
      ['model.layers.3.mlp.experts.gate_up_proj', [4, 4, 3], [0, 1, 10, 2].flatMap((e) => [`experts.${e}.gate_proj.weight`, `experts.${e}.up_proj.weight`])],
      ['model.layers.3.mlp.gate.weight', [11, 3], ['gate.weight']],
    ]);
    // Each unit still reads its own stored tensor.
    expect(await valuesOf(groups[1]!.units[7]!.parents[1]!)).toEqual([2022, 2023, 2024, 2025, 2026, 2027]);
    expect([alignment.suspectOnly, alignment.parentOnly.map((p) => p.names), alignment.mismatched]).toEqual([[], [[], []], []]);

    // The name the report shows selects the group, and leaves it out.
    const named = (filter: { include: RegExp[]; exclude: RegExp[] }) =>
      groupUnits(alignModels(model(experts(0)), [model(experts(1000))], filter).units).map((g) => [g.name, g.units.length]);
    expect(named({ include: [/experts\.gate_up_proj$/], exclude: [] })).toEqual([['model.layers.3.mlp.experts.gate_up_proj', 8]]);
    expect(named({ include: [], exclude: [/experts\.down_proj$/, /gate\.weight/] })).toEqual([['model.layers.3.mlp.experts.gate_up_proj', 8]]);
    expect(named({ include: [/experts\.gate_up_proj$/], exclude: [/experts\.2\./] })).toEqual([['model.layers.3.mlp.experts.gate_up_proj', 6]]);
    // Without its gates a gate_up_proj is no such tensor: the up halves are reported as stored.
    expect(named({ include: [/experts/], exclude: [/gate_proj/] })).toEqual([
      ['model.layers.3.mlp.experts.down_proj', 4],
      ...[0, 1, 10, 2].map((e) => [`model.layers.3.mlp.experts.${e}.up_proj.weight`, 1]),
    ]);

    // One expert asked for alone is a group of one expert.
    const one = groupUnits(alignModels(model(experts(0)), [model(experts(1000))], { include: [/experts\.10\./], exclude: [] }).units);
    expect(one.map((g) => [g.name, g.shape, g.units.length])).toEqual([
      ['model.layers.3.mlp.experts.down_proj', [1, 3, 2], 1],
      ['model.layers.3.mlp.experts.gate_up_proj', [1, 4, 3], 2],
    ]);
  });

  it('reports per-expert tensors one by one when they do not make one tensor', () => {
    const uneven = (base: number) =>
      model({
        // Experts of unequal shapes (no fused tensor holds them) ...
        'model.layers.0.mlp.experts.0.down_proj.weight': [[3, 2], base],
        'model.layers.0.mlp.experts.1.down_proj.weight': [[4, 2], base],
        // ... an expert with a gate and no up ...
        'model.layers.1.mlp.experts.0.gate_proj.weight': [[2, 3], base],
        'model.layers.1.mlp.experts.0.up_proj.weight': [[2, 3], base],
        'model.layers.1.mlp.experts.1.gate_proj.weight': [[2, 3], base],
        // ... and a suspect that has a tensor of the fused name already.
        'model.layers.2.mlp.experts.0.down_proj.weight': [[3, 2], base],
        'model.layers.2.mlp.experts.down_proj': [[3, 2], base],
        'model.layers.3.mlp.experts.0.down_proj.weight': [[3, 2], base],
        'model.layers.3.mlp.experts.1.down_proj.weight': [[3, 2], base],
      });
    // ... and experts stored alike but for one, whose suspect is F32.
    const stored = uneven(0);
    const tensors = new Map(stored.tensors);
    const f32 = tensors.get('model.layers.3.mlp.experts.1.down_proj.weight')!;
    tensors.set(f32.name, { ...f32, encoding: 'F32', recipe: { ...f32.recipe, codes: 'F32' } as LogicalTensor['recipe'] });
    const groups = groupUnits(alignModels({ ...stored, tensors }, [uneven(100)], none).units);
    expect(groups.map((g) => [g.name, g.units.length])).toEqual([
      ['model.layers.0.mlp.experts.0.down_proj.weight', 1],
      ['model.layers.0.mlp.experts.1.down_proj.weight', 1],
      ['model.layers.1.mlp.experts.0.gate_proj.weight', 1],
      ['model.layers.1.mlp.experts.0.up_proj.weight', 1],
      ['model.layers.1.mlp.experts.1.gate_proj.weight', 1],
      ['model.layers.2.mlp.experts.0.down_proj.weight', 1],
      ['model.layers.2.mlp.experts.down_proj', 1],
      ['model.layers.3.mlp.experts.0.down_proj.weight', 1],
      ['model.layers.3.mlp.experts.1.down_proj.weight', 1],
    ]);
    expect(groups.map((g) => g.shape)).toEqual([[3, 2], [4, 2], [2, 3], [2, 3], [2, 3], [3, 2], [3, 2], [3, 2], [3, 2]]);
  });

  it('names the group of a per-expert tensor as a fused checkpoint names it', () => {
    expect(expertGroupName('model.layers.4.mlp.experts.17.gate_proj.weight')).toBe('model.layers.4.mlp.experts.gate_up_proj');
    expect(expertGroupName('model.layers.4.mlp.experts.17.up_proj.weight')).toBe('model.layers.4.mlp.experts.gate_up_proj');
    expect(expertGroupName('model.layers.4.mlp.experts.17.down_proj.weight')).toBe('model.layers.4.mlp.experts.down_proj');
    expect(expertGroupName('model.layers.4.block_sparse_moe.experts.3.w1.weight')).toBe('model.layers.4.block_sparse_moe.experts.w1');
    expect(expertGroupName('model.layers.4.mlp.experts.3.down_proj.bias')).toBe('model.layers.4.mlp.experts.down_proj.bias');
    expect(expertGroupName('model.layers.4.mlp.shared_expert.down_proj.weight')).toBeNull();
    expect(expertGroupName('model.layers.4.mlp.experts.down_proj')).toBeNull();
    // A name with two expert indexes: the last one, for both.
    expect(expertGroupName('model.experts.2.layers.4.mlp.experts.17.up_proj.weight')).toBe('model.experts.2.layers.4.mlp.experts.gate_up_proj');
    expect(expertOf('model.experts.2.layers.4.mlp.experts.17.up_proj.weight')).toBe(17);
  });

  it('compares fused against fused expert by expert', async () => {
    const fused = (base: number) => model({ 'model.layers.2.mlp.experts.down_proj': [[3, 2, 2], base] });
    const alignment = alignModels(fused(0), [fused(10)], none);
    expect(alignment.units.map((u) => [u.name, u.shape])).toEqual([
      ['model.layers.2.mlp.experts.0.down_proj', [2, 2]],
      ['model.layers.2.mlp.experts.1.down_proj', [2, 2]],
      ['model.layers.2.mlp.experts.2.down_proj', [2, 2]],
    ]);
    expect(await valuesOf(alignment.units[2]!.parents[0]!)).toEqual([18, 19, 20, 21]);
  });

  it('compares the common rows of a resized vocabulary and reports the added rows', async () => {
    const alignment = alignModels(
      model({ 'model.embed_tokens.weight': [[6, 2], 0], 'model.norm.weight': [[2], 0] }),
      [model({ 'model.embed_tokens.weight': [[4, 2], 0], 'model.norm.weight': [[3], 0] })],
      none,
    );
    expect(alignment.resized).toEqual([{ name: 'model.embed_tokens.weight', commonRows: 4, rows: { suspect: 6, parents: [4] } }]);
    expect(alignment.units.map((u) => [u.name, u.shape])).toEqual([['model.embed_tokens.weight', [4, 2]]]);
    expect(await valuesOf(alignment.units[0]!.suspect)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(alignment.mismatched).toEqual([{ name: 'model.norm.weight', reason: 'shape', detail: 'suspect [2]; parents [3]' }]);
  });

  it('uses a tied embedding as lm_head', () => {
    const alignment = alignModels(
      model({ 'model.embed_tokens.weight': [[4, 2], 0], 'lm_head.weight': [[4, 2], 50] }),
      [model({ 'model.embed_tokens.weight': [[4, 2], 0] }, true)],
      none,
    );
    expect(alignment.units.map((u) => u.name)).toEqual(['model.embed_tokens.weight', 'lm_head.weight']);
    expect(alignment.tied).toEqual([0]);
    expect(alignment.parentOnly[0]!.names).toEqual([]);
  });

  it('reports what only one side has, and filters by canonical name', () => {
    const alignment = alignModels(
      model({ 'mtp.layers.0.x.weight': [[2], 0], 'model.a.weight': [[2], 0] }),
      [model({ 'model.a.weight': [[2], 0], 'model.b.weight': [[2], 0] })],
      { include: [], exclude: [/^mtp\./] },
    );
    expect([alignment.filtered, alignment.suspectOnly, alignment.parentOnly[0]!.names]).toEqual([1, [], ['model.b.weight']]);
  });
});
