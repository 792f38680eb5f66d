/**
 * A Hub-like HTTP server on 127.0.0.1 for tests, with a second origin (another port)
 * that plays the storage host: the endpoints provcheck uses (repo info, tree,
 * paths-info, resolve), Range with 206, the redirect of large files to signed storage
 * URLs, ETags, X-Repo-Commit, 404s with the Hub's X-Error-Code, private repos that need
 * the token, and injectable faults. Every request is recorded so tests can check what
 * each origin saw (the token must never reach storage).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface RecordedRequest {
  readonly origin: 'hub' | 'storage';
  readonly method: string;
  readonly url: string;
  readonly authorization: string | null;
  readonly range: string | null;
}

export type FaultKind =
  /** Headers and half the body, then the connection is destroyed. */
  | 'reset'
  /** Headers and half the body, then a clean close: a truncated body. */
  | 'truncate'
  /** 429 with Retry-After: 1. */
  | 'rate-limit'
  | 'unavailable'
  /** A Content-Range (and body) one byte off the requested range. */
  | 'wrong-range'
  /** The file changed: another ETag and other bytes. */
  | 'etag-change'
  /** Every storage URL handed out so far stops working (403, as S3 answers expired URLs). */
  | 'expire-urls'
  /** Headers, then silence. */
  | 'stall';

export interface FaultPlan {
  readonly kind: FaultKind;
  /** Which requests: range reads at storage (default), Hub API calls, or resolve calls. */
  readonly target?: 'storage' | 'api' | 'resolve';
  /** Let this many matching requests through first. */
  readonly after?: number;
  /** How many requests suffer it (Infinity: permanent). */
  readonly times?: number;
}

interface RepoState {
  readonly id: string;
  readonly isPrivate: boolean;
  readonly refs: Map<string, string>;
  readonly commits: Map<string, Map<string, Uint8Array>>;
}

interface ActiveFault {
  readonly kind: FaultKind;
  readonly target: 'storage' | 'api' | 'resolve';
  skip: number;
  remaining: number;
}

