import { castParents, castsParents, replayRecipe, sameBits, type CompiledRecipe } from './merge-arithmetic.js';
import { replayKernel, replaysInWasm } from './replay-wasm.js';

/**
 * Additive tallies of a second read: for each candidate recipe, how many elements of
 * one tensor it reproduces bit for bit. Like TensorMoments, a tensor can be split into
 * ranges and the parts added (`addExactMatches`).
 *
 * Two denominators, because elements where every parent holds the same value are
 * reproduced by almost any recipe and prove little: `finite` (suspect and every parent
 * finite) and `parentsDiffer` (finite, and some parent differs from another).
 */
export interface ExactMatchCounts {
  finite: number;
  parentsDiffer: number;
  /** Per recipe, in the order given: reproduced among `finite` elements. */
  readonly reproduced: Float64Array;
  /** Per recipe: reproduced among `parentsDiffer` elements. */
  readonly reproducedWhereParentsDiffer: Float64Array;
}

export function emptyExactMatches(recipes: number): ExactMatchCounts {
  return { finite: 0, parentsDiffer: 0, reproduced: new Float64Array(recipes), reproducedWhereParentsDiffer: new Float64Array(recipes) };
}

export function addExactMatches(into: ExactMatchCounts, part: ExactMatchCounts): void {
  if (into.reproduced.length !== part.reproduced.length) throw new Error('addExactMatches: tallies of different recipe lists');
  into.finite += part.finite;
  into.parentsDiffer += part.parentsDiffer;
  for (let r = 0; r < into.reproduced.length; r++) {
    into.reproduced[r]! += part.reproduced[r]!;
    into.reproducedWhereParentsDiffer[r]! += part.reproducedWhereParentsDiffer[r]!;
  }
}

/**
 * Scratch for `countExactMatches`: per-element class (0 skip, 1 finite with parents
 * equal, 2 finite with parents differing) and the replayed values. Reused across
 * chunks so the pass allocates nothing per chunk.
 */
export class ExactMatchScratch {
  readonly elementClass: Uint8Array;
  readonly replayed: Float64Array;
  /** The parents cast to the recipes' format, made when first needed (castParents). */
  private readonly cast: Float64Array[] = [];
  constructor(readonly capacity: number) {
    this.elementClass = new Uint8Array(capacity);
    this.replayed = new Float64Array(capacity);
  }

  castArrays(parents: number): Float64Array[] {
    while (this.cast.length < parents) this.cast.push(new Float64Array(this.capacity));
    return this.cast.slice(0, parents);
  }
}

/**
 * Adds to `counts` the elements of one decoded chunk that each recipe reproduces bit for
 * bit. `parents` are in --parents order, as the recipes' weights are.
 */
export function countExactMatches(
  suspect: Float64Array,
  parents: readonly Float64Array[],
  count: number,
  recipes: readonly CompiledRecipe[],
  scratch: ExactMatchScratch,
  counts: ExactMatchCounts,
): void {
  if (count > scratch.capacity) throw new Error('countExactMatches: chunk larger than the scratch buffers');
  const k = parents.length;
  const elementClass = scratch.elementClass;
  for (let i = 0; i < count; i++) {
    const s = suspect[i]!;
    let finite = Number.isFinite(s);
    let differ = false;
    const first = parents[0]![i]!;
    for (let j = 0; j < k && finite; j++) {
      const p = parents[j]![i]!;
      if (!Number.isFinite(p)) finite = false;
      else if (!sameBits(p, first)) differ = true;
    }
    elementClass[i] = finite ? (differ ? 2 : 1) : 0;
    if (finite) {
      counts.finite++;
      if (differ) counts.parentsDiffer++;
    }
  }
  const out = scratch.replayed;
  // The usual candidates (two parents; a BF16, F16 or F32 suspect) are replayed in WebAssembly, on one copy of the chunk.
  const wasm = k === 2 && recipes.some(replaysInWasm) ? replayKernel() : null;
  wasm?.load(suspect, parents[0]!, parents[1]!, elementClass, count);
  // The parents cast to the recipes' format (one for all of a tensor's candidates), once
  // per chunk for every candidate that casts them.
  let cast: Float64Array[] | null = null;
  let castFormat: CompiledRecipe['format'] | null = null;
  for (let r = 0; r < recipes.length; r++) {
    const recipe = recipes[r]!;
    if (wasm && replaysInWasm(recipe)) {
      wasm.replay(recipe, counts, r);
      continue;
    }
    if (castsParents(recipe) && castFormat !== recipe.format) {
      cast = scratch.castArrays(k);
      castParents(recipe.format, parents, count, cast);
      castFormat = recipe.format;
    }
    replayRecipe(recipe, parents, count, out, castsParents(recipe) ? cast! : undefined);
    let all = 0;
    let differing = 0;
    for (let i = 0; i < count; i++) {
      const c = elementClass[i]!;
      if (c === 0 || !sameBits(out[i]!, suspect[i]!)) continue;
      all++;
      if (c === 2) differing++;
    }
    counts.reproduced[r]! += all;
    counts.reproducedWhereParentsDiffer[r]! += differing;
  }
}
