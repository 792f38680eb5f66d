import type { LayerStackingReport, ModelVerdict, StackingVerdict } from '../../report-schema.js';
import type { LayerRange } from './layer-map.js';

/** What the stacking pass found (src/partial/stacking-pass.ts). */
export interface StackingEvidence {
  ranges: readonly LayerRange[];
  tensors: NonNullable<LayerStackingReport['tensors']>;
}

/**
 * The suspect as a layer-stacked composition, or null when it is not one. It is one when
 * every suspect layer has a verified source (a parent tensor reproduces each of its
 * tensors bit for bit or within the rounding cell), the tensors with a source hold at
 * least `agreement` of the suspect's elements (embeddings, final norm and head come from
 * some parent too), and the layers are not simply one parent's, in place (that is a
 * copy, which the name-aligned scan already calls identical).
 */
export function stackingVerdict(evidence: StackingEvidence, agreement: number): StackingVerdict | null {
  const { ranges, tensors } = evidence;
  if (ranges.length === 0 || ranges.some((r) => r.parent === null)) return null;
  const only = ranges[0]!;
  if (ranges.length === 1 && only.parentFrom === only.suspectFrom) return null;
  let elements = 0;
  let explained = 0;
  for (const t of tensors) {
    elements += t.elements;
    if (t.parent !== null) explained += t.elements;
  }
  if (elements === 0 || explained / elements < agreement) return null;
  const parents: number[] = [];
  for (const r of ranges) if (!parents.includes(r.parent!)) parents.push(r.parent!);
  return {
    parents,
    ranges: ranges.map((r) => ({ ...r })),
    ...stackingCounts(tensors),
  };
}

/** Suspect tensors checked whole; of them, those bit-identical to their source and those with a source at all (within rounding). */
export function stackingCounts(tensors: readonly { parent: number | null; exact: number; elements: number }[]): { tensors: number; exact: number; withinCell: number } {
  return {
    tensors: tensors.length,
    exact: tensors.filter((t) => t.parent !== null && t.exact === t.elements).length,
    withinCell: tensors.filter((t) => t.parent !== null).length,
  };
}

/**
 * The model verdict of a layer-stacked suspect: statistics.md's `mixed` (its tensors,
 * compared by name, disagree: some copy a parent, others do not match the layer of that
 * name), with `stacking` saying what it is. The other fields keep what the name-aligned
 * comparison measured; `reason` says why they describe only part of the model.
 */
export function withStacking<V extends Omit<ModelVerdict, 'summary'>>(verdict: V, stacking: StackingVerdict | null): V {
  if (stacking === null) return verdict;
  // Element-wise counts over a stack compare layers that do not correspond.
  const { elementwise: _notAMerge, ...rest } = verdict;
  return {
    ...(rest as V),
    kind: 'mixed',
    parent: null,
    reason: 'the suspect stacks parent layers under other layer indexes; compared by name, its tensors describe only part of it',
    stacking,
  };
}
