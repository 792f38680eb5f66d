import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_DECLARATION_BYTES,
  readHubDeclaredProvenance,
  readLocalDeclaredProvenance,
} from '../../src/format/declared-provenance.js';
import { recordInput } from '../../src/format/input-files.js';
import { openModel } from '../../src/format/load-model.js';
import { HubSession } from '../../src/source/hub/hub-session.js';
import { FakeHub, readFolder, writeHfCacheSnapshot } from '../helpers/fake-hub-server.js';

/** A suspect with a model card and a mergekit recipe beside its weights. */
const DECLARED = 'fixtures/blend-bf16-arith/suspect';

let hub: FakeHub;
let scratch: string;
let local: Record<string, Uint8Array>;
let sha: string;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  hub = await FakeHub.start();
  scratch = await mkdtemp(join(tmpdir(), 'provcheck-hub-record-'));
  local = await readFolder(DECLARED);
  sha = hub.addCommit('acme/declared', local);
});
afterAll(async () => {
  await hub.stop();
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  hub.requests.length = 0;
});

function session(cacheDir: string | null = null): HubSession {
  return new HubSession({ endpoint: hub.endpoint, cacheDir, offline: cacheDir !== null, retry: { baseDelayMs: 1, sleep: async () => undefined } });
}

describe('recordInput for a Hub repo', () => {
  it("takes the shards' SHA-256 from the LFS listing without reading them, and hashes the small sidecars", async () => {
    const hubSession = session();
    const { layout, location } = await openModel('acme/declared', hubSession);
    try {
      hub.requests.length = 0;
      const record = await recordInput(layout, 'suspect', location, hubSession);
      expect(record).toEqual({
        label: 'suspect',
        source: 'acme/declared',
        resolved: 'acme/declared',
        revision: sha,
        files: [
          { path: 'model.safetensors', bytes: 434_296, modified: null, sha256: sha256(local['model.safetensors']!), sha256From: 'hub-lfs' },
          { path: 'config.json', bytes: 709, modified: null, sha256: sha256(local['config.json']!), sha256From: 'content' },
          { path: 'README.md', bytes: 200, modified: null, sha256: sha256(local['README.md']!), sha256From: 'content' },
          { path: 'mergekit_config.yml', bytes: 155, modified: null, sha256: sha256(local['mergekit_config.yml']!), sha256From: 'content' },
        ],
      });
      // The listing was kept from opening the model; only the three sidecars were fetched, from the Hub itself.
      expect(hub.requests.filter((r) => r.origin === 'storage')).toEqual([]);
      expect(hub.requests.map((r) => r.url.replace(sha, '<sha>')).sort()).toEqual([
        '/acme/declared/resolve/<sha>/README.md',
        '/acme/declared/resolve/<sha>/README.md',
        '/acme/declared/resolve/<sha>/config.json',
        '/acme/declared/resolve/<sha>/config.json',
        '/acme/declared/resolve/<sha>/mergekit_config.yml',
        '/acme/declared/resolve/<sha>/mergekit_config.yml',
      ]);
    } finally {
      await layout.close();
    }
  });

  it('records an LFS hash as the listing states it, never re-hashing the content', async () => {
    const hubSession = session();
    const { layout, location } = await openModel('acme/declared', hubSession);
    try {
      if (location.kind !== 'hub') throw new Error('expected a Hub location');
      const stated = 'ab'.repeat(32);
      const files = location.files!.map((file) => (file.path === 'model.safetensors' ? { ...file, lfsSha256: stated } : file));
      const record = await recordInput(layout, 'suspect', { ...location, files }, hubSession);
      expect(record.files[0]).toEqual({ path: 'model.safetensors', bytes: 434_296, modified: null, sha256: stated, sha256From: 'hub-lfs' });
    } finally {
      await layout.close();
    }
  });
});

