import { describe, expect, it } from 'vitest';
import { MalformedInputError } from '../../src/errors.js';
import { parsePartial, serializePartial, type PartialReport } from '../../src/partial/merge-partials.js';
import { stringifyExact } from '../../src/partial/tensor-json.js';
import { sampleReport } from '../helpers/sample-report.js';

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

function samplePartial(): PartialReport {
  const report = sampleReport();
  const one = report.tensors[0]!;
  const unidentifiable = report.tensors.find((t) => !t.identifiability.identifiable)!;
  // Names with the characters a scanner must step over inside strings; one tensor holds an Infinity.
  report.tensors = ['a"b[c]', 'd\\e}{', 'plain'].map((name, i) => ({ ...(i === 1 ? unidentifiable : one), name }));
  return { shard: 2, of: 3, report };
}

describe('partial reports', () => {
  it('are written a tensor at a time and read back whole or tensor by tensor, the same', () => {
    const partial = samplePartial();
    const pieces = [...serializePartial(partial)];
    expect(pieces.length).toBe(partial.report.tensors.length + 2);
    const bytes = bytesOf(pieces.join(''));
    const whole = parsePartial(bytes, 'p.json');
    expect(whole).toEqual(partial);
    expect(whole.report.tensors[1]!.identifiability.conditionNumber).toBe(Infinity);
    expect(parsePartial(bytes, 'p.json', 0)).toEqual(whole);
  });

  it('reads the layout written before, with the tensors amid the report, tensor by tensor too', () => {
    const partial = samplePartial();
    const before = `${stringifyExact({ provcheckPartial: { format: 2, shard: 2, of: 3 }, report: partial.report })}\n`;
    expect(before.indexOf('"tensors":[')).toBeLessThan(before.lastIndexOf('}}'));
    expect(parsePartial(bytesOf(before), 'p.json', 0)).toEqual(partial);
  });

  it('refuses text that is not a partial report, naming the file', () => {
    const text = [...serializePartial(samplePartial())].join('');
    for (const wholeBelow of [Infinity, 0]) {
      for (const [broken, problem] of [
        [text.slice(0, text.length >> 1), 'not a provcheck partial report (not JSON)'],
        [text.replace('"tensors":[', '"tensors":[\uFEFF'), 'not a provcheck partial report (not JSON)'],
        ['null', 'not a provcheck partial report of format 2 (write one with --shard i/N)'],
        ['{"report":{"tensors":[]}}', 'not a provcheck partial report of format 2 (write one with --shard i/N)'],
      ] as const) {
        const error = (() => {
          try {
            parsePartial(bytesOf(broken), 'p.json', wholeBelow);
          } catch (caught) {
            return caught;
          }
          return null;
        })();
        expect(error).toBeInstanceOf(MalformedInputError);
        expect((error as Error).message).toBe(`p.json: ${problem}`);
      }
    }
  });
});
