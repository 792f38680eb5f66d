import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

/**
 * src/full-collection.ts in a node of its own (the Node CI picks, PROVCHECK_NODE): the
 * flag bin/provcheck.js sets as it starts must let analyze() collect, on every Node
 * provcheck supports, and without it asking must be harmless.
 */
interface Outcome {
  ran: boolean;
  before: number;
  after: number;
  count: number;
  small: boolean;
  later: boolean;
}

/**
 * Runs `setup` (module code that may set the flag), then fills the heap with ~130 MB,
 * drops it and asks for a collection; then asks again with a threshold above the heap
 * in use, and once more after setting the flag (a process without it at the first
 * call stays without: the answer is looked for once).
 */
function run(setup: string): Outcome {
  const script = `
    ${setup}
    const { collectGarbage } = await import('./dist/full-collection.js');
    let kept = [];
    for (let i = 0; i < 400000; i++) kept.push({ i, text: 'x'.repeat(100) + i });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const count = kept.length;
    kept = null;
    const before = process.memoryUsage().heapUsed;
    const ran = collectGarbage();
    const after = process.memoryUsage().heapUsed;
    const small = collectGarbage(before + 2 ** 30);
    const { setFlagsFromString } = await import('node:v8');
    setFlagsFromString('--expose-gc');
    const later = collectGarbage(0);
    console.log(JSON.stringify({ ran, before, after, count, small, later }));
  `;
  const node = process.env.PROVCHECK_NODE ?? process.execPath;
  // NODE_OPTIONS could give --expose-gc to every node (some CI setups hunt leaks so).
  const env = { ...process.env, NODE_OPTIONS: '' };
  const child = spawnSync(node, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', env });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Outcome;
  expect(result.count).toBe(400000);
  return result;
}

describe('collectGarbage', () => {
  it('collects the old generation once --expose-gc is set at run time', () => {
    const { ran, before, after, small, later } = run(`(await import('node:v8')).setFlagsFromString('--expose-gc');`);
    expect(ran).toBe(true);
    expect(before - after).toBeGreaterThan(40e6);
    expect(small).toBe(false);
    expect(later).toBe(true);
  });

  it('can collect in a process bin/provcheck.js started', () => {
    // The executable run as a user runs it (here for --version), then the module in the same process.
    const { ran, before, after } = run(`process.argv = [process.argv[0], 'bin/provcheck.js', '--version']; await import('./bin/provcheck.js');`);
    expect(ran).toBe(true);
    expect(before - after).toBeGreaterThan(40e6);
  });

  it('does nothing, and says so, without the flag, and keeps that answer', () => {
    const { ran, before, after, later } = run('');
    expect(ran).toBe(false);
    expect(before - after).toBeLessThan(40e6);
    expect(later).toBe(false);
  });
});
