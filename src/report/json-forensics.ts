import type { ElementwiseVerdict, ForensicsReport, RecipeReport, StackingVerdict } from '../report-schema.js';

/** The `forensics` section with its keys in schema order (src/report-schema.ts), as renderJson writes every section. */
export function forensicsJson(f: ForensicsReport): ForensicsReport {
  const recipe = (r: RecipeReport): RecipeReport => ({
    weights: [...r.weights],
    arithmetic: r.arithmetic,
    normalise: r.normalise,
    effectiveWeights: [...r.effectiveWeights],
    origin: r.origin,
    ...(r.method === undefined ? {} : { method: r.method }),
    ...(r.t === undefined ? {} : { t: r.t }),
    ...(r.base === undefined ? {} : { base: r.base }),
  });
  const c = f.reconstruction;
  const i = f.interpolation;
  const t = f.taskArithmetic;
  const e = f.elementwise;
  const d = f.parentDiscovery;
  const s = f.layerStacking;
  return {
    base: f.base,
    reconstruction: c && {
      recipe: recipe(c.recipe),
      elements: c.elements,
      parentsDiffer: c.parentsDiffer,
      reproduced: c.reproduced,
      reproducedShare: c.reproducedShare,
      reproducedWhereParentsDifferShare: c.reproducedWhereParentsDifferShare,
      consistent: c.consistent.map(recipe),
      runnersUp: c.runnersUp.map((entry) => ({ recipe: recipe(entry.recipe), share: entry.share })),
    },
    interpolation: i && {
      tensors: i.tensors,
      angle: i.angle,
      t: i.t,
      coefficientSum: i.coefficientSum,
      slerpSum: i.slerpSum,
      consistentTensors: {
        linear: i.consistentTensors.linear,
        linearFormatWeights: i.consistentTensors.linearFormatWeights,
        slerp: i.consistentTensors.slerp,
      },
      separableTensors: i.separableTensors,
      consistent: [...i.consistent],
    },
    taskArithmetic: t && { base: t.base, scales: [...t.scales], baseWeight: t.baseWeight, scaleSum: t.scaleSum },
    elementwise: e && {
      method: e.method,
      density: e.density,
      signElection: e.signElection,
      keptBaseShare: e.keptBaseShare,
      largeKeptBaseShare: e.largeKeptBaseShare,
      densityFromKeptBase: e.densityFromKeptBase,
      densityFromVariance: e.densityFromVariance,
      conflictAtParentShare: e.conflictAtParentShare,
      agreementAtParentShare: e.agreementAtParentShare,
      scales: [...e.scales],
      ...(e.rescale ? { rescale: [...e.rescale] } : {}),
    },
    layerProfiles: f.layerProfiles.map((p) => ({
      parent: p.parent,
      group: p.group,
      points: p.points.map((q) => ({ layer: q.layer, weight: q.weight, stdErr: q.stdErr, spread: q.spread, tensors: q.tensors, elements: q.elements })),
      schedule: p.schedule && { kind: p.schedule.kind, parameters: [...p.schedule.parameters], rmsResidual: p.schedule.rmsResidual },
    })),
    parentDiscovery: d && {
      explaining: [...d.explaining],
      addNothing: [...d.addNothing],
      noiseRatioAll: d.noiseRatioAll,
      noiseRatioExplaining: d.noiseRatioExplaining,
      withoutEach: d.withoutEach.map((w) => ({ parent: w.parent, noiseRatio: w.noiseRatio })),
      weights: [...d.weights],
    },
    layerStacking: s && {
      ranges: s.ranges.map(rangeJson),
      renamed: s.renamed.map((r) => ({ name: r.name, parent: r.parent, source: r.source })),
      ...(s.tensors
        ? {
            tensors: s.tensors.map((t) => ({
              name: t.name,
              layer: t.layer,
              parent: t.parent,
              source: t.source,
              distance: t.distance,
              elements: t.elements,
              exact: t.exact,
              withinCell: t.withinCell,
            })),
          }
        : {}),
    },
  };
}

/** The verdict's `elementwise`, keys in schema order. */
export function elementwiseVerdictJson(e: ElementwiseVerdict): ElementwiseVerdict {
  return {
    method: e.method,
    ...(e.consistentWith ? { consistentWith: [...e.consistentWith] } : {}),
    base: e.base,
    merged: [...e.merged],
    density: e.density,
    relativeWeights: [...e.relativeWeights],
    keptBaseShare: e.keptBaseShare,
    rescale: e.rescale,
    expectedRescale: e.expectedRescale,
    conflictAtParentShare: e.conflictAtParentShare,
    agreementAtParentShare: e.agreementAtParentShare,
    weightedSumReproduced: e.weightedSumReproduced,
  };
}

/** A stacked layer range, keys in schema order (the verdict's and the forensics' are one type). */
function rangeJson(r: StackingVerdict['ranges'][number]): StackingVerdict['ranges'][number] {
  return { suspectFrom: r.suspectFrom, suspectTo: r.suspectTo, parent: r.parent, parentFrom: r.parentFrom, parentTo: r.parentTo };
}

/** The verdict's `stacking`, keys in schema order. */
export function stackingVerdictJson(s: StackingVerdict): StackingVerdict {
  return {
    parents: [...s.parents],
    ranges: s.ranges.map(rangeJson),
    tensors: s.tensors,
    exact: s.exact,
    withinCell: s.withinCell,
  };
}