/** Files at least this large are LFS-like: resolve redirects them to storage. */
const LFS_THRESHOLD = 1024;

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  /** Tree pages hold this many entries (Link: rel="next" for the rest). */
  treePageSize = 50;
  private readonly repos = new Map<string, RepoState>();
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly faults: ActiveFault[] = [];
  private urlGeneration = 0;
  private commitSerial = 0;

  private constructor(
    private readonly hubServer: Server,
    private readonly storageServer: Server,
    readonly token: string,
  ) {}

  static async start(token = 'hf_fakeHubTokenDoNotLeak0123456789'): Promise<FakeHub> {
    let hub!: FakeHub;
    const hubServer = createServer((req, res) => hub.handleHub(req, res));
    const storageServer = createServer((req, res) => hub.handleStorage(req, res));
    hub = new FakeHub(hubServer, storageServer, token);
    await Promise.all([listen(hubServer), listen(storageServer)]);
    return hub;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hubServer.address() as AddressInfo).port}`;
  }

  get storageOrigin(): string {
    return `http://127.0.0.1:${(this.storageServer.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.hubServer.closeAllConnections();
    this.storageServer.closeAllConnections();
    await Promise.all([close(this.hubServer), close(this.storageServer)]);
  }

  /** Adds a commit with these files to `repo` (created if new) and points `branch` at it; returns the sha. */
  addCommit(repo: string, files: Record<string, Uint8Array>, options: { branch?: string; isPrivate?: boolean } = {}): string {
    let state = this.repos.get(repo);
    if (!state) {
      state = { id: repo, isPrivate: options.isPrivate === true, refs: new Map(), commits: new Map() };
      this.repos.set(repo, state);
    }
    const hash = createHash('sha1').update(`${repo}\n${this.commitSerial++}\n`);
    const contents = new Map<string, Uint8Array>();
    for (const [path, bytes] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
      hash.update(`${path}\n`).update(bytes);
      contents.set(path, bytes);
      this.blobs.set(sha256(bytes), bytes);
    }
    const sha = hash.digest('hex');
    state.commits.set(sha, contents);
    state.refs.set(options.branch ?? 'main', sha);
    return sha;
  }

  /** Adds the files of a local folder (recursively) as a commit. */
  async addFolder(repo: string, folder: string, options: { branch?: string; isPrivate?: boolean } = {}): Promise<string> {
    return this.addCommit(repo, await readFolder(folder), options);
  }

  inject(plan: FaultPlan): void {
    this.faults.push({ kind: plan.kind, target: plan.target ?? 'storage', skip: plan.after ?? 0, remaining: plan.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Whether every injected fault has been used up. */
  get faultsSpent(): boolean {
    return this.faults.every((f) => f.remaining === 0);
  }

  private takeFault(target: ActiveFault['target']): FaultKind | null {
    for (const fault of this.faults) {
      if (fault.target !== target || fault.remaining === 0) continue;
      if (fault.skip > 0) {
        fault.skip--;
        continue;
      }
      fault.remaining--;
      return fault.kind;
    }
    return null;
  }

  private record(origin: RecordedRequest['origin'], req: IncomingMessage): void {
    this.requests.push({
      origin,
      method: req.method ?? 'GET',
      url: req.url ?? '',
      authorization: req.headers.authorization ?? null,
      range: req.headers.range ?? null,
    });
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.record('hub', req);
    const url = new URL(req.url ?? '/', this.endpoint);
    const path = url.pathname;
    let match: RegExpExecArray | null;
    if ((match = /^\/api\/models\/([^/]+\/[^/]+|[^/]+)\/revision\/([^/]+)$/.exec(path))) {
      if (this.apiFault(res)) return;
      const found = this.findCommit(req, res, match[1]!, decodeURIComponent(match[2]!));
      if (!found) return;
      return json(res, 200, { _id: `id-${found.repo.id}`, id: found.repo.id, sha: found.sha, private: found.repo.isPrivate, lastModified: '2025-01-01T00:00:00.000Z', likes: 0, downloads: 0, gated: false });
    }
    if ((match = /^\/api\/models\/([^/]+\/[^/]+|[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(path))) {
      if (this.apiFault(res)) return;
      const found = this.findCommit(req, res, match[1]!, decodeURIComponent(match[2]!));
      if (!found) return;
      const prefix = match[3] ? `${decodeURIComponent(match[3])}/` : '';
      const recursive = url.searchParams.get('recursive') === 'true';
      const entries = treeEntries(found.files, prefix, recursive);
      const cursor = Number(url.searchParams.get('cursor') ?? '0');
      const page = entries.slice(cursor, cursor + this.treePageSize);
      const headers: Record<string, string> = {};
      if (cursor + this.treePageSize < entries.length) {
        const next = new URL(url);
        next.searchParams.set('cursor', String(cursor + this.treePageSize));
        headers.Link = `<${next.href}>; rel="next"`;
      }
      return json(res, 200, page, headers);
    }
    if ((match = /^\/api\/models\/([^/]+\/[^/]+|[^/]+)\/paths-info\/([^/]+)$/.exec(path)) && req.method === 'POST') {
      if (this.apiFault(res)) return;
      const found = this.findCommit(req, res, match[1]!, decodeURIComponent(match[2]!));
      if (!found) return;
      void readBody(req).then((body) => {
        const paths = (JSON.parse(body) as { paths: string[] }).paths;
        json(res, 200, treeEntries(found.files, '', true).filter((e) => paths.includes(e.path)));
      });
      return;
    }
    if ((match = /^\/([^/]+\/[^/]+|[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path))) {
      const fault = this.takeFault('resolve');
      if (fault === 'rate-limit' || fault === 'unavailable') return faultStatus(res, fault);
      const found = this.findCommit(req, res, match[1]!, decodeURIComponent(match[2]!));
      if (!found) return;
      const file = match[3]!.split('/').map(decodeURIComponent).join('/');
      const bytes = found.files.get(file);
      if (!bytes) return hubError(res, 404, 'EntryNotFound', `${file} does not exist on "${found.sha}"`);
      const oid = sha256(bytes);
      const common = { 'X-Repo-Commit': found.sha, ETag: `"${gitOid(bytes)}"` };
      if (bytes.byteLength >= LFS_THRESHOLD) {
        const location = `${this.storageOrigin}/blobs/${oid}?generation=${this.urlGeneration}&signature=fake`;
        res.writeHead(302, { ...common, Location: location, 'X-Linked-Size': String(bytes.byteLength), 'X-Linked-Etag': `"${oid}"`, 'Content-Length': '0' });
        return void res.end();
      }
      return serveRange(req, res, bytes, `"${gitOid(bytes)}"`, common, null);
    }
    hubError(res, 404, null, `no route for ${path}`);
  }

  private handleStorage(req: IncomingMessage, res: ServerResponse): void {
    this.record('storage', req);
    const url = new URL(req.url ?? '/', this.storageOrigin);
    const match = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    const bytes = match ? this.blobs.get(match[1]!) : undefined;
    if (!bytes) return void res.writeHead(404).end('NoSuchKey');
    const fault = this.takeFault('storage');
    if (fault === 'expire-urls') this.urlGeneration++;
    if (Number(url.searchParams.get('generation')) !== this.urlGeneration) {
      return void res.writeHead(403, { 'Content-Type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
    }
    if (fault === 'rate-limit' || fault === 'unavailable') return faultStatus(res, fault);
    serveRange(req, res, bytes, `"${match![1]}"`, {}, fault);
  }

  private apiFault(res: ServerResponse): boolean {
    const fault = this.takeFault('api');
    if (fault !== 'rate-limit' && fault !== 'unavailable') return false;
    faultStatus(res, fault);
    return true;
  }

  private findCommit(
    req: IncomingMessage,
    res: ServerResponse,
    repoId: string,
    revision: string,
  ): { repo: RepoState; sha: string; files: Map<string, Uint8Array> } | null {
    const repo = this.repos.get(repoId);
    const authorized = req.headers.authorization === `Bearer ${this.token}`;
    if (!repo || (repo.isPrivate && !authorized)) {
      // The Hub does not tell a private repo from a missing one.
      hubError(res, repo ? 401 : 404, 'RepoNotFound', 'Repository not found');
      return null;
    }
    const sha = repo.commits.has(revision) ? revision : repo.refs.get(revision === 'HEAD' ? 'main' : revision);
    const files = sha === undefined ? undefined : repo.commits.get(sha);
    if (sha === undefined || !files) {
      hubError(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return null;
    }
    return { repo, sha, files };
  }
}

/** Writes `files` as the Hugging Face cache does: blobs by hash, a snapshot of symlinks, refs. */
export async function writeHfCacheSnapshot(
  cacheDir: string,
  repo: string,
  sha: string,
  files: Record<string, Uint8Array>,
  refs: Record<string, string> = { main: sha },
): Promise<string> {
  const folder = join(cacheDir, `models--${repo.split('/').join('--')}`);
  const snapshot = join(folder, 'snapshots', sha);
  await mkdir(join(folder, 'blobs'), { recursive: true });
  for (const [path, bytes] of Object.entries(files)) {
    const oid = sha256(bytes);
    await writeFile(join(folder, 'blobs', oid), bytes);
    const link = join(snapshot, path);
    await mkdir(join(link, '..'), { recursive: true });
    await symlink(relative(join(link, '..'), join(folder, 'blobs', oid)), link);
  }
  for (const [ref, target] of Object.entries(refs)) {
    await mkdir(join(folder, 'refs', ref, '..'), { recursive: true });
    await writeFile(join(folder, 'refs', ref), target);
  }
  return snapshot;
}

export async function readFolder(folder: string, prefix = ''): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const entry of await readdir(join(folder, prefix), { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) Object.assign(files, await readFolder(folder, path));
    else files[path] = new Uint8Array(await readFile(join(folder, path)));
  }
  return files;
}

interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

function treeEntries(files: Map<string, Uint8Array>, prefix: string, recursive: boolean): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const folders = new Set<string>();
  for (const [path, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    if (!recursive && rest.includes('/')) {
      folders.add(prefix + rest.slice(0, rest.indexOf('/')));
      continue;
    }
    const lfs = bytes.byteLength >= LFS_THRESHOLD ? { oid: sha256(bytes), size: bytes.byteLength, pointerSize: 134 } : undefined;
    entries.push({ type: 'file', path, size: bytes.byteLength, oid: gitOid(bytes), ...(lfs ? { lfs } : {}) });
  }
  for (const folder of folders) entries.push({ type: 'directory', path: folder, size: 0, oid: sha256(new TextEncoder().encode(folder)) });
  return entries;
}

/** Answers a (range) request for `bytes`, optionally with a fault in the answer. */
function serveRange(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: Uint8Array,
  etag: string,
  extra: Record<string, string>,
  fault: FaultKind | null,
): void {
  const size = bytes.byteLength;
  const header = req.headers.range;
  let start = 0;
  let end = size;
  let status = 200;
  if (header !== undefined) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(header);
    if (!m || Number(m[1]) >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    start = Number(m[1]);
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
    status = 206;
  }
  let body = bytes.subarray(start, end);
  let range = `bytes ${start}-${end - 1}/${size}`;
  let tag = etag;
  if (fault === 'wrong-range') {
    const shift = start > 0 ? -1 : 1;
    body = bytes.subarray(start + shift, end + shift);
    range = `bytes ${start + shift}-${end + shift - 1}/${size}`;
  }
  if (fault === 'etag-change') {
    tag = `"changed-${etag.slice(1)}`;
    body = body.map((b) => b ^ 0xff);
  }
  const headers: Record<string, string> = { ...extra, ETag: tag, 'Accept-Ranges': 'bytes', 'Content-Length': String(body.byteLength), 'Content-Type': 'application/octet-stream' };
  if (status === 206) headers['Content-Range'] = range;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return void res.end();
  if (fault === 'stall') {
    res.flushHeaders();
    return;
  }
  if (fault === 'reset' || fault === 'truncate') {
    res.write(body.subarray(0, Math.floor(body.byteLength / 2)), () => {
      if (fault === 'reset') res.socket?.destroy();
      else res.socket?.end();
    });
    return;
  }
  res.end(body);
}

function faultStatus(res: ServerResponse, fault: 'rate-limit' | 'unavailable'): void {
  if (fault === 'rate-limit') res.writeHead(429, { 'Retry-After': '1', 'X-Error-Code': 'RateLimited' }).end('slow down');
  else res.writeHead(503).end('unavailable');
}

function hubError(res: ServerResponse, status: number, code: string | null, message: string): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Error-Message': message };
  if (code) headers['X-Error-Code'] = code;
  res.writeHead(status, headers).end(JSON.stringify({ error: message }));
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(value));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Git's blob id, as the Hub reports for non-LFS files. */
function gitOid(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve(text)).on('error', reject);
  });
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
