import type { TensorMoments } from './moments.js';
import type { ReproducedCount } from './scan-engine.js';

/** One input of a piece, as a worker opens it itself: file path and where the tensor starts. */
export interface WorkerInput {
  path: string;
  start: number;
  dtype: string;
  byteLength: number;
}

export interface WorkerTask {
  id: number;
  name: string;
  elements: number;
  /** Suspect first, then the parents in --parents order. */
  inputs: WorkerInput[];
  from: number;
  to: number;
  weights: number[] | null;
}

export interface WorkerSetup {
  parents: number;
  reference: number;
  informativeUlps: number;
  chunkElements: number;
  readBytes: number;
}

/** The error classes a worker can report, rebuilt on the main thread with their type. */
export interface WorkerError {
  kind: 'IoError' | 'MalformedInputError' | 'Error';
  file: string | null;
  message: string;
  stack: string | null;
}

export type WorkerReply =
  | { kind: 'results'; results: { id: number; result: TensorMoments | ReproducedCount }[] }
  | { kind: 'error'; id: number; error: WorkerError };
