import type { ForensicsReport, LayerProfileReport, RecipeReport, Report } from '../report-schema.js';
import { formatCount, formatShare, formatSigma } from './format-numbers.js';
import { MAX_LINE_WIDTH, wrap } from './text-layout.js';
import { PLAIN_STYLE, type TextStyle } from './text-style.js';
import { elementwiseEvidence, elementwiseHeadline, layerMapWords } from './forensics-words.js';
import { stackingCounts } from '../verdict/recipes/stacking-verdict.js';

/** Words for each merge arithmetic, as a reader who ran mergekit would recognise them. */
const ARITHMETIC_WORDS: Record<RecipeReport['arithmetic'], string> = {
  'exact-once': 'computed exactly and rounded once',
  float32: 'computed in float32',
  'torch-in-dtype': "computed in the suspect's dtype as mergekit/PyTorch do",
  'format-steps': "rounded to the suspect's dtype at every step",
};

const HYPOTHESIS_WORDS = {
  linear: 'linear',
  'linear-format-weights': 'linear with bf16-rounded weights',
  slerp: 'SLERP',
} as const;

/** Up to 6 significant digits without trailing zeros: 0.6015625 → "0.601563", 0.4 → "0.4". */
function plain(value: number): string {
  return Number(value.toPrecision(6)).toString();
}

function label(report: Report, parent: number): string {
  return report.parents[parent]?.label ?? `P${parent + 1}`;
}

function recipeWords(report: Report, recipe: RecipeReport): string {
  if (recipe.method === 'slerp') {
    return `mergekit slerp(t = ${plain(recipe.t!)}) from ${label(report, 0)} to ${label(report, 1)}, in numpy float32`;
  }
  if (recipe.method === 'task-arithmetic') {
    const base = recipe.base!;
    const tasks = recipe.weights.flatMap((w, j) => (j === base ? [] : [`${plain(w)}·(${label(report, j)} − ${label(report, base)})`])).join(' + ');
    const divided = recipe.normalise ? ', ÷ the weight sum' : '';
    return `mergekit task arithmetic ${label(report, base)} + ${tasks}${divided}, ${ARITHMETIC_WORDS[recipe.arithmetic]}`;
  }
  const terms = recipe.weights.flatMap((w, j) => (w === 0 ? [] : [`${plain(w)}·${label(report, j)}`])).join(' + ');
  // Only a rounding the reader can see (bf16's 0.6 → 0.6015625) is news; float32's 0.6 → 0.6000000238 is not.
  const used = recipe.effectiveWeights.some((w, j) => Math.abs(w - recipe.weights[j]!) > 1e-6)
    ? `; weights used ${recipe.effectiveWeights.map(String).join(', ')}`
    : '';
  return `${terms}, ${ARITHMETIC_WORDS[recipe.arithmetic]}${used}`;
}

function scheduleWords(profile: LayerProfileReport): string | null {
  const s = profile.schedule;
  if (!s) return null;
  const p = s.parameters.map((v) => v.toFixed(3));
  switch (s.kind) {
    case 'constant':
      return `constant ${p[0]}`;
    case 'ramp':
      return `ramp ${p[0]} → ${p[1]}`;
    case 'step':
      return `${p[0]}, then ${p[1]} from layer ${s.parameters[2]}`;
    case 'gradient-3':
      return `gradient ${p[0]} → ${p[1]} → ${p[2]}`;
  }
}

/** "Recipe": how the merge was made, each line with the evidence behind it. Empty without forensics. */
export function forensicsTextSection(report: Report, style: TextStyle): string[] {
  const lines: string[] = [];
  for (const finding of forensicsFindings(report, style)) {
    lines.push(...wrap(finding, MAX_LINE_WIDTH - 2, '').map((line, i) => (i === 0 ? `  ${line}` : `    ${line}`)));
  }
  return lines.length > 0 ? [style.bold('Recipe'), ...lines] : [];
}

/**
 * The Recipe findings, one sentence each with its evidence, unwrapped: the text, markdown
 * and html reports list the same ones. Empty without forensics.
 */
