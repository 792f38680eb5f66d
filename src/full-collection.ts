import { getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8's collector as node's --expose-gc gives it to new contexts; null without that flag.
 * bin/provcheck.js sets the flag as it starts; a program calling analyze() gets a
 * collection only if it started node with --expose-gc itself.
 */
let collector: (() => void) | null | undefined;

/**
 * Below this much JavaScript heap in use a collection is not asked for: what it could
 * free is small next to the scan's buffers, and it runs while the workers wait for their
 * first task (the 1 GB bench trio's aligned models: 29 MB in use, 10 MB freed, 35 ms;
 * node --trace-gc).
 */
export const COLLECT_ABOVE_BYTES = 64 * 1024 * 1024;

/**
 * A full garbage collection, asked for where a run has just dropped most of what it
 * made. Opening and aligning three models of 100,000 tensors parses three 12 MB headers
 * whose objects outlive the young generation and sit in the old one as garbage. V8
 * lets the old generation grow to several times what is live before it collects,
 * which the scan's own garbage then fills: on the 100,000-tensor bench trio one
 * collection of 84 ms (241 -> 129 MB of heap) took peak RSS from 513-523 to 397-405 MB
 * with two threads (c8129c1; docs/performance.md gives the bench script's numbers).
 * Does nothing when collections cannot be asked for, or with less than `above` bytes
 * of heap in use; says whether one ran.
 */
export function collectGarbage(above = COLLECT_ABOVE_BYTES): boolean {
  if (getHeapStatistics().used_heap_size < above) return false;
  // Looked for once: without the flag, null is the answer for the rest of the process.
  if (collector === undefined) collector = runInNewContext('typeof gc === "function" ? gc : null') as (() => void) | null;
  collector?.();
  return collector !== null;
}
