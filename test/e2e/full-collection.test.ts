import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

/**
 * src/full-collection.ts in a node of its own (the Node CI picks, PROVCHECK_NODE): the
 * flag bin/provcheck.js sets as it starts must let analyze() collect, on every Node
 * provcheck supports, and without it asking must be harmless.
 */
function run(setFlag: boolean): { ran: boolean; before: number; after: number; count: number; small: boolean } {
  const script = `
    import { setFlagsFromString } from 'node:v8';
    if (${setFlag}) setFlagsFromString('--expose-gc');
    const { collectGarbage } = await import('./dist/full-collection.js');
    // ~60 MB kept across young-generation collections, so that it reaches the old generation, then dropped.
    let kept = [];
    for (let i = 0; i < 400000; i++) kept.push({ i, text: 'x'.repeat(100) + i });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const count = kept.length;
    kept = null;
    const before = process.memoryUsage().heapUsed;
    const ran = collectGarbage();
    const after = process.memoryUsage().heapUsed;
    // Less in use than asked for: not collected, whatever the flag.
    const small = collectGarbage(before + 2 ** 30);
    console.log(JSON.stringify({ ran, before, after, count, small }));
  `;
  const node = process.env.PROVCHECK_NODE ?? process.execPath;
  const child = spawnSync(node, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const result = JSON.parse(child.stdout) as { ran: boolean; before: number; after: number; count: number; small: boolean };
  expect(result.count).toBe(400000);
  return result;
}

describe('collectGarbage', () => {
  it('collects the old generation once --expose-gc is set at run time', () => {
    const { ran, before, after, small } = run(true);
    expect(ran).toBe(true);
    expect(before - after).toBeGreaterThan(40e6);
    expect(small).toBe(false);
  });

  it('does nothing, and says so, without the flag', () => {
    const { ran, before, after } = run(false);
    expect(ran).toBe(false);
    expect(before - after).toBeLessThan(40e6);
  });
});
