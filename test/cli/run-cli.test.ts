import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnalyzeOptions, ProgressListener } from '../../src/analyze.js';
import type { CliDependencies } from '../../src/cli/dependencies.js';
import { runCli } from '../../src/cli/run-cli.js';
import { IoError, MalformedInputError } from '../../src/errors.js';
import type { ModelLayout, ShardDescriptor, TensorDescriptor } from '../../src/format/model-layout.js';
import type { Report } from '../../src/report-schema.js';
import { parseReportJson } from '../../src/report/render-json.js';
import { DEFAULT_THRESHOLDS } from '../../src/verdict/thresholds.js';
import { reportOfKind, sampleReport } from '../helpers/sample-report.js';

interface Harness {
  deps: CliDependencies;
  stdout: () => string;
  stderr: () => string;
  calls: AnalyzeOptions[];
  closed: () => number;
}

function harness(options: { report?: Report; fail?: unknown; stderrIsTTY?: boolean } = {}): Harness {
  let out = '';
  let err = '';
  let closed = 0;
  const calls: AnalyzeOptions[] = [];
  const shard: ShardDescriptor = {
    file: 'model.safetensors',
    source: { name: 'model.safetensors', size: 136, read: () => Promise.reject(new Error('no reads')), close: async () => {} },
    size: 136,
    dataStart: 72,
    metadata: { format: 'pt' },
    tensorNames: ['w'],
  };
  const tensor: TensorDescriptor = { name: 'w', dtype: 'BF16', shape: [4, 8], elements: 32, shard, start: 72, byteLength: 64 };
  const layout: ModelLayout = {
    input: 'model.safetensors',
    root: '/m/model.safetensors',
    kind: 'file',
    indexFile: null,
    shards: [shard],
    tensors: new Map([['w', tensor]]),
    totalBytes: 136,
    close: async () => {
      closed += 1;
    },
  };
  const deps: CliDependencies = {
    analyze: async (analyzeOptions: AnalyzeOptions, onProgress?: ProgressListener) => {
      calls.push(analyzeOptions);
      onProgress?.({ phase: 'scan', bytesDone: 10, bytesTotal: 20, tensorsDone: 1, tensorsTotal: 2 });
      if (options.fail !== undefined) throw options.fail;
      return options.report ?? sampleReport();
    },
    loadModel: async (input) => {
      if (options.fail !== undefined) throw options.fail;
      return { ...layout, input };
    },
    stdout: { write: (text) => (out += text), isTTY: false },
    stderr: { write: (text) => (err += text), isTTY: options.stderrIsTTY ?? false, columns: 80 },
    env: {},
    now: () => 0,
    version: '9.8.7',
  };
  return { deps, stdout: () => out, stderr: () => err, calls, closed: () => closed };
}

