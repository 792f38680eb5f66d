/**
 * --threads, --shard/merge and --checkpoint through the built binary (`npm run build`
 * first): each must end with exactly the report one uninterrupted in-process run gives.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { serializeSafetensors } from '../helpers/safetensors-writer.js';

const FIXTURE = ['fixtures/blend-small-delta/suspect', '--parents', 'fixtures/parents/a', 'fixtures/parents/b'];

/** The report without what legitimately differs between runs: when, and the command line. */
function comparable(path: string): unknown {
  const report = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> & { reproducibility?: Record<string, unknown> };
  delete report.createdAt;
  delete report.command;
  if (report.reproducibility) {
    delete report.reproducibility.createdAt;
    delete report.reproducibility.command;
  }
  return report;
}

let dir: string;

/** A bf16 trio of 240 tensors × 40,000 elements (suspect = round(0.7·a + 0.3·b)): long enough to kill mid-way. */
function writeManyTensorTrio(root: string): string[] {
  const names = ['suspect', 'a', 'b'];
  const tensors: Record<string, { name: string; dtype: string; shape: number[]; data: Uint8Array }[]> = { suspect: [], a: [], b: [] };
  const n = 40_000;
  const word = new Float32Array(1);
  const bits = new Uint32Array(word.buffer);
  for (let t = 0; t < 240; t++) {
    const codes = { suspect: new Uint16Array(n), a: new Uint16Array(n), b: new Uint16Array(n) };
    for (let i = 0; i < n; i++) {
      const a = 0x3c00 + ((i * 40503 + t * 97) % 512);
      const b = a + (((i * 7 + t) % 13) - 6);
      codes.a[i] = a;
      codes.b[i] = b;
      word[0] = 0;
      bits[0] = a << 16;
      const va = word[0];
      bits[0] = b << 16;
      const vb = word[0];
      word[0] = 0.7 * va + 0.3 * vb;
      // Round to nearest even into bf16.
      const x = bits[0]!;
      codes.suspect[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
    for (const name of names) {
      const c = codes[name as keyof typeof codes];
      tensors[name]!.push({ name: `model.layers.${t}.mlp.weight`, dtype: 'BF16', shape: [200, 200], data: new Uint8Array(c.buffer) });
    }
  }
  return names.map((name) => {
    const folder = join(root, name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.safetensors'), serializeSafetensors(tensors[name]!));
    return folder;
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'provcheck-scale-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scaling out', () => {
  it('gives the same report on worker threads as in-process', async () => {
    const inProcess = join(dir, 'threads0.json');
    const workers = join(dir, 'threads2.json');
    for (const [threads, output] of [['0', inProcess], ['2', workers]] as const) {
      const run = await runCli(['suspect', ...FIXTURE, '--threads', threads, '--format', 'json', '--output', output, '--quiet']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }
    expect(comparable(workers)).toEqual(comparable(inProcess));
  });

  it('merges the partial reports of 3 shards into exactly the single-run report', async () => {
    const single = join(dir, 'single.json');
    await runCli(['suspect', ...FIXTURE, '--threads', '0', '--format', 'json', '--output', single, '--quiet']);
    const parts = [1, 2, 3].map((i) => join(dir, `part-${i}.json`));
    for (const [i, part] of parts.entries()) {
      const run = await runCli(['suspect', ...FIXTURE, '--shard', `${i + 1}/3`, '--output', part]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^shard ${i + 1}/3: \\d+ tensors written to `));
    }
    const sizes = parts.map((p) => (JSON.parse(readFileSync(p, 'utf8')) as { report: { tensors: unknown[] } }).report.tensors.length);
    expect(sizes.every((s) => s > 0)).toBe(true);
    const merged = join(dir, 'merged.json');
    // Shards given out of order: merge orders them.
    const run = await runCli(['merge', parts[2]!, parts[0]!, parts[1]!, '--format', 'json', '--output', merged, '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(comparable(merged)).toEqual(comparable(single));

    const missing = await runCli(['merge', parts[0]!, parts[2]!]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('shard 2/3 missing');

    // A shard made by another version (as if by the one before it) is refused, naming both.
    const older = join(dir, 'part-2-older.json');
    const partial = JSON.parse(readFileSync(parts[1]!, 'utf8')) as { report: { tool: { version: string } } };
    const version = partial.report.tool.version;
    partial.report.tool.version = '0.0.1';
    writeFileSync(older, JSON.stringify(partial));
    const mixed = await runCli(['merge', parts[0]!, older, parts[2]!]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain(`${older}: made by provcheck 0.0.1, ${parts[0]} by ${version}; shards of one run must come from one version`);
    // One that does not say which version made it is refused as malformed, naming the file.
    const unversioned = join(dir, 'part-2-unversioned.json');
    delete (partial.report as { tool?: unknown }).tool;
    writeFileSync(unversioned, JSON.stringify(partial));
    const nameless = await runCli(['merge', parts[0]!, unversioned, parts[2]!]);
    expect(nameless.code).not.toBe(0);
    expect(nameless.stderr.trim().split('\n')[0]).toBe(`provcheck: ${unversioned}: the partial report does not say which provcheck version made it (report.tool.version)`);
    // A tensor report damaged by hand: refused naming the file, in every format, and nothing written.
    const damaged = join(dir, 'part-2-damaged.json');
    const parsed = JSON.parse(readFileSync(parts[1]!, 'utf8')) as { report: { tensors: Record<string, unknown>[] } };
    delete parsed.report.tensors[0]!.weights;
    writeFileSync(damaged, JSON.stringify(parsed));
    for (const format of ['text', 'json', 'markdown', 'html']) {
      const out = join(dir, `damaged.${format}`);
      const refused = await runCli(['merge', parts[0]!, damaged, parts[2]!, '--format', format, '--output', out]);
      expect(refused.code, format).toBe(2);
      expect(refused.stderr, format).toMatch(new RegExp(`^provcheck: ${damaged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: a tensor report in it is damaged \\(.+\\); was the file edited\\? Make it again with --shard 2/3\n$`));
      expect(existsSync(out), format).toBe(false);
    }
    // Damage that only the JSON renderer meets (a tensor's freeFit): to a file, and to stdout, which gets nothing.
    const renderDamaged = join(dir, 'part-2-render-damaged.json');
    const again = JSON.parse(readFileSync(parts[1]!, 'utf8')) as { report: { tensors: Record<string, unknown>[] } };
    delete again.report.tensors[0]!.freeFit;
    writeFileSync(renderDamaged, JSON.stringify(again));
    const jsonOut = join(dir, 'damaged-render.json');
    for (const target of [['--output', jsonOut], []]) {
      const refused = await runCli(['merge', parts[0]!, renderDamaged, parts[2]!, '--format', 'json', ...target]);
      expect(refused.code, target.join(' ')).toBe(2);
      expect(refused.stderr, target.join(' ')).toContain(`provcheck: ${renderDamaged}: a tensor report in it is damaged (`);
      expect(refused.stdout, target.join(' ')).toBe('');
    }
    expect(existsSync(jsonOut)).toBe(false);
    // A tensor report that is not even an object with a name.
    const nullTensor = join(dir, 'part-2-null-tensor.json');
    again.report.tensors.push(null as unknown as Record<string, unknown>);
    writeFileSync(nullTensor, JSON.stringify(again));
    const unnamed = await runCli(['merge', parts[0]!, nullTensor, parts[2]!]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr.trim()).toBe(`provcheck: ${nullTensor}: tensor report ${again.report.tensors.length} has no name: the partial report is damaged; make it again with --shard`);
  });

  it('resumes after SIGKILL from the checkpoint to the identical report, and refuses a checkpoint of other inputs', async () => {
    const [suspect, a, b] = writeManyTensorTrio(join(dir, 'trio'));
    const args = ['suspect', suspect!, '--parents', a!, b!, '--threads', '0', '--format', 'json', '--quiet'];
    const uninterrupted = join(dir, 'uninterrupted.json');
    expect((await runCli([...args, '--output', uninterrupted])).code).toBe(0);

    const checkpoint = join(dir, 'run.checkpoint');
    const resumed = join(dir, 'resumed.json');
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/provcheck.js'), ...args, '--checkpoint', checkpoint, '--output', resumed], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const lines = (): number => (existsSync(checkpoint) ? readFileSync(checkpoint, 'utf8').split('\n').length - 1 : 0);
    const deadline = Date.now() + 20_000;
    while (lines() < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const recorded = lines() - 1;
    expect(recorded).toBeGreaterThanOrEqual(39);
    expect(recorded).toBeLessThan(240);
    expect(existsSync(resumed)).toBe(false);

    const resume = await runCli([...args, '--checkpoint', checkpoint, '--output', resumed]);
    expect(resume.stderr).toBe('');
    expect(resume.code).toBe(0);
    expect(comparable(resumed)).toEqual(comparable(uninterrupted));
    expect(lines()).toBe(241);

    // The same checkpoint with another parent order is a different analysis.
    const other = await runCli(['suspect', suspect!, '--parents', b!, a!, '--threads', '0', '--checkpoint', checkpoint, '--quiet']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`${checkpoint}: this checkpoint was made for other inputs (A `);
  }, 60_000);
});
