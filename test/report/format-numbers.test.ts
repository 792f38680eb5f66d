import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCompact,
  formatCount,
  formatShare,
  formatSigma,
  formatSmall,
  formatWeight,
  formatWithError,
} from '../../src/report/format-numbers.js';

describe('number formatting', () => {
  it('groups thousands exactly as Intl.NumberFormat en-US with no fraction digits', () => {
    const intl = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
    const edges = [0, -0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, -0.4, 999.5, 1000, 999_999.5, 2 ** 53, 2 ** 53 + 2, 1e21, -1e21, 1.7976931348623157e308, 5e-324];
    for (const value of edges) expect(formatCount(value)).toBe(intl.format(value));
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.double({ min: -1e7, max: 1e7, noNaN: true })), (value) => {
        expect(formatCount(value)).toBe(intl.format(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('groups thousands', () => {
    expect(formatCount(3812)).toBe('3,812');
    expect(formatCount(4_157_632)).toBe('4,157,632');
    expect(formatCount(0)).toBe('0');
  });

  it('gives residuals three significant digits and rounds large ones', () => {
    expect(formatSigma(1)).toBe('1.00');
    expect(formatSigma(6.2)).toBe('6.20');
    expect(formatSigma(21)).toBe('21.0');
    expect(formatSigma(600)).toBe('600');
    expect(formatSigma(3812)).toBe('3,810');
    expect(formatSigma(123_456)).toBe('123,000');
    expect(formatSigma(0)).toBe('0');
    expect(formatSigma(0.98)).toBe('0.980');
    expect(formatSigma(0.0001234)).toBe('1.23e-4');
    expect(formatSigma(Number.POSITIVE_INFINITY)).toBe('∞');
    expect(formatSigma(Number.NaN)).toBe('n/a');
  });

  it('writes weights with three decimals and errors with their first digit', () => {
    expect(formatWeight(0.6)).toBe('0.600');
    expect(formatWeight(-0.1)).toBe('-0.100');
    expect(formatWithError(0.60031, 0.00021)).toBe('0.6003 ± 0.0002');
    expect(formatWithError(0.6, 0.02)).toBe('0.600 ± 0.020');
    expect(formatWithError(0.6, 0)).toBe('0.600000 ± 0.000000');
    expect(formatWithError(0.6, 3e-9)).toBe('0.600000 ± 0.000000');
    expect(formatSmall(0.00031)).toBe('0.00031');
  });

  it('never rounds a share to 100% or 0% it does not have', () => {
    expect(formatShare(1)).toBe('100.0%');
    expect(formatShare(0.9999)).toBe('>99.9%');
    expect(formatShare(0.999)).toBe('99.9%');
    expect(formatShare(0)).toBe('0.0%');
    expect(formatShare(0.0004)).toBe('<0.1%');
    expect(formatShare(0.507)).toBe('50.7%');
  });

  it('writes sizes in decimal units', () => {
    expect(formatCompact(192)).toBe('192');
    expect(formatCompact(12_288)).toBe('12.3k');
    expect(formatCompact(2_048_000)).toBe('2.0M');
    expect(formatCompact(999_960)).toBe('1.0M');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(16_060_000_000)).toBe('16.1 GB');
  });
});
