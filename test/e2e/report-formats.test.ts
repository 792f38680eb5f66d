import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report-schema.js';
import { REPO_ROOT, runCli, type CliResult } from '../helpers/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'provcheck-e2e-report-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const parents = ['--parents', 'fixtures/parents/a', 'fixtures/parents/b'];

/**
 * A snapshot holds the command, the exit code and the output, with what differs between
 * machines and runs (date, Node version, the checkout's folder) replaced by placeholders.
 */
function snapshotOf(args: readonly string[], result: CliResult): string {
  const output = result.stdout
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<date>')
    .replace(/Node \d+\.\d+\.\d+, \w+ \w+/g, 'Node <version>, <platform>')
    .replaceAll(REPO_ROOT.replace(/\/$/, ''), '<repo>');
  return `$ provcheck ${args.join(' ')}\nexit code ${result.code}\n${result.stderr === '' ? '' : `stderr: ${result.stderr}`}\n${output}`;
}

describe('--format markdown and text, with the claims check', () => {
  it('renders the undisclosed merge as GitHub Markdown, and --fail-on undisclosed-merge exits 1', async () => {
    const args = ['suspect', 'fixtures/blend-small-delta/suspect', ...parents, '--format', 'markdown', '--fail-on', 'undisclosed-merge'];
    const result = await runCli(args);
    expect(result.code).toBe(1);
    expect(result.stdout.length).toBeLessThan(65_536);
    expect(snapshotOf(args, result)).toMatchSnapshot();
  });

  it('renders the honestly declared merge as text, and the same gate exits 0', async () => {
    const args = ['suspect', 'fixtures/blend-bf16-arith/suspect', ...parents, '--fail-on', 'undisclosed-merge'];
    const result = await runCli(args);
    expect(result.code).toBe(0);
    expect(snapshotOf(args, result)).toMatchSnapshot();
  });

  it('gates exactly the fixtures whose answer is an undisclosed merge', async () => {
    const answers = JSON.parse(readFileSync(join(REPO_ROOT, 'fixtures/answers.json'), 'utf8')) as {
      case: string;
      suspect: string;
      parents: string[];
      undisclosedMerge: boolean;
    }[];
    for (const name of ['finetune', 'three-parents']) {
      const answer = answers.find((entry) => entry.case === name)!;
      const result = await runCli(['suspect', answer.suspect, '--parents', ...answer.parents, '--format', 'json', '--fail-on', 'undisclosed-merge']);
      expect(result.code, name).toBe(answer.undisclosedMerge ? 1 : 0);
      expect((JSON.parse(result.stdout) as Report).claims?.undisclosedMerge, name).toBe(answer.undisclosedMerge);
    }
  });
});

