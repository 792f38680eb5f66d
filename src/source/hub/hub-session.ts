/**
 * Everything one run needs to talk to a Hugging Face Hub: the endpoint, the token and
 * the one rule for it (sent to the Hub's own origin only, never across a redirect to a
 * storage host), retries for the API calls, and the shared transport of the range
 * sources (request limit, read-ahead budget, transfer counters).
 *
 * Repo info and file listings go through @huggingface/hub with our fetch plugged in,
 * so its URLs are the Hub's and our fetch decides headers, redirects and retries.
 */
import { IoError, MalformedInputError, UsageError } from '../../errors.js';
import { HttpRangeSource, type RangeTransport, type TransferStats } from '../http-range-source.js';
import {
  DEFAULT_RETRY_POLICY,
  RETRYABLE_STATUSES,
  TransientHttpError,
  parseRetryAfterMs,
  withRetries,
  type RetryPolicy,
} from '../http-retry.js';
import { ReadAheadBudget } from '../read-ahead.js';
import { COMMIT_SHA, describeReference, type RepoReference } from './repo-reference.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** How to reach the Hub; the CLI fills it from flags and the environment. */
export interface HubOptions {
  /** Origin (and optional path prefix) of the Hub or a mirror; default https://huggingface.co. */
  readonly endpoint?: string;
  /** Access token; sent only to `endpoint`'s origin. */
  readonly token?: string | null;
  /** The local Hugging Face hub cache folder (models--org--name/...); null: none. */
  readonly cacheDir?: string | null;
  /** Never touch the network: only local paths and the cache. */
  readonly offline?: boolean;
  /** Replaces the global fetch (tests, proxies). */
  readonly fetch?: typeof globalThis.fetch;
  readonly retry?: Partial<RetryPolicy>;
  /** Requests in flight at once across the run. */
  readonly maxConcurrentRequests?: number;
  /** One read-ahead window, and the budget all windows of the run share (bytes). */
  readonly readAheadWindowBytes?: number;
  readonly readAheadBudgetBytes?: number;
}

/** A file in a repo at a commit. */
export interface RepoFile {
  readonly path: string;
  readonly size: number;
  /**
   * SHA-256 of the content, from the listing's LFS pointer (the Hub stores every large
   * file in LFS, keyed by it); null for a file kept in git itself (its listed id is a
   * git SHA-1 of a blob header plus the bytes, not a hash of the bytes alone).
   */
  readonly lfsSha256?: string | null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * 16 MiB windows, 128 MiB in all: a window is ~0.1–1 s of transfer on a good link (few
 * round trips per second of data), and the budget leaves room for four inputs with a
 * window being consumed and one being fetched each.
 */
const DEFAULT_WINDOW_BYTES = 16 << 20;
const DEFAULT_BUDGET_BYTES = 128 << 20;
const DEFAULT_MAX_CONCURRENT = 8;
const MAX_API_REDIRECTS = 5;

/** A 4xx from the Hub API, with the Hub's machine-readable reason when it sent one. */
export class HubRequestError extends Error {
  override readonly name = 'HubRequestError';
  constructor(
    readonly status: number,
    /** X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ... */
    readonly code: string | null,
    readonly serverMessage: string | null,
  ) {
    super(`HTTP ${status}${code ? ` ${code}` : ''}${serverMessage ? `: ${serverMessage}` : ''}`);
  }
}

export class HubSession {
  readonly endpoint: URL;
  readonly cacheDir: string | null;
  readonly offline: boolean;
  readonly stats: TransferStats = { bytesFetched: 0, requests: 0, retries: 0 };
  readonly transport: RangeTransport;
  private readonly token: string | null;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly policy: RetryPolicy;
  private listeners: (() => void)[] = [];

