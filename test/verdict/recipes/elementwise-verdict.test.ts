/**
 * The model verdict names an element-wise merge only where the evidence is clear: on the
 * committed fixtures (fixtures/recipes: our implementation of mergekit's ties,
 * dare_linear, breadcrumbs and della; fixtures/: plain blends, a fine-tune, a copy, an unrelated model), read
 * through the whole analysis with and without the base as reference.
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../src/analyze.js';
import type { Report } from '../../../src/report-schema.js';

const at = (path: string): string => new URL(`../../../${path}`, import.meta.url).pathname;
const parents = (...names: string[]): string[] => names.map((name) => at(`fixtures/parents/${name}`));
const run = (suspect: string, inputs: string[], base = false): Promise<Report> =>
  analyze({ suspect: at(suspect), parents: inputs, reference: 0, baseGiven: base, threads: 0 });

describe('element-wise merges change the verdict', () => {
  it('ties: modified-blend, TIES at density ≈ 0.5 of B and C on base A, weights 1:1, with its evidence', async () => {
    const report = await run('fixtures/recipes/ties/suspect', parents('base', 'a', 'b'), true);
    const merge = report.verdict.elementwise!;
    expect(report.verdict.kind).toBe('modified-blend');
    expect(merge.method).toBe('ties');
    expect(merge.consistentWith).toEqual(['ties', 'breadcrumbs_ties']);
    expect(merge.base).toBe(0);
    expect(merge.merged).toEqual([1, 2]);
    expect(Math.abs(merge.density - 0.5)).toBeLessThan(0.05);
    expect(merge.relativeWeights[0]).toBeNull();
    expect(Math.abs(merge.relativeWeights[1]! - 0.5)).toBeLessThan(0.05);
    // TIES keeps survivors as they were and elects one sign where the parents conflict.
    expect(merge.expectedRescale).toBe(1);
    expect(Math.abs(merge.rescale! - 1)).toBeLessThan(0.02);
    expect(merge.conflictAtParentShare! - merge.agreementAtParentShare!).toBeGreaterThan(0.3);
    expect(merge.weightedSumReproduced!).toBeLessThan(0.1);
    expect(report.verdict.summary).toMatch(/^suspect is a TIES merge of B and C on base A \(density ≈ 0\.4\d, weights B:C ≈ 0\.\d\d:0\.\d\d\): .*of large changes left bit for bit at the base; survivors not rescaled/);
  });

  it('dare: modified-blend, DARE at density ≈ 0.3, weights 1:1, survivors rescaled as dividing by the density predicts', async () => {
    const report = await run('fixtures/recipes/dare/suspect', parents('base', 'a', 'b'), true);
    const merge = report.verdict.elementwise!;
    expect(report.verdict.kind).toBe('modified-blend');
    expect(merge.method).toBe('dare');
    expect(merge.consistentWith).toContain('dare_linear');
    expect(Math.abs(merge.density - 0.3)).toBeLessThan(0.05);
    expect(Math.abs(merge.relativeWeights[1]! - 0.5)).toBeLessThan(0.02);
    // Two task parents at density p: an element moves when either delta survives, 1/(1 − (1 − p)²).
    expect(merge.expectedRescale).toBeCloseTo(1 / (1 - (1 - merge.density) ** 2), 12);
    expect(Math.abs(merge.rescale! - merge.expectedRescale)).toBeLessThan(0.3);
    expect(report.verdict.summary).toContain('survivors rescaled ×');
    expect(report.forensics!.elementwise!.rescale![0]).toBeNull();
  });

  it('breadcrumbs: modified-blend, magnitude pruning without election, consistent with mergekit breadcrumbs only', async () => {
    const report = await run('fixtures/recipes/breadcrumbs/suspect', parents('base', 'a', 'b'), true);
    const merge = report.verdict.elementwise!;
    expect(report.verdict.kind).toBe('modified-blend');
    expect(merge.method).toBe('magnitude-pruned');
    expect(merge.consistentWith).toEqual(['breadcrumbs']);
    expect(merge.merged).toEqual([1, 2]);
    expect(Math.abs(merge.relativeWeights[1]! - 0.5)).toBeLessThan(0.02);
    // Unnormalised half weights round small survivors (and cancelling pairs) back to the
    // base, which reads as extra drops: 0.36 at density 0.5 (docs/forensics.md).
    expect(Math.abs(merge.density - 0.5)).toBeLessThan(0.15);
    expect(merge.expectedRescale).toBe(1);
    expect(Math.abs(merge.rescale! - 1)).toBeLessThan(0.05);
    // No election: conflicts end at a parent no more often than agreements.
    expect(merge.conflictAtParentShare!).toBeLessThan(merge.agreementAtParentShare! + 0.05);
    expect(merge.weightedSumReproduced!).toBeLessThan(0.3);
    expect(report.verdict.summary).toMatch(/^suspect is a magnitude-pruning \(breadcrumbs-like\) merge of B and C on base A/);
  });

  it('della: modified-blend read as DARE at density ≈ 0.5, with della among the consistent methods', async () => {
    const report = await run('fixtures/recipes/della/suspect', parents('base', 'a', 'b'), true);
    const merge = report.verdict.elementwise!;
    expect(report.verdict.kind).toBe('modified-blend');
    expect(merge.method).toBe('dare');
    expect(merge.consistentWith).toEqual(['dare_linear', 'dare_ties', 'della', 'della_linear']);
    expect(Math.abs(merge.density - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(merge.relativeWeights[1]! - 0.5)).toBeLessThan(0.05);
    // The L1 rescale lands near what dividing by the density predicts, 1/(1 − (1 − p)²).
    expect(Math.abs(merge.rescale! - merge.expectedRescale)).toBeLessThan(0.1);
    expect(merge.weightedSumReproduced!).toBeLessThan(0.1);
  });

  const plain: [string, string, string[], boolean, string][] = [
    ['task arithmetic', 'fixtures/recipes/task-arithmetic/suspect', parents('base', 'a', 'b'), true, 'blend'],
    ['a blend of three over the base (counts resemble magnitude pruning)', 'fixtures/three-parents/suspect', parents('base', 'a', 'b', 'c'), true, 'blend'],
    ['a bf16 blend stored as F32 over the base', 'fixtures/f32-bf16-blend/suspect', parents('moe-base', 'moe-a', 'moe-b'), true, 'blend'],
    ['a blend of two', 'fixtures/blend-small-delta/suspect', parents('a', 'b'), false, 'blend'],
    ['a blend then trained', 'fixtures/blend-then-trained/suspect', parents('base', 'a', 'b'), true, 'modified-blend'],
    ['a fine-tune of A, over the base', 'fixtures/finetune/suspect', parents('base', 'a', 'b'), true, 'derived'],
    ['a copy of the reference (every change left at the base)', 'fixtures/reupload/suspect', parents('a', 'b'), false, 'identical'],
    ['a copy of A, over the base', 'fixtures/reupload/suspect', parents('base', 'a', 'b'), true, 'identical'],
    ['an unrelated model', 'fixtures/unrelated/suspect', parents('base', 'a', 'b'), true, 'unrelated'],
  ];
  it.each(plain)('not for %s', async (_name, suspect, inputs, base, kind) => {
    const report = await run(suspect, inputs, base);
    expect(report.verdict.kind).toBe(kind);
    expect(report.verdict.elementwise).toBeUndefined();
    expect(report.verdict.summary).not.toMatch(/TIES|DARE|pruning/);
  });
});
