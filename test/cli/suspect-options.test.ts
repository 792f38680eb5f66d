import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFailOn, parseSuspectOptions, type SuspectCommandOptions } from '../../src/cli/suspect-options.js';
import { parseThresholds, THRESHOLD_OPTIONS, thresholdHelp } from '../../src/cli/threshold-options.js';
import { UsageError } from '../../src/errors.js';
import { VERDICT_KINDS } from '../../src/report-schema.js';
import { DEFAULT_THRESHOLDS } from '../../src/verdict/thresholds.js';

function options(overrides: Partial<SuspectCommandOptions> = {}): SuspectCommandOptions {
  return { parents: ['a', 'b'], format: 'text', color: true, ...overrides };
}

const COMMAND = ['provcheck', 'suspect', 's', '--parents', 'a', 'b'];

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseSuspectOptions', () => {
  it('turns the defaults into analyze options', () => {
    expect(parseSuspectOptions('s', options(), COMMAND)).toEqual({
      analyzeOptions: {
        suspect: 's',
        parents: ['a', 'b'],
        reference: 0,
        baseGiven: false,
        include: [],
        exclude: [],
        thresholds: {},
        command: COMMAND,
      },
      format: 'text',
      output: null,
      force: false,
      failOn: [],
      quiet: false,
    });
  });

  it('passes every option through', () => {
    const run = parseSuspectOptions(
      's',
      options({
        parents: ['base', 'a', 'b'],
        base: 'b',
        format: 'json',
        output: 'out.json',
        force: true,
        failOn: ['blend,modified-blend', 'derived'],
        include: ['self_attn', '^model\\.layers\\.\\d+\\.'],
        exclude: ['norm'],
        blendMaxNoise: '3',
        minWeight: '0.05',
        modifiedMinWeight: '0.3',
        unrelatedResidual: '0.4',
        informativeUlps: '8',
        agreement: '0.9',
        quiet: true,
      }),
      COMMAND,
    );
    expect(run.analyzeOptions.reference).toBe(2);
    expect(run.analyzeOptions.include).toEqual([/self_attn/, /^model\.layers\.\d+\./]);
    expect(run.analyzeOptions.exclude).toEqual([/norm/]);
    expect(run.analyzeOptions.thresholds).toEqual({
      blendMaxNoise: 3,
      minWeight: 0.05,
      modifiedMinWeight: 0.3,
      unrelatedResidual: 0.4,
      informativeUlps: 8,
      agreement: 0.9,
    });
    expect(run).toMatchObject({ format: 'json', output: 'out.json', force: true, quiet: true });
    expect(run.failOn).toEqual(['blend', 'modified-blend', 'derived']);
  });

  it('accepts a single parent', () => {
    expect(parseSuspectOptions('s', options({ parents: ['a'] }), COMMAND).analyzeOptions.parents).toEqual(['a']);
  });

  it('rejects no parents and a parent given twice', () => {
    expect(usageMessage(() => parseSuspectOptions('s', options({ parents: [] }), COMMAND))).toBe(
      '--parents: give at least 1 parent',
    );
    expect(usageMessage(() => parseSuspectOptions('s', options({ parents: ['a', './a'] }), COMMAND))).toBe(
      "--parents: './a' is the same model as 'a'; give each parent once",
    );
  });

  it('finds --base among the parents as typed or as the same path', () => {
    expect(parseSuspectOptions('s', options({ base: './b' }), COMMAND).analyzeOptions.reference).toBe(1);
    expect(parseSuspectOptions('s', options({ base: resolve('a') }), COMMAND).analyzeOptions.reference).toBe(0);
    expect(usageMessage(() => parseSuspectOptions('s', options({ base: 'c' }), COMMAND))).toBe(
      "--base: 'c' is not one of --parents (a, b)",
    );
  });

  it('names a bad regular expression', () => {
    expect(usageMessage(() => parseSuspectOptions('s', options({ exclude: ['ok', 'layers.(\\d+'] }), COMMAND))).toMatch(
      /^--exclude: 'layers\.\(\\d\+' is not a valid regular expression \(.+\)$/,
    );
  });

  it('rejects an unknown format', () => {
    expect(usageMessage(() => parseSuspectOptions('s', options({ format: 'pdf' }), COMMAND))).toBe(
      "--format: expected one of text, json, markdown, html, got 'pdf'",
    );
  });
});

describe('parseFailOn', () => {
  it('splits on commas, trims, drops duplicates and empties', () => {
    expect(parseFailOn([' blend , identical', 'blend', ''])).toEqual(['blend', 'identical']);
    expect(parseFailOn([VERDICT_KINDS.join(',')])).toEqual([...VERDICT_KINDS]);
  });

  it('takes undisclosed-merge, the claims gate, beside the verdict kinds', () => {
    expect(parseFailOn(['undisclosed-merge,blend'])).toEqual(['undisclosed-merge', 'blend']);
  });

  it('lists the known kinds when given an unknown one', () => {
    expect(usageMessage(() => parseFailOn(['blend,blended']))).toBe(
      "--fail-on: unknown verdict kind 'blended' (known: identical, blend, modified-blend, derived, unrelated, mixed, inconclusive, undisclosed-merge)",
    );
  });
});

describe('thresholds', () => {
  it('shows the default in every help line', () => {
    for (const key of Object.keys(THRESHOLD_OPTIONS) as (keyof typeof THRESHOLD_OPTIONS)[]) {
      expect(thresholdHelp(key)).toMatch(new RegExp(`\\(default: ${DEFAULT_THRESHOLDS[key]}\\)$`));
    }
  });

  it('accepts the defaults themselves', () => {
    const asText = Object.fromEntries(Object.entries(DEFAULT_THRESHOLDS).map(([key, value]) => [key, String(value)]));
    expect(parseThresholds(asText)).toEqual(DEFAULT_THRESHOLDS);
  });

  it.each([
    ['minWeight', 'abc', "--min-weight: expected a number in [0, 0.5), got 'abc'"],
    ['minWeight', '', "--min-weight: expected a number in [0, 0.5), got ''"],
    ['minWeight', '0x10', "--min-weight: expected a number in [0, 0.5), got '0x10'"],
    ['minWeight', '0.5', '--min-weight: 0.5 is outside [0, 0.5)'],
    ['blendMaxNoise', '0', '--blend-max-noise: 0 is outside (0, ∞)'],
    ['blendMaxNoise', 'Infinity', "--blend-max-noise: expected a number in (0, ∞), got 'Infinity'"],
    ['agreement', '0.5', '--agreement: 0.5 is outside (0.5, 1]'],
    ['agreement', '1.01', '--agreement: 1.01 is outside (0.5, 1]'],
    ['modifiedMinWeight', '-0.1', '--modified-min-weight: -0.1 is outside (0, 0.5]'],
    ['informativeUlps', '-1', '--informative-ulps: -1 is outside [0, ∞)'],
  ] as const)('rejects %s = %j', (key, text, message) => {
    expect(usageMessage(() => parseThresholds({ [key]: text }))).toBe(message);
  });

  it('accepts the edges of each range that are inside it', () => {
    expect(parseThresholds({ minWeight: '0', agreement: '1', modifiedMinWeight: '0.5', informativeUlps: '0' })).toEqual({
      minWeight: 0,
      agreement: 1,
      modifiedMinWeight: 0.5,
      informativeUlps: 0,
    });
    expect(parseThresholds({ blendMaxNoise: ' 2.5e0 ', unrelatedResidual: '.25' })).toEqual({
      blendMaxNoise: 2.5,
      unrelatedResidual: 0.25,
    });
  });
});
