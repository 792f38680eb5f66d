/**
 * Prints, for every fixture of fixtures/answers.json, what provcheck measures: the
 * per-tensor noiseRatio (median and max), the model weights and the share of
 * informative elements reproduced bit for bit. docs/calibration.md quotes its output.
 *
 *   npx tsx scripts/calibration-table.ts
 */
import { readFileSync } from 'node:fs';
import { analyze } from '../src/analyze.js';

interface Answer {
  case: string;
  suspect: string;
  parents: string[];
  kind: string;
  weights: number[] | null;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const answers = JSON.parse(readFileSync('fixtures/answers.json', 'utf8')) as Answer[];
console.log('| fixture | true kind | verdict | weights | blend noiseRatio median (max) | best single parent, median σ | reproduced |');
console.log('|---|---|---|---|---|---|---|');
for (const answer of answers) {
  const report = await analyze({ suspect: answer.suspect, parents: answer.parents });
  const ratios = report.tensors.map((t) => t.noiseRatio).sort((a, b) => a - b);
  const best = Math.min(...report.verdict.alternatives);
  const weights = report.verdict.weights?.map((w) => w.toFixed(4)).join(' / ') ?? '–';
  const reproduced = report.verdict.reproducedShare === null ? '–' : `${(100 * report.verdict.reproducedShare).toFixed(1)}%`;
  console.log(
    `| ${answer.case} | ${answer.kind} | ${report.verdict.kind} | ${weights} | ${quantile(ratios, 0.5).toFixed(2)} (${ratios.at(-1)!.toFixed(2)}) | ${best.toFixed(2)} | ${reproduced} |`,
  );
}
