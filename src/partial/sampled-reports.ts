/**
 * Sampled analysis (--sample): each tensor's statistics from seeded random blocks
 * (engine/sample-plan.ts), with bootstrap intervals (fit/sampling-intervals.ts).
 *
 * Fixed size (`--sample 0.5%`, `--sample 2GB`): every tensor reads that share of its
 * blocks, at least MIN_BLOCKS; a tensor of MIN_BLOCKS blocks or fewer is read whole.
 *
 * Auto (`--sample auto`), in rounds, so that the result depends on the seed alone:
 * 1. every tensor reads MIN_BLOCKS blocks (or all of them);
 * 2. a tensor's verdict is settled when at least `confidence` of its bootstrap
 *    replicates give the same kind as the estimate, or when it has been read whole;
 * 3. every unsettled tensor doubles its blocks, and 2–3 repeat, until all are settled
 *    or the budget is spent. When a round does not fit in what is left of the budget,
 *    the least settled tensors (lowest agreement) take their blocks first and the run
 *    stops after that round.
 * Settled tensors read nothing more; tensors near a threshold read until the threshold
 * is on one side of their interval.
 */
import { parseExact, stringifyJoined } from './tensor-json.js';
import { groupBytes, type AlignedGroup } from '../align/align-models.js';
import { addMoments, emptyMoments, type TensorMoments } from '../engine/moments.js';
import { blockOrder, nameHash, SAMPLE_BLOCK_ELEMENTS, UnitBlocks } from '../engine/sample-plan.js';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_GAP_BYTES, SampledScanner } from '../engine/sampled-scan.js';
import { addRecipePassResults, emptyRecipePassResult } from '../engine/recipes/recipe-pass.js';
import type { SuspectGrid } from '../engine/scan-tensor.js';
import { withDirectResidual } from '../fit/recipes/direct-residual.js';
import { sumsOfMoments } from '../fit/recipes/tensor-sums.js';
import { unscaledFloat } from '../format/logical-tensor.js';
import { BOOTSTRAP_REPLICATES, bootstrapFits, fitIntervals, SAMPLE_GROUPS } from '../fit/sampling-intervals.js';
import { fitTensor, type TensorFit } from '../fit/tensor-fit.js';
import type { SamplingReport, TensorRecipesReport, TensorReport, TensorSampleReport, Thresholds } from '../report-schema.js';
import { tensorVerdict } from '../verdict/tensor-verdict.js';
import { floatFormat } from '../format/dtype.js';
import { refineSlerpCosines } from '../fit/recipes/slerp-refine.js';
import { recipeCandidates, recipesReport, replayEvidence } from './tensor-recipes.js';
import { storageOf, tensorReportHead } from './tensor-reports.js';

/** Fewest blocks a sampled tensor reads: below ~8 groups a bootstrap interval is too narrow to trust. */
export const MIN_BLOCKS = 8;
/**
 * Elements of each sampled tensor the candidate recipes are replayed on (a full scan:
 * 8,192, tensor-recipes.ts). A sampled run replays in this thread, after the tensor's
 * fit; 2,048 elements (~1,800 where fine-tunes differ) still separate the 95% and 99.9%
 * the verdict reads, at a quarter of the cost (8,192 doubled the 400B bench's time).
 */
const SAMPLED_REPLAY_ELEMENTS = 2048;
/** Elements whose replay re-estimates a SLERP candidate's cosine under sampling (slerp-refine.ts). */
const SLERP_REFINE_ELEMENTS = 2048;

/** Blocks fetched and scanned per step of one tensor: bounds memory at BATCH_BLOCKS × block × inputs. */
const BATCH_BLOCKS = 32;
/** Tensors sampled at once: overlaps one tensor's fetches with another's scan. */
const TENSOR_WINDOW = 8;

// Defined with the report, whose reproducibility record carries them.
export type { SampleOptions, SampleSize } from '../report-schema.js';
import type { SampleOptions } from '../report-schema.js';

export interface SampledReportsOptions {
  parents: number;
  reference: number;
  thresholds: Thresholds;
  /** false: no recipe replay (--no-recipes). */
  recipes?: boolean;
  /** --base was given: the reference is the base (task-arithmetic candidates). */
  baseGiven?: boolean;
  sample: SampleOptions;
  maxGapBytes?: number;
  concurrency?: number;
  onBytes: (bytes: number) => void;
  onTensor: () => void;
}

