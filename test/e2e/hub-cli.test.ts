import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze.js';
import { runCli as runCliInProcess } from '../../src/cli/run-cli.js';
import { openModel } from '../../src/format/load-model.js';
import type { Report } from '../../src/report-schema.js';
import { HubSession } from '../../src/source/hub/hub-session.js';
import { FakeHub, readFolder, writeHfCacheSnapshot } from '../helpers/fake-hub-server.js';
import { runCli } from '../helpers/run-cli.js';

const LOCAL = ['fixtures/blend-small-delta/suspect', 'fixtures/parents/a', 'fixtures/parents/b'] as const;

let hub: FakeHub;
let scratch: string;
let home: string;
let cache: string;
const shas = new Map<string, string>();

beforeAll(async () => {
  hub = await FakeHub.start();
  scratch = await mkdtemp(join(tmpdir(), 'provcheck-hub-cli-'));
  home = join(scratch, 'hf-home');
  cache = join(scratch, 'cache');
  await mkdir(home, { recursive: true });
  // The suspect is private: reading it needs the token.
  for (const [repo, folder, isPrivate] of [['acme/suspect', LOCAL[0], true], ['acme/a', LOCAL[1], false], ['acme/b', LOCAL[2], false]] as const) {
    const files = await readFolder(folder);
    const sha = hub.addCommit(repo, files, { isPrivate });
    shas.set(repo, sha);
    await writeHfCacheSnapshot(cache, repo, sha, files);
  }
});
afterAll(async () => {
  await hub.stop();
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  hub.clearFaults();
  hub.requests.length = 0;
});

