import { UsageError } from '../errors.js';
import type { SampleOptions, SampleSize } from '../partial/sampled-reports.js';

/** --sample and its companions, as commander hands them over. */
export interface SampleCommandOptions {
  sample?: string;
  seed?: string;
  confidence?: string;
  sampleBudget?: string;
  sampleBlock?: string;
}

export const SAMPLE_OPTION_HELP = {
  sample: "read only seeded random blocks of each tensor: a share ('0.5%'), bytes ('2GB'), or 'auto' (until every verdict is settled)",
  seed: 'where --sample reads (a whole number; default 0): the same seed reads the same blocks',
  confidence: 'level of the sampled intervals, and the agreement --sample auto needs (default 95%)',
  sampleBudget: "most bytes --sample auto reads: a share ('1%') or bytes ('20GB') (default 1%)",
  sampleBlock: 'elements per sampled block (default 65536)',
} as const;

export const DEFAULT_SAMPLE_BUDGET = 0.01;

const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
};

/** '0.5%' → 0.005, '0.005' → 0.005 (a bare number is a share, and must be in (0, 1]); null when not a share. */
function parseShare(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(%?)$/.exec(text.trim());
  if (!match) return null;
  const value = Number(match[1]) / (match[2] === '%' ? 100 : 1);
  return value > 0 && value <= 1 ? value : Number.NaN;
}

/** '2GB', '500 MiB' → bytes; null when not a size. */
function parseBytes(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)$/i.exec(text.trim());
  if (!match) return null;
  const value = Number(match[1]) * UNITS[match[2]!.toUpperCase()]!;
  return value >= 1 ? Math.floor(value) : Number.NaN;
}

function parseSize(flag: string, text: string): { kind: 'fraction'; fraction: number } | { kind: 'bytes'; bytes: number } {
  const share = parseShare(text);
  if (share !== null && !Number.isNaN(share)) return { kind: 'fraction', fraction: share };
  const bytes = parseBytes(text);
  if (bytes !== null && !Number.isNaN(bytes)) return { kind: 'bytes', bytes };
  throw new UsageError(`${flag}: expected a share above 0 and at most 100% ('0.5%', '0.005') or a size ('2GB', '500MiB'), got '${text}'`);
}

/** Validates the sampling options; undefined when --sample is not given (the others then refused). */
export function parseSampleOptions(options: SampleCommandOptions): { sample?: SampleOptions } {
  if (options.sample === undefined) {
    for (const [flag, value] of [
      ['--seed', options.seed],
      ['--confidence', options.confidence],
      ['--sample-budget', options.sampleBudget],
      ['--sample-block', options.sampleBlock],
    ] as const) {
      if (value !== undefined) throw new UsageError(`${flag}: only meaningful with --sample`);
    }
    return {};
  }
  const auto = options.sample.trim().toLowerCase() === 'auto';
  if (!auto && options.sampleBudget !== undefined) throw new UsageError('--sample-budget: only meaningful with --sample auto');
  const size: SampleSize = auto
    ? { kind: 'auto', budget: options.sampleBudget === undefined ? { kind: 'fraction', fraction: DEFAULT_SAMPLE_BUDGET } : parseSize('--sample-budget', options.sampleBudget) }
    : parseSize('--sample', options.sample);
  let seed = 0;
  if (options.seed !== undefined) {
    if (!/^\d+$/.test(options.seed.trim()) || Number(options.seed) > 0xffffffff) {
      throw new UsageError(`--seed: expected a whole number from 0 to 4294967295, got '${options.seed}'`);
    }
    seed = Number(options.seed);
  }
  let confidence = 0.95;
  if (options.confidence !== undefined) {
    const share = parseShare(options.confidence);
    if (share === null || Number.isNaN(share) || share < 0.5 || share >= 1) {
      throw new UsageError(`--confidence: expected a level from 50% to below 100% ('95%', '0.99'), got '${options.confidence}'`);
    }
    confidence = share;
  }
  const sample: SampleOptions = { size, seed, confidence };
  if (options.sampleBlock !== undefined) {
    const block = Number(options.sampleBlock);
    if (!/^\d+$/.test(options.sampleBlock.trim()) || block < 1 || block > 1 << 24) {
      throw new UsageError(`--sample-block: expected a whole number of elements from 1 to ${1 << 24}, got '${options.sampleBlock}'`);
    }
    sample.blockElements = block;
  }
  return { sample };
}
