/**
 * On worker threads a tensor no longer than a piece is reported whole by the worker
 * (scan-worker.ts), a longer one is cut into pieces over the workers and fitted on the
 * main thread. Either way the report must be exactly the in-process one. Runs the built
 * code (`npm run build` first): only there are there worker scripts to start.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';
import type { AnalyzeOptions } from '../../src/analyze.js';
import type { Report } from '../../src/report-schema.js';

const at = (path: string): string => `${REPO_ROOT}${path}`;

async function builtAnalyze(): Promise<(options: AnalyzeOptions) => Promise<Report>> {
  const built = `${REPO_ROOT}dist/analyze.js`;
  expect(existsSync(built)).toBe(true);
  return ((await import(built)) as { analyze: (options: AnalyzeOptions) => Promise<Report> }).analyze;
}

/** The report without when it was made. */
function comparable(report: Report): unknown {
  const copy = JSON.parse(JSON.stringify(report)) as Record<string, unknown> & { reproducibility?: Record<string, unknown> };
  delete copy.createdAt;
  if (copy.reproducibility) delete copy.reproducibility.createdAt;
  return copy;
}

const CASES: { name: string; options: Omit<AnalyzeOptions, 'threads'> }[] = [
  // Fused experts [4, 64, 16]: 4,096 elements in 4 slices, over a 2,048-element piece.
  { name: 'fused experts', options: { suspect: at('fixtures/fused-experts/suspect'), parents: [at('fixtures/parents/moe-a'), at('fixtures/parents/moe-b')] } },
  // --base: task-arithmetic candidates in the recipe pass.
  {
    name: 'task arithmetic, --base',
    options: {
      suspect: at('fixtures/recipes/task-arithmetic/suspect'),
      parents: [at('fixtures/parents/base'), at('fixtures/parents/a'), at('fixtures/parents/b')],
      reference: 0,
      baseGiven: true,
    },
  },
  // A bf16 blend stored as F32: the grid pass and the direct residual.
  { name: 'F32-stored bf16 blend', options: { suspect: at('fixtures/f32-bf16-blend/suspect'), parents: [at('fixtures/parents/moe-a'), at('fixtures/parents/moe-b')] } },
  // Three parents: no exact-hit profile, the reproduced share from a second read.
  { name: 'three parents', options: { suspect: at('fixtures/three-parents/suspect'), parents: [at('fixtures/parents/a'), at('fixtures/parents/b'), at('fixtures/parents/c')] } },
  { name: 'FP8 blocks, --floor all', options: { suspect: at('fixtures/fp8-block/suspect'), parents: [at('fixtures/parents/a-large'), at('fixtures/parents/b-large')], floor: 'all' } },
  { name: '--no-recipes', options: { suspect: at('fixtures/blend-small-delta/suspect'), parents: [at('fixtures/parents/a'), at('fixtures/parents/b')], recipes: false } },
];

describe('reports made on worker threads', () => {
  for (const { name, options } of CASES) {
    it(`equal the in-process report: ${name}`, async () => {
      const analyze = await builtAnalyze();
      for (const pieceElements of [2048, undefined]) {
        const piece = pieceElements === undefined ? {} : { pieceElements };
        const inProcess = await analyze({ ...options, ...piece, threads: 0 });
        const workers = await analyze({ ...options, ...piece, threads: 2 });
        expect(comparable(workers)).toEqual(comparable(inProcess));
        expect(inProcess.tensors.length).toBeGreaterThan(5);
      }
    });
  }
});
