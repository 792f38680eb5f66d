/**
 * A remote file read with HTTP range requests. Every response is checked before a
 * byte of it is used: status 206, a Content-Range naming exactly the bytes asked for
 * and the file's size, a matching Content-Length, no content coding, and the same
 * ETag as every earlier response. Anything else is retried (with backoff, see
 * http-retry.ts) and, if it persists, reported with the file, the byte range and the
 * HTTP status. Sequential reads are served from read-ahead windows (read-ahead.ts).
 */
import { IoError } from '../errors.js';
import type { ByteSource } from './byte-source.js';
import { RETRYABLE_STATUSES, TransientHttpError, parseRetryAfterMs, withRetries, type RetryPolicy } from './http-retry.js';
import type { ReadAheadBudget, ReadAheadWindow } from './read-ahead.js';
import { checkedRange } from './read-range.js';

/** Counters for a progress display; shared by all sources of a run. */
export interface TransferStats {
  bytesFetched: number;
  requests: number;
  retries: number;
}

/** What the sources of one run share: the network, its limits and its counters. */
export interface RangeTransport {
  readonly fetch: typeof globalThis.fetch;
  readonly policy: RetryPolicy;
  /** Headers to send to `url`: credentials only to the origin allowed to see them. */
  headersFor(url: URL): Record<string, string>;
  readonly stats: TransferStats;
  /** Called after counters change (progress display). */
  readonly onActivity: () => void;
  readonly readAhead: ReadAheadBudget;
  /** Size of one read-ahead window. */
  readonly windowBytes: number;
  /** Runs `request` when fewer than the allowed number of requests are in flight. */
  readonly limit: <T>(request: () => Promise<T>) => Promise<T>;
}

export interface HttpRangeSourceOptions {
  /** What messages call the file (never a signed URL, never a credential). */
  readonly name: string;
  readonly size: number;
  /**
   * Finds the URL the bytes are at now (e.g. the storage URL a Hub resolve redirects
   * to). Called again when that URL expires or the server's answers stop agreeing.
   */
  readonly locate: () => Promise<URL>;
  readonly transport: RangeTransport;
  /** The file's ETag when already known (from the listing or the resolve step). */
  readonly etag?: string | null;
}

/** Redirects followed within one range request (storage hosts rarely redirect at all). */
const MAX_REDIRECTS = 5;
/** A read that continues the previous one this many times in a row is a scan: read ahead. */
const SEQUENTIAL_STREAK = 2;
/** Windows kept per source: the one being consumed and the one being fetched. */
const WINDOWS_PER_SOURCE = 2;

