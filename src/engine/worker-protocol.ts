import type { TensorRecipe } from '../format/logical-tensor.js';
import type { GroupReportOptions } from '../partial/tensor-reports.js';
import type { RecipePassRequest } from './recipes/recipe-pass.js';
import type { PieceResult, PieceTask } from './scan-engine.js';
import type { SuspectGrid } from './scan-tensor.js';

/** One stored tensor a reader is built on, as a worker opens it itself: file path and where the tensor lies. */
export interface WorkerLeaf {
  path: string;
  /** The file's size when the main thread read its header: a file that changed since is refused. */
  fileSize: number;
  name: string;
  dtype: string;
  shape: number[];
  start: number;
  byteLength: number;
}

/** A piece of a tensor, for its sums (scan-engine.ts PieceTask). */
export interface WorkerPieceTask {
  kind: 'piece';
  id: number;
  name: string;
  /** How to build each input's reader: suspect first, then the parents in --parents order. */
  inputs: TensorRecipe<WorkerLeaf>[];
  suspectGrid: SuspectGrid | null;
  from: number;
  to: number;
  pass: PieceTask['pass'];
  weights: number[] | null;
  recipes: RecipePassRequest | null;
}

/** One compared matrix of a tensor, its inputs as recipes (as in a piece task). */
export interface WorkerUnit {
  name: string;
  group: string;
  groupShape: readonly number[];
  shape: readonly number[];
  inputs: TensorRecipe<WorkerLeaf>[];
}

/**
 * A whole tensor, every unit and pass, reported on the worker: for a tensor no longer
 * than a piece, the main thread would otherwise receive its units' moments (33 KB each
 * with the profile) and fit them itself, the cost that dominates models of many small
 * tensors or expert slices.
 */
export interface WorkerReportTask {
  kind: 'report';
  id: number;
  name: string;
  shape: number[];
  units: WorkerUnit[];
  options: GroupReportOptions;
}

export type WorkerTask = WorkerPieceTask | WorkerReportTask;

export interface WorkerSetup {
  parents: number;
  reference: number;
  informativeUlps: number;
  chunkElements: number;
  readBytes: number;
  parentCells: boolean;
  /** The main engine's piece size: a worker reports whole only tensors no longer than a piece, cut the same way (into one piece). */
  pieceElements: number;
}

/** The error classes a worker can report, rebuilt on the main thread with their type. */
export interface WorkerError {
  kind: 'IoError' | 'MalformedInputError' | 'Error';
  file: string | null;
  message: string;
  stack: string | null;
}

/**
 * A task's result: a piece's sums as they are; a tensor's report as JSON text
 * (partial/tensor-json.ts, as checkpoints hold it), which the main thread keeps until
 * the run ends. JSON.parse lays its number arrays out as unboxed doubles, shares its
 * short strings and gives its objects one shape; structured clone made every number a
 * boxed one, every string a copy and every object's properties a second array. The
 * 10,000-tensor bench's reports: 44 MB of heap against 76 MB (heap snapshots after
 * analyze()); 100,000 tensors: peak RSS 1,281 -> 965 MB, the same time (46-47 s) and the
 * same report (docs/performance.md). What JSON loses, −0 (read as 0) and fields set to
 * undefined (left out), the JSON report and checkpoints lose too.
 */
export type WorkerResult = { id: number; result: PieceResult } | { id: number; report: string };

export type WorkerReply = { kind: 'results'; results: WorkerResult[] } | { kind: 'error'; id: number; error: WorkerError };
