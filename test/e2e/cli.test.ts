import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report-schema.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { serializeSafetensors } from '../helpers/safetensors-writer.js';

const demo = ['suspect', 'fixtures/blend-small-delta/suspect', '--parents', 'fixtures/parents/a', 'fixtures/parents/b'];
const scratch = mkdtempSync(join(tmpdir(), 'provcheck-e2e-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('provcheck suspect', () => {
  it('prints the verdict sentence first, and exits 0', async () => {
    const result = await runCli(demo);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(/^suspect = 0\.60\d·B \+ 0\.40\d·A/);
    expect(result.stdout).toMatch(/σ/);
  });

  it('exits 1 when --fail-on names the verdict, 0 when it does not', async () => {
    expect((await runCli([...demo, '--fail-on', 'blend,modified-blend', '--quiet'])).code).toBe(1);
    expect((await runCli([...demo, '--fail-on', 'unrelated', '--quiet'])).code).toBe(0);
  });

  it('writes the report to --output and never overwrites a file the user had', async () => {
    const target = join(scratch, 'report.json');
    const first = await runCli([...demo, '--format', 'json', '--output', target]);
    expect(first.code).toBe(0);
    const report = JSON.parse(readFileSync(target, 'utf8')) as Report;
    expect(report.schemaVersion).toBe(2);
    expect(report.verdict.kind).toBe('blend');

    const precious = join(scratch, 'precious.txt');
    writeFileSync(precious, 'keep me');
    const second = await runCli([...demo, '--output', precious]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(precious);
    expect(readFileSync(precious, 'utf8')).toBe('keep me');
  });

  it('gives a malformed file a one-line error naming it, exit 2', async () => {
    const broken = join(scratch, 'broken.safetensors');
    const bytes = serializeSafetensors([{ name: 'w', dtype: 'BF16', shape: [4], data: new Uint8Array(8) }]);
    writeFileSync(broken, bytes.subarray(0, bytes.length - 3));
    const result = await runCli(['suspect', broken, '--parents', 'fixtures/parents/a', 'fixtures/parents/b']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(broken);
  });

  it('refuses pickle checkpoints without reading them, exit 2', async () => {
    const pickle = join(scratch, 'pytorch_model.bin');
    writeFileSync(pickle, 'not really a pickle');
    const result = await runCli(['suspect', pickle, '--parents', 'fixtures/parents/a', 'fixtures/parents/b']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/pickle/i);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 on a missing path and on usage errors', async () => {
    const missing = await runCli(['suspect', join(scratch, 'nope'), '--parents', 'fixtures/parents/a', 'fixtures/parents/b']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope');
    expect((await runCli(['suspect', 'fixtures/parents/a'])).code).toBe(2);
    expect((await runCli([...demo, '--fail-on', 'blended'])).code).toBe(2);
    expect((await runCli([...demo, '--include', '('])).code).toBe(2);
    expect((await runCli([...demo, '--base', 'fixtures/parents/base'])).code).toBe(2);
  });

  it('accepts --base naming one of the parents', async () => {
    const result = await runCli([...demo, '--base', 'fixtures/parents/b', '--format', 'json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.reference).toBe(1);
    expect(report.verdict.kind).toBe('blend');
    expect(Math.abs(report.verdict.weights![0]! - 0.4)).toBeLessThan(0.01);
  });

  it('--no-recipes skips the second read but keeps the verdict, and the record says so', async () => {
    const full = JSON.parse((await runCli([...demo, '--format', 'json'])).stdout) as Report;
    const result = await runCli([...demo, '--format', 'json', '--no-recipes']);
    expect(result.code).toBe(0);
    const quick = JSON.parse(result.stdout) as Report;
    expect(quick.verdict.kind).toBe(full.verdict.kind);
    quick.verdict.weights!.forEach((w, j) => expect(w).toBeCloseTo(full.verdict.weights![j]!, 6));
    expect(full.tensors.some((t) => t.recipes !== undefined)).toBe(true);
    expect(quick.tensors.every((t) => t.recipes === undefined)).toBe(true);
    expect(quick.reproducibility?.analysis.recipes).toBe(false);
    expect(full.reproducibility?.analysis.recipes).toBe(true);
  });

  it('--include/--exclude select tensors by name', async () => {
    const result = await runCli([...demo, '--format', 'json', '--include', 'mlp', '--exclude', 'down_proj']);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.tensors.length).toBeGreaterThan(0);
    expect(report.tensors.every((t) => t.name.includes('mlp') && !t.name.includes('down_proj'))).toBe(true);
    expect(report.filtered).toBeGreaterThan(0);
  });
});

describe('provcheck inspect, --help, --version', () => {
  it('lists tensors, dtypes and shards', async () => {
    const result = await runCli(['inspect', 'fixtures/reupload/suspect']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('model.safetensors.index.json');
    expect(result.stdout).toContain('BF16');
    expect(result.stdout).toContain('model.embed_tokens.weight');
  });

  it('shows a worked example for each command', async () => {
    expect((await runCli(['suspect', '--help'])).stdout).toMatch(/Example/i);
    expect((await runCli(['inspect', '--help'])).stdout).toMatch(/Example/i);
  });

  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    expect(result.stdout.trim()).toBe(pkg.version);
    expect(existsSync(`${REPO_ROOT}dist/cli/main.js`)).toBe(true);
  });
});
