/**
 * On worker threads a tensor no longer than a piece is reported whole by the worker
 * (scan-worker.ts), a longer one is cut into pieces over the workers and fitted on the
 * main thread. Either way the report must be exactly the in-process one. Runs the built
 * code (`npm run build` first): only there are there worker scripts to start.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';
import type { AnalyzeOptions } from '../../src/analyze.js';
import type { Report } from '../../src/report-schema.js';
import { stringifyExact } from '../../src/partial/tensor-json.js';

const at = (path: string): string => `${REPO_ROOT}${path}`;

type Analyze = typeof import('../../src/analyze.js').analyze;

async function builtAnalyze(): Promise<Analyze> {
  const built = `${REPO_ROOT}dist/analyze.js`;
  expect(existsSync(built)).toBe(true);
  return ((await import(built)) as { analyze: Analyze }).analyze;
}

/** The report without when it was made; infinities and NaNs kept (as tagged strings), so a reply that lost one differs. */
function comparable(report: Report): unknown {
  const copy = JSON.parse(stringifyExact(report)) as Record<string, unknown> & { reproducibility?: Record<string, unknown> };
  delete copy.createdAt;
  if (copy.reproducibility) delete copy.reproducibility.createdAt;
  return copy;
}

/** Each case's reports must equal; `check` is asked of both (what a shared codec could lose on both sides alike). */
const CASES: { name: string; options: Omit<AnalyzeOptions, 'threads'>; check?: (report: Report) => void }[] = [
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
  // The reference is not the first parent.
  {
    name: '--base as the second parent',
    options: {
      suspect: at('fixtures/recipes/ties/suspect'),
      parents: [at('fixtures/parents/a'), at('fixtures/parents/base'), at('fixtures/parents/b')],
      reference: 1,
      baseGiven: true,
    },
  },
  // Thresholds other than the defaults, the informative cut among them.
  {
    name: 'custom thresholds',
    options: {
      suspect: at('fixtures/blend-lightly-trained/suspect'),
      parents: [at('fixtures/parents/a'), at('fixtures/parents/b')],
      thresholds: { informativeUlps: 2, blendMaxNoise: 1.2, agreement: 0.8 },
    },
  },
  // A model given as the suspect and as a parent: two inputs of one task read the same tensors.
  { name: 'the suspect as a parent', options: { suspect: at('fixtures/parents/a'), parents: [at('fixtures/parents/a'), at('fixtures/parents/b')] } },
  // One parent given twice: every report's condition number is Infinity, which JSON cannot hold.
  {
    name: 'a parent given twice',
    options: { suspect: at('fixtures/blend-small-delta/suspect'), parents: [at('fixtures/parents/a'), at('fixtures/parents/a')] },
    check: (report) => expect(report.tensors.every((t) => t.identifiability.conditionNumber === Infinity)).toBe(true),
  },
  // Tensors renamed to the text of JSON's tags for non-finite numbers: still names.
  {
    name: 'tensors named like the tags',
    options: {
      suspect: at('fixtures/blend-small-delta/suspect'),
      parents: [at('fixtures/parents/a'), at('fixtures/parents/b')],
      map: ['^model\\.norm\\.weight$=#NaN', '^lm_head\\.weight$=##Infinity'],
    },
    check: (report) => expect(report.tensors.map((t) => t.name).filter((n) => n.startsWith('#')).sort()).toEqual(['##Infinity', '#NaN']),
  },
];

describe('reports made on worker threads', () => {
  it('fail with the error naming the file when a worker cannot read it', async () => {
    const analyze = await builtAnalyze();
    const dir = mkdtempSync(join(tmpdir(), 'provcheck-worker-error-'));
    try {
      for (const name of ['suspect', 'a', 'b']) mkdirSync(join(dir, name));
      cpSync(at('fixtures/blend-small-delta/suspect'), join(dir, 'suspect'), { recursive: true });
      cpSync(at('fixtures/parents/a'), join(dir, 'a'), { recursive: true });
      cpSync(at('fixtures/parents/b'), join(dir, 'b'), { recursive: true });
      const shard = join(dir, 'b', readdirSync(join(dir, 'b')).find((f) => f.endsWith('.safetensors'))!);
      const size = statSync(shard).size;
      let cut = false;
      const run = analyze({ suspect: join(dir, 'suspect'), parents: [join(dir, 'a'), join(dir, 'b')], threads: 2 }, (progress) => {
        // Headers are read: the workers, which open files themselves, find it shorter.
        if (progress.phase === 'scan' && !cut) {
          cut = true;
          truncateSync(shard, size - 1000);
        }
      });
      const error = await run.then(
        () => null,
        (e: unknown) => e,
      );
      expect(cut).toBe(true);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe('IoError');
      expect((error as Error & { file: string }).file).toBe(shard);
      expect((error as Error).message).toBe(`${shard}: changed while being analysed: ${size} bytes when its header was read, ${size - 1000} now`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });


  for (const { name, options, check } of CASES) {
    it(`equal the in-process report: ${name}`, async () => {
      const analyze = await builtAnalyze();
      for (const pieceElements of [2048, undefined]) {
        const piece = pieceElements === undefined ? {} : { pieceElements };
        const inProcess = await analyze({ ...options, ...piece, threads: 0 });
        const workers = await analyze({ ...options, ...piece, threads: 2 });
        expect(comparable(workers)).toEqual(comparable(inProcess));
        check?.(inProcess);
        check?.(workers);
        expect(inProcess.tensors.length).toBeGreaterThan(5);
      }
    });
  }
});
