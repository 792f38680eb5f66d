/**
 * Layer stacking ("frankenmerges", mergekit passthrough with slices): for each suspect
 * tensor, the parent tensor of the same shape — under any name or layer index — that it
 * copies. Cheap first: every tensor of the suspect and the parents is sketched
 * (tensor-sketch.ts) over a few seeded blocks, the same positions for every tensor of
 * one size, so sketch distances pick candidates without reading whole tensors. Exact
 * after: each suspect tensor is read whole beside its nearest candidates and counted
 * element by element (bit-identical, or within the suspect's rounding cell for a copy
 * stored in another dtype). Only verified sources enter the layer map.
 *
 * Runs only when the name alignment leaves something unexplained (suspect tensors with no
 * parent of their name, or aligned tensors the parents do not explain): a plain blend,
 * fine-tune or copy costs nothing extra.
 */
import { layerOf } from '../align/tensor-name.js';
import { accumulateSketch, emptySketch } from '../engine/recipes/tensor-sketch.js';
import { sameBits } from '../engine/recipes/merge-arithmetic.js';
import type { LogicalTensor } from '../format/logical-tensor.js';
import type { LogicalModel } from '../format/quantization/schemes.js';
import type { LayerStackingReport, TensorReport } from '../report-schema.js';
import { findTensorSources, layerMap, type LayerRange, type SketchedTensor, type TensorSource } from '../verdict/recipes/layer-map.js';

/** Blocks per tensor and their length: 8 × 512 = 4,096 positions, a 16 KB read per bf16 tensor. */
export const SKETCH_BLOCKS = 8;
export const SKETCH_BLOCK_ELEMENTS = 512;
/** Candidates verified per suspect tensor: the nearest, and further ones only while they tie at distance 0 (repeated tensors). */
const MAX_VERIFIED = 4;
/** Elements per read of the exact check (bounded memory whatever the tensor's size). */
const CHECK_CHUNK = 1 << 16;

export type StackedTensor = NonNullable<LayerStackingReport['tensors']>[number];

export interface StackingFinding {
  /** Per suspect tensor: the verified source (parent null when none reproduces it). */
  sources: TensorSource[];
  ranges: LayerRange[];
  tensors: StackedTensor[];
}

export interface StackingInputs {
  suspect: LogicalModel;
  /** In --parents order. */
  parents: readonly LogicalModel[];
  /** The name-aligned scan's tensor reports. */
  tensors: readonly TensorReport[];
  /** Suspect tensors no parent has under their name. */
  suspectOnly: readonly string[];
  /** Slices that are whole stored tensors of the suspect (its experts stored one by one): the pass can find where such a slice came from. */
  storedSlices?: ReadonlySet<string>;
  seed?: number;
}

/**
 * Whether the name alignment left something for the stacking pass to explain: a suspect
 * tensor no parent has, or one unrelated to its namesakes, whole or as one of its
 * `storedSlices` (an expert stored on its own and copied over another is one slice of a
 * tensor that stays close). The pass compares whole stored tensors: a fused tensor's
 * slice is none, and does not start it.
 */
export function stackingNeeded(tensors: readonly TensorReport[], suspectOnly: readonly string[], storedSlices?: ReadonlySet<string>): boolean {
  const unrelatedSlice = (t: TensorReport): boolean => storedSlices !== undefined && t.slices !== undefined && t.slices.some((s) => s.kind === 'unrelated' && storedSlices.has(s.name));
  return suspectOnly.length > 0 || tensors.some((t) => t.kind === 'unrelated' || unrelatedSlice(t));
}

