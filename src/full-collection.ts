import { runInNewContext } from 'node:vm';

/**
 * V8's collector as node's --expose-gc gives it to new contexts; null without that flag.
 * bin/provcheck.js sets the flag as it starts; a program calling analyze() gets a
 * collection only if it started node with --expose-gc itself.
 */
let collector: (() => void) | null | undefined;

/**
 * A full garbage collection, asked for where a run has just dropped most of what it
 * made. Opening and aligning three models of 100,000 tensors parses three 12 MB headers
 * whose objects outlive the young generation and sit in the old one as garbage. V8
 * lets the old generation grow to several times what is live before it collects,
 * which the scan's own garbage then fills: peak RSS 526 -> 410 MB on the 100,000-tensor
 * bench trio for one collection of ~0.1 s (docs/performance.md). Does nothing when
 * collections cannot be asked for; says whether one ran.
 */
export function collectGarbage(): boolean {
  collector ??= runInNewContext('typeof gc === "function" ? gc : null') as (() => void) | null;
  collector?.();
  return collector !== null;
}
