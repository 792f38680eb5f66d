import { extended } from '../object-shape.js';
import type { TensorMoments } from '../engine/moments.js';

/**
 * `--floor all`: the rounding noise of the parents, carried into the suspect by the blend,
 * added to the suspect's own (statistics.md, "The floor"). A blend s = Σ c_j p_j of
 * parents each rounded with error u_j (uniform over its cell, independent) carries
 * Σ c_j u_j, so the expected squared residual per element is
 *   ulp(s)²/12 + Σ_j c_j² ulp(p_j)²/12,
 * and the floor is the sum of that over elements: floor + Σ_j c_j² · parentFloor_j,
 * with parentFloor_j = Σ_i ulp(p_j,i)²/12 summed by the engine. The same holds over the
 * informative elements. floorVar is scaled by (new floor / old floor)², which is exact
 * when every element's cells are in the same proportion and a fair approximation
 * otherwise (the verdicts read noiseRatio, not z).
 *
 * `weights` are per parent in --parents order (null read as 0).
 */
export function withParentNoise(moments: TensorMoments, weights: readonly (number | null)[]): TensorMoments {
  let added = 0;
  let informativeAdded = 0;
  for (let j = 0; j < moments.parents; j++) {
    const c = weights[j] ?? 0;
    added += c * c * moments.parentFloor[j]!;
    informativeAdded += c * c * moments.informative.parentFloor[j]!;
  }
  const floor = moments.floor + added;
  const scale = moments.floor > 0 ? floor / moments.floor : 1;
  return {
    ...moments,
    floor,
    floorVar: moments.floorVar * scale * scale,
    informative: extended(moments.informative, { floor: moments.informative.floor + informativeAdded }),
  };
}
