import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/report-schema.js';
import { runCli } from '../helpers/run-cli.js';

async function report(args: string[]): Promise<Report> {
  const result = await runCli([...args, '--format', 'json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Report;
}

const numbers = (r: Report) => r.tensors.map((t) => [t.name, t.weights, t.noiseRatio, t.floor, t.rss, t.slices ?? null]);

describe('checkpoints stored otherwise, through the built binary', () => {
  it('reads an FP8-block suspect the same on worker threads as in this thread, scales consumed', async () => {
    const args = ['suspect', 'fixtures/fp8-block/suspect', '--parents', 'fixtures/parents/a-large', 'fixtures/parents/b-large'];
    const [inProcess, workers] = await Promise.all([report([...args, '--threads', '0']), report([...args, '--threads', '2'])]);
    expect(numbers(workers)).toEqual(numbers(inProcess));
    const q = inProcess.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!;
    expect(q.dtype).toBe('F8_E4M3');
    expect(q.encodings).toEqual({ suspect: 'F8_E4M3 × F32 scale per 128×128 block', parents: ['BF16', 'BF16'] });
    expect(inProcess.alignment?.inputs[0]).toMatchObject({ input: -1, quantMethod: 'fp8', consumed: 28 });
    expect(inProcess.tensors.some((t) => t.name.endsWith('weight_scale_inv'))).toBe(false);
  });

  it('compares fused experts expert by expert, and --floor all adds the parents’ noise', async () => {
    const args = ['suspect', 'fixtures/fused-experts/suspect', '--parents', 'fixtures/parents/moe-a', 'fixtures/parents/moe-b'];
    const [own, all] = await Promise.all([report(args), report([...args, '--floor', 'all', '--map', '^nothing=matches'])]);
    const down = own.tensors.find((t) => t.name === 'model.layers.1.mlp.experts.down_proj')!;
    expect(down.shape).toEqual([4, 64, 16]);
    expect(down.slices?.map((s) => [s.expert, s.kind])).toEqual([0, 1, 2, 3].map((e) => [e, 'blend']));
    expect(own.alignment?.renames).toEqual([{ input: -1, rule: 'model.language_model. → model.', tensors: 20 }]);
    expect(all.options.floor).toBe('all');
    expect(all.alignment?.mapRules).toEqual(['^nothing=matches']);
    // bf16 parents at 0.4/0.6 add (0.16 + 0.36)× the suspect's own floor, about: σ falls by ~√1.52.
    const ratio = own.verdict.noiseRatio!.median / all.verdict.noiseRatio!.median;
    expect(ratio).toBeGreaterThan(1.15);
    expect(ratio).toBeLessThan(1.3);
  });

  it('reports a per-expert suspect as the fused one: one tensor per layer and projection, a slice per expert', async () => {
    // The same bf16 values, fused and BF16 in one fixture, per expert and F32 in the other
    // (four experts: stored in the order of their numbers, so the sums add alike too).
    const parents = ['--parents', 'fixtures/parents/moe-a', 'fixtures/parents/moe-b'];
    const [fused, perExpert] = await Promise.all([
      report(['suspect', 'fixtures/fused-experts/suspect', ...parents]),
      report(['suspect', 'fixtures/f32-bf16-blend/suspect', ...parents]),
    ]);
    const experts = (r: Report) =>
      r.tensors
        .filter((t) => t.component === 'experts')
        .map((t) => [t.name, t.shape, t.kind, t.weights, t.noiseRatio, t.slices!.map((s) => [s.expert, s.kind, s.weights, s.noiseRatio])]);
    expect(experts(perExpert)).toEqual(experts(fused));
    expect(experts(perExpert).map(([name]) => name)).toEqual(
      [0, 1].flatMap((l) => [`model.layers.${l}.mlp.experts.down_proj`, `model.layers.${l}.mlp.experts.gate_up_proj`]),
    );
    // 41 stored tensors, 24 of them experts' matrices (2 layers × 4 experts × 3), reported in 4.
    expect([perExpert.suspect.tensors, perExpert.tensors.length]).toEqual([41, 21]);
  });
});
