import { extended } from '../object-shape.js';
import { addMoments, emptyMoments, type TensorMoments } from './moments.js';
import { addRecipePassResults, emptyRecipePassResult, type RecipePassRequest, type RecipePassResult } from './recipes/recipe-pass.js';
import { piecesOf, PIECE_ELEMENTS } from './scan-plan.js';
import { asScanTensor, DEFAULT_CHUNK_ELEMENTS, TensorScanner, type ElementRange, type ScanInput, type ScanTensor } from './scan-tensor.js';

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
  /** Sum the parents' rounding noise too (`--floor all`). */
  parentCells?: boolean;
}

export interface ReproducedCount {
  informative: number;
  reproduced: number;
}

/**
 * One piece of work: an element range of a tensor, for moments, for a reproduction
 * count at `weights`, for the grids the suspect's values lie on (bit flags), or for the
 * recipe pass (`recipes`).
 */
export interface PieceTask {
  tensor: ScanTensor;
  range: ElementRange;
  pass: 'moments' | 'reproduced' | 'grid' | 'recipes';
  weights: readonly number[] | null;
  recipes?: RecipePassRequest;
}

export type PieceResult = TensorMoments | ReproducedCount | number | RecipePassResult;

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

  /**
   * Units of one tensor worth scanning at once (lanes.ts): enough to keep every thread
   * busy on one tensor split into its experts, and a network source's latency covered.
   */
  abstract readonly unitLanes: number;

  abstract close(): Promise<void>;

  /**
   * Moments from this engine (a piece's, or a total it added up) that the caller has
   * finished with (added into a tensor's, or reported): an engine scanning in this
   * thread fills them again instead of allocating 33 KB per tensor or slice. Nothing
   * may read them afterwards.
   */
  recycle(_moments: TensorMoments): void {}

  async moments(input: ScanInput): Promise<TensorMoments> {
    const tensor = asScanTensor(input);
    const pieces = piecesOf(tensor.suspect.elements, this.pieceElements);
    const parts = (await Promise.all(pieces.map((range) => this.runPiece({ tensor, range, pass: 'moments', weights: null })))) as TensorMoments[];
    if (parts.length === 1) return parts[0]!;
    const total = emptyMoments(this.settings.parents, this.settings.reference);
    for (const part of parts) {
      addMoments(total, part);
      this.recycle(part);
    }
    return total;
  }

  /** Bit flags (scan-tensor.ts SUSPECT_GRIDS) of the grids every suspect value lies on. */
  async suspectGrids(input: ScanInput): Promise<number> {
    const tensor = asScanTensor(input);
    const pieces = piecesOf(tensor.suspect.elements, this.pieceElements);
    const parts = (await Promise.all(pieces.map((range) => this.runPiece({ tensor, range, pass: 'grid', weights: null })))) as number[];
    return parts.reduce((all, flags) => all & flags, 7);
  }

  /**
   * The recipe pass over elements [from, to) of a tensor, cut where the moments' pieces
   * are cut and added in order; the recipes are replayed on the range's first
   * `request.replayElements`.
   */
  async recipes(input: ScanInput, request: RecipePassRequest, range: ElementRange): Promise<RecipePassResult> {
    const tensor = asScanTensor(input);
    const replayEnd = range.from + request.replayElements;
    const parts = (await Promise.all(
      piecesOf(tensor.suspect.elements, this.pieceElements)
        .filter((piece) => piece.from < range.to && piece.to > range.from)
        .map((piece) => {
          const part = { from: Math.max(piece.from, range.from), to: Math.min(piece.to, range.to) };
          const replayElements = Math.max(0, Math.min(part.to, replayEnd) - part.from);
          return this.runPiece({ tensor, range: part, pass: 'recipes', weights: null, recipes: extended(request, { replayElements }) });
        }),
    )) as RecipePassResult[];
    const total = emptyRecipePassResult(request.recipes.length, request.residual && request.weights !== null);
    for (const part of parts) addRecipePassResults(total, part);
    return total;
  }

  async reproduced(input: ScanInput, weights: readonly number[]): Promise<ReproducedCount> {
    const tensor = asScanTensor(input);
    const pieces = piecesOf(tensor.suspect.elements, this.pieceElements);
    const parts = (await Promise.all(pieces.map((range) => this.runPiece({ tensor, range, pass: 'reproduced', weights })))) as ReproducedCount[];
    return parts.reduce((sum, part) => ({ informative: sum.informative + part.informative, reproduced: sum.reproduced + part.reproduced }), {
      informative: 0,
      reproduced: 0,
    });
  }
}

/** ScanEngine.unitLanes for one thread; workers take twice their number if more. */
export const UNIT_LANES = 64;

/**
 * Stored bytes a piece adds to the progress: every input's share of the range for the
 * moments pass. The other passes (grid, reproduced, recipes) re-read what the moments
 * read and are not counted again, so that progress ends at the tensors' bytes
 * (groupBytes), as it does for a tensor reported whole on a worker.
 */
export function pieceBytes(task: PieceTask): number {
  if (task.pass !== 'moments') return 0;
  const count = task.range.to - task.range.from;
  const inputs = [task.tensor.suspect, ...task.tensor.parents];
  const perElement = inputs.reduce((sum, t) => sum + (t.elements > 0 ? t.storedBytes / t.elements : 0), 0);
  return count * perElement;
}

/** One scanner in this thread, pieces one after another: `--threads 0`, and a worker reporting a tensor whole. */
export class InProcessEngine extends ScanEngine {
  /** One scanner takes pieces in turn: a window only overlaps a Hub source's round trips. */
  readonly unitLanes = UNIT_LANES;
  private readonly scanner: TensorScanner;
  private tail: Promise<unknown> = Promise.resolve();

  /** `scanner`: one made already (a worker's, whose buffers this engine then shares); else a new one. */
  constructor(settings: ScanSettings, scanner?: TensorScanner) {
    super(settings);
    this.scanner = scanner ?? new TensorScanner(settings.parents, {
      reference: settings.reference,
      informativeUlps: settings.informativeUlps,
      chunkElements: settings.chunkElements ?? DEFAULT_CHUNK_ELEMENTS,
      ...(settings.readBytes === undefined ? {} : { readBytes: settings.readBytes }),
      ...(settings.onBytes === undefined ? {} : { onBytes: settings.onBytes }),
      ...(settings.parentCells === undefined ? {} : { parentCells: settings.parentCells }),
    });
  }

  override recycle(moments: TensorMoments): void {
    this.scanner.recycle(moments);
  }

  protected runPiece(task: PieceTask): Promise<PieceResult> {
    // One scanner owns one set of buffers: pieces take turns.
    const run = this.tail.then((): Promise<PieceResult> => runScannerPiece(this.scanner, task));
    this.tail = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A piece on a scanner, in this thread or a worker. */
export function runScannerPiece(scanner: TensorScanner, task: PieceTask): Promise<PieceResult> {
  switch (task.pass) {
    case 'moments':
      return scanner.scan(task.tensor, task.range);
    case 'reproduced':
      return scanner.countReproduced(task.tensor, task.weights ?? [], task.range);
    case 'grid':
      return scanner.suspectGrids(task.tensor, task.range);
    case 'recipes':
      if (!task.recipes) throw new Error('runScannerPiece: a recipe piece without its request');
      return scanner.recipes(task.tensor, task.recipes, task.range);
  }
}
