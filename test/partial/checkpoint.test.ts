import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { Checkpoint, type RunIdentity } from '../../src/partial/checkpoint.js';
import type { TensorReport } from '../../src/report-schema.js';
import { stringifyExact } from '../../src/partial/tensor-json.js';

const identity: RunIdentity = {
  tool: '1.0.0',
  inputs: [{ label: 'suspect', source: 's', files: [{ path: 'model.safetensors', bytes: 100 }] }],
  reference: 0,
  options: { include: [], exclude: [], thresholds: { informativeUlps: 4 } },
};

const tensor = (name: string): TensorReport =>
  ({ name, noiseRatio: 0.98, identifiability: { conditionNumber: Infinity }, weights: [0.4, null] }) as unknown as TensorReport;

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Checkpoint', () => {
  it('keeps whole records, numbers exactly (Infinity too), and drops a torn last line', () => {
    dir = mkdtempSync(join(tmpdir(), 'provcheck-checkpoint-'));
    const path = join(dir, 'c');
    const first = Checkpoint.open(path, identity);
    expect(first.done.size).toBe(0);
    first.append(tensor('a'));
    first.append({ ...tensor('b'), noiseRatio: 0.1 + 0.2 });
    first.close();
    // A write cut short by SIGKILL.
    appendFileSync(path, '{"tensor":{"name":"c","noi');
    const second = Checkpoint.open(path, identity);
    expect([...second.done.keys()]).toEqual(['a', 'b']);
    expect(second.done.get('b')!.noiseRatio).toBe(0.1 + 0.2);
    expect(second.done.get('a')!.identifiability.conditionNumber).toBe(Infinity);
    second.append(tensor('c'));
    second.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[3]).toContain('"name":"c"');
    expect(Checkpoint.open(path, identity).done.size).toBe(3);
  });

  it("appends the same line from a report's text as from the report", () => {
    dir = mkdtempSync(join(tmpdir(), 'provcheck-checkpoint-'));
    const lines = [join(dir, 'from-report'), join(dir, 'from-text')].map((path, i) => {
      const checkpoint = Checkpoint.open(path, identity);
      const t = { ...tensor('#NaN'), noiseRatio: NaN };
      if (i === 0) checkpoint.append(t);
      else checkpoint.append(t, stringifyExact(t));
      checkpoint.close();
      return readFileSync(path, 'utf8');
    });
    expect(lines[1]).toBe(lines[0]);
    expect(lines[0]).toContain('"name":"##NaN","noiseRatio":"#NaN"');
  });

  it('refuses a checkpoint made from other inputs, naming what differs', () => {
    dir = mkdtempSync(join(tmpdir(), 'provcheck-checkpoint-'));
    const path = join(dir, 'c');
    Checkpoint.open(path, identity).close();
    const resized = { ...identity, inputs: [{ label: 'suspect', source: 's', files: [{ path: 'model.safetensors', bytes: 101 }] }] };
    expect(() => Checkpoint.open(path, resized)).toThrow(UsageError);
    expect(() => Checkpoint.open(path, resized)).toThrow(`${path}: this checkpoint was made for other inputs (suspect s: other files, sizes or revision)`);
    expect(() => Checkpoint.open(path, { ...identity, reference: 1 })).toThrow('other options (--base)');
    expect(() => Checkpoint.open(path, { ...identity, tool: '2.0.0' })).toThrow('other provcheck version (1.0.0, this is 2.0.0)');
  });
});