export interface SampledReports {
  tensors: TensorReport[];
  sampling: SamplingReport;
}

interface TensorSample {
  readonly group: AlignedGroup;
  /** Where each block lies: in which unit, at which elements. */
  readonly plan: UnitBlocks;
  readonly blocks: number;
  /** Input bytes per element, summed over suspect and parents (weights and scales). */
  readonly bytesPerElement: number;
  /** Elements compared: the units' together. */
  readonly elements: number;
  order: Uint32Array | null;
  taken: number;
  /** The suspect's grid, detected on the first blocks read (see SampledScanner.scanBlocks). */
  grid: SuspectGrid | null | 'detect';
  /** Block moments dealt into groups in sampling order (block i into group i mod SAMPLE_GROUPS). */
  readonly groups: TensorMoments[];
  elementsRead: number;
  assessment: Assessment | null;
}

interface Assessment {
  /** The moments of the blocks taken, and their fit. */
  total: TensorMoments;
  fit: TensorFit;
  kind: TensorReport['kind'];
  replicates: TensorFit[];
  agreement: number;
}

export async function sampledReports(
  aligned: readonly AlignedGroup[],
  indexes: readonly number[],
  options: SampledReportsOptions,
): Promise<SampledReports> {
  const { thresholds, sample } = options;
  const confidence = sample.confidence ?? 0.95;
  const blockElements = sample.blockElements ?? SAMPLE_BLOCK_ELEMENTS;
  const replicates = sample.replicates ?? BOOTSTRAP_REPLICATES;
  let bytesRead = 0;
  let requests = 0;
  const scanner = new SampledScanner({
    parents: options.parents,
    reference: options.reference,
    informativeUlps: thresholds.informativeUlps,
    blockElements,
    maxGapBytes: options.maxGapBytes ?? DEFAULT_MAX_GAP_BYTES,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    onBytes: (bytes) => {
      bytesRead += bytes;
      options.onBytes(bytes);
    },
    onRequest: () => requests++,
  });

  const states: TensorSample[] = indexes.map((index) => {
    const group = aligned[index]!;
    const plan = new UnitBlocks(group.units.map((u) => u.suspect.elements), blockElements);
    const elements = group.units.reduce((sum, u) => sum + u.suspect.elements, 0);
    const storedBytes = groupBytes(group);
    return {
      group,
      plan,
      blocks: plan.count,
      bytesPerElement: elements > 0 ? storedBytes / elements : 0,
      elements,
      order: null,
      taken: 0,
      grid: 'detect',
      groups: [],
      elementsRead: 0,
      assessment: null,
    };
  });
  const bytesTotal = states.reduce((sum, s) => sum + s.bytesPerElement * s.elements, 0);
  const blockBytes = (state: TensorSample): number => state.bytesPerElement * blockElements;

  const size = sample.size;
  const fraction =
    size.kind === 'fraction' ? size.fraction : size.kind === 'bytes' ? size.bytes / Math.max(1, bytesTotal) : 0;
  const budgetBytes =
    size.kind !== 'auto' ? Infinity : size.budget.kind === 'bytes' ? size.budget.bytes : size.budget.fraction * bytesTotal;
  const requestedFraction = size.kind === 'auto' ? budgetBytes / Math.max(1, bytesTotal) : fraction;

  const firstBlocks = (state: TensorSample): number =>
    state.blocks <= MIN_BLOCKS ? state.blocks : Math.min(state.blocks, Math.max(MIN_BLOCKS, Math.ceil(fraction * state.blocks)));

  const seed = sample.seed;
  const takeMore = async (state: TensorSample, count: number): Promise<void> => {
    state.order ??= blockOrder(state.group.name, state.blocks, seed);
    const until = Math.min(state.blocks, state.taken + count);
    for (let first = state.taken; first < until; first += BATCH_BLOCKS) {
      const last = Math.min(until, first + BATCH_BLOCKS);
      const blocks = Array.from(state.order.subarray(first, last));
      const scanned = await scanner.scanBlocks(state.group, state.plan, blocks, state.grid);
      state.grid = scanned.grid;
      const moments = scanned.moments;
      for (const [i, block] of moments.entries()) {
        const group = (first + i) % SAMPLE_GROUPS;
        const into = (state.groups[group] ??= emptyMoments(options.parents, options.reference));
        addMoments(into, block);
        state.elementsRead += block.elements;
      }
    }
    state.taken = until;
    state.assessment = null;
  };

  const assess = (state: TensorSample): Assessment => {
    if (state.assessment) return state.assessment;
    const total = totalOf(state);
    const fit = fitTensor(total);
    const kind = tensorVerdict(fit, thresholds).kind;
    const fits: TensorFit[] = [];
    let agreeing = 0;
    if (state.taken < state.blocks) {
      bootstrapFits(state.groups, replicates, (seed + nameHash(state.group.name)) >>> 0, (replicate) => {
        fits.push(replicate);
        if (tensorVerdict(replicate, thresholds).kind === kind) agreeing++;
      });
    }
    state.assessment = { total, fit, kind, replicates: fits, agreement: fits.length === 0 ? 1 : agreeing / fits.length };
    return state.assessment;
  };
  const settled = (state: TensorSample): boolean => state.taken >= state.blocks || assess(state).agreement >= confidence;

  // A tensor is reported (and its moments dropped) as soon as it needs no more blocks,
  // so memory holds only the tensors still being read: ~0.5 MB each.
  const reports = new Map<TensorSample, TensorReport>();
  const finish = async (state: TensorSample): Promise<void> => {
    reports.set(state, await finalReport(state));
    state.groups.length = 0;
    state.assessment = null;
    options.onTensor();
  };
  await eachInWindow(states, async (state) => {
    await takeMore(state, firstBlocks(state));
    if (size.kind !== 'auto' || settled(state)) await finish(state);
  });

  if (size.kind === 'auto') {
    let open = states.filter((state) => !reports.has(state));
    while (open.length > 0) {
      // The least settled first, so that a budget too small for the round goes where it matters.
      open.sort((a, b) => assess(a).agreement - assess(b).agreement);
      const round: { state: TensorSample; count: number }[] = [];
      let roundBytes = 0;
      for (const state of open) {
        const count = Math.min(state.taken, state.blocks - state.taken);
        const bytes = count * blockBytes(state);
        if (bytesRead + roundBytes + bytes > budgetBytes) continue;
        round.push({ state, count });
        roundBytes += bytes;
      }
      const lastRound = round.length < open.length;
      await eachInWindow(round, async ({ state, count }) => {
        await takeMore(state, count);
        if (settled(state)) await finish(state);
      });
      open = open.filter((state) => !reports.has(state));
      if (lastRound) break;
    }
    for (const state of open) await finish(state);
  }

  const tensors = states.map((state) => reports.get(state)!);
  const unsettled = tensors.filter((t) => !t.sample!.settled).length;
  return {
    tensors,
    sampling: {
      mode: size.kind,
      requestedFraction,
      seed,
      confidence,
      method: 'block-bootstrap',
      replicates,
      blockElements,
      bytesRead,
      bytesTotal,
      fractionRead: bytesTotal > 0 ? bytesRead / bytesTotal : 0,
      requests,
      tensorsSettled: states.length - unsettled,
      tensorsUnsettled: unsettled,
    },
  };

  async function finalReport(state: TensorSample): Promise<TensorReport> {
    const { total, fit, replicates: fits, agreement } = assess(state);
    const group = state.group;
    const first = group.units[0]!;
    const grid = state.grid === 'detect' ? null : state.grid;
    let reported: TensorFit = { ...fit };
    const weights = reported.weights.every((w) => w !== null) ? (reported.weights as number[]) : null;
    // As a full scan's second read (tensor-reports.ts), one read of the blocks the moments
    // came from: on a 32- or 64-bit grid the Gram residual cancels and the residual is
    // summed directly; without an exact-hit profile (three or more parents, or no clear
    // peak) it counts what the fitted blend reproduces bit for bit; and the candidate
    // recipes are replayed on its first SAMPLED_REPLAY_ELEMENTS elements (seeded
    // positions, spread over the tensor like the full scan's blocks).
    const replayDtype = grid ?? unscaledFloat(first.suspect.recipe);
    const needsDirectResidual = replayDtype === 'F32' || replayDtype === 'F64';
    const needsReproduced = reported.reproducedShare === null && reported.informative > 0;
    const check = weights !== null && (needsDirectResidual || needsReproduced);
    const format = options.recipes === false || replayDtype === null ? null : floatFormat(replayDtype);
    let candidates = format === null ? [] : recipeCandidates(reported, total, format, { base: options.baseGiven === true ? options.reference : null });
    const taken = Array.from(state.order!.subarray(0, state.taken));
    if (format !== null && candidates.some((c) => c.method === 'slerp')) {
      // A sample's cosine between the parents is an estimate; mergekit used the whole
      // tensors'. The replay's own elements pin it down (slerp-refine.ts).
      const values = await scanner.decodeBlocks(group, state.plan, firstElements(state, taken, SLERP_REFINE_ELEMENTS), SLERP_REFINE_ELEMENTS);
      candidates = refineSlerpCosines(candidates, values.suspect, values.parents, values.count, format);
    }
    let recipes: TensorRecipesReport | null = null;
    if (check || candidates.length > 0) {
      const blocks = check ? taken : firstElements(state, taken, SAMPLED_REPLAY_ELEMENTS);
      const request = {
        reference: options.reference,
        informativeUlps: thresholds.informativeUlps,
        weights,
        recipes: candidates,
        replayDtype: format?.dtype ?? null,
        residual: check,
      };
      const result = emptyRecipePassResult(candidates.length, check);
      for (let at = 0; at < blocks.length; at += BATCH_BLOCKS) {
        const batch = blocks.slice(at, at + BATCH_BLOCKS);
        addRecipePassResults(result, await scanner.secondRead(group, state.plan, batch, grid, request, SAMPLED_REPLAY_ELEMENTS - result.matches.finite));
      }
      if (check && needsDirectResidual) reported = withDirectResidual(reported, total, result.rss!);
      if (check && needsReproduced) reported.reproducedShare = result.informative > 0 ? result.reproduced / result.informative : null;
      if (candidates.length > 0) recipes = recipesReport(candidates, result, total.elementwise);
    }
    // The bootstrap's agreement (assess) is about the fit; the replay then settles blend
    // against trained blend on the same blocks, as in a full scan (tensor-verdict.ts).
    const verdict = tensorVerdict(reported, thresholds, replayEvidence(recipes, replayDtype));
    const whole = state.taken >= state.blocks;
    const intervals = whole
      ? {
          weights: reported.weights.map((w): [number, number] | null => (w === null ? null : [w, w])),
          noiseRatio: [reported.noiseRatio, reported.noiseRatio] as [number, number],
        }
      : fitIntervals(reported, fits, confidence, state.groups.length);
    const sampleReport: TensorSampleReport = {
      blocks: state.taken,
      blocksTotal: state.blocks,
      elementsRead: state.elementsRead,
      whole,
      weights: intervals.weights,
      noiseRatio: intervals.noiseRatio,
      agreement,
      settled: whole || agreement >= confidence,
    };
    // Joined as text and parsed, as a full scan's report is kept (tensor-reports.ts).
    const sums = sumsOfMoments(total);
    const parts: Partial<TensorReport>[] = [
      tensorReportHead(group, verdict),
      reported,
      recipes === null ? { sums, sample: sampleReport } : { sums, recipes, sample: sampleReport },
      storageOf(group, grid),
    ];
    return parseExact(stringifyJoined(parts)) as TensorReport;
  }

  /** The first blocks of `taken` that hold at least `elements` elements together. */
  function firstElements(state: TensorSample, taken: readonly number[], elements: number): number[] {
    const blocks: number[] = [];
    let count = 0;
    for (const block of taken) {
      if (count >= elements) break;
      blocks.push(block);
      const { from, to } = state.plan.range(block);
      count += to - from;
    }
    return blocks;
  }

  /** The sampled blocks' moments together. */
  function totalOf(state: TensorSample): TensorMoments {
    const total = emptyMoments(options.parents, options.reference);
    for (const group of state.groups) addMoments(total, group);
    return total;
  }
}

/** Runs `work` on every item, TENSOR_WINDOW at a time. */
async function eachInWindow<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(TENSOR_WINDOW, items.length) }, lane));
}
