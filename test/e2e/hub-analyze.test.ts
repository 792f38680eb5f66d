import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { analyze, type AnalyzeOptions } from '../../src/analyze.js';
import { IoError, MalformedInputError, UsageError } from '../../src/errors.js';
import type { Report } from '../../src/report-schema.js';
import type { HubOptions } from '../../src/source/hub/hub-session.js';
import { FakeHub, readFolder, writeHfCacheSnapshot, type FaultPlan } from '../helpers/fake-hub-server.js';

/** The same three models on disk, on the fake Hub and in a fake Hugging Face cache. */
const LOCAL = { suspect: 'fixtures/sharded-no-index/suspect', parents: ['fixtures/parents/a', 'fixtures/parents/b'] };
const REPOS = { suspect: 'acme/suspect', parents: ['acme/a', 'acme/b'] };

let hub: FakeHub;
let scratch: string;
let cacheDir: string;
let emptyCache: string;
const shas = new Map<string, string>();

beforeAll(async () => {
  hub = await FakeHub.start();
  scratch = await mkdtemp(join(tmpdir(), 'provcheck-hub-e2e-'));
  cacheDir = join(scratch, 'hub-cache');
  emptyCache = join(scratch, 'empty-cache');
  for (const [repo, folder] of [[REPOS.suspect, LOCAL.suspect], ...REPOS.parents.map((p, j) => [p, LOCAL.parents[j]!])] as const) {
    const files = await readFolder(folder);
    const sha = hub.addCommit(repo, files);
    shas.set(repo, sha);
    await writeHfCacheSnapshot(cacheDir, repo, sha, files);
  }
  // A snapshot with only the config, as `AutoConfig.from_pretrained` leaves one.
  const partial = await readFolder(LOCAL.parents[1]!);
  await writeHfCacheSnapshot(join(scratch, 'partial-cache'), 'acme/b', shas.get('acme/b')!, { 'config.json': partial['config.json']! });
});
afterAll(async () => {
  await hub.stop();
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  hub.clearFaults();
  hub.requests.length = 0;
});

function hubOptions(extra: Partial<HubOptions> = {}): HubOptions {
  return {
    endpoint: hub.endpoint,
    cacheDir: emptyCache,
    // Small windows: many range requests per file, so faults land mid-scan.
    readAheadWindowBytes: 48 * 1024,
    readAheadBudgetBytes: 256 * 1024,
    retry: { baseDelayMs: 1, idleTimeoutMs: 300, sleep: async () => undefined },
    ...extra,
  };
}

function run(inputs: { suspect: string; parents: string[] }, hubExtra?: Partial<HubOptions>): Promise<Report> {
  const options: AnalyzeOptions = { ...inputs, parents: [...inputs.parents], chunkElements: 8192, hub: hubOptions(hubExtra) };
  return analyze(options);
}

/** The report without what describes the inputs (and when it was made): must be byte-identical. */
function withoutInputDescriptions(report: Report): string {
  const strip = ({ source: _s, origin: _o, repo: _r, revision: _v, ...rest }: Report['suspect']): object => rest;
  const { createdAt: _c, suspect, parents, reproducibility, ...rest } = report;
  const { createdAt: _rc, inputs: _ri, analysis, ...record } = reproducibility ?? ({} as NonNullable<Report['reproducibility']>);
  const { suspect: _as, parents: _ap, ...analysisRest } = analysis ?? ({} as NonNullable<Report['reproducibility']>['analysis']);
  return JSON.stringify({ ...rest, suspect: strip(suspect), parents: parents.map(strip), record, analysisRest });
}

let fromDisk: string;
/** The three reports of the first test, for the record's checks. */
let runs: { disk: Report; remote: Report; cached: Report };