export class HttpRangeSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  private readonly transport: RangeTransport;
  private readonly locate: () => Promise<URL>;
  private etag: string | null;
  private location: Promise<URL> | null = null;
  private windows: ReadAheadWindow[] = [];
  private nextSequential = -1;
  private streak = 0;
  private closed = false;

  constructor(options: HttpRangeSourceOptions) {
    this.name = options.name;
    this.size = options.size;
    this.transport = options.transport;
    this.locate = options.locate;
    this.etag = options.etag ? strongTag(options.etag) : null;
  }

  async read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
    const length = checkedRange(this, start, end, into);
    if (this.closed) throw new Error(`${this.name}: read after close`);
    const target = into ? into.subarray(0, length) : new Uint8Array(length);
    this.streak = start === this.nextSequential ? this.streak + 1 : 0;
    this.nextSequential = end;
    let position = start;
    while (position < end) {
      let window = this.windowAt(position);
      if (!window && this.streak >= SEQUENTIAL_STREAK) window = this.openWindow(position, end);
      if (!window) {
        await this.fetchRange(position, end, target.subarray(position - start));
        break;
      }
      const data = await window.data;
      const until = Math.min(end, window.end);
      target.set(data.subarray(position - window.start, until - window.start), position - start);
      position = until;
      if (until === window.end) this.dropWindow(window);
      else if (this.streak >= SEQUENTIAL_STREAK) this.prefetchAfter(window);
    }
    return target;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const window of [...this.windows]) this.dropWindow(window);
  }

  private windowAt(position: number): ReadAheadWindow | undefined {
    return this.windows.find((w) => w.start <= position && position < w.end);
  }

  /** A window from `start` covering at least [start, minEnd), or undefined when the budget says no. */
  private openWindow(start: number, minEnd: number): ReadAheadWindow | undefined {
    const end = Math.min(this.size, Math.max(minEnd, start + this.transport.windowBytes));
    const budget = this.transport.readAhead;
    while (this.windows.length >= WINDOWS_PER_SOURCE) this.dropWindow(this.windows[0]!);
    if (!budget.makeRoom(end - start)) return undefined;
    const bytes = new Uint8Array(end - start);
    const window: ReadAheadWindow = {
      start,
      end,
      settled: false,
      data: this.fetchRange(start, end, bytes).then(
        () => {
          window.settled = true;
          return bytes;
        },
        (error: unknown) => {
          window.settled = true;
          this.dropWindow(window);
          throw error;
        },
      ),
      evict: () => this.dropWindow(window),
    };
    // A prefetch nobody awaits must not become an unhandled rejection; a reader that
    // does await it still sees the error.
    window.data.catch(() => undefined);
    this.windows.push(window);
    budget.admit(window);
    return window;
  }

  private prefetchAfter(window: ReadAheadWindow): void {
    if (window.end >= this.size || this.windowAt(window.end)) return;
    if (this.windows.length >= WINDOWS_PER_SOURCE) return;
    this.openWindow(window.end, window.end);
  }

  private dropWindow(window: ReadAheadWindow): void {
    const at = this.windows.indexOf(window);
    if (at >= 0) this.windows.splice(at, 1);
    this.transport.readAhead.release(window);
  }

  /** Fills `target` with bytes [start, end), retrying; bytes that arrived intact are kept across a reset. */
  private async fetchRange(start: number, end: number, target: Uint8Array): Promise<void> {
    const { policy, stats, onActivity } = this.transport;
    const progress = { filled: 0 };
    let freshLocation = false;
    await withRetries(
      policy,
      async () => {
        if (this.location === null) {
          this.location = this.locate();
          freshLocation = true;
          // A failed lookup is retried on the next attempt, not cached.
          this.location.catch(() => (this.location = null));
        }
        const url = await this.location;
        try {
          await this.transport.limit(() => this.fetchOnce(url, start + progress.filled, end, target, progress));
          freshLocation = false;
        } catch (error) {
          if (error instanceof LocationExpired) {
            // A URL just handed out that is refused already is not an expired one.
            if (freshLocation) throw this.failure(start, end, `HTTP ${error.status} from the storage host`);
            this.location = null;
            throw new TransientHttpError(`storage URL refused (HTTP ${error.status}), looked up again`, error.status);
          }
          throw error;
        }
      },
      () => {
        stats.retries++;
        onActivity();
      },
      (failure, attempts, elapsedMs) =>
        this.failure(
          start,
          end,
          `${failure.status === null ? failure.message : `HTTP ${failure.status} (${failure.message})`}` +
            ` after ${attempts} attempt${attempts === 1 ? '' : 's'} over ${(elapsedMs / 1000).toFixed(1)} s`,
        ),
    );
  }

  private failure(start: number, end: number, why: string): IoError {
    return new IoError(this.name, `cannot read bytes [${start}, ${end}): ${why}`);
  }

  /** One request for [start, end), following redirects by hand so credentials never cross origins. */
  private async fetchOnce(
    firstUrl: URL,
    start: number,
    end: number,
    target: Uint8Array,
    progress: { filled: number },
  ): Promise<void> {
    const { fetch, policy, stats, onActivity } = this.transport;
    const abort = new AbortController();
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdleTimer = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), policy.idleTimeoutMs);
    };
    let url = firstUrl;
    try {
      let response: Response;
      for (let hop = 0; ; hop++) {
        armIdleTimer();
        stats.requests++;
        onActivity();
        try {
          response = await fetch(url, {
            headers: { ...this.transport.headersFor(url), Range: `bytes=${start}-${end - 1}`, 'Accept-Encoding': 'identity' },
            redirect: 'manual',
            signal: abort.signal,
          });
        } catch (error) {
          // fetch rejects with a TypeError on network failures; anything else (an
          // offline guard, a bug) is not a reason to try again.
          if (!(error instanceof TypeError) && !abort.signal.aborted) throw error;
          throw new TransientHttpError(abort.signal.aborted ? 'no response (timed out)' : `request failed (${causeOf(error)})`, null, null, {
            cause: error,
          });
        }
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location !== null && hop < MAX_REDIRECTS) {
          await response.body?.cancel().catch(() => undefined);
          url = new URL(location, url);
          continue;
        }
        break;
      }
      this.checkResponse(response, start, end);
      const reader = response.body?.getReader();
      if (!reader) throw new TransientHttpError('response has no body', response.status);
      const expected = end - start;
      const base = progress.filled;
      let got = 0;
      try {
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (error) {
            const why = abort.signal.aborted ? `no data for ${policy.idleTimeoutMs} ms` : `connection lost (${causeOf(error)})`;
            throw new TransientHttpError(`${why} after ${got} of ${expected} bytes`, response.status, null, { cause: error });
          }
          if (chunk.done) break;
          armIdleTimer();
          const bytes = chunk.value;
          stats.bytesFetched += bytes.byteLength;
          onActivity();
          if (got + bytes.byteLength > expected) {
            // The headers promised `expected` bytes: a longer body is not this range.
            progress.filled = base;
            throw new TransientHttpError(`body longer than the ${expected} bytes its headers announced`, response.status);
          }
          target.set(bytes, base + got);
          got += bytes.byteLength;
          // Bytes of a verified response survive a reset: the retry asks for the rest.
          progress.filled = base + got;
        }
      } finally {
        reader.releaseLock();
      }
      if (got < expected) throw new TransientHttpError(`body ended after ${got} of ${expected} bytes`, response.status);
    } finally {
      clearTimeout(idle);
      if (!abort.signal.aborted) abort.abort();
    }
  }

  private checkResponse(response: Response, start: number, end: number): void {
    const status = response.status;
    if (status === 401 || status === 403 || status === 410) {
      void response.body?.cancel().catch(() => undefined);
      throw new LocationExpired(status);
    }
    if (RETRYABLE_STATUSES.has(status)) {
      void response.body?.cancel().catch(() => undefined);
      throw new TransientHttpError(httpReason(status), status, parseRetryAfterMs(response.headers.get('retry-after'), this.transport.policy.now()));
    }
    const wholeFile = start === 0 && end === this.size;
    if (status !== 206 && !(status === 200 && wholeFile)) {
      void response.body?.cancel().catch(() => undefined);
      const why =
        status === 200
          ? 'the server ignored the Range header (sent the whole file)'
          : status === 416
            ? `the server says the range is not satisfiable: the file is not the ${this.size} bytes listed`
            : `unexpected HTTP ${status}`;
      throw this.failure(start, end, why);
    }
    const problem = this.headerProblem(response, start, end);
    if (problem !== null) {
      void response.body?.cancel().catch(() => undefined);
      throw new TransientHttpError(problem, status);
    }
  }

  private headerProblem(response: Response, start: number, end: number): string | null {
    const headers = response.headers;
    const encoding = headers.get('content-encoding');
    if (encoding !== null && encoding.toLowerCase() !== 'identity') return `body is ${encoding}-encoded, not raw bytes`;
    if (response.status === 206) {
      const range = headers.get('content-range');
      const match = range === null ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range.trim());
      if (!match) return `missing or unreadable Content-Range ${JSON.stringify(range)}`;
      const total = match[3] === '*' ? null : Number(match[3]);
      if (Number(match[1]) !== start || Number(match[2]) !== end - 1 || (total !== null && total !== this.size)) {
        return `Content-Range "${range}" is not the requested bytes ${start}-${end - 1}/${this.size}`;
      }
    }
    const length = headers.get('content-length');
    if (length !== null && Number(length) !== end - start) {
      return `Content-Length ${length} is not the requested ${end - start} bytes`;
    }
    const etag = headers.get('etag');
    if (etag !== null) {
      const tag = strongTag(etag);
      if (this.etag === null) this.etag = tag;
      else if (tag !== this.etag) {
        // Perhaps a stale replica behind the storage URL: look the file up afresh.
        this.location = null;
        return `ETag changed from ${this.etag} to ${tag}: the file changed on the server`;
      }
    }
    return null;
  }
}

/** The storage host refused a URL it accepted before: a signed URL that expired. */
class LocationExpired extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** `W/"x"` and `"x"` name the same content for our purpose: compare the opaque part. */
function strongTag(etag: string): string {
  return etag.trim().replace(/^W\//, '');
}

function httpReason(status: number): string {
  if (status === 429) return 'rate limited';
  if (status === 408 || status === 504) return 'timed out';
  return 'server error';
}

function causeOf(error: unknown): string {
  let current: unknown = error;
  // undici wraps the socket error: "fetch failed" caused by ECONNRESET.
  while (current instanceof Error && current.cause !== undefined) current = current.cause;
  const code = (current as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return current instanceof Error ? current.message : String(current);
}
