/**
 * Runs one analysis of the built library in its own process and prints, as one JSON
 * line, the process's peak resident set size and the verdict. The benchmark uses it to
 * measure memory where GNU time is not available (Node cannot report a child's rusage).
 *
 *   tsx bench/child-analyze.ts <suspect> <parent-a> <parent-b>
 */
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface ChildAnalyzeResult {
  /** process.resourceUsage().maxRSS is in kilobytes (KiB). */
  maxRssBytes: number;
  cpuSeconds: number;
  verdict: { kind: string; weights: number[] | null };
}

const [suspect, parentA, parentB] = process.argv.slice(2);
if (!suspect || !parentA || !parentB) {
  process.stderr.write('usage: tsx bench/child-analyze.ts <suspect> <parent-a> <parent-b>\n');
  process.exit(2);
}

// The built code, as users run it; the types come from the sources.
const built = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'analyze.js')).href;
const { analyze } = (await import(built)) as typeof import('../src/analyze.js');
const report = await analyze({ suspect, parents: [parentA, parentB] });
const usage = process.resourceUsage();
const result: ChildAnalyzeResult = {
  maxRssBytes: usage.maxRSS * 1024,
  // Microseconds.
  cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
  verdict: { kind: report.verdict.kind, weights: report.verdict.weights },
};
process.stdout.write(JSON.stringify(result) + '\n');