describe('runCli', () => {
  it('prints the version from its dependencies and exits 0', async () => {
    const h = harness();
    expect(await runCli(['--version'], h.deps)).toBe(0);
    expect(h.stdout()).toBe('9.8.7\n');
  });

  it('shows help with a worked example and exits 0', async () => {
    const h = harness();
    expect(await runCli(['suspect', '--help'], h.deps)).toBe(0);
    expect(h.stdout()).toContain('$ provcheck suspect merged/ --parents tune-a/ tune-b/');
    expect(h.stdout().replace(/\s+/g, ' ')).toContain(`(default: ${DEFAULT_THRESHOLDS.blendMaxNoise})`);
  });

  it('renders the text report and exits 0 when no gate trips', async () => {
    const h = harness();
    expect(await runCli(['suspect', 's', '--parents', 'a', 'b'], h.deps)).toBe(0);
    expect(h.stdout().startsWith('suspect = 0.600·B + 0.400·A in every one of 11 tensors;')).toBe(true);
    expect(h.stdout()).toContain('\nBy component\n');
    expect(h.stdout()).not.toMatch(/\u001b\[/);
    expect(h.calls[0]).toMatchObject({ suspect: 's', parents: ['a', 'b'], reference: 0 });
    expect(h.calls[0]?.command).toEqual(['provcheck', 'suspect', 's', '--parents', 'a', 'b']);
  });

  it('exits 1 when the verdict is a --fail-on kind', async () => {
    const h = harness({ report: reportOfKind('modified-blend') });
    const args = ['suspect', 's', '--parents', 'a', 'b', '--format', 'json', '--fail-on', 'blend,modified-blend'];
    expect(await runCli(args, h.deps)).toBe(1);
    expect(parseReportJson(h.stdout()).verdict.kind).toBe('modified-blend');
  });

  it('exits 2 with one line and a usage hint on a bad option value', async () => {
    const h = harness();
    expect(await runCli(['suspect', 's', '--parents', 'a', 'b', '--include', '('], h.deps)).toBe(2);
    const lines = h.stderr().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^provcheck: --include: '\(' is not a valid regular expression/);
    expect(lines[1]).toBe("Run 'provcheck <command> --help' for usage and examples.");
    expect(h.calls).toHaveLength(0);
  });

  it("exits 2 on commander's own usage errors", async () => {
    const h = harness();
    expect(await runCli(['suspect', 's'], h.deps)).toBe(2);
    expect(h.stderr()).toContain("provcheck: required option '--parents <models...>' not specified");
    expect(await runCli(['suspect', 's', '--parents', 'a', '--bogus'], harness().deps)).toBe(2);
    expect(await runCli(['frobnicate'], harness().deps)).toBe(2);
    expect(await runCli([], harness().deps)).toBe(2);
  });

  it('exits 2 on malformed input and 3 on an I/O failure, one line each', async () => {
    const malformed = harness({ fail: new MalformedInputError('a/model.safetensors', 'header length 9e15 exceeds the file') });
    expect(await runCli(['suspect', 's', '--parents', 'a'], malformed.deps)).toBe(2);
    expect(malformed.stderr()).toBe('provcheck: a/model.safetensors: header length 9e15 exceeds the file\n');
    const io = harness({ fail: new IoError('b/model.safetensors', 'EIO: i/o error, read') });
    expect(await runCli(['inspect', 'b'], io.deps)).toBe(3);
    expect(io.stderr()).toBe('provcheck: b/model.safetensors: EIO: i/o error, read\n');
  });

  it('calls an unexpected error internal, with the stack only under --debug', async () => {
    const plain = harness({ fail: new TypeError('cannot read x') });
    expect(await runCli(['suspect', 's', '--parents', 'a'], plain.deps)).toBe(3);
    expect(plain.stderr()).toBe(
      'provcheck: internal error: cannot read x\nRe-run with --debug to see the full error, and please report it.\n',
    );
    const debug = harness({ fail: new TypeError('cannot read x') });
    expect(await runCli(['suspect', 's', '--parents', 'a', '--debug'], debug.deps)).toBe(3);
    expect(debug.stderr()).toMatch(/^provcheck: internal error: cannot read x\nTypeError: cannot read x\n {4}at /);
  });

  it('shows progress on a terminal stderr, and none with --quiet', async () => {
    const tty = harness({ stderrIsTTY: true });
    await runCli(['suspect', 's', '--parents', 'a'], tty.deps);
    expect(tty.stderr()).toBe('\rscanning  10 B / 20 B  50%  tensors 1/2\u001b[K\r\u001b[K');
    const quiet = harness({ stderrIsTTY: true });
    await runCli(['suspect', 's', '--parents', 'a', '--quiet'], quiet.deps);
    expect(quiet.stderr()).toBe('');
  });

  it('writes --output atomically, prints only the verdict line, and refuses to overwrite', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'provcheck-cli-'));
    try {
      const path = join(folder, 'report.json');
      const h = harness();
      const args = ['suspect', 's', '--parents', 'a', 'b', '--format', 'json', '--output', path];
      expect(await runCli(args, h.deps)).toBe(0);
      expect(h.stdout()).toBe(`${sampleReport().verdict.summary}\n`);
      expect(parseReportJson(await readFile(path, 'utf8'))).toEqual(sampleReport());

      const again = harness();
      expect(await runCli(args, again.deps)).toBe(2);
      expect(again.stderr()).toContain(`provcheck: --output: '${path}' already exists; pass --force to replace it`);
      expect(again.calls).toHaveLength(0);

      const forced = harness();
      expect(await runCli([...args, '--force', '--quiet'], forced.deps)).toBe(0);
      expect(forced.stdout()).toBe('');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('inspects a model and closes it', async () => {
    const h = harness();
    expect(await runCli(['inspect', 'model.safetensors', '--format', 'json'], h.deps)).toBe(0);
    const parsed = JSON.parse(h.stdout()) as { kind: string; tensors: { name: string }[] };
    expect(parsed.kind).toBe('file');
    expect(parsed.tensors.map((t) => t.name)).toEqual(['w']);
    expect(h.closed()).toBe(1);
  });
});
