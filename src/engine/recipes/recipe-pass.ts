import { decode, decodeWithCell, floatFormat } from '../../format/dtype.js';
import type { LogicalTensor } from '../../format/logical-tensor.js';
import type { TensorDescriptor } from '../../format/model-layout.js';
import { codeArrayOf, codes16Kernel } from '../accumulate-codes16.js';
import { cellsOnGrid } from '../grid-cells.js';
import { addExactMatches, countExactMatches, emptyExactMatches, ExactMatchScratch, type ExactMatchCounts } from './exact-match-count.js';
import { compileRecipe, type MergeRecipe } from './merge-arithmetic.js';

/**
 * The recipe pass: a second read of one tensor (or of an element range of it: the
 * results are additive), after its fit, that measures what the moments cannot, because
 * it needs the fitted weights (docs/forensics.md):
 * - the residual ‖s − Σ w_j p_j‖² at the reported blend weights, element by element in
 *   float64 (each chunk summed plainly, the chunk totals with Neumaier compensation).
 *   The Gram formula ‖e‖² − 2βᵀDᵀe + βᵀDᵀDβ cancels catastrophically when the residual
 *   is 1e-8 of ‖e‖² (an F32 suspect of far-apart parents); this does not;
 * - how many informative elements (parents ≥ informativeUlps of the suspect's step
 *   apart) the blend at those weights reproduces bit for bit (the scanner's
 *   countReproduced is this pass with nothing replayed);
 * - for each candidate recipe, the elements it reproduces bit for bit — over the first
 *   `replayElements` elements of the range only: each recipe costs 2–7 ns an element
 *   (`npm run bench:kernel`, which times the replay per arithmetic), up to 30 of them
 *   (MAX_CANDIDATES), so the replay is a sample (the report says how many elements it
 *   covered).
 */
export interface RecipePassRequest {
  reference: number;
  informativeUlps: number;
  /** Blend weights per parent (--parents order, summing to 1) at which to measure the residual; null: skip it. */
  weights: readonly number[] | null;
  recipes: readonly MergeRecipe[];
  /** The format the recipes are replayed into: the grid the suspect's values lie on (null only without recipes). */
  replayDtype: string | null;
  /** Elements from the start of the range on which the recipes are replayed. */
  replayElements: number;
  /**
   * Measure the residual and the reproduced share at `weights` over the whole range; when
   * false only the replay's elements are read (the range should then end there).
   */
  residual: boolean;
}

export interface RecipePassResult {
  /** Elements finite in the suspect and every parent, and the direct residual over them (null when not asked). */
  used: number;
  rss: number | null;
  /** Informative elements, and those the blend at `weights` reproduces (0 and 0 when not asked). */
  informative: number;
  reproduced: number;
  matches: ExactMatchCounts;
}

export interface RecipePassInput {
  readonly suspect: LogicalTensor;
  /** In --parents order. */
  readonly parents: readonly LogicalTensor[];
  /** A grid coarser than the suspect's storage that its values lie on: its cells are the suspect's (scan-tensor.ts). */
  readonly suspectGrid?: string | null;
}

/**
 * Decoded-chunk buffers for `recipePass`, kept by the caller (one per scanning thread)
 * so that thousands of small tensors do not each allocate a chunk's worth of arrays.
 */
export class RecipePassScratch {
  /** The raw F32 chunks of suspect and parents (`RawF32Inputs`), made when first needed. */
  raw: Uint8Array[] = [];
  readonly suspect: Float64Array;
  readonly above: Float64Array;
  readonly below: Float64Array;
  readonly parents: Float64Array[];
  readonly matches: ExactMatchScratch;
  constructor(
    parents: number,
    readonly chunkElements: number,
  ) {
    this.suspect = new Float64Array(chunkElements);
    this.above = new Float64Array(chunkElements);
    this.below = new Float64Array(chunkElements);
    this.parents = Array.from({ length: parents }, () => new Float64Array(chunkElements));
    this.matches = new ExactMatchScratch(chunkElements);
  }
}