/** An environment with nothing of the user's: the fake Hub, an empty HF_HOME, no cache hits. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return { HF_ENDPOINT: hub.endpoint, HF_HOME: home, HF_HUB_CACHE: join(scratch, 'no-cache'), HF_TOKEN: '', ...extra };
}

function expectTokenKept(output: string): void {
  expect(output).not.toContain(hub.token);
  const storage = hub.requests.filter((r) => r.origin === 'storage');
  expect(storage.length).toBeGreaterThan(0);
  expect(storage.every((r) => r.authorization === null)).toBe(true);
  expect(hub.requests.every((r) => !r.url.includes(hub.token))).toBe(true);
}

describe('provcheck on Hub repos (built binary)', () => {
  it('gives the same verdict as on the local copies, and never lets the token out', async () => {
    const local = await runCli(['suspect', ...LOCAL.slice(0, 1), '--parents', ...LOCAL.slice(1), '--format', 'json']);
    const remote = await runCli(['suspect', 'acme/suspect', '--parents', 'hf://acme/a', 'acme/b@main', '--format', 'json'], {
      env: env({ HF_TOKEN: hub.token }),
    });
    expect(remote.stderr).toBe('');
    expect(remote.code).toBe(0);
    const [a, b] = [JSON.parse(local.stdout) as Report, JSON.parse(remote.stdout) as Report];
    expect(b.verdict).toEqual(a.verdict);
    expect(b.suspect.revision).toMatch(/^[0-9a-f]{40}$/);
    expectTokenKept(remote.stdout + remote.stderr);
    expect(hub.requests.filter((r) => r.origin === 'hub').every((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
  });

  it('reads the token from --token-file, and without one says a token may be needed (exit 2)', async () => {
    const tokenFile = join(scratch, 'token.txt');
    await writeFile(tokenFile, `${hub.token}\n`);
    const withFile = await runCli(['suspect', 'acme/suspect', '--parents', 'acme/a', 'acme/b', '--token-file', tokenFile, '--quiet', '--output', join(scratch, 'r.json')], { env: env() });
    expect(withFile.code).toBe(0);
    expectTokenKept(withFile.stdout + withFile.stderr);

    const without = await runCli(['suspect', 'acme/suspect', '--parents', 'acme/a', 'acme/b'], { env: env() });
    expect(without.code).toBe(2);
    expect(without.stderr.trim().split('\n')).toHaveLength(1);
    expect(without.stderr).toMatch(/^provcheck: acme\/suspect: no model repo acme\/suspect on .*give a token \(HF_TOKEN or --token-file\)/);
  });

  it('inspects a Hub repo from its headers alone', async () => {
    const result = await runCli(['inspect', 'acme/a', '--format', 'json'], { env: env() });
    expect(result.code).toBe(0);
    const storage = hub.requests.filter((r) => r.origin === 'storage');
    const fetched = storage.reduce((sum, r) => {
      const [, first, last] = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '') ?? [];
      return sum + Number(last) - Number(first) + 1;
    }, 0);
    // Two requests (length prefix, then the header) of the 430 kB file.
    expect(storage).toHaveLength(2);
    expect(fetched).toBeLessThan(8192);
    expect(JSON.parse(result.stdout)).toMatchObject({ input: 'acme/a' });
  });

  it('reads the cache with no network at all, and --offline refuses what is not cached', async () => {
    const cached = await runCli(['suspect', 'acme/suspect', '--parents', 'acme/a', 'acme/b', '--offline', '--format', 'json'], {
      env: env({ HF_HUB_CACHE: cache }),
    });
    expect(cached.code).toBe(0);
    expect((JSON.parse(cached.stdout) as Report).suspect.origin).toBe('hf-cache');
    expect(hub.requests).toHaveLength(0);

    const offline = await runCli(['inspect', 'acme/a', '--offline'], { env: env() });
    expect(offline.code).toBe(2);
    expect(offline.stderr).toContain('--offline forbids fetching it from the Hub');
    expect(hub.requests).toHaveLength(0);
  });
});

describe('provcheck reproduce on a Hub report (built binary)', () => {
  it('reads each Hub input at the recorded commit, with the Hub flags and environment, and matches (exit 0)', async () => {
    const tokenFile = join(scratch, 'token-for-reproduce.txt');
    await writeFile(tokenFile, `${hub.token}\n`);
    const report = join(scratch, 'hub-report.json');
    const made = await runCli(['suspect', 'acme/suspect', '--parents', 'hf://acme/a', 'acme/b@main', '--format', 'json', '--output', report, '--quiet'], {
      env: env({ HF_TOKEN: hub.token }),
    });
    expect(made.code).toBe(0);
    const record = (JSON.parse(await readFile(report, 'utf8')) as Report).reproducibility!;
    expect(record.inputs.map((input) => [input.resolved, input.revision])).toEqual([
      ['acme/suspect', shas.get('acme/suspect')],
      ['acme/a', shas.get('acme/a')],
      ['acme/b', shas.get('acme/b')],
    ]);

    // main moves on to other weights: a re-run at the branch would read a different model.
    const moved = hub.addCommit('acme/b', await readFolder('fixtures/blend-then-trained/suspect'));
    try {
      hub.requests.length = 0;
      const again = await runCli(['reproduce', report, '--token-file', tokenFile, '--output', join(scratch, 'hub-again.json')], { env: env() });
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/^Reproduced: the re-run matches the report\.\n/);
      expect(again.stdout).toContain('Inputs  unchanged (7 files checked: 7 by SHA-256, 0 by size and time)');
      const asked = hub.requests.filter((r) => r.url.includes('/revision/')).map((r) => r.url.split('?')[0]);
      expect(asked).toEqual([
        `/api/models/acme/suspect/revision/${shas.get('acme/suspect')}`,
        `/api/models/acme/a/revision/${shas.get('acme/a')}`,
        `/api/models/acme/b/revision/${shas.get('acme/b')}`,
      ]);
      expect(hub.requests.some((r) => r.url.includes(moved))).toBe(false);
      expectTokenKept(again.stdout + again.stderr);
      const rerun = JSON.parse(await readFile(join(scratch, 'hub-again.json'), 'utf8')) as Report;
      expect(rerun.reproducibility?.analysis).toMatchObject({
        suspect: `acme/suspect@${shas.get('acme/suspect')}`,
        parents: [`hf://acme/a@${shas.get('acme/a')}`, `acme/b@${shas.get('acme/b')}`],
      });

      // Offline with the cache: the same commits, no network at all.
      hub.requests.length = 0;
      const offline = await runCli(['reproduce', report, '--offline', '--quiet'], { env: env({ HF_HUB_CACHE: cache }) });
      expect(offline.code).toBe(0);
      expect(hub.requests).toHaveLength(0);
    } finally {
      // Later tests read acme/b at main.
      hub.addCommit('acme/b', await readFolder(LOCAL[2]));
    }
  });
});

describe('provcheck on Hub repos (in process, fast retries)', () => {
  it('a permanent failure exits 3 with one line naming repo, file, byte range and HTTP status', async () => {
    hub.inject({ kind: 'unavailable', after: 1, times: Infinity });
    let out = '';
    let err = '';
    const code = await runCliInProcess(['suspect', 'acme/a', '--parents', 'acme/b', 'acme/suspect'], {
      analyze: (options, onProgress) =>
        analyze({ ...options, hub: { ...options.hub, retry: { maxAttempts: 3, baseDelayMs: 1, sleep: async () => undefined } } }, onProgress),
      loadModel: async (input, options) => (await openModel(input, new HubSession(options))).layout,
      stdout: { write: (text) => (out += text) },
      stderr: { write: (text) => (err += text) },
      env: env({ HF_TOKEN: hub.token }),
      now: () => 0,
      version: 'test',
    });
    expect(code).toBe(3);
    expect(out).toBe('');
    expect(err).toMatch(/^provcheck: acme\/a@[0-9a-f]{12}\/model\.safetensors: cannot read bytes \[\d+, \d+\): HTTP 503 \(server error\) after 3 attempts over \d+\.\d s\n$/);
    expect(err).not.toContain(hub.token);
  });
});
