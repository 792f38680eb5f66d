import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IoError, MalformedInputError } from '../../../src/errors.js';
import { HubSession, type HubOptions } from '../../../src/source/hub/hub-session.js';
import { FakeHub, type FaultKind } from '../../helpers/fake-hub-server.js';

let hub: FakeHub;
let mainSha: string;
let taggedSha: string;
/** 300 000 bytes whose value at i is a function of i: any misplaced byte shows. */
const blob = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
const small = new TextEncoder().encode('{"model_type":"fake"}');

beforeAll(async () => {
  hub = await FakeHub.start();
  taggedSha = hub.addCommit('acme/blob', { 'data.bin': blob.map((b) => b ^ 1), 'config.json': small }, { branch: 'v1' });
  mainSha = hub.addCommit('acme/blob', { 'data.bin': blob, 'config.json': small, 'sub/extra.bin': blob.subarray(0, 2000) });
  hub.addCommit('acme/private', { 'data.bin': blob }, { isPrivate: true });
});
afterAll(() => hub.stop());
beforeEach(() => {
  hub.clearFaults();
  hub.requests.length = 0;
});

/** Sleeps recorded instead of waited: retries take no time, and tests see the delays. */
function session(options: HubOptions = {}): { session: HubSession; delays: number[] } {
  const delays: number[] = [];
  const created = new HubSession({
    endpoint: hub.endpoint,
    readAheadWindowBytes: 64 * 1024,
    readAheadBudgetBytes: 256 * 1024,
    ...options,
    retry: {
      baseDelayMs: 10,
      idleTimeoutMs: 300,
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.5,
      ...options.retry,
    },
  });
  return { session: created, delays };
}

async function readAll(s: HubSession, file = 'data.bin', chunk = 40_000, sha = mainSha): Promise<Uint8Array> {
  const files = await s.listFiles({ repo: 'acme/blob', revision: null }, sha, 'acme/blob');
  const entry = files.find((f) => f.path === file)!;
  const source = s.openFile('acme/blob', sha, entry, `acme/blob/${file}`);
  try {
    const out = new Uint8Array(source.size);
    // Two reads in flight, as the engine reads.
    for (let at = 0; at < source.size; at += 2 * chunk) {
      const second = Math.min(source.size, at + 2 * chunk);
      const first = Math.min(source.size, at + chunk);
      const [a, b] = await Promise.all([source.read(at, first), source.read(first, second)]);
      out.set(a, at);
      out.set(b, first);
    }
    return out;
  } finally {
    await source.close();
  }
}