export function emptyRecipePassResult(recipes: number, residual: boolean): RecipePassResult {
  return { used: 0, rss: residual ? 0 : null, informative: 0, reproduced: 0, matches: emptyExactMatches(recipes) };
}

/**
 * into += part, for the ranges of one tensor (or the units of one group). A part that
 * measured no residual (a replay-only read) leaves `into`'s residual as it is.
 */
export function addRecipePassResults(into: RecipePassResult, part: RecipePassResult): void {
  into.used += part.used;
  into.informative += part.informative;
  into.reproduced += part.reproduced;
  if (part.rss !== null) into.rss = (into.rss ?? 0) + part.rss;
  addExactMatches(into.matches, part.matches);
}

/**
 * Where the stored F32 codes of the suspect and two parents (in --parents order) lie,
 * when they are plain stored tensors or contiguous slices of them (scan-tensor.ts's
 * fused inputs): the residual is then summed over the codes in WebAssembly
 * (`Codes16Kernel.residualF32`), and values are decoded only for the replay.
 */
export type RawF32Inputs = readonly Pick<TensorDescriptor, 'shard' | 'start'>[];

/** Reads elements [from, to) of every input chunk by chunk and measures them (see above). */
export async function recipePass(
  input: RecipePassInput,
  request: RecipePassRequest,
  from: number,
  to: number,
  scratch: RecipePassScratch,
  rawF32: RawF32Inputs | null = null,
): Promise<RecipePassResult> {
  const k = input.parents.length;
  if (scratch.parents.length !== k) throw new Error('recipePass: scratch made for another parent count');
  const n = scratch.chunkElements;
  const { suspect, above, below, parents } = scratch;
  const format = request.replayDtype === null ? null : floatFormat(request.replayDtype);
  if (request.recipes.length > 0 && format === null) throw new Error('recipePass: recipes to replay need the suspect format');
  const replayEnd = Math.min(to, from + request.replayElements);
  // Only a read that replays compiles the candidates (SLERP's take trigonometry), and only
  // one that counts reproduced elements needs the suspect's rounding cells.
  const compiled = format === null || replayEnd <= from ? [] : request.recipes.map((recipe) => compileRecipe(recipe, format));
  const matches = emptyExactMatches(request.recipes.length);
  const weights = request.residual ? request.weights : null;
  const cells = weights !== null;
  const grid = input.suspectGrid && cells ? floatFormat(input.suspectGrid) : null;
  let used = 0;
  let informative = 0;
  let reproduced = 0;
  // Neumaier-compensated total of the per-chunk residual sums.
  let rss = 0;
  let rssCompensation = 0;
  const end = request.residual ? to : replayEnd;
  const raw = rawF32 !== null && weights !== null && k === 2 && !grid ? rawF32 : null;
  if (raw) while (scratch.raw.length < 3) scratch.raw.push(new Uint8Array(4 * n));

  for (let first = from; first < end; first += n) {
    const count = Math.min(n, end - first);
    let part: ChunkResidual;
    if (raw) {
      // The codes, read raw; values decoded only where candidates are replayed.
      const views = await Promise.all(raw.map((t, i) => t.shard.source.read(t.start + 4 * first, t.start + 4 * (first + count), scratch.raw[i])));
      const codes = views.map((view) => codeArrayOf(view, 4) as Uint32Array);
      if (first < replayEnd) {
        const replayed = Math.min(count, replayEnd - first);
        decode(FLOAT32, views[0]!, suspect, replayed);
        for (let j = 0; j < k; j++) decode(FLOAT32, views[j + 1]!, parents[j]!, replayed);
        countExactMatches(suspect, parents, replayed, compiled, scratch.matches, matches);
      }
      const reference = request.reference;
      const fast = codes16Kernel().residualF32(codes[0]!, codes[1 + reference]!, codes[2 - reference]!, 0, count, weights![1 - reference]!, request.informativeUlps);
      if (fast) {
        part = fast;
      } else {
        // A NaN or an infinity in the chunk: its elements one by one, as below.
        decodeWithCellsOf(views, suspect, above, below, parents, count);
        part = chunkResidual(suspect, above, below, parents, count, request, weights);
      }
    } else {
      await Promise.all([
        cells ? input.suspect.read(first, count, suspect, above, below) : input.suspect.read(first, count, suspect),
        ...input.parents.map((p, j) => p.read(first, count, parents[j]!)),
      ]);
      if (grid) cellsOnGrid(grid, suspect, count, above, below);
      if (first < replayEnd) countExactMatches(suspect, parents, Math.min(count, replayEnd - first), compiled, scratch.matches, matches);
      if (!request.residual) continue;
      part = chunkResidual(suspect, above, below, parents, count, request, weights);
    }
    used += part.used;
    informative += part.informative;
    reproduced += part.reproduced;
    const chunkRss = part.rss;
    const total = rss + chunkRss;
    rssCompensation += Math.abs(rss) >= Math.abs(chunkRss) ? rss - total + chunkRss : chunkRss - total + rss;
    rss = total;
  }
  return { used, rss: weights ? rss + rssCompensation : null, informative, reproduced, matches };
}

