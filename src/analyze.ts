import type { Report, Thresholds } from './report-schema.js';

export interface AnalyzeOptions {
  /** Paths as the user typed them. */
  suspect: string;
  parents: string[];
  /** Index into `parents` of the reference (--base); default 0. */
  reference?: number;
  /** A tensor is analysed when it matches some include (or none are given) and no exclude. */
  include?: RegExp[];
  exclude?: RegExp[];
  thresholds?: Partial<Thresholds>;
  /** The command line, recorded in the report. */
  command?: string[];
  /** Elements per chunk read and decoded at once (bounded memory). */
  chunkElements?: number;
}

export interface AnalyzeProgress {
  phase: 'open' | 'scan' | 'done';
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
}

export type ProgressListener = (progress: AnalyzeProgress) => void;

/** Runs one analysis: open inputs, align, scan, fit, judge, build the report. */
export declare function analyze(options: AnalyzeOptions, onProgress?: ProgressListener): Promise<Report>;
