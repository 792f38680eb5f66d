import { describe, expect, it } from 'vitest';
import type { InputRecord, Report } from '../../src/report-schema.js';
import { compareInputs, compareReports, MATCH_TOLERANCE, numbersMatch } from '../../src/report/reproducibility-check.js';
import { sampleReport } from '../helpers/sample-report.js';

function edited(edit: (report: Report) => void): Report {
  const copy = structuredClone(sampleReport());
  edit(copy);
  return copy;
}

describe('numbersMatch', () => {
  it('allows 1e-6 × max(1, |a|, |b|), no more', () => {
    expect(numbersMatch(0.6, 0.6 + 0.9 * MATCH_TOLERANCE)).toBe(true);
    expect(numbersMatch(0.6, 0.6 + 1.1 * MATCH_TOLERANCE)).toBe(false);
    expect(numbersMatch(3812, 3812 * (1 + 0.9e-6))).toBe(true);
    expect(numbersMatch(3812, 3812 * (1 + 1.1e-6))).toBe(false);
  });

  it('matches null only with null, NaN with NaN, Infinity with itself', () => {
    expect(numbersMatch(null, null)).toBe(true);
    expect(numbersMatch(null, 0)).toBe(false);
    expect(numbersMatch(Number.NaN, Number.NaN)).toBe(true);
    expect(numbersMatch(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)).toBe(true);
    expect(numbersMatch(Number.POSITIVE_INFINITY, 1e308)).toBe(false);
  });
});

describe('compareReports', () => {
  it('calls a report identical to itself', () => {
    const result = compareReports(sampleReport(), sampleReport());
    expect(result).toMatchObject({ matches: true, identical: true, differences: [], compared: { tensors: 11 } });
    // verdict: 2 weights + median + 2 alternatives; each of 11 tensors: 2 weights + noiseRatio.
    expect(result.compared.numbers).toBe(5 + 11 * 3);
  });

  it('matches but is not identical when a weight moves in the ninth digit', () => {
    const rerun = edited((report) => {
      report.tensors[1]!.weights[1] = 0.6 + 1e-9;
    });
    expect(compareReports(sampleReport(), rerun)).toMatchObject({ matches: true, identical: false });
  });

  it('names every difference: verdict kind, tensor kind, numbers, missing tensors', () => {
    const rerun = edited((report) => {
      report.verdict.kind = 'modified-blend';
      report.tensors[1]!.kind = 'derived';
      report.tensors[1]!.noiseRatio = 8.4;
      report.tensors.pop();
    });
    const original = sampleReport();
    const result = compareReports(original, rerun);
    expect(result.matches).toBe(false);
    expect(result.differences).toEqual([
      { kind: 'verdict-kind', original: 'blend', rerun: 'modified-blend' },
      { kind: 'tensor-kind', name: original.tensors[1]!.name, original: 'blend', rerun: 'derived' },
      { kind: 'number', where: `${original.tensors[1]!.name} noiseRatio`, original: original.tensors[1]!.noiseRatio, rerun: 8.4 },
      { kind: 'tensor-missing', name: 'lm_head.weight', missingFrom: 'rerun' },
    ]);
  });
});

describe('compareInputs', () => {
  const input = (files: InputRecord['files']): InputRecord => ({ label: 'A', source: 'a', resolved: '/a', revision: null, files });
  const file = (path: string, bytes: number, modified: string | null, sha256: string | null) =>
    ({ path, bytes, modified, sha256, sha256From: sha256 === null ? null : 'content' }) as const;

  it('judges hashed files by hash (a touch is no change) and the rest by size, then time', () => {
    const before = input([
      file('config.json', 700, '2025-01-01T00:00:00.000Z', 'aa'),
      file('model-1.safetensors', 5e9, '2025-01-01T00:00:00.000Z', null),
      file('model-2.safetensors', 5e9, '2025-01-01T00:00:00.000Z', null),
      file('README.md', 100, '2025-01-01T00:00:00.000Z', 'bb'),
      file('gone.json', 1, null, 'cc'),
    ]);
    const after = input([
      file('config.json', 700, '2026-01-01T00:00:00.000Z', 'aa'),
      file('model-1.safetensors', 4e9, '2025-01-01T00:00:00.000Z', null),
      file('model-2.safetensors', 5e9, '2026-01-01T00:00:00.000Z', null),
      file('README.md', 100, '2025-01-01T00:00:00.000Z', 'bd'),
      file('new.json', 1, null, 'dd'),
    ]);
    expect(compareInputs([before], [after])).toEqual({
      bySha256: 2,
      bySizeAndTime: 2,
      changes: [
        { kind: 'size', label: 'A', path: 'model-1.safetensors', original: 5e9, now: 4e9 },
        { kind: 'modified', label: 'A', path: 'model-2.safetensors' },
        { kind: 'content', label: 'A', path: 'README.md' },
        { kind: 'missing', label: 'A', path: 'gone.json' },
        { kind: 'added', label: 'A', path: 'new.json' },
      ],
    });
  });
});
