import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AlignedTensor } from '../align/align-tensors.js';
import { componentOf, layerOf } from '../align/tensor-name.js';
import { InProcessEngine, type ScanEngine, type ScanSettings } from '../engine/scan-engine.js';
import { WorkerEngine } from '../engine/worker-engine.js';
import { fitTensor } from '../fit/tensor-fit.js';
import type { ModelLayout, TensorDescriptor } from '../format/model-layout.js';
import type { TensorReport, Thresholds } from '../report-schema.js';
import { LocalFileSource } from '../source/local-file.js';
import { tensorVerdict } from '../verdict/tensor-verdict.js';
import type { Checkpoint } from './checkpoint.js';

export interface TensorReportsOptions {
  parents: number;
  reference: number;
  thresholds: Thresholds;
  /** Worker threads; 0 scans in this thread. */
  threads: number;
  chunkElements?: number;
  pieceElements?: number;
  /** The models, to find each tensor's file for the workers. */
  layouts: readonly ModelLayout[];
  checkpoint: Checkpoint | null;
  onBytes: (bytes: number) => void;
  onTensor: () => void;
}

/** Default --threads: every core the process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * Scans the tensors at `indexes` of `aligned` (in file order) and returns their reports
 * in that order. Tensors the checkpoint already holds are taken from it unread; every
 * other one is appended to it as it completes. Tensors are kept in flight a window at a
 * time, so results (33 KB of moments each) never pile up, whatever the tensor count.
 */
export async function tensorReports(
  aligned: readonly AlignedTensor[],
  indexes: readonly number[],
  options: TensorReportsOptions,
): Promise<TensorReport[]> {
  const results = new Map<number, TensorReport>();
  const todo: number[] = [];
  for (const index of indexes) {
    const done = options.checkpoint?.done.get(aligned[index]!.name);
    if (done) {
      results.set(index, done);
      options.onTensor();
    } else {
      todo.push(index);
    }
  }
  const engine = createEngine(aligned, todo, options);
  try {
    const window = Math.max(64, options.threads * 16);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < todo.length) {
        const index = todo[next++]!;
        const report = await tensorReport(aligned[index]!, engine, options.thresholds);
        options.checkpoint?.append(report);
        results.set(index, report);
        options.onTensor();
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, todo.length) }, lane));
  } finally {
    await engine.close();
  }
  return indexes.map((index) => results.get(index)!);
}

async function tensorReport(aligned: AlignedTensor, engine: ScanEngine, thresholds: Thresholds): Promise<TensorReport> {
  const moments = await engine.moments(aligned);
  const fit = fitTensor(moments);
  if (fit.reproducedShare === null && fit.weights.every((w) => w !== null) && fit.informative > 0) {
    // No exact-hit profile (three or more parents, or no clear peak): a second read
    // counts what the fitted blend reproduces bit for bit.
    const counted = await engine.reproduced(aligned, fit.weights as number[]);
    fit.reproducedShare = counted.informative > 0 ? counted.reproduced / counted.informative : null;
  }
  const verdict = tensorVerdict(fit, thresholds);
  return {
    name: aligned.name,
    shape: [...aligned.suspect.shape],
    dtype: aligned.suspect.dtype,
    parentDtypes: aligned.parents.map((p) => p.dtype),
    component: componentOf(aligned.name),
    layer: layerOf(aligned.name),
    kind: verdict.kind,
    parent: verdict.parent,
    reason: verdict.reason,
    ...fit,
  };
}

/**
 * Workers when there is more than one tensor's worth of work and every input is a local
 * file a worker can open itself (a Hub source lives in this thread); else this thread.
 */
function createEngine(aligned: readonly AlignedTensor[], todo: readonly number[], options: TensorReportsOptions): ScanEngine {
  const settings: ScanSettings = {
    parents: options.parents,
    reference: options.reference,
    informativeUlps: options.thresholds.informativeUlps,
    onBytes: options.onBytes,
    ...(options.chunkElements === undefined ? {} : { chunkElements: options.chunkElements }),
    ...(options.pieceElements === undefined ? {} : { pieceElements: options.pieceElements }),
  };
  const paths = new Map<object, string>();
  for (const layout of options.layouts) {
    for (const shard of layout.shards) {
      if (!(shard.source instanceof LocalFileSource)) continue;
      paths.set(shard, layout.kind === 'file' ? layout.root : join(layout.root, shard.file));
    }
  }
  const local = todo.every((i) => [aligned[i]!.suspect, ...aligned[i]!.parents].every((t) => paths.has(t.shard)));
  const script = new URL('../engine/scan-worker.js', import.meta.url);
  // Run from the TypeScript sources (tests), there is no worker script to start.
  if (options.threads === 0 || todo.length === 0 || !local || !existsSync(fileURLToPath(script))) return new InProcessEngine(settings);
  return new WorkerEngine(settings, {
    threads: options.threads,
    pathOf: (t: TensorDescriptor) => paths.get(t.shard)!,
    workerScript: script,
  });
}
