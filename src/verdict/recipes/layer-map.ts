import type { TensorSketch } from '../../engine/recipes/tensor-sketch.js';
import { sketchDistance } from '../../engine/recipes/tensor-sketch.js';

/**
 * Layer stacking: which parent tensor each suspect tensor copies, and the layer map
 * ("suspect layers 0–1 = A layers 0–1; 2–4 = B layers 1–3").
 */

/** A tensor of the suspect or of a parent, as the sketch pass describes it. */
export interface SketchedTensor {
  name: string;
  shape: readonly number[];
  /** Block index from the name (layerOf), null outside the blocks. */
  layer: number | null;
  sketch: TensorSketch;
}

/**
 * Sketch distances below this are candidates for the exact check. A fine-tune of the
 * same tensor sits near 1e-4 of its norm, an unrelated tensor of the same shape near 2;
 * 0.05 keeps the first with room for the sketch's ±35% estimation error on the second.
 */
export const SKETCH_CANDIDATE_DISTANCE = 0.05;

export interface TensorSource {
  /** The suspect tensor. */
  name: string;
  /** Best source found: parent index and tensor name, with its sketch distance; null when nothing of that shape is close. */
  parent: number | null;
  source: string | null;
  distance: number | null;
  /** Every candidate under SKETCH_CANDIDATE_DISTANCE, nearest first: what the exact check must compare. */
  candidates: { parent: number; name: string; distance: number }[];
}

/** The role of a tensor within its block: its name with the block index replaced, so that layer 3's q_proj matches layer 1's. */
export function roleOf(name: string): string {
  return name.replace(/(^|\.)(layers|layer|h|blocks|block)\.\d+\./, '$1$2.*.');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * For each suspect tensor, the parent tensors of the same shape whose sketches are
 * close, nearest first. Same-role tensors are preferred on equal distance (a copy of
 * layer 2's q_proj is far likelier to be a q_proj than a k_proj of the same shape).
 */
export function findTensorSources(suspect: readonly SketchedTensor[], parents: readonly (readonly SketchedTensor[])[]): TensorSource[] {
  return suspect.map((s) => {
    const role = roleOf(s.name);
    const candidates: { parent: number; name: string; distance: number; sameRole: boolean }[] = [];
    parents.forEach((tensors, parent) => {
      for (const p of tensors) {
        if (!sameShape(s.shape, p.shape)) continue;
        const distance = sketchDistance(s.sketch, p.sketch);
        if (distance <= SKETCH_CANDIDATE_DISTANCE) candidates.push({ parent, name: p.name, distance, sameRole: roleOf(p.name) === role });
      }
    });
    candidates.sort((a, b) => a.distance - b.distance || Number(b.sameRole) - Number(a.sameRole) || a.parent - b.parent);
    const best = candidates[0];
    return {
      name: s.name,
      parent: best?.parent ?? null,
      source: best?.name ?? null,
      distance: best?.distance ?? null,
      candidates: candidates.map(({ parent, name, distance }) => ({ parent, name, distance })),
    };
  });
}

export interface LayerRange {
  /** Suspect layers [from, to], inclusive. */
  suspectFrom: number;
  suspectTo: number;
  /** null when the suspect's layers in this range have no source (or their tensors disagree). */
  parent: number | null;
  parentFrom: number | null;
  parentTo: number | null;
}

/**
 * The layer map: each suspect layer takes the (parent, parent layer) that most of its
 * tensors' sources agree on (all of them, or the layer has no source); consecutive
 * suspect layers that map to consecutive layers of one parent form one range.
 */
export function layerMap(suspect: readonly SketchedTensor[], sources: readonly TensorSource[], parents: readonly (readonly SketchedTensor[])[]): LayerRange[] {
  const layerOfSource = new Map<string, number | null>();
  parents.forEach((tensors, parent) => tensors.forEach((t) => layerOfSource.set(`${parent}\u0000${t.name}`, t.layer)));
  const perLayer = new Map<number, { parent: number; layer: number }[] | null>();
  suspect.forEach((s, i) => {
    if (s.layer === null) return;
    const source = sources[i]!;
    const entry = perLayer.has(s.layer) ? perLayer.get(s.layer)! : [];
    if (entry === null) return;
    const parentLayer = source.parent === null ? null : layerOfSource.get(`${source.parent}\u0000${source.source}`) ?? null;
    if (source.parent === null || parentLayer === null) perLayer.set(s.layer, null);
    else perLayer.set(s.layer, [...entry, { parent: source.parent, layer: parentLayer }]);
  });
  const layers = [...perLayer.keys()].sort((a, b) => a - b);
  const ranges: LayerRange[] = [];
  for (const layer of layers) {
    const entries = perLayer.get(layer)!;
    const agreed = entries !== null && entries.length > 0 && entries.every((e) => e.parent === entries[0]!.parent && e.layer === entries[0]!.layer) ? entries[0]! : null;
    const last = ranges[ranges.length - 1];
    const continues =
      last !== undefined &&
      last.suspectTo === layer - 1 &&
      (agreed === null
        ? last.parent === null
        : last.parent === agreed.parent && last.parentTo === agreed.layer - 1);
    if (continues) {
      last.suspectTo = layer;
      if (agreed) last.parentTo = agreed.layer;
    } else {
      ranges.push({ suspectFrom: layer, suspectTo: layer, parent: agreed?.parent ?? null, parentFrom: agreed?.layer ?? null, parentTo: agreed?.layer ?? null });
    }
  }
  return ranges;
}