  constructor(options: HubOptions = {}) {
    const endpoint = options.endpoint ?? DEFAULT_ENDPOINT;
    let parsed: URL;
    try {
      parsed = new URL(endpoint);
    } catch {
      throw new UsageError(`the Hub endpoint ${JSON.stringify(endpoint)} is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new UsageError(`the Hub endpoint ${JSON.stringify(endpoint)} is not an http(s) URL`);
    }
    if (parsed.username || parsed.password || parsed.search || parsed.hash) {
      throw new UsageError('the Hub endpoint must be a plain URL (no credentials, query or fragment); give a token with HF_TOKEN or --token-file');
    }
    parsed.pathname = parsed.pathname.replace(/\/+$/, '');
    this.endpoint = parsed;
    this.token = options.token ?? null;
    this.cacheDir = options.cacheDir ?? null;
    this.offline = options.offline === true;
    // Called unbound: the global fetch refuses a foreign `this`.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.transport = {
      fetch: (input, init) => {
        this.refuseIfOffline();
        return this.fetchImpl(input, init);
      },
      policy: this.policy,
      headersFor: (url) => this.headersFor(url),
      stats: this.stats,
      onActivity: () => {
        for (const listener of this.listeners) listener();
      },
      readAhead: new ReadAheadBudget(options.readAheadBudgetBytes ?? DEFAULT_BUDGET_BYTES),
      windowBytes: options.readAheadWindowBytes ?? DEFAULT_WINDOW_BYTES,
      limit: semaphore(options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT),
    };
  }

  /** Calls `listener` whenever transfer counters change. */
  onActivity(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The endpoint as messages show it. */
  get endpointName(): string {
    return this.endpoint.href.replace(/\/$/, '');
  }

  /**
   * The one place the token is attached: to URLs of the endpoint's origin only. Storage
   * hosts get signed URLs from the Hub and must never see the user's credential.
   */
  headersFor(url: URL): Record<string, string> {
    return this.token !== null && url.origin === this.endpoint.origin ? { Authorization: `Bearer ${this.token}` } : {};
  }

  /** The 40-hex commit `reference` names now. One request; every later one uses the sha. */
  async resolveRevision(reference: RepoReference, input: string): Promise<string> {
    const { modelInfo } = await import('@huggingface/hub');
    try {
      const info = await modelInfo({
        name: reference.repo,
        revision: reference.revision ?? undefined,
        additionalFields: ['sha'],
        hubUrl: this.endpointName,
        fetch: (url, init) => this.apiFetch(url, init, input),
      });
      const sha = (info as { sha?: unknown }).sha;
      if (typeof sha !== 'string' || !COMMIT_SHA.test(sha)) {
        throw new IoError(input, `${this.endpointName} answered without a commit sha for ${describeReference(reference)}`);
      }
      return sha;
    } catch (error) {
      throw this.explain(error, input, reference);
    }
  }

  /** Every file of the repo at `sha` (paths relative to the repo root, recursive). */
  async listFiles(reference: RepoReference, sha: string, input: string): Promise<RepoFile[]> {
    const { listFiles } = await import('@huggingface/hub');
    const files: RepoFile[] = [];
    try {
      for await (const entry of listFiles({
        repo: { type: 'model', name: reference.repo },
        revision: sha,
        recursive: true,
        hubUrl: this.endpointName,
        fetch: (url, init) => this.apiFetch(url, init, input),
      })) {
        if (entry.type !== 'file') continue;
        const size = entry.lfs?.size ?? entry.size;
        if (typeof entry.path !== 'string' || !Number.isSafeInteger(size) || size < 0) {
          throw new IoError(input, `${this.endpointName} listed a file without a usable path or size`);
        }
        const oid = entry.lfs?.oid;
        files.push({ path: entry.path, size, lfsSha256: typeof oid === 'string' && SHA256_HEX.test(oid) ? oid : null });
      }
    } catch (error) {
      throw this.explain(error, input, reference);
    }
    return files;
  }

  /** A byte source over `file` of the repo at `sha`, read with range requests. */
  openFile(repo: string, sha: string, file: RepoFile, name: string): HttpRangeSource {
    const resolveUrl = new URL(`${this.endpointName}/${repo}/resolve/${sha}/${file.path.split('/').map(encodeURIComponent).join('/')}`);
    return new HttpRangeSource({
      name,
      size: file.size,
      transport: this.transport,
      locate: () => this.locateFile(resolveUrl, sha, file, name),
    });
  }

  /**
   * Where the bytes of a file are: the storage URL the resolve endpoint redirects to
   * (followed by hand: a same-origin hop keeps the token, the storage URL never gets
   * it), or the resolve URL itself when the Hub serves the file directly.
   */
  private async locateFile(resolveUrl: URL, sha: string, file: RepoFile, name: string): Promise<URL> {
    let url = resolveUrl;
    for (let hop = 0; hop <= MAX_API_REDIRECTS; hop++) {
      let response: Response;
      try {
        this.stats.requests++;
        response = await this.transport.fetch(url, { method: 'HEAD', headers: this.headersFor(url), redirect: 'manual' });
      } catch (error) {
        throw networkFailure(error, this.endpointName);
      }
      const status = response.status;
      const commit = response.headers.get('x-repo-commit');
      if (commit !== null && commit !== sha) {
        throw new IoError(name, `the Hub served commit ${commit} for a request pinned to ${sha}`);
      }
      const location = response.headers.get('location');
      if (status >= 300 && status < 400 && location !== null) {
        const next = new URL(location, url);
        const linkedSize = response.headers.get('x-linked-size');
        if (linkedSize !== null && Number(linkedSize) !== file.size) {
          throw new IoError(name, `the Hub says the file has ${linkedSize} bytes, its listing ${file.size}`);
        }
        if (next.origin !== this.endpoint.origin) return next;
        url = next;
        continue;
      }
      if (status === 200) return url;
      if (RETRYABLE_STATUSES.has(status)) {
        throw new TransientHttpError(`resolve: HTTP ${status}`, status, parseRetryAfterMs(response.headers.get('retry-after'), this.policy.now()));
      }
      const code = response.headers.get('x-error-code');
      if (status === 404) throw new MalformedInputError(name, `the Hub has no such file at commit ${sha}${code ? ` (${code})` : ''}`);
      throw new IoError(name, `the Hub refused the file (HTTP ${status}${code ? ` ${code}` : ''})`);
    }
    throw new IoError(name, `more than ${MAX_API_REDIRECTS} redirects on the Hub`);
  }

  /** fetch for @huggingface/hub: token by origin, redirects by hand, retries, Hub errors typed. */
  private async apiFetch(input: string | URL | Request, init: RequestInit | undefined, display: string): Promise<Response> {
    let url = new URL(input instanceof Request ? input.url : String(input));
    const given = new Headers(init?.headers);
    // The library sets Authorization itself when given a token; we never give it one.
    given.delete('authorization');
    return withRetries(
      this.policy,
      async () => {
        for (let hop = 0; ; hop++) {
          const headers = new Headers(given);
          for (const [key, value] of Object.entries(this.headersFor(url))) headers.set(key, value);
          let response: Response;
          try {
            this.stats.requests++;
            response = await this.transport.fetch(url, { ...init, headers, redirect: 'manual' });
          } catch (error) {
            throw networkFailure(error, this.endpointName);
          }
          const location = response.headers.get('location');
          if (response.status >= 300 && response.status < 400 && location !== null && hop < MAX_API_REDIRECTS) {
            await response.body?.cancel().catch(() => undefined);
            url = new URL(location, url);
            continue;
          }
          if (response.ok) return response;
          await response.body?.cancel().catch(() => undefined);
          if (RETRYABLE_STATUSES.has(response.status)) {
            throw new TransientHttpError(`HTTP ${response.status}`, response.status, parseRetryAfterMs(response.headers.get('retry-after'), this.policy.now()));
          }
          throw new HubRequestError(response.status, response.headers.get('x-error-code'), response.headers.get('x-error-message'));
        }
      },
      () => {
        this.stats.retries++;
        this.transport.onActivity();
      },
      (failure, attempts) =>
        new IoError(display, `${this.endpointName}: ${failure.message} after ${attempts} attempt${attempts === 1 ? '' : 's'}`),
    );
  }

  /** A Hub answer as the typed error the CLI maps to an exit code, naming the input. */
  private explain(error: unknown, input: string, reference: RepoReference): unknown {
    if (!(error instanceof HubRequestError)) return error;
    const where = `on ${this.endpointName}`;
    const asked = `(taken as a Hub repo${reference.revision === null ? '' : ` at revision ${reference.revision}`}, since it is not a local path)`;
    switch (error.code) {
      case 'RepoNotFound':
        return new MalformedInputError(
          input,
          `no model repo ${reference.repo} ${where} ${asked}; if it is private or gated, ${this.token === null ? 'give a token (HF_TOKEN or --token-file)' : 'the token does not grant access to it'}`,
        );
      case 'RevisionNotFound':
        return new MalformedInputError(input, `repo ${reference.repo} ${where} has no revision ${JSON.stringify(reference.revision ?? 'main')}`);
      case 'GatedRepo':
        return new MalformedInputError(input, `repo ${reference.repo} is gated: accept its conditions on its Hub page, then use a token of that account`);
      case 'EntryNotFound':
        return new MalformedInputError(input, `repo ${reference.repo} ${where}: a file it lists is missing (${error.message})`);
      default:
        if (error.status === 401 || error.status === 403) {
          return new MalformedInputError(input, `${where}: access denied (HTTP ${error.status}) ${asked}; ${this.token === null ? 'give a token (HF_TOKEN or --token-file)' : 'check the token'}`);
        }
        if (error.status === 404) return new MalformedInputError(input, `not found ${where} (HTTP 404) ${asked}`);
        return new IoError(input, `${where}: ${error.message}`);
    }
  }

  private refuseIfOffline(): void {
    if (this.offline) throw new UsageError('--offline forbids the network, but a model needs it (not in the local cache)');
  }
}

/** A failed connection: transient, except a name that does not resolve (no network, or a typo). */
function networkFailure(error: unknown, endpoint: string): Error {
  if (error instanceof UsageError) return error;
  let current: unknown = error;
  while (current instanceof Error && current.cause !== undefined) current = current.cause;
  const code = (current as { code?: unknown } | null)?.code;
  if (code === 'ENOTFOUND') return new IoError(endpoint, 'cannot resolve the host name (no network, or a wrong HF_ENDPOINT)');
  const why = typeof code === 'string' ? code : current instanceof Error ? current.message : String(current);
  return new TransientHttpError(`request failed (${why})`, null, null, { cause: error });
}

/** At most `slots` calls in flight; the rest wait in order. */
function semaphore(slots: number): <T>(task: () => Promise<T>) => Promise<T> {
  let free = slots;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