export function forensicsFindings(report: Report, style: TextStyle = PLAIN_STYLE): string[] {
  const forensics: ForensicsReport | undefined = report.forensics;
  if (forensics === undefined) return [];
  const lines: string[] = [];
  const item = (text: string): void => {
    lines.push(text);
  };

  const r = forensics.reconstruction;
  if (r) {
    const where = r.reproducedWhereParentsDifferShare === null ? '' : ` (${formatShare(r.reproducedWhereParentsDifferShare)} where the parents differ)`;
    item(`reproduced bit for bit: ${formatShare(r.reproducedShare)} of ${formatCount(r.elements)} elements${where} by ${recipeWords(report, r.recipe)}`);
    for (const other of r.consistent.slice(0, 3)) item(`equally consistent: ${recipeWords(report, other)}`);
    const next = r.runnersUp[0];
    if (next) item(`next best: ${recipeWords(report, next.recipe)}: ${formatShare(next.share)}`);
  }

  // Weights, their schedule and SLERP's t describe a blend; for a fine-tune, a copy or an
  // unrelated model they are noise around 0 or 1, and for an element-wise merge they are
  // not the recipe's weights (the JSON report keeps them all).
  const blendLike = report.verdict.kind === 'blend' || report.verdict.kind === 'modified-blend' || report.verdict.kind === 'mixed';
  const elementwise = report.verdict.elementwise !== undefined;
  const i = blendLike ? forensics.interpolation : null;
  if (i) {
    const names = i.consistent.map((h) => HYPOTHESIS_WORDS[h]).join(' or ') || 'neither linear nor SLERP';
    const detail =
      `coefficients sum to ${i.coefficientSum.toFixed(6)} (linear: 1; SLERP at t = ${i.t.toFixed(3)}: ${i.slerpSum.toFixed(6)}; ` +
      `parents ${plain(i.angle)} rad apart)`;
    const indistinct = i.consistent.includes('linear') && i.consistent.includes('slerp') ? ' — the parents are too close to tell them apart' : '';
    item(`interpolation: ${names}${indistinct}; ${detail}; ${i.separableTensors} of ${i.tensors} tensors separate the two`);
  }

  const t = forensics.taskArithmetic;
  if (t) {
    const scales = t.scales.flatMap((s, j) => (s === null ? [] : [`λ${label(report, j)} = ${s.toFixed(3)}`])).join(', ');
    item(`task arithmetic on base ${label(report, t.base)}: ${scales}; base weight ${t.baseWeight.toFixed(3)} (≈ 0 for a plain blend)`);
  }

  // Element-wise counts alone also flag rounding in plain blends of several parents; a
  // method is named only where the verdict rests on it (the JSON keeps the counts).
  const merge = report.verdict.elementwise;
  const e = forensics.elementwise;
  if (merge) {
    const labels = report.parents.map((p) => p.label);
    const variance = e?.densityFromVariance == null ? [] : [`variance implies density ${e.densityFromVariance.toFixed(2)}`];
    item(`element-wise merge: ${style.yellow(elementwiseHeadline(merge, labels))}; ${[...elementwiseEvidence(merge), ...variance].join('; ')}`);
  }

  for (const profile of blendLike && !elementwise ? forensics.layerProfiles : []) {
    const words = scheduleWords(profile);
    if (!words) continue;
    const all = forensics.layerProfiles.find((p) => p.parent === profile.parent && p.group === 'all');
    // A component's schedule is news only when it differs from the whole model's.
    if (profile.group !== 'all' && all?.schedule?.kind === 'constant' && profile.schedule?.kind === 'constant') continue;
    const first = profile.points[0]!.layer;
    const last = profile.points[profile.points.length - 1]!.layer;
    const group = profile.group === 'all' ? '' : ` (${profile.group})`;
    item(`weight of ${label(report, profile.parent)} over layers ${first}–${last}${group}: ${words}`);
  }

  const d = forensics.parentDiscovery;
  if (d) {
    const names = (list: number[]): string => list.map((j) => label(report, j)).join(', ');
    const without = d.withoutEach.map((w) => `without ${label(report, w.parent)}: ${formatSigma(w.noiseRatio)}σ`).join(', ');
    const verb = d.addNothing.length === 1 ? 'adds' : 'add';
    const nothing = d.addNothing.length > 0 ? `; ${names([...d.addNothing].sort((a, b) => a - b))} ${verb} nothing (all candidates: ${formatSigma(d.noiseRatioAll)}σ)` : '';
    item(`parents: ${names(d.explaining)} explain it at ${formatSigma(d.noiseRatioExplaining)}σ${without ? ` (${without})` : ''}${nothing}`);
  }

  const s = forensics.layerStacking;
  if (s && s.ranges.length > 0) {
    const labels = report.parents.map((p) => p.label);
    const checked = s.tensors;
    let evidence = '';
    if (checked) {
      const { exact, withinCell: sourced } = stackingCounts(checked);
      const moved = s.renamed.length;
      evidence =
        ` (found by seeded sketches, then checked whole: ${formatCount(exact)} of ${formatCount(checked.length)} suspect tensors bit-identical to a parent tensor` +
        `${sourced > exact ? `, ${formatCount(sourced - exact)} more within rounding` : ''}` +
        `${sourced < checked.length ? `, ${formatCount(checked.length - sourced)} with no source` : ''}` +
        `; ${formatCount(moved)} under another name or layer index)`;
    }
    item(`layer map: suspect layers ${layerMapWords(s.ranges, labels)}${evidence}`);
  }

  return lines;
}
