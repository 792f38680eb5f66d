import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/report-schema.js';
import { parseReportBytes, parseReportJson, renderJson, renderJsonPieces } from '../../src/report/render-json.js';
import { sampleReport } from '../helpers/sample-report.js';

/** Replaces every number anywhere in `value`, cycling through the three non-finite ones. */
function everyNumberNonFinite(value: unknown, counter = { next: 0 }): unknown {
  const nonFinite = [Number.POSITIVE_INFINITY, Number.NaN, Number.NEGATIVE_INFINITY];
  if (typeof value === 'number') return nonFinite[counter.next++ % 3];
  if (Array.isArray(value)) return value.map((item) => everyNumberNonFinite(item, counter));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, everyNumberNonFinite(item, counter)]));
  }
  return value;
}

/** Reverses key order at every level, to show the output order does not depend on it. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).reverse().map(([key, item]) => [key, reversedKeys(item)]));
  }
  return value;
}

describe('renderJson', () => {
  it('round-trips the sample report, with Infinity written as a string', () => {
    const report = sampleReport();
    const text = renderJson(report);
    expect(text).toContain('"conditionNumber": "Infinity"');
    expect(text.endsWith('}\n')).toBe(true);
    expect(parseReportJson(text)).toEqual(report);
  });

  it('renders in pieces, one tensor at a time, exactly as JSON.stringify indents the whole report', () => {
    // The pieces splice each tensor into the rest of the report: JSON.stringify of the
    // parsed text, with the same indentation, must give back the same text byte for byte.
    for (const count of [0, 1, 3]) {
      const report = sampleReport();
      const one = report.tensors[0]!;
      // Every other tensor all finite: those are rendered without JSON.stringify's replacer.
      report.tensors = Array.from({ length: count }, (_, i) => ({ ...(i % 2 === 1 ? finite(one) : one), name: `${one.name}.${i}` }));
      const pieces = [...renderJsonPieces(report)];
      const text = pieces.join('');
      expect(pieces.length).toBe(count === 0 ? 3 : count + 4);
      expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
      expect(parseReportJson(text)).toEqual(report);
    }
  });

  it('round-trips every numeric field when all of them are non-finite', () => {
    const report = everyNumberNonFinite(sampleReport()) as Report;
    const text = renderJson(report);
    expect(text).not.toMatch(/: -?\d/);
    expect(parseReportJson(text)).toEqual(report);
  });

  it("writes the verdict's element-wise reading whole, the methods it cannot tell apart included", () => {
    const report = sampleReport();
    report.verdict.elementwise = {
      method: 'dare',
      consistentWith: ['dare_linear', 'dare_ties', 'della', 'della_linear'],
      base: 0,
      merged: [1],
      density: 0.3,
      relativeWeights: [null, 1],
      keptBaseShare: 0.6,
      rescale: 3.1,
      expectedRescale: 3.3333333333333335,
      conflictAtParentShare: null,
      agreementAtParentShare: null,
      weightedSumReproduced: 0.063,
    };
    expect(parseReportJson(renderJson(report)).verdict.elementwise).toEqual(report.verdict.elementwise);
  });

  it('leaves strings spelled like non-finite numbers alone', () => {
    const report = sampleReport();
    report.unmatched.suspectOnly = ['NaN', 'Infinity'];
    report.options.include = ['-Infinity'];
    report.command = ['provcheck', 'NaN'];
    expect(parseReportJson(renderJson(report))).toEqual(report);
  });

  it('writes keys in schema order whatever order the object was built in', () => {
    const report = sampleReport();
    const shuffled = reversedKeys(report) as Report;
    expect(renderJson(shuffled)).toBe(renderJson(report));
    const parsed = JSON.parse(renderJson(shuffled)) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([
      'schemaVersion',
      'tool',
      'createdAt',
      'command',
      'suspect',
      'parents',
      'reference',
      'options',
      'verdict',
      'tensors',
      'unmatched',
      'mismatched',
      'filtered',
    ]);
    const tensors = parsed['tensors'] as Record<string, unknown>[];
    expect(Object.keys(tensors[0] ?? {}).slice(0, 6)).toEqual(['name', 'shape', 'dtype', 'parentDtypes', 'component', 'layer']);
    const verdict = parsed['verdict'] as { counts: Record<string, unknown> };
    expect(Object.keys(verdict.counts)).toEqual(['identical', 'blend', 'modified-blend', 'derived', 'unrelated', 'inconclusive']);
  });

  it('indents with two spaces', () => {
    expect(renderJson(sampleReport()).split('\n').slice(0, 3)).toEqual(['{', '  "schemaVersion": 2,', '  "tool": {']);
  });

  it('writes -0 as 0', () => {
    const report = sampleReport();
    report.tensors[0] = { ...report.tensors[0]!, z: -0 };
    expect(parseReportJson(renderJson(report)).tensors[0]?.z).toBe(0);
  });
});

describe('parseReportBytes', () => {
  const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

  it('parses a report tensor by tensor exactly as whole, however it is laid out', () => {
    const report = sampleReport();
    const one = report.tensors[0]!;
    // Names with the characters the scanner must step over inside strings.
    const names = ['a"quoted"[name]', 'back\\slash}{', 'plain'];
    report.tensors = names.map((name, i) => ({ ...(i === 1 ? finite(one) : one), name }));
    const text = renderJson(report);
    const whole = parseReportJson(text);
    expect(parseReportBytes(bytesOf(text), 0)).toEqual(whole);
    // Keys named "tensors" nested in the verdict come before the top-level one.
    expect(text.indexOf('"tensors":')).toBeLessThan(text.indexOf('\n  "tensors": ['));
    const compact = JSON.stringify(JSON.parse(text));
    expect(parseReportBytes(bytesOf(compact), 0)).toEqual(whole);
    report.tensors = [];
    expect(parseReportBytes(bytesOf(renderJson(report)), 0)).toEqual(parseReportJson(renderJson(report)));
  });

  it('finds the same top-level array as JSON.parse in any JSON object', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
        fc.array(fc.jsonValue(), { maxLength: 6 }),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
        fc.constantFrom(undefined, 0, 1, 3, '\t'),
        (before, tensors, after, space) => {
          // A nested array under the same key comes first.
          const value = { ...before, decoy: { tensors: [1, ['tensors']] }, tensors, ...after };
          const text = JSON.stringify(value, null, space);
          expect(parseReportBytes(bytesOf(text), 0)).toEqual(parseReportJson(text));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses text that is not JSON', () => {
    const text = renderJson(sampleReport());
    // A byte-order mark is not JSON, at the start or inside the tensors array.
    const marked = [`\uFEFF${text}`, text.replace('"tensors": [', '"tensors": [\uFEFF')];
    for (const broken of [text.slice(0, Math.floor(text.length / 2)), text.replace('"tensors": [', '"tensors": [,'), `${text}}`, ...marked]) {
      expect(() => parseReportBytes(bytesOf(broken), 0)).toThrow(SyntaxError);
    }
  });
});

/** A deep copy with every non-finite number replaced by 7.5. */
function finite<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? 7.5 : v))) as T;
}
