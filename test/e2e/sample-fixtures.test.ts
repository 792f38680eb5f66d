import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/report-schema.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';

interface Answer {
  case: string;
  suspect: string;
  parents: string[];
  kind: string;
}

interface RecipeCase {
  case: string;
  suspect: string;
  parents: string[];
}

const answers = JSON.parse(readFileSync(`${REPO_ROOT}fixtures/answers.json`, 'utf8')) as Answer[];
/** The mergekit-method suspects (the discover-* cases reuse suspects of answers.json with more candidates). */
const recipeCases = (JSON.parse(readFileSync(`${REPO_ROOT}fixtures/recipes/answers.json`, 'utf8')) as RecipeCase[]).filter((c) =>
  c.suspect.startsWith('fixtures/recipes/'),
);

/** Tensors stored other than as plain whole floats: codes × block scales, fused experts, a resized vocabulary, F32 holding bf16. */
const STORED_DIFFERENTLY = ['fp8-block', 'fused-experts', 'resized-vocab', 'f32-bf16-blend'];

const SAMPLE = ['--sample', '20%', '--sample-block', '128', '--seed', '3'];

async function report(args: string[]): Promise<Report> {
  const result = await runCli([...args, '--format', 'json']);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Report;
}

/** The sampled run's report, checked for what every sampled report must say. */
async function sampledReport(suspect: string, parents: string[]): Promise<Report> {
  const sampled = await report(['suspect', suspect, '--parents', ...parents, ...SAMPLE]);
  const sampling = sampled.sampling!;
  expect(sampling.mode).toBe('fraction');
  expect(sampling.seed).toBe(3);
  // About a fifth of each matrix, read twice where the fit has no profile reading
  // (three parents, no clear peak): the second read goes over the same blocks.
  expect(sampling.fractionRead).toBeLessThan(0.6);
  expect(sampled.reproducibility?.analysis.seed).toBe(3);
  const partial = sampled.tensors.filter((t) => !t.sample!.whole);
  expect(partial.length).toBeGreaterThan(0);
  for (const tensor of partial) {
    const [low, high] = tensor.sample!.noiseRatio;
    expect(low).toBeLessThanOrEqual(tensor.noiseRatio);
    expect(high).toBeGreaterThanOrEqual(tensor.noiseRatio);
  }
  return sampled;
}

/** Same tensors, same shapes and encodings, the same verdict on every one. */
function expectSameTensorVerdicts(sampled: Report, full: Report): void {
  const described = (r: Report) => r.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, encodings: t.encodings, kind: t.kind, parent: t.parent }));
  expect(described(sampled)).toEqual(described(full));
  expect(sampled.verdict.kind).toBe(full.verdict.kind);
}

/**
 * The fixtures' tensors are small (≤ 16 Ki elements), so blocks of 128 elements make
 * a 20% sample read about a fifth of every matrix: the sampled verdict must still be
 * the full scan's (answers.json holds the full-scan verdict, checked in fixtures.test.ts).
 */
describe('a sampled run gives every fixture its full-scan verdict', () => {
  it.each(answers.map((a) => [a.case, a] as const))('%s', async (_name, answer) => {
    const sampled = await sampledReport(answer.suspect, answer.parents);
    expect(sampled.verdict.kind).toBe(answer.kind);
    if (!STORED_DIFFERENTLY.includes(answer.case)) return;
    // Read through the logical readers: the same tensors as a full scan, tensor for tensor.
    const full = await report(['suspect', answer.suspect, '--parents', ...answer.parents]);
    expectSameTensorVerdicts(sampled, full);
    if (answer.case === 'fp8-block') {
      // FP8 codes read with their 128×128 block scales.
      const scaled = sampled.tensors.filter((t) => t.dtype === 'F8_E4M3');
      expect(scaled.length).toBeGreaterThan(0);
      for (const tensor of scaled) expect(tensor.encodings!.suspect).toContain('scale');
    }
    if (answer.case === 'fused-experts') {
      // One fused [E, …] tensor against per-expert ones: each expert cut into blocks of its own.
      const experts = sampled.tensors.filter((t) => /experts\.(down_proj|gate_up_proj)$/.test(t.name));
      expect(experts.map((t) => t.shape)).toContainEqual([4, 64, 16]);
      for (const tensor of experts) expect(tensor.sample!.blocksTotal).toBe(tensor.shape.reduce((x, y) => x * y, 1) / 128);
    }
    if (answer.case === 'resized-vocab') {
      // Compared on the rows every input has.
      const resize = sampled.alignment!.resized.find((r) => r.name === 'lm_head.weight')!;
      expect(sampled.tensors.find((t) => t.name === 'lm_head.weight')!.shape[0]).toBe(resize.commonRows);
    }
  });

  it.each(recipeCases.map((c) => [c.case, c] as const))('recipe fixture %s', async (_name, recipe) => {
    const sampled = await sampledReport(recipe.suspect, recipe.parents);
    const full = await report(['suspect', recipe.suspect, '--parents', ...recipe.parents]);
    expectSameTensorVerdicts(sampled, full);
  });

  it('auto mode reads less than the budget and settles every verdict of an untouched blend', async () => {
    const result = await runCli(['suspect', 'fixtures/blend-small-delta/suspect', '--parents', 'fixtures/parents/a', 'fixtures/parents/b', '--sample', 'auto', '--sample-budget', '60%', '--sample-block', '128', '--format', 'json']);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.verdict.kind).toBe('blend');
    expect(report.sampling!.mode).toBe('auto');
    expect(report.sampling!.tensorsUnsettled).toBe(0);
    expect(report.sampling!.fractionRead).toBeLessThan(0.6);
  });

  it('refuses sampling options without --sample, and a malformed size', async () => {
    const seedOnly = await runCli(['suspect', 'fixtures/blend-small-delta/suspect', '--parents', 'fixtures/parents/a', 'fixtures/parents/b', '--seed', '3']);
    expect(seedOnly.code).toBe(2);
    expect(seedOnly.stderr).toContain('--seed: only meaningful with --sample');
    const bad = await runCli(['suspect', 'fixtures/blend-small-delta/suspect', '--parents', 'fixtures/parents/a', 'fixtures/parents/b', '--sample', '150%']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--sample: expected a share above 0 and at most 100%");
    // A sampled scan has the suspect's floor alone: --floor all would be claimed, not used.
    const floorAll = await runCli(['suspect', 'fixtures/blend-small-delta/suspect', '--parents', 'fixtures/parents/a', 'fixtures/parents/b', ...SAMPLE, '--floor', 'all']);
    expect(floorAll.code).toBe(2);
    expect(floorAll.stderr).toContain("--floor all: not with --sample (a sampled run estimates the suspect's floor only)");
  });
});