describe('provcheck reproduce', () => {
  // A private copy, so the test can change a model under the report's feet.
  cpSync(join(REPO_ROOT, 'fixtures/blend-small-delta/suspect'), join(scratch, 'suspect'), { recursive: true });
  cpSync(join(REPO_ROOT, 'fixtures/parents/a'), join(scratch, 'a'), { recursive: true });
  cpSync(join(REPO_ROOT, 'fixtures/parents/b'), join(scratch, 'b'), { recursive: true });
  const run = (args: string[]): Promise<CliResult> => runCli(args, { cwd: scratch });

  it('matches its own report (exit 0), and says which inputs changed when it does not (exit 1)', async () => {
    const made = await run(['suspect', 'suspect', '--parents', 'a', 'b', '--format', 'json', '--output', 'report.json', '--quiet']);
    expect(made.code).toBe(0);
    const record = (JSON.parse(readFileSync(join(scratch, 'report.json'), 'utf8')) as Report).reproducibility!;
    expect(record.analysis).toMatchObject({ suspect: 'suspect', parents: ['a', 'b'], reference: 0, seed: null });
    expect(record.inputs.map((input) => input.files.map((file) => file.path))).toEqual([
      ['model.safetensors', 'config.json', 'README.md'],
      ['model.safetensors', 'config.json'],
      ['model.safetensors', 'config.json'],
    ]);
    expect(record.inputs[0]!.files.every((file) => /^[0-9a-f]{64}$/.test(file.sha256 ?? ''))).toBe(true);

    const same = await run(['reproduce', 'report.json']);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/^Reproduced: the re-run matches the report\.\n/);
    expect(same.stdout).toContain('every number bit-identical');
    expect(same.stdout).toContain('Inputs  unchanged (7 files checked: 7 by SHA-256, 0 by size and time)');

    cpSync(join(REPO_ROOT, 'fixtures/blend-then-trained/suspect/model.safetensors'), join(scratch, 'suspect/model.safetensors'));
    const changed = await run(['reproduce', 'report.json', '--output', 'again.json']);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/^Not reproduced: the re-run differs from the report\.\n/);
    expect(changed.stdout).toContain('- verdict: blend in the report, modified blend now');
    expect(changed.stdout).toContain('suspect model.safetensors: different content (SHA-256)');
    expect((JSON.parse(readFileSync(join(scratch, 'again.json'), 'utf8')) as Report).verdict.kind).toBe('modified-blend');
  });

  it('exits 2 with one line naming the file, before re-running, for a report missing what the comparison reads', async () => {
    const made = await run(['suspect', 'suspect', '--parents', 'a', 'b', '--format', 'json', '--output', 'whole.json', '--quiet']);
    expect(made.code).toBe(0);
    const whole = JSON.parse(readFileSync(join(scratch, 'whole.json'), 'utf8')) as Record<string, unknown>;
    for (const [file, edit, message] of [
      ['no-tool.json', (r: Record<string, unknown>) => delete r.tool, 'no-tool.json: does not say which provcheck version wrote it (tool.version)'],
      ['no-verdict.json', (r: Record<string, unknown>) => delete r.verdict, 'no-verdict.json: has no model verdict (verdict.kind)'],
      ['bad-tensors.json', (r: Record<string, unknown>) => (r.tensors = [1, 2]), 'bad-tensors.json: `tensors` is not a list of named tensor reports'],
      ['no-parents.json', (r: Record<string, unknown>) => delete r.parents, 'no-parents.json: `parents` is not a list'],
      [
        'no-files.json',
        (r: Record<string, unknown>) => delete (r.reproducibility as { inputs: Record<string, unknown>[] }).inputs[1]!.files,
        'no-files.json: reproducibility record: an input\'s `files` is not a list of files with paths',
      ],
      [
        'odd-command.json',
        (r: Record<string, unknown>) => ((r.reproducibility as Record<string, unknown>).command = 'provcheck suspect'),
        'odd-command.json: the command that made it is not a list of words (reproducibility.command)',
      ],
    ] as const) {
      const report = structuredClone(whole);
      edit(report);
      // A suspect that is not there: refused for the field above, so before any re-run.
      (report.reproducibility as { analysis: { suspect: string } }).analysis.suspect = 'no-such-model';
      writeFileSync(join(scratch, file), JSON.stringify(report));
      const result = await run(['reproduce', file]);
      expect(result.code, file).toBe(2);
      expect(result.stderr.trim(), file).toBe(`provcheck: ${message}`);
      expect(result.stdout, file).toBe('');
    }
    // Deeper: kinds the comparison names and numbers it prints, of another type.
    type Editable = { verdict: Record<string, unknown>; tensors: Record<string, unknown>[] };
    const first = (whole as unknown as Editable).tensors[0]!.name as string;
    for (const [file, edit, message] of [
      ['odd-kind.json', (r: Editable) => (r.tensors[0]!.kind = 'x'), `tensor ${first}: kind "x" is not a tensor kind`],
      ['odd-number.json', (r: Editable) => (r.tensors[0]!.noiseRatio = 'x'), `tensor ${first}: noiseRatio is not a number`],
      ['odd-verdict.json', (r: Editable) => (r.verdict.kind = 'x'), 'verdict.kind "x" is not a verdict'],
      ['odd-alternatives.json', (r: Editable) => (r.verdict.alternatives = 'x'), 'verdict.alternatives is not a list of numbers'],
    ] as const) {
      const report = structuredClone(whole) as unknown as Editable & { reproducibility: { analysis: { suspect: string } } };
      edit(report);
      report.reproducibility.analysis.suspect = 'no-such-model';
      writeFileSync(join(scratch, file), JSON.stringify(report));
      const result = await run(['reproduce', file]);
      expect(result.code, file).toBe(2);
      expect(result.stderr.trim(), file).toBe(`provcheck: ${file}: ${message}; was the report edited?`);
      expect(result.stdout, file).toBe('');
    }
  });

  it('exits 2 with one line naming the file for a missing, malformed or record-less report', async () => {
    writeFileSync(join(scratch, 'broken.json'), '{"schemaVersion": 1, "verdict"');
    // Schema 1 is read (its fields are a subset of 2's): what stops this one is the record.
    writeFileSync(join(scratch, 'old.json'), JSON.stringify({ schemaVersion: 1, verdict: { kind: 'blend' } }));
    writeFileSync(join(scratch, 'future.json'), JSON.stringify({ schemaVersion: 3, verdict: { kind: 'blend' } }));
    for (const [file, message] of [
      ['nope.json', "reproduce: 'nope.json' does not exist"],
      ['broken.json', 'broken.json: is not a JSON report'],
      ['old.json', 'old.json: has no reproducibility record'],
      ['future.json', 'future.json: has report schema 3; this provcheck reads schemas 1 and 2'],
    ] as const) {
      const result = await run(['reproduce', file]);
      expect(result.code, file).toBe(2);
      expect(result.stderr, file).toContain(message);
      expect(result.stdout).toBe('');
    }
  });
});
