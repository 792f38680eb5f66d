/**
 * `npm run bench:sample`: sampled verdicts on a 400B-parameter model over a loopback
 * Hub, without the disk. bench/sample-server.ts (a child process, so it has a core of
 * its own) synthesizes the real Qwen3.5-397B-A17B layout for two fine-tunes, their
 * 0.6/0.4 blend and that blend after a small update; the built CLI analyses each
 * suspect with `--sample auto` and the run prints wall time, bytes read (of the total),
 * range requests and the verdicts. Extra arguments are passed to the CLI.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Report } from '../src/report-schema.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/**
 * 16 Ki-element blocks rather than the default 64 Ki: this server spends ~7 hashes per
 * element it synthesizes, on the core the analysis does not use, so bytes cost far more
 * here than on the Hub, where the count of requests (the same either way) dominates.
 */
const BLOCK_ELEMENTS = '16384';
const SUSPECTS = [
  { repo: 'bench/blend', expected: 'blend', weights: [0.6, 0.4] },
  { repo: 'bench/blend-updated', expected: 'modified-blend', weights: [0.6, 0.4] },
] as const;

async function startServer(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/sample-server.ts', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), stop: () => child.kill() };
}

async function analyse(port: number, suspect: string, extra: readonly string[]): Promise<{ report: Report; seconds: number }> {
  const args = ['bin/provcheck.js', 'suspect', `hf://${suspect}`, '--parents', 'hf://bench/fine-tune-a', 'hf://bench/fine-tune-b', '--sample', 'auto', '--sample-block', BLOCK_ELEMENTS, '--format', 'json', '--quiet', ...extra];
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, HF_ENDPOINT: `http://127.0.0.1:${port}`, HF_HUB_CACHE: '/nonexistent-provcheck-bench' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const [code] = (await once(child, 'exit')) as [number];
  const seconds = (performance.now() - started) / 1000;
  const text = Buffer.concat(chunks).toString();
  if (code !== 0 && code !== 1) throw new Error(`provcheck exited with ${code}: ${text.slice(0, 500)}`);
  return { report: JSON.parse(text) as Report, seconds };
}

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(2)} GB`;

const server = await startServer();
try {
  let total = 0;
  for (const suspect of SUSPECTS) {
    const { report, seconds } = await analyse(server.port, suspect.repo, process.argv.slice(2));
    total += seconds;
    const sampling = report.sampling!;
    const weights = report.verdict.weights?.map((w) => w.toFixed(4)).join(' / ') ?? '—';
    const right = report.verdict.kind === suspect.expected;
    console.log(
      `${suspect.repo}: ${report.verdict.kind} (${right ? 'right' : `WRONG, expected ${suspect.expected}`}), weights ${weights}; ` +
        `${seconds.toFixed(1)} s, read ${gb(sampling.bytesRead)} of ${gb(sampling.bytesTotal)} (${(100 * sampling.fractionRead).toFixed(3)}%), ` +
        `${sampling.requests} range requests, ${report.tensors.length} tensors, ${sampling.tensorsSettled} settled / ${sampling.tensorsUnsettled} not`,
    );
  }
  console.log(`both suspects: ${total.toFixed(1)} s of wall time`);
} finally {
  server.stop();
}
