import type { AlignedTensor } from '../align/align-tensors.js';
import { addMoments, emptyMoments, type TensorMoments } from './moments.js';
import { piecesOf, PIECE_ELEMENTS } from './scan-plan.js';
import { DEFAULT_CHUNK_ELEMENTS, TensorScanner, type ElementRange } from './scan-tensor.js';

export interface ScanSettings {
  parents: number;
  reference: number;
  informativeUlps: number;
  chunkElements?: number;
  readBytes?: number;
  /** Elements per piece of a long tensor (tests make it small); default PIECE_ELEMENTS. */
  pieceElements?: number;
  /** Input bytes consumed so far, called as pieces complete. */
  onBytes?: (bytes: number) => void;
}

export interface ReproducedCount {
  informative: number;
  reproduced: number;
}

/** One piece of work: an element range of a tensor, for moments or (with weights) for a reproduction count. */
export interface PieceTask {
  tensor: AlignedTensor;
  range: ElementRange;
  weights: readonly number[] | null;
}

export type PieceResult = TensorMoments | ReproducedCount;

/**
 * Where the scanning runs: in this thread or on workers. Either way a tensor is cut into
 * the same pieces (scan-plan.ts) and their sums are added in the same order, so the
 * moments are bit-identical whatever runs them.
 */
export abstract class ScanEngine {
  protected readonly pieceElements: number;

  constructor(protected readonly settings: ScanSettings) {
    this.pieceElements = settings.pieceElements ?? PIECE_ELEMENTS;
  }

  protected abstract runPiece(task: PieceTask): Promise<PieceResult>;

  abstract close(): Promise<void>;

  async moments(tensor: AlignedTensor): Promise<TensorMoments> {
    const pieces = piecesOf(tensor.suspect.elements, this.pieceElements);
    const parts = (await Promise.all(pieces.map((range) => this.runPiece({ tensor, range, weights: null })))) as TensorMoments[];
    if (parts.length === 1) return parts[0]!;
    const total = emptyMoments(this.settings.parents, this.settings.reference);
    for (const part of parts) addMoments(total, part);
    return total;
  }

  async reproduced(tensor: AlignedTensor, weights: readonly number[]): Promise<ReproducedCount> {
    const pieces = piecesOf(tensor.suspect.elements, this.pieceElements);
    const parts = (await Promise.all(pieces.map((range) => this.runPiece({ tensor, range, weights })))) as ReproducedCount[];
    return parts.reduce((sum, part) => ({ informative: sum.informative + part.informative, reproduced: sum.reproduced + part.reproduced }), {
      informative: 0,
      reproduced: 0,
    });
  }
}

/** Bytes a piece reads: every input's share of the range. */
export function pieceBytes(task: PieceTask): number {
  const count = task.range.to - task.range.from;
  const perElement = [task.tensor.suspect, ...task.tensor.parents].reduce(
    (sum, t) => sum + (t.elements > 0 ? t.byteLength / t.elements : 0),
    0,
  );
  return count * perElement;
}

/** `--threads 0`: one scanner in this thread, pieces one after another. */
export class InProcessEngine extends ScanEngine {
  private readonly scanner: TensorScanner;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(settings: ScanSettings) {
    super(settings);
    this.scanner = new TensorScanner(settings.parents, {
      reference: settings.reference,
      informativeUlps: settings.informativeUlps,
      chunkElements: settings.chunkElements ?? DEFAULT_CHUNK_ELEMENTS,
      ...(settings.readBytes === undefined ? {} : { readBytes: settings.readBytes }),
      ...(settings.onBytes === undefined ? {} : { onBytes: settings.onBytes }),
    });
  }

  protected runPiece(task: PieceTask): Promise<PieceResult> {
    // One scanner owns one set of buffers: pieces take turns.
    const run = this.tail.then((): Promise<PieceResult> =>
      task.weights === null ? this.scanner.scan(task.tensor, task.range) : this.scanner.countReproduced(task.tensor, task.weights, task.range),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