/** Byte-wise equality without the cost of a deep-equal over 300 000 elements. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

describe('HubSession: revisions and listings', () => {
  it('resolves a branch, a tag-like ref and a sha to the 40-hex commit', async () => {
    const { session: s } = session();
    expect(await s.resolveRevision({ repo: 'acme/blob', revision: null }, 'acme/blob')).toBe(mainSha);
    expect(await s.resolveRevision({ repo: 'acme/blob', revision: 'v1' }, 'acme/blob@v1')).toBe(taggedSha);
    expect(await s.resolveRevision({ repo: 'acme/blob', revision: taggedSha }, 'x')).toBe(taggedSha);
  });

  it('lists every file recursively with its size and LFS SHA-256, across tree pages', async () => {
    hub.treePageSize = 1;
    const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
    try {
      const files = await session().session.listFiles({ repo: 'acme/blob', revision: null }, mainSha, 'acme/blob');
      expect(files).toEqual([
        // Kept in git, not LFS: the listing has no SHA-256 of its bytes.
        { path: 'config.json', size: small.byteLength, lfsSha256: null },
        { path: 'data.bin', size: blob.byteLength, lfsSha256: sha256(blob) },
        { path: 'sub/extra.bin', size: 2000, lfsSha256: sha256(blob.subarray(0, 2000)) },
      ]);
    } finally {
      hub.treePageSize = 50;
    }
  });

  it('turns the Hub error codes into one-line errors naming the input', async () => {
    const { session: s } = session();
    const missing = await s.resolveRevision({ repo: 'acme/nothing', revision: null }, 'acme/nothing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(MalformedInputError);
    expect((missing as Error).message).toMatch(/^acme\/nothing: no model repo acme\/nothing on http:\/\/127\.0\.0\.1:\d+ .*give a token/);
    const revision = await s.resolveRevision({ repo: 'acme/blob', revision: 'nope' }, 'acme/blob@nope').catch((e: unknown) => e);
    expect(revision).toBeInstanceOf(MalformedInputError);
    expect((revision as Error).message).toMatch(/^acme\/blob@nope: repo acme\/blob on .* has no revision "nope"$/);
  });

  it('sends the token to the Hub only, never to storage, and reads a private repo with it', async () => {
    const { session: s } = session({ token: hub.token });
    const sha = await s.resolveRevision({ repo: 'acme/private', revision: null }, 'acme/private');
    const [file] = await s.listFiles({ repo: 'acme/private', revision: null }, sha, 'acme/private');
    const source = s.openFile('acme/private', sha, file!, 'acme/private/data.bin');
    expect([...(await source.read(1000, 1010))]).toEqual([...blob.subarray(1000, 1010)]);
    await source.close();
    const hubRequests = hub.requests.filter((r) => r.origin === 'hub');
    const storageRequests = hub.requests.filter((r) => r.origin === 'storage');
    expect(hubRequests.length).toBeGreaterThanOrEqual(3);
    expect(hubRequests.every((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
    expect(storageRequests.length).toBeGreaterThan(0);
    expect(storageRequests.every((r) => r.authorization === null)).toBe(true);
    expect(hub.requests.every((r) => !r.url.includes(hub.token))).toBe(true);

    const denied = await session().session.resolveRevision({ repo: 'acme/private', revision: null }, 'acme/private').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(MalformedInputError);
    expect((denied as Error).message).not.toContain(hub.token);
  });
});

describe('HttpRangeSource over the fake Hub', () => {
  it('reads every byte in place, small files from the Hub and large ones from storage', async () => {
    const { session: s } = session();
    expectBytes(await readAll(s), blob);
    expectBytes(await readAll(s, 'config.json', 5), small);
    expect(hub.requests.some((r) => r.origin === 'hub' && r.url.includes('/resolve/') && r.range !== null)).toBe(true);
    expect(hub.requests.every((r) => !r.url.includes('/resolve/main/'))).toBe(true);
  });

  it('coalesces sequential reads into read-ahead windows within the budget', async () => {
    const { session: s } = session();
    expectBytes(await readAll(s, 'data.bin', 10_000), blob);
    const ranged = hub.requests.filter((r) => r.origin === 'storage');
    // 30 reads of 10 kB; after two sequential ones, 64 KiB windows: 2 + ⌈(300 000 − 20 000) / 65 536⌉ = 7 requests.
    expect(ranged).toHaveLength(7);
    expect(s.transport.readAhead.usedBytes).toBe(0);
  });

  it('reads what headers need and no more when reads are not sequential', async () => {
    const { session: s } = session();
    const [entry] = (await s.listFiles({ repo: 'acme/blob', revision: null }, mainSha, 'acme/blob')).filter((f) => f.path === 'data.bin');
    const source = s.openFile('acme/blob', mainSha, entry!, 'acme/blob/data.bin');
    await source.read(0, 8);
    await source.read(8, 100);
    await source.read(5000, 5100);
    await source.close();
    expect(hub.requests.filter((r) => r.origin === 'storage').map((r) => r.range)).toEqual(['bytes=0-7', 'bytes=8-99', 'bytes=5000-5099']);
    expect(s.stats.bytesFetched).toBe(8 + 92 + 100);
  });

  const transient: FaultKind[] = ['reset', 'truncate', 'rate-limit', 'unavailable', 'wrong-range', 'etag-change', 'expire-urls', 'stall'];
  it.each(transient)('recovers from %s and returns the same bytes', async (kind) => {
    // Twice in a row, except the URL expiry: a URL that fails as soon as it is handed out is refused, not expired.
    hub.inject({ kind, after: 2, times: kind === 'expire-urls' ? 1 : 2 });
    const { session: s } = session();
    expectBytes(await readAll(s), blob);
    expect(hub.faultsSpent).toBe(true);
    expect(s.stats.retries).toBeGreaterThanOrEqual(kind === 'expire-urls' ? 1 : 2);
  });

  it('recovers from rate limits and outages of the API and of resolve', async () => {
    hub.inject({ kind: 'unavailable', target: 'api', times: 2 });
    hub.inject({ kind: 'rate-limit', target: 'resolve', times: 1 });
    const { session: s, delays } = session();
    expect(await s.resolveRevision({ repo: 'acme/blob', revision: null }, 'acme/blob')).toBe(mainSha);
    expectBytes(await readAll(s), blob);
    expect(hub.faultsSpent).toBe(true);
    // Backoff with jitter 0.5: 10·0.5, 20·0.5; then Retry-After: 1 s is the floor, for
    // each of the two reads in flight that waited on the refused resolve.
    expect(delays).toEqual([5, 10, 1000, 1000]);
  });

  it('gives up after the retries with one line naming the repo, file, byte range and status', async () => {
    hub.inject({ kind: 'unavailable', after: 1, times: Infinity });
    const { session: s, delays } = session({ retry: { maxAttempts: 4 } });
    const error = await readAll(s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IoError);
    expect((error as Error).message).toMatch(/^acme\/blob\/data\.bin: cannot read bytes \[\d+, \d+\): HTTP 503 \(server error\) after 4 attempts over/);
    expect((error as Error).message).not.toContain('\n');
    expect(delays).toEqual([5, 10, 20]);
  });

  it('stops when the file keeps changing, and names the ETags', async () => {
    hub.inject({ kind: 'etag-change', after: 1, times: Infinity });
    const error = await readAll(session({ retry: { maxAttempts: 3 } }).session).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IoError);
    expect((error as Error).message).toMatch(/ETag changed from "[0-9a-f]{64}" to "changed-/);
  });

  it('stops within the time budget when Retry-After asks for longer', async () => {
    hub.inject({ kind: 'rate-limit', after: 0, times: Infinity });
    const { session: s, delays } = session({ retry: { maxElapsedMs: 500 } });
    const error = await readAll(s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IoError);
    expect((error as Error).message).toMatch(/HTTP 429 \(rate limited\) after 1 attempt/);
    expect(delays).toEqual([]);
  });

  it('refuses the network when offline', async () => {
    const { session: s } = session({ offline: true });
    await expect(s.resolveRevision({ repo: 'acme/blob', revision: null }, 'acme/blob')).rejects.toThrow(/--offline/);
    expect(hub.requests).toHaveLength(0);
  });
});
