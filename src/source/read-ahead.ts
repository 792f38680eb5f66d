/**
 * Read-ahead windows for remote sources. Over HTTP a small read costs a round trip,
 * and the engine reads in chunks of ~128 KB per input; a source that sees sequential
 * reads therefore fetches one large range (a window) and serves the chunks from it,
 * fetching the next window while the current one is consumed.
 *
 * Memory is bounded by one budget shared by every source of a run: a window is only
 * created when the budget admits it (evicting the oldest settled windows of any
 * source first); otherwise the read goes to the network at its own size. So the
 * peak is the budget plus what the engine itself asked for, however many shards are open.
 */

export interface ReadAheadWindow {
  readonly start: number;
  readonly end: number;
  /** Resolves to exactly end - start bytes. */
  readonly data: Promise<Uint8Array>;
  settled: boolean;
  /** Drops the window from its source (eviction). */
  readonly evict: () => void;
}

export class ReadAheadBudget {
  private used = 0;
  /** In admission order: the first is the oldest. */
  private readonly windows = new Set<ReadAheadWindow>();

  constructor(readonly maxBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  /** Whether `bytes` more fit, after evicting the oldest settled windows if needed. */
  makeRoom(bytes: number): boolean {
    if (bytes > this.maxBytes) return false;
    for (const window of this.windows) {
      if (this.used + bytes <= this.maxBytes) break;
      if (window.settled) window.evict();
    }
    return this.used + bytes <= this.maxBytes;
  }

  /** Counts a window the caller made room for. */
  admit(window: ReadAheadWindow): void {
    this.windows.add(window);
    this.used += window.end - window.start;
  }

  release(window: ReadAheadWindow): void {
    if (this.windows.delete(window)) this.used -= window.end - window.start;
  }
}
