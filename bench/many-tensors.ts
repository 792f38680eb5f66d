/**
 * Per-tensor overhead: a bf16 trio of 100,000 tensors of 256 elements each (a per-expert
 * MoE layout taken to the extreme, 51 MB per model), timed through the built CLI.
 * Stored as safetensors' serializer stores them: in the order of their names, so a
 * layer's experts lie together (expert 10 before expert 2). provcheck reports each
 * layer's experts as one tensor (60 of them); `--names plain` names the tensors so that
 * none is an expert (`model.layers.L.mlp.blocks.N.down_proj.weight`), and every one is
 * then reported on its own: the cost of 100,000 tensor reports.
 *
 *   npx tsx bench/many-tensors.ts [--tensors 100000] [--threads N] [--names experts|plain]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { tensors: { type: 'string', default: '100000' }, threads: { type: 'string' }, names: { type: 'string', default: 'experts' } },
});
const count = Number(values.tensors);
if (values.names !== 'experts' && values.names !== 'plain') throw new Error(`--names: 'experts' or 'plain', not '${values.names}'`);
const part = values.names === 'plain' ? 'blocks' : 'experts';
const elements = 256;
const root = mkdtempSync(join(tmpdir(), 'provcheck-many-'));
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'provcheck.js');

function writeModel(name: string, shift: (i: number, t: number) => number): string {
  const header: Record<string, unknown> = {};
  const data = new Uint16Array(count * elements);
  const nameOf = (t: number): string => `model.layers.${t % 60}.mlp.${part}.${Math.floor(t / 60)}.down_proj.weight`;
  const stored = Array.from({ length: count }, (_, t) => t).sort((x, y) => (nameOf(x) < nameOf(y) ? -1 : 1));
  stored.forEach((t, at) => {
    header[nameOf(t)] = { dtype: 'BF16', shape: [16, 16], data_offsets: [at * elements * 2, (at + 1) * elements * 2] };
    for (let i = 0; i < elements; i++) data[at * elements + i] = 0x3c00 + ((i * 37 + t) % 200) + shift(i, t);
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const folder = join(root, name);
  mkdirSync(folder);
  writeFileSync(join(folder, 'model.safetensors'), Buffer.concat([prefix, Buffer.from(json), Buffer.from(data.buffer)]));
  return folder;
}

try {
  const a = writeModel('a', () => 0);
  const b = writeModel('b', (i, t) => ((i + t) % 7) - 3 + 8);
  const s = writeModel('s', (i, t) => Math.round(0.6 * (((i + t) % 7) - 3 + 8)));
  const args = [CLI, 'suspect', s, '--parents', a, b, '--format', 'json', '--output', join(root, 'r.json'), '--quiet'];
  if (values.threads !== undefined) args.push('--threads', values.threads);
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(run.stderr);
  const peakKiB = Number(run.stderr.trim().split('\n').at(-1));
  console.log(`${count} tensors × ${elements} elements (${values.names === 'plain' ? 'plain names' : 'per-expert names'}): ${seconds.toFixed(2)} s, ${((seconds / count) * 1e6).toFixed(0)} µs per tensor, peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