/** The layer map of a stacked suspect, or null when the pass has nothing to explain. */
export async function stackingPass(inputs: StackingInputs): Promise<StackingFinding | null> {
  if (!stackingNeeded(inputs.tensors, inputs.suspectOnly, inputs.storedSlices)) return null;
  const seed = inputs.seed ?? 0x5eed;
  const suspectTensors = [...inputs.suspect.tensors.values()];
  const parentTensors = inputs.parents.map((model) => [...model.tensors.values()]);
  const suspectSketched: SketchedTensor[] = [];
  for (const t of suspectTensors) suspectSketched.push(await sketched(t, seed));
  const parentSketched: SketchedTensor[][] = [];
  for (const tensors of parentTensors) {
    const list: SketchedTensor[] = [];
    for (const t of tensors) list.push(await sketched(t, seed));
    parentSketched.push(list);
  }

  const nearest = findTensorSources(suspectSketched, parentSketched);
  const byName = parentTensors.map((tensors) => new Map(tensors.map((t) => [t.name, t])));
  const verified: { parent: number; name: string; distance: number; exact: number; withinCell: number }[][] = [];
  const elementsOf: number[] = [];
  for (const [i, s] of suspectTensors.entries()) {
    const found: (typeof verified)[number] = [];
    for (const candidate of nearest[i]!.candidates) {
      if (found.length >= MAX_VERIFIED || (found.length > 0 && candidate.distance > 0)) break;
      const check = await compareWhole(s, byName[candidate.parent]!.get(candidate.name)!);
      if (check.compared > 0 && check.withinCell === check.compared) found.push({ ...candidate, exact: check.exact, withinCell: check.withinCell });
    }
    verified.push(found);
    elementsOf.push(s.elements);
  }

  // A tensor repeated in the parents (equal norms of several layers) verifies against
  // each copy; take the one its layer's other tensors agree on.
  const votes = new Map<number, Map<string, number>>();
  suspectSketched.forEach((s, i) => {
    const first = verified[i]![0];
    if (s.layer === null || first === undefined) return;
    const key = `${first.parent}:${layerOf(first.name)}`;
    const tally = votes.get(s.layer) ?? new Map<string, number>();
    tally.set(key, (tally.get(key) ?? 0) + 1);
    votes.set(s.layer, tally);
  });
  const choice = verified.map((found, i) => {
    const layer = suspectSketched[i]!.layer;
    const tally = layer === null ? undefined : votes.get(layer);
    if (!tally || found.length < 2) return found[0] ?? null;
    const mode = [...tally.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    return found.find((f) => `${f.parent}:${layerOf(f.name)}` === mode) ?? found[0]!;
  });

  const sources: TensorSource[] = suspectSketched.map((s, i) => {
    const chosen = choice[i];
    return {
      name: s.name,
      parent: chosen?.parent ?? null,
      source: chosen?.name ?? null,
      distance: chosen?.distance ?? nearest[i]!.distance,
      candidates: nearest[i]!.candidates,
    };
  });
  return {
    sources,
    ranges: layerMap(suspectSketched, sources, parentSketched),
    tensors: suspectSketched.map((s, i) => ({
      name: s.name,
      layer: s.layer,
      parent: choice[i]?.parent ?? null,
      source: choice[i]?.name ?? null,
      distance: choice[i]?.distance ?? nearest[i]!.distance,
      elements: elementsOf[i]!,
      exact: choice[i]?.exact ?? 0,
      withinCell: choice[i]?.withinCell ?? 0,
    })),
  };
}

/**
 * Start of each sketched block of a tensor of `elements` elements: SKETCH_BLOCKS blocks
 * spread over equal strata, each placed by a hash of (seed, elements, block) — the same
 * for every tensor of that size, so that their sketches compare. Small tensors are read whole.
 */
export function sketchBlocks(elements: number, seed: number): { first: number; count: number }[] {
  if (elements <= SKETCH_BLOCKS * SKETCH_BLOCK_ELEMENTS) return elements > 0 ? [{ first: 0, count: elements }] : [];
  const stratum = Math.floor(elements / SKETCH_BLOCKS);
  return Array.from({ length: SKETCH_BLOCKS }, (_, b) => {
    const room = Math.max(1, stratum - SKETCH_BLOCK_ELEMENTS + 1);
    const offset = mix(seed, elements, b) % room;
    return { first: b * stratum + offset, count: Math.min(SKETCH_BLOCK_ELEMENTS, elements - b * stratum - offset) };
  });
}

function mix(seed: number, elements: number, block: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(elements | 0, 0xc2b2ae35) ^ Math.imul(Math.floor(elements / 2 ** 32) + block + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

async function sketched(tensor: LogicalTensor, seed: number): Promise<SketchedTensor> {
  const sketch = emptySketch();
  const blocks = sketchBlocks(tensor.elements, seed);
  const values = new Float64Array(Math.max(1, ...blocks.map((b) => b.count)));
  for (const block of blocks) {
    await tensor.read(block.first, block.count, values);
    accumulateSketch(values, block.count, block.first, sketch);
  }
  return { name: tensor.name, shape: tensor.shape, layer: layerOf(tensor.name), sketch };
}

/**
 * Elements of `suspect` bit-identical to `source`, and within the suspect's rounding
 * cell of it ([s − below/2, s + above/2], dtype.ts): a copy saved in another dtype is
 * the source rounded, and lands there. Non-finite suspect elements count as equal when
 * the source holds the same bits.
 */
async function compareWhole(suspect: LogicalTensor, source: LogicalTensor): Promise<{ compared: number; exact: number; withinCell: number }> {
  const chunk = Math.min(CHECK_CHUNK, Math.max(1, suspect.elements));
  const s = new Float64Array(chunk);
  const above = new Float64Array(chunk);
  const below = new Float64Array(chunk);
  const p = new Float64Array(chunk);
  let compared = 0;
  let exact = 0;
  let withinCell = 0;
  for (let first = 0; first < suspect.elements; first += chunk) {
    const count = Math.min(chunk, suspect.elements - first);
    await suspect.read(first, count, s, above, below);
    await source.read(first, count, p);
    for (let i = 0; i < count; i++) {
      const x = s[i]!;
      const y = p[i]!;
      compared++;
      if (sameBits(x, y) || (Number.isNaN(x) && Number.isNaN(y))) {
        exact++;
        withinCell++;
      } else if (Number.isFinite(x) && y >= x - below[i]! / 2 && y <= x + above[i]! / 2) {
        withinCell++;
      }
    }
  }
  return { compared, exact, withinCell };
}
