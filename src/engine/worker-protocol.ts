import type { TensorRecipe } from '../format/logical-tensor.js';
import type { RecipePassRequest } from './recipes/recipe-pass.js';
import type { PieceResult, PieceTask } from './scan-engine.js';
import type { SuspectGrid } from './scan-tensor.js';

/** One stored tensor a reader is built on, as a worker opens it itself: file path and where the tensor lies. */
export interface WorkerLeaf {
  path: string;
  name: string;
  dtype: string;
  shape: number[];
  start: number;
  byteLength: number;
}

export interface WorkerTask {
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

export interface WorkerSetup {
  parents: number;
  reference: number;
  informativeUlps: number;
  chunkElements: number;
  readBytes: number;
  parentCells: boolean;
}

/** The error classes a worker can report, rebuilt on the main thread with their type. */
export interface WorkerError {
  kind: 'IoError' | 'MalformedInputError' | 'Error';
  file: string | null;
  message: string;
  stack: string | null;
}

export type WorkerReply =
  | { kind: 'results'; results: { id: number; result: PieceResult }[] }
  | { kind: 'error'; id: number; error: WorkerError };
