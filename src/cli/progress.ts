import type { AnalyzeProgress } from '../analyze.js';
import { formatBytes, formatCount } from '../report/format-numbers.js';

export interface ProgressStream {
  write(text: string): unknown;
  readonly columns?: number;
}

/** Redraw at most this often: a terminal repaint per chunk would cost more than the chunk. */
const REDRAW_INTERVAL_MS = 100;

/**
 * One status line, e.g.
 * "scanning  1.2 GB / 16.1 GB  7%  410 MB/s  ETA 36s  tensors 40/291".
 * `elapsedMs` is the time since the scan began (the rate is an average over it).
 */
export function formatProgress(progress: AnalyzeProgress, elapsedMs: number): string {
  if (progress.phase === 'open') return 'opening inputs…';
  const { bytesDone, bytesTotal, tensorsDone, tensorsTotal } = progress;
  const parts = [progress.phase === 'done' ? 'done' : 'scanning', `${formatBytes(bytesDone)} / ${formatBytes(bytesTotal)}`];
  if (bytesTotal > 0) parts.push(`${Math.floor((100 * bytesDone) / bytesTotal)}%`);
  const seconds = elapsedMs / 1000;
  if (seconds > 0 && bytesDone > 0) {
    const rate = bytesDone / seconds;
    parts.push(`${formatBytes(rate)}/s`);
    if (progress.phase === 'scan' && bytesTotal > bytesDone) parts.push(`ETA ${formatDuration((bytesTotal - bytesDone) / rate)}`);
  }
  parts.push(`tensors ${formatCount(tensorsDone)}/${formatCount(tensorsTotal)}`);
  const network = progress.network;
  if (network !== undefined && network.requests > 0) {
    // Fetched can exceed scanned (read-ahead, retried ranges) or trail it (cached inputs).
    parts.push(`fetched ${formatBytes(network.bytesFetched)}`);
    if (network.retries > 0) parts.push(`retries ${formatCount(network.retries)}`);
  }
  return parts.join('  ');
}

/** "36s", "3m 05s", "1h 02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total}s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes}m ${String(total % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * A self-overwriting status line on a terminal (the caller only creates one when the
 * stream is a TTY and the user did not ask for --quiet). No timers: it redraws when
 * analyze() reports, so it can never keep the process alive.
 */
export class ProgressLine {
  private lastDraw = Number.NEGATIVE_INFINITY;
  private scanStart: number | null = null;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number,
  ) {}

  update(progress: AnalyzeProgress): void {
    const time = this.now();
    if (progress.phase !== 'open' && this.scanStart === null) this.scanStart = time;
    if (progress.phase !== 'done' && time - this.lastDraw < REDRAW_INTERVAL_MS) return;
    this.lastDraw = time;
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    const line = formatProgress(progress, this.scanStart === null ? 0 : time - this.scanStart).slice(0, width);
    // \r: back to the line's start; ESC[K: erase what a longer previous line left.
    this.stream.write(`\r${line}\u001b[K`);
    this.drawn = true;
  }

  /** Erases the line so the report starts on a clean terminal. */
  finish(): void {
    if (this.drawn) this.stream.write('\r\u001b[K');
    this.drawn = false;
  }
}