describe('one fixture from disk, from the Hub and from the cache', () => {
  it('gives byte-identical reports apart from the input descriptions', async () => {
    const disk = await run(LOCAL);
    const remote = await run(REPOS);
    const cached = await run(REPOS, { cacheDir, offline: true });
    fromDisk = withoutInputDescriptions(disk);
    runs = { disk, remote, cached };
    expect(disk.verdict.kind).toBe('blend');
    expect(withoutInputDescriptions(remote)).toBe(fromDisk);
    expect(withoutInputDescriptions(cached)).toBe(fromDisk);

    expect(disk.suspect).toMatchObject({ origin: 'local', repo: null, revision: null, layout: 'folder-shards' });
    expect(remote.suspect).toMatchObject({ source: 'acme/suspect', origin: 'hub', repo: 'acme/suspect', revision: shas.get('acme/suspect') });
    expect(cached.parents[1]).toMatchObject({ source: 'acme/b', origin: 'hf-cache', repo: 'acme/b', revision: shas.get('acme/b') });
    expect(remote.reproducibility?.inputs[0]).toMatchObject({ resolved: 'acme/suspect', revision: shas.get('acme/suspect') });
    expect(cached.reproducibility?.inputs[2]).toMatchObject({ resolved: 'acme/b', revision: shas.get('acme/b') });
  });

  it('resolves each revision once, then names the commit sha in every request', async () => {
    await run({ suspect: 'acme/suspect@main', parents: ['hf://acme/a', `acme/b@${shas.get('acme/b')}`] });
    const infos = hub.requests.filter((r) => r.url.includes('/revision/'));
    expect(infos.map((r) => r.url.split('?')[0])).toEqual([
      '/api/models/acme/suspect/revision/main',
      '/api/models/acme/a/revision/HEAD',
      `/api/models/acme/b/revision/${shas.get('acme/b')}`,
    ]);
    const later = hub.requests.filter((r) => r.origin === 'hub' && !r.url.includes('/revision/'));
    expect(later.length).toBeGreaterThan(0);
    for (const request of later) expect(request.url).toMatch(/\/(tree|resolve)\/[0-9a-f]{40}(\/|\?|$)/);
  });

  it('mixes local paths and Hub repos, and streams ranges instead of whole files', async () => {
    const mixed = await run({ suspect: 'acme/suspect', parents: [LOCAL.parents[0]!, 'acme/b'] });
    expect(withoutInputDescriptions(mixed)).toBe(fromDisk);
    const ranges = hub.requests.filter((r) => r.origin === 'storage').map((r) => r.range);
    expect(ranges.every((range) => range !== null && /^bytes=\d+-\d+$/.test(range))).toBe(true);
  });

  it('reads a partly cached model from the Hub at the cached commit', async () => {
    const report = await run({ suspect: LOCAL.suspect, parents: [LOCAL.parents[0]!, 'acme/b'] }, { cacheDir: join(scratch, 'partial-cache') });
    expect(report.parents[1]).toMatchObject({ origin: 'hub', revision: shas.get('acme/b') });
    expect(withoutInputDescriptions(report)).toBe(fromDisk);
  });
});

describe('the reproducibility record and the claims of Hub inputs', () => {
  it("records each shard's LFS SHA-256, equal to the hash of the local file's bytes, and the same hashes as from disk", async () => {
    const hashes = (report: Report): [string, string, number, string | null][] =>
      report.reproducibility!.inputs.flatMap((input) => input.files.map((f) => [input.label, f.path, f.bytes, f.sha256] as [string, string, number, string | null]));
    expect(hashes(runs.remote)).toEqual(hashes(runs.disk));
    expect(hashes(runs.cached)).toEqual(hashes(runs.disk));

    const folders = [LOCAL.suspect, ...LOCAL.parents];
    const shards = runs.remote.reproducibility!.inputs.flatMap((input, i) =>
      input.files.filter((f) => f.path.endsWith('.safetensors')).map((f) => ({ folder: folders[i]!, file: f })),
    );
    expect(shards.map(({ file }) => file.path)).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors',
      'model.safetensors',
    ]);
    for (const { folder, file } of shards) {
      const bytes = await readFile(join(folder, file.path));
      expect(file).toEqual({ path: file.path, bytes: bytes.byteLength, modified: null, sha256: createHash('sha256').update(bytes).digest('hex'), sha256From: 'hub-lfs' });
    }
    const configs = runs.remote.reproducibility!.inputs.map((input) => input.files.find((f) => f.path === 'config.json')?.sha256From);
    expect(configs).toEqual(['content', 'content', 'content']);
  });

  it("reads a Hub suspect's model card and mergekit recipe: the claims equal those of the same suspect from disk", async () => {
    const declared = 'fixtures/blend-bf16-arith/suspect';
    hub.addCommit('acme/declared', await readFolder(declared));
    const disk = await run({ suspect: declared, parents: LOCAL.parents });
    const remote = await run({ suspect: 'acme/declared', parents: LOCAL.parents });
    expect(remote.claims).toEqual(disk.claims);
    expect(remote.claims?.declared.files).toEqual(['README.md', 'mergekit_config.yml']);
    expect(remote.claims?.status).toBe('consistent');
    expect(remote.claims?.undisclosedMerge).toBe(false);
  });
});

