#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// V8 optimises a function once it has run ~66 KB of bytecode (--interrupt-budget=67584):
// per-tensor code (fits, recipe candidates, reports) is optimised early, deoptimised as
// new shapes arrive and optimised again, in every worker's isolate. That compilation
// was ~18% of all CPU on the 1 GB bench trio (perf: four background compiler threads,
// 549 optimisations). Sixteen times the budget leaves 72-83 optimisations (the loops
// that run long still reach it within milliseconds): 1 GB trio 7.21-8.84 -> 6.47-7.17 s,
// 0.25 GB trio 5.13-6.79 -> 4.63-4.85 s, alternating in one busy hour (docs/performance.md).
// Set before anything runs; V8's flags are the process's, so the scan workers have it
// too (and it overrides an --interrupt-budget given to node). Node 20's V8 (11.x) only:
// later V8s count invocations instead, with a mid-tier compiler (Maglev) between, and
// reject the flag ("unrecognized flag" on stderr, Node 24).
if (Number(process.versions.v8.split('.')[0]) <= 11) setFlagsFromString('--interrupt-budget=1081344');
// Lets analyze() ask for a full collection where a run has just dropped most of what it
// made (src/full-collection.ts): a process-wide flag, seen by contexts made after it.
setFlagsFromString('--expose-gc');
await import('../dist/cli/main.js');