describe('recordInput for a Hugging Face cache snapshot', () => {
  it('takes the SHA-256 from the names of the blobs LFS files link to, and hashes git-stored files', async () => {
    // As the clients write it: LFS files under their SHA-256, git-stored files under their git blob id.
    const folder = join(scratch, 'cache', 'models--acme--cached');
    const snapshot = join(folder, 'snapshots', sha);
    await mkdir(join(folder, 'blobs'), { recursive: true });
    await mkdir(snapshot, { recursive: true });
    await mkdir(join(folder, 'refs'), { recursive: true });
    await writeFile(join(folder, 'refs', 'main'), sha);
    // A name that is not the content's hash: proof that it is taken, not computed.
    const lfsName = 'cd'.repeat(32);
    const gitName = 'e'.repeat(40);
    await writeFile(join(folder, 'blobs', lfsName), local['model.safetensors']!);
    await writeFile(join(folder, 'blobs', gitName), local['config.json']!);
    await symlink(`../../blobs/${lfsName}`, join(snapshot, 'model.safetensors'));
    await symlink(`../../blobs/${gitName}`, join(snapshot, 'config.json'));

    const cached = session(join(scratch, 'cache'));
    const { layout, location } = await openModel('acme/cached', cached);
    try {
      expect(location.kind).toBe('hf-cache');
      const record = await recordInput(layout, 'A', location, cached);
      expect(record).toMatchObject({ label: 'A', source: 'acme/cached', resolved: 'acme/cached', revision: sha });
      expect(record.files.map(({ modified: _m, ...file }) => file)).toEqual([
        { path: 'model.safetensors', bytes: 434_296, sha256: lfsName, sha256From: 'hub-lfs' },
        { path: 'config.json', bytes: 709, sha256: sha256(local['config.json']!), sha256From: 'content' },
      ]);
      expect(record.files.every((file) => typeof file.modified === 'string')).toBe(true);
      expect(hub.requests).toEqual([]);
    } finally {
      await layout.close();
    }
  });

  it('equals the Hub record in every hash, for a snapshot as the fake cache writes it', async () => {
    const cacheDir = join(scratch, 'cache-like-hub');
    await writeHfCacheSnapshot(cacheDir, 'acme/declared', sha, local);
    const cached = session(cacheDir);
    const remote = session();
    const fromCache = await openModel('acme/declared', cached);
    const fromHub = await openModel('acme/declared', remote);
    try {
      const a = await recordInput(fromCache.layout, 'suspect', fromCache.location, cached);
      const b = await recordInput(fromHub.layout, 'suspect', fromHub.location, remote);
      expect(a.files.map((f) => [f.path, f.bytes, f.sha256])).toEqual(b.files.map((f) => [f.path, f.bytes, f.sha256]));
      expect(a.resolved).toBe(b.resolved);
      expect(a.revision).toBe(b.revision);
    } finally {
      await Promise.all([fromCache.layout.close(), fromHub.layout.close()]);
    }
  });
});

describe('readHubDeclaredProvenance', () => {
  it('reads the same declaration as from the folder on disk', async () => {
    const hubSession = session();
    const { layout, location } = await openModel('acme/declared', hubSession);
    await layout.close();
    if (location.kind !== 'hub') throw new Error('expected a Hub location');
    const fromHub = await readHubDeclaredProvenance(location, hubSession);
    expect(fromHub).toEqual(await readLocalDeclaredProvenance(DECLARED));
    expect(fromHub.files).toEqual(['README.md', 'mergekit_config.yml']);
    expect(fromHub.mergekit?.models).toEqual([
      { model: 'parents/a', weight: 0.4 },
      { model: 'parents/b', weight: 0.6 },
    ]);
  });

  it('notes a card too large to read without fetching it, and reads the recipe beside it', async () => {
    const card = new TextEncoder().encode(`---\nbase_model: a\n---\n${'x'.repeat(MAX_DECLARATION_BYTES)}`);
    const bigSha = hub.addCommit('acme/big-card', { ...local, 'README.md': card, 'mergekit_config.yml': local['mergekit_config.yml']! });
    const hubSession = session();
    const { layout, location } = await openModel('acme/big-card', hubSession);
    await layout.close();
    if (location.kind !== 'hub') throw new Error('expected a Hub location');
    hub.requests.length = 0;
    const declared = await readHubDeclaredProvenance(location, hubSession);
    expect(declared.baseModels).toEqual([]);
    expect(declared.files).toEqual(['mergekit_config.yml']);
    expect(declared.problems).toEqual([
      `README.md: ${MAX_DECLARATION_BYTES + 22} bytes, more than the ${MAX_DECLARATION_BYTES}-byte limit for a declaration; not read`,
    ]);
    expect(hub.requests.map((r) => r.url)).toEqual([
      `/acme/big-card/resolve/${bigSha}/mergekit_config.yml`,
      `/acme/big-card/resolve/${bigSha}/mergekit_config.yml`,
    ]);
  });

  it('notes a card that cannot be fetched as a problem, not a failure', async () => {
    const hubSession = session();
    const { layout, location } = await openModel('acme/declared', hubSession);
    await layout.close();
    if (location.kind !== 'hub') throw new Error('expected a Hub location');
    hub.inject({ kind: 'unavailable', target: 'resolve', times: Infinity });
    try {
      const declared = await readHubDeclaredProvenance(location, new HubSession({ endpoint: hub.endpoint, retry: { maxAttempts: 2, baseDelayMs: 1, sleep: async () => undefined } }));
      expect(declared.files).toEqual([]);
      expect(declared.problems).toHaveLength(2);
      expect(declared.problems[0]).toMatch(/^README\.md: cannot be read \(acme\/declared@[0-9a-f]{12}\/README\.md: .*503/);
      expect(declared.problems[1]).toMatch(/^mergekit_config\.yml: cannot be read \(/);
    } finally {
      hub.clearFaults();
    }
  });
});
