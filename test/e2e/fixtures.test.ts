import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/report-schema.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';

interface Answer {
  case: string;
  suspect: string;
  parents: string[];
  kind: string;
  weights: number[] | null;
  parent?: number;
  tolerance: number;
  notIdentifiable?: string[];
}

const answers = JSON.parse(readFileSync(`${REPO_ROOT}fixtures/answers.json`, 'utf8')) as Answer[];

describe('every fixture gets its true verdict through the built binary', () => {
  it.each(answers.map((a) => [a.case, a] as const))('%s', async (_name, answer) => {
    const result = await runCli(['suspect', answer.suspect, '--parents', ...answer.parents, '--format', 'json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.verdict.kind).toBe(answer.kind);
    if (answer.weights === null) {
      expect(report.verdict.weights).toBeNull();
    } else {
      expect(report.verdict.weights).not.toBeNull();
      report.verdict.weights!.forEach((w, j) => expect(Math.abs(w - answer.weights![j]!)).toBeLessThanOrEqual(answer.tolerance));
    }
    if (answer.parent !== undefined) expect(report.verdict.parent).toBe(answer.parent);
    for (const name of answer.notIdentifiable ?? []) {
      const tensor = report.tensors.find((t) => t.name === name);
      expect(tensor?.identifiability.identifiable).toBe(false);
      expect(tensor?.weights.every((w) => w === null)).toBe(true);
    }
  });
});
