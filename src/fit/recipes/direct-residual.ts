import type { TensorMoments } from '../../engine/moments.js';
import { noiseRatioOf, zOf, type TensorFit } from '../tensor-fit.js';

/**
 * The fit with its residual replaced by one measured element by element (the recipe
 * pass) at the same weights: rss, noiseRatio, z, explained and relativeResidual
 * follow it. The Gram formula for rss subtracts numbers ~1e8 times larger than an F32
 * suspect's rounding residual and can leave 0 or several times the truth; the direct
 * sum cannot cancel. ‖e‖² and ‖s‖² are sums of squares, accurate from the moments.
 */
export function withDirectResidual(fit: TensorFit, moments: TensorMoments, rss: number): TensorFit {
  const k = moments.parents;
  const stride = k + 1;
  const changeNorm2 = moments.gram[k * stride + k]!;
  const suspectNorm2 = Math.max(0, moments.gram[0]! + 2 * moments.gram[k]! + changeNorm2);
  return {
    ...fit,
    rss,
    noiseRatio: noiseRatioOf(rss, moments.floor),
    z: zOf(rss, moments.floor, moments.floorVar),
    explained: changeNorm2 > 0 ? 1 - rss / changeNorm2 : null,
    relativeResidual: suspectNorm2 > 0 ? Math.sqrt(rss / suspectNorm2) : null,
    rssMethod: 'direct',
  };
}