const FLOAT32 = floatFormat('F32')!;

/** One chunk's direct residual: the elements used, their squared residuals' sum, the informative and the reproduced ones. */
interface ChunkResidual {
  used: number;
  rss: number;
  informative: number;
  reproduced: number;
}

/** The raw F32 chunks decoded with the suspect's cells, for `chunkResidual`. */
function decodeWithCellsOf(views: Uint8Array[], suspect: Float64Array, above: Float64Array, below: Float64Array, parents: Float64Array[], count: number): void {
  decodeWithCell(FLOAT32, views[0]!, suspect, above, below, count);
  parents.forEach((values, j) => decode(FLOAT32, views[j + 1]!, values, count));
}

/**
 * One chunk's residual, element by element: the elements finite in the suspect and every
 * parent, their squared residuals' plain sum, the informative ones and those reproduced.
 */
function chunkResidual(
  suspect: Float64Array,
  above: Float64Array,
  below: Float64Array,
  parents: Float64Array[],
  count: number,
  request: RecipePassRequest,
  weights: readonly number[] | null,
): ChunkResidual {
  const k = parents.length;
  let used = 0;
  let informative = 0;
  let reproduced = 0;
  let chunkRss = 0;
  const base = parents[request.reference]!;
  for (let i = 0; i < count; i++) {
    const s = suspect[i]!;
    const r = base[i]!;
    if (!Number.isFinite(s) || !Number.isFinite(r)) continue;
    // e − Σ β_j d_j on differences from the reference (statistics.md): the weights sum
    // to 1, and the large common part r cancels exactly before any product is formed.
    let change = 0;
    let largestDifference = 0;
    let finite = true;
    for (let j = 0; j < k; j++) {
      const p = parents[j]![i]!;
      if (!Number.isFinite(p)) finite = false;
      if (j === request.reference) continue;
      const d = p - r;
      const absD = d < 0 ? -d : d;
      if (absD > largestDifference) largestDifference = absD;
      if (weights) change += weights[j]! * d;
    }
    if (!finite) continue;
    used++;
    const residual = s - r - change;
    chunkRss += residual * residual;
    if (!weights || largestDifference === 0) continue;
    const up = above[i]!;
    const down = below[i]!;
    if (largestDifference < request.informativeUlps * (up > down ? up : down)) continue;
    informative++;
    // The blend r + Σ w_j d_j inside the suspect value's rounding cell: reproduced.
    // blend ≥ s − below/2 and blend ≤ s + above/2, with s − blend = residual.
    if (residual <= down / 2 && residual >= -up / 2) reproduced++;
  }
  return { used, rss: chunkRss, informative, reproduced };
}
