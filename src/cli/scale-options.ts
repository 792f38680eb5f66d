import { UsageError } from '../errors.js';
import type { ShardSpec } from '../engine/scan-plan.js';

/** How a run is spread and kept: --threads, --shard, --checkpoint, as commander hands them over. */
export interface ScaleCommandOptions {
  threads?: string;
  shard?: string;
  checkpoint?: string;
}

export interface ScaleOptions {
  threads?: number;
  shard?: ShardSpec;
  checkpoint?: string;
}

/** More threads than this is a typo, not a machine: each costs ~30 MB and a file handle set. */
const MAX_THREADS = 1024;

export const SCALE_OPTION_HELP = {
  threads: 'scanning threads (default: every core; 0 scans in the main thread)',
  shard: 'analyse only share i of N (1-based, e.g. 2/8) and write a partial report for `provcheck merge`',
  checkpoint: 'append each finished tensor to this file; run again with it to continue after a crash',
} as const;

/** Validates --threads, --shard and --checkpoint; throws UsageError naming the option. */
export function parseScaleOptions(options: ScaleCommandOptions): ScaleOptions {
  const parsed: ScaleOptions = {};
  if (options.threads !== undefined) {
    const threads = Number(options.threads);
    if (!/^\d+$/.test(options.threads.trim()) || threads > MAX_THREADS) {
      throw new UsageError(`--threads: expected a whole number from 0 to ${MAX_THREADS}, got '${options.threads}'`);
    }
    parsed.threads = threads;
  }
  if (options.shard !== undefined) {
    const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(options.shard);
    const index = Number(match?.[1]);
    const count = Number(match?.[2]);
    if (!match || count < 1 || index < 1 || index > count) {
      throw new UsageError(`--shard: expected i/N with 1 ≤ i ≤ N (e.g. 1/4), got '${options.shard}'`);
    }
    parsed.shard = { index: index - 1, count };
  }
  if (options.checkpoint !== undefined) {
    if (options.checkpoint.trim() === '') throw new UsageError('--checkpoint: give a file name');
    parsed.checkpoint = options.checkpoint;
  }
  return parsed;
}