describe('under injected faults the result equals the fault-free one', () => {
  const plans: [string, FaultPlan[]][] = [
    ['connection resets mid-body', [{ kind: 'reset', after: 3, times: 3 }]],
    ['truncated bodies', [{ kind: 'truncate', after: 5, times: 2 }]],
    ['429 with Retry-After', [{ kind: 'rate-limit', after: 2, times: 2 }]],
    ['503 from storage', [{ kind: 'unavailable', after: 4, times: 3 }]],
    ['a wrong Content-Range', [{ kind: 'wrong-range', after: 6, times: 2 }]],
    ['a file that changes between requests', [{ kind: 'etag-change', after: 7, times: 2 }]],
    ['expiring storage URLs', [{ kind: 'expire-urls', after: 5 }, { kind: 'expire-urls', after: 12 }]],
    ['a stalled response', [{ kind: 'stall', after: 3, times: 1 }]],
    ['429 and 503 from the API and resolve', [{ kind: 'rate-limit', target: 'api', times: 2 }, { kind: 'unavailable', target: 'resolve', after: 1, times: 2 }]],
  ];
  it.each(plans)('%s', async (_name, faults) => {
    for (const fault of faults) hub.inject(fault);
    const report = await run(REPOS);
    expect(hub.faultsSpent).toBe(true);
    expect(withoutInputDescriptions(report)).toBe(fromDisk);
  });

  it('a permanent outage fails with one line naming repo, file, byte range and status', async () => {
    hub.inject({ kind: 'unavailable', after: 4, times: Infinity });
    const error = await run(REPOS, { retry: { maxAttempts: 3, baseDelayMs: 1, sleep: async () => undefined } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IoError);
    expect((error as Error).message).toMatch(
      /^acme\/(suspect|a|b)@[0-9a-f]{12}\/model(-0000\d-of-00002)?\.safetensors: cannot read bytes \[\d+, \d+\): HTTP 503 \(server error\) after 3 attempts/,
    );
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('errors before any byte is read', () => {
  it('a missing repo or revision is a malformed input (exit 2), named', async () => {
    const repo = await run({ suspect: 'acme/nothing', parents: ['acme/a'] }).catch((e: unknown) => e);
    expect(repo).toBeInstanceOf(MalformedInputError);
    expect((repo as Error).message).toMatch(/^acme\/nothing: no model repo acme\/nothing on http:\/\/127\.0\.0\.1:\d+ \(taken as a Hub repo, since it is not a local path\)/);
    const revision = await run({ suspect: 'acme/suspect@v9', parents: ['acme/a'] }).catch((e: unknown) => e);
    expect(revision).toBeInstanceOf(MalformedInputError);
    expect((revision as Error).message).toContain('has no revision "v9"');
  });

  it('offline, a model not in the cache is a usage error and nothing touches the network', async () => {
    const error = await run(REPOS, { offline: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      `acme/suspect: not a local path, and the Hugging Face cache (${emptyCache}) does not hold it; --offline forbids fetching it from the Hub`,
    );
    expect(hub.requests).toHaveLength(0);
  });

  it('a path that cannot be a repo id stays a missing path', async () => {
    const error = await run({ suspect: 'no/such/folder', parents: ['acme/a'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedInputError);
    expect((error as Error).message).toBe('no/such/folder: no such file or folder');
    expect(hub.requests).toHaveLength(0);
  });
});
