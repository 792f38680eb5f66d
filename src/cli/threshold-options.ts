import { UsageError } from '../errors.js';
import type { Thresholds } from '../report-schema.js';
import { DEFAULT_THRESHOLDS } from '../verdict/thresholds.js';

interface ThresholdOption {
  readonly flag: string;
  readonly description: string;
  /** Inclusive/exclusive bounds of values that mean something (outside them a verdict is nonsense). */
  readonly min: { readonly value: number; readonly inclusive: boolean };
  readonly max: { readonly value: number; readonly inclusive: boolean } | null;
}

/**
 * Every threshold as a command-line option. A Record, so a threshold added to the
 * schema cannot ship without its option, its help and its valid range.
 */
export const THRESHOLD_OPTIONS: Readonly<Record<keyof Thresholds, ThresholdOption>> = {
  blendMaxNoise: {
    flag: '--blend-max-noise',
    description: 'largest blend-fit residual (σ of rounding noise) that still counts as an untouched blend',
    min: { value: 0, inclusive: false },
    max: null,
  },
  minWeight: {
    flag: '--min-weight',
    description: 'smallest weight for which a parent counts as mixed in',
    min: { value: 0, inclusive: true },
    max: { value: 0.5, inclusive: false },
  },
  modifiedMinWeight: {
    flag: '--modified-min-weight',
    description: 'second parent weight that, with a residual above the floor, marks a modified blend',
    min: { value: 0, inclusive: false },
    max: { value: 0.5, inclusive: true },
  },
  unrelatedResidual: {
    flag: '--unrelated-residual',
    description: "relative residual (share of the suspect's norm) above which the parents do not explain it",
    min: { value: 0, inclusive: false },
    max: null,
  },
  informativeUlps: {
    flag: '--informative-ulps',
    description: "parent differences below this many of the suspect's ulps are not used to estimate weights",
    min: { value: 0, inclusive: true },
    max: null,
  },
  agreement: {
    flag: '--agreement',
    description: 'share of elements that must agree for a model verdict other than mixed',
    min: { value: 0.5, inclusive: false },
    max: { value: 1, inclusive: true },
  },
};

export const THRESHOLD_KEYS = Object.keys(THRESHOLD_OPTIONS) as (keyof Thresholds)[];

/** Help text for a threshold option, with the default that applies when it is not given. */
export function thresholdHelp(key: keyof Thresholds): string {
  return `${THRESHOLD_OPTIONS[key].description} (default: ${DEFAULT_THRESHOLDS[key]})`;
}

/** Only the thresholds the user gave; analyze() fills in the rest from DEFAULT_THRESHOLDS. */
export function parseThresholds(raw: Partial<Record<keyof Thresholds, string>>): Partial<Thresholds> {
  const thresholds: Partial<Thresholds> = {};
  for (const key of THRESHOLD_KEYS) {
    const text = raw[key];
    if (text === undefined) continue;
    thresholds[key] = parseThreshold(key, text);
  }
  return thresholds;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function parseThreshold(key: keyof Thresholds, text: string): number {
  const option = THRESHOLD_OPTIONS[key];
  const range = rangeText(option);
  // Number() would accept "", "0x1f" and "Infinity"; a threshold is a plain decimal.
  const value = DECIMAL.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isFinite(value)) {
    throw new UsageError(`${option.flag}: expected a number in ${range}, got '${text}'`);
  }
  const aboveMin = option.min.inclusive ? value >= option.min.value : value > option.min.value;
  const belowMax = option.max === null || (option.max.inclusive ? value <= option.max.value : value < option.max.value);
  if (!aboveMin || !belowMax) throw new UsageError(`${option.flag}: ${value} is outside ${range}`);
  return value;
}

function rangeText(option: ThresholdOption): string {
  const low = `${option.min.inclusive ? '[' : '('}${option.min.value}`;
  const high = option.max === null ? '∞)' : `${option.max.value}${option.max.inclusive ? ']' : ')'}`;
  return `${low}, ${high}`;
}
