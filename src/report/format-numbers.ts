/**
 * Number formatting shared by the renderers. One place, so a residual reads the same
 * in the sentence, the tables and the inspect output. en-US grouping on purpose: the
 * output must not change with the machine's locale (tests and copied reports).
 */

/**
 * What `new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(value)` gives
 * for a finite number, without the formatter: making one takes ~20 ms (ICU's start), on
 * the main thread of every run before anything else. Rounded half away from zero (Intl's
 * default; Math.round on the magnitude does that), the rounded number's shortest
 * round-trip digits (as String writes them, its exponent form from 1e21 on written out
 * with zeros, as Intl does), commas every three digits, and "-" for any negative value,
 * -0 and what rounds to it included ("-0", as Intl writes it).
 * test/report/format-numbers.test.ts holds it to the Intl formatter.
 */
function grouped(value: number): string {
  const digits = plainDigits(Math.round(Math.abs(value)));
  let text = '';
  for (let end = digits.length; end > 0; end -= 3) text = (end > 3 ? ',' : '') + digits.slice(Math.max(0, end - 3), end) + text;
  return value < 0 || Object.is(value, -0) ? `-${text}` : text;
}

/** A whole number ≥ 0's digits: String's, with its exponent form ("1.5e+21") written out. */
function plainDigits(whole: number): string {
  const text = String(whole);
  const e = text.indexOf('e+');
  if (e < 0) return text;
  const mantissa = text.slice(0, e).replace('.', '');
  return mantissa + '0'.repeat(Number(text.slice(e + 2)) - (mantissa.length - 1));
}

/** An integer count with thousands separators: 3812 → "3,812". */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return formatNonFinite(value);
  return grouped(value);
}

/**
 * A residual in standard deviations of rounding noise, to three significant digits:
 * 1 → "1.00", 6.2 → "6.20", 3812 → "3,810". Large values are rounded so that a reader
 * does not mistake 3,812σ for a measurement good to 1σ.
 */
export function formatSigma(value: number): string {
  if (!Number.isFinite(value)) return formatNonFinite(value);
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return grouped(Number(value.toPrecision(3)));
  if (magnitude < 1e-3) return value.toExponential(2);
  return value.toPrecision(3);
}

/** A blend weight, fixed at three decimals so weights line up: 0.6 → "0.600". */
export function formatWeight(value: number): string {
  if (!Number.isFinite(value)) return formatNonFinite(value);
  // -0.0002 would print as "-0.000", a sign with no number behind it.
  return Math.abs(value) < 0.0005 ? '0.000' : value.toFixed(3);
}

/**
 * A value with its standard error, with as many decimals as the error's first
 * significant digit needs (between 3 and 6): 0.60031 ± 0.00021 → "0.6003 ± 0.0002".
 */
export function formatWithError(value: number, stdErr: number): string {
  if (!Number.isFinite(value)) return formatNonFinite(value);
  if (!Number.isFinite(stdErr)) return `${value.toFixed(3)} ± ${formatNonFinite(stdErr)}`;
  const decimals = decimalsForError(stdErr);
  return `${value.toFixed(decimals)} ± ${stdErr.toFixed(decimals)}`;
}

/** Decimals that show a standard error's first significant digit, between 3 and 6. */
export function decimalsForError(stdErr: number): number {
  if (!Number.isFinite(stdErr)) return 3;
  const firstDigit = stdErr > 0 ? -Math.floor(Math.log10(stdErr)) : 6;
  return Math.min(6, Math.max(3, firstDigit));
}

/** A small positive quantity (a spread) to two significant digits: 0.00031 → "0.00031". */
export function formatSmall(value: number): string {
  if (!Number.isFinite(value)) return formatNonFinite(value);
  return value === 0 ? '0' : value.toPrecision(2);
}

/** A share in [0, 1] as a percentage with one decimal: 0.9991 → "99.9%". */
export function formatShare(value: number): string {
  if (!Number.isFinite(value)) return formatNonFinite(value);
  const percent = value * 100;
  // Never print 100.0% for a share that is not exactly 1, nor 0.0% for one above 0:
  // "all elements reproduced" is a claim, so rounding must not make it.
  if (value < 1 && percent > 99.9) return '>99.9%';
  if (value > 0 && percent < 0.1) return '<0.1%';
  return `${percent.toFixed(1)}%`;
}

const SI_UNITS = ['', 'k', 'M', 'G', 'T', 'P'] as const;

/** A large count in compact SI form for tables: 262144000 → "262.1M". */
export function formatCompact(value: number): string {
  if (!Number.isFinite(value)) return formatNonFinite(value);
  let scaled = Math.abs(value);
  let unit = 0;
  while (scaled >= 999.95 && unit < SI_UNITS.length - 1) {
    scaled /= 1000;
    unit += 1;
  }
  const sign = value < 0 ? '-' : '';
  return unit === 0 ? `${sign}${grouped(scaled)}` : `${sign}${scaled.toFixed(1)}${SI_UNITS[unit]}`;
}

/** Bytes in decimal units, as the Hugging Face Hub shows file sizes: "16.1 GB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return formatNonFinite(bytes);
  if (bytes < 1000) return `${bytes} B`;
  return `${formatCompact(bytes)}B`.replace(/([0-9])([kMGTP]B)$/, '$1 $2');
}

function formatNonFinite(value: number): string {
  if (Number.isNaN(value)) return 'n/a';
  return value > 0 ? '∞' : '-∞';
}

/** "B and C", "B, C and D" ("" for none). */
export function listWords(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
