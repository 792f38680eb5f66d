import { parseExact, stringifyJoined } from './tensor-json.js';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { groupBytes, type AlignedGroup, type AlignedUnit } from '../align/align-models.js';
import { expertOf } from '../align/name-mapping.js';
import { componentOf, layerOf } from '../align/tensor-name.js';
import { addMoments, emptyMoments, type TensorMoments } from '../engine/moments.js';
import { InProcessEngine, type ScanEngine, type ScanSettings } from '../engine/scan-engine.js';
import { effectiveGrid, type ScanTensor, type SuspectGrid } from '../engine/scan-tensor.js';
import { eachInLanes, mapInLanes } from '../engine/lanes.js';
import { WorkerEngine, WorkerPool } from '../engine/worker-engine.js';
import { sumsOfMoments } from '../fit/recipes/tensor-sums.js';
import { withParentNoise } from '../fit/parent-noise.js';
import { fitSlice, fitTensor, type TensorFit } from '../fit/tensor-fit.js';
import { codesDtype, plainStored, recipeLeaves, unscaledFloat, type LogicalTensor } from '../format/logical-tensor.js';
import { floatFormat } from '../format/dtype.js';
import type { ModelLayout, TensorDescriptor } from '../format/model-layout.js';
import type { SliceReport, TensorReport, Thresholds } from '../report-schema.js';
import { LocalFileSource } from '../source/local-file.js';
import { tensorVerdict, type TensorVerdict } from '../verdict/tensor-verdict.js';
import type { Checkpoint } from './checkpoint.js';
import { measureRecipes, replayEvidence } from './tensor-recipes.js';

/** What one tensor's report depends on besides its data: the same wherever it is made. */
export interface GroupReportOptions {
  parents: number;
  reference: number;
  thresholds: Thresholds;
  /** 'all' adds the parents' rounding noise to the floor (--floor all). */
  floor?: 'suspect' | 'all';
  /** --base was given: the reference is the base, and task-arithmetic recipes are proposed. */
  baseGiven?: boolean;
  /** false: no recipe pass unless the suspect's grid needs the direct residual (--no-recipes). */
  recipes?: boolean;
}

export interface TensorReportsOptions extends GroupReportOptions {
  /** Worker threads; 0 scans in this thread. */
  threads: number;
  chunkElements?: number;
  pieceElements?: number;
  /** The models, to find each tensor's file for the workers. */
  layouts: readonly ModelLayout[];
  checkpoint: Checkpoint | null;
  onBytes: (bytes: number) => void;
  onTensor: () => void;
  /** Workers started early (startWorkerPool): taken by the engine when it runs workers, else stopped. */
  pool?: WorkerPool | null;
}

/** Expert slices in flight per thread (see tensorReports). */
const UNITS_IN_FLIGHT_PER_THREAD = 512;

/** Default --threads: every core the process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * Scans the tensors at `indexes` of `aligned` (in file order; each a group of units, one
 * unit unless the tensor is compared expert by expert) and returns their reports in
 * that order. Tensors the checkpoint already holds are taken from it unread; every
 * other one is appended to it as it completes. Tensors are kept in flight a window at a
 * time, so results in flight (a piece's moments are 33 KB) never pile up, whatever the
 * tensor count.
 */
export async function tensorReports(
  aligned: readonly AlignedGroup[],
  indexes: readonly number[],
  options: TensorReportsOptions,
): Promise<TensorReport[]> {
  const results = new Map<number, TensorReport>();
  const todo: number[] = [];
  for (const index of indexes) {
    const done = options.checkpoint?.done.get(aligned[index]!.name);
    if (done) {
      results.set(index, done);
      options.onTensor();
    } else {
      todo.push(index);
    }
  }
  const engine = createEngine(aligned, todo, options);
  try {
    const window = Math.max(64, options.threads * 16);
    // Units (expert slices) in flight, too: a fused tensor compared expert by expert is
    // one task of a hundred units or more, whose readers' wire form stays in this thread
    // until its report is back. Sixty-four such tensors at once left that garbage to
    // outlive the young generation (the 0.25 GB bench trio, 15,840 slices: ~80 MB of
    // wiring allocated, by heap sampling, before leaves were shared; peak RSS 306-311
    // MB, with this bound 257-280 MB in the same time).
    // In this thread (--threads 0, or Hub sources) nothing is wired, but each unit in
    // flight is a pending scan: the same bound, as for one thread.
    const workers = engine instanceof WorkerEngine ? engine : null;
    const threads = workers ? options.threads : 1;
    const unitWindow = Math.max(window, threads * UNITS_IN_FLIGHT_PER_THREAD);
    let unitsInFlight = 0;
    let tensorsInFlight = 0;
    const waiting: (() => void)[] = [];
    let next = 0;
    const reportOptions = groupReportOptions(options);
    const lane = async (): Promise<void> => {
      while (next < todo.length) {
        const index = todo[next]!;
        const group = aligned[index]!;
        const units = group.units.length;
        // A tensor per thread always goes, however many units it has: a per-expert MoE
        // checkpoint's tensors are thousands of experts each (100,000 tensors grouped in
        // 60), and one at a time would leave every thread but one idle.
        if (tensorsInFlight >= threads && unitsInFlight + units > unitWindow) {
          await new Promise<void>((resolve) => waiting.push(resolve));
          continue;
        }
        next++;
        unitsInFlight += units;
        tensorsInFlight++;
        try {
          // A tensor no longer than a piece is reported whole on a worker; a longer one is
          // cut into pieces over every worker, and its pieces' sums fitted here. Either
          // way the report is kept as its JSON text parsed (one shape, compact), and that text is
          // what a checkpoint appends.
          const text =
            workers?.reportsWhole(group)
              ? await workers.report(group, reportOptions, groupBytes(group))
              : await tensorReportText(group, engine, options);
          const report = parseExact(text) as TensorReport;
          options.checkpoint?.append(report, text);
          results.set(index, report);
          options.onTensor();
        } finally {
          unitsInFlight -= units;
          tensorsInFlight--;
          for (const wake of waiting.splice(0)) wake();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, todo.length) }, lane));
  } finally {
    await engine.close();
  }
  return indexes.map((index) => results.get(index)!);
}

/** Every field of GroupReportOptions: the compiler refuses this list when one is missing. */
const GROUP_REPORT_OPTIONS = ['parents', 'reference', 'thresholds', 'floor', 'baseGiven', 'recipes'] as const;
const everyGroupReportOption: Exclude<keyof GroupReportOptions, (typeof GROUP_REPORT_OPTIONS)[number]> extends never ? true : never = true;

/**
 * The options a tensor's report depends on, alone: what a worker receives with a report
 * task (the rest holds callbacks and open files, which cannot be sent).
 */
function groupReportOptions(options: TensorReportsOptions): GroupReportOptions {
  void everyGroupReportOption;
  const picked: Record<string, unknown> = {};
  for (const key of GROUP_REPORT_OPTIONS) if (options[key] !== undefined) picked[key] = options[key];
  return picked as unknown as GroupReportOptions;
}

/**
 * One tensor: its units' moments (each on the suspect's effective grid) added into the
 * tensor's, fitted and judged; with several units each is also fitted on its own. Runs
 * in this thread, or whole on a worker thread (scan-worker.ts) with the same result.
 * Returns the report as its JSON text (partial/tensor-json.ts), which is what every
 * caller keeps or sends: parsed where it is kept, appended as it is to a checkpoint.
 */
export async function tensorReportText(group: AlignedGroup, engine: ScanEngine, options: GroupReportOptions): Promise<string> {
  const { thresholds } = options;
  const grid = await suspectGridOf(group, engine);
  const units: ScanTensor[] = group.units.map((u) => ({ name: u.name, suspect: u.suspect, parents: u.parents, suspectGrid: grid }));
  const { moments, slices } = await groupMoments(group, units, engine, options);
  // Recipe forensics' second read (docs/forensics.md), on the engine's threads.
  const replayDtype = grid ?? unscaledFloat(group.units[0]!.suspect.recipe);
  // On a 32- or 64-bit grid the floor is ~1e-15 of ‖s‖² and the Gram residual cancels:
  // the direct residual of the second read is needed for a right noiseRatio. With
  // --floor all the fit's floor is not the suspect's alone, so there the Gram residual is kept.
  const needsDirectResidual = options.floor !== 'all' && (replayDtype === 'F32' || replayDtype === 'F64');
  const replay = options.recipes !== false;
  const { fit, recipes: measured } =
    !replay && !needsDirectResidual
      ? { fit: fitWithFloor(moments, options.floor), recipes: null }
      : await measureRecipes(engine, units, moments, fitWithFloor(moments, options.floor), {
          reference: options.reference,
          informativeUlps: thresholds.informativeUlps,
          replayFormat: replay && replayDtype !== null ? floatFormat(replayDtype) : null,
          directResidual: needsDirectResidual,
          base: options.baseGiven === true ? options.reference : null,
        });
  const recipes = replay ? measured : null;
  // Only when the recipe pass (which counts it in the same read) did not run.
  if (recipes === null && fit.reproducedShare === null && fit.weights.every((w) => w !== null) && fit.informative > 0) {
    // No exact-hit profile (three or more parents, or no clear peak): a second read
    // counts what the fitted blend reproduces bit for bit.
    const counted = await mapInLanes(units, engine.unitLanes, (unit) => engine.reproduced(unit, fit.weights as number[]));
    const informative = counted.reduce((sum, c) => sum + c.informative, 0);
    const reproduced = counted.reduce((sum, c) => sum + c.reproduced, 0);
    fit.reproducedShare = informative > 0 ? reproduced / informative : null;
  }
  const verdict = tensorVerdict(fit, thresholds, replayEvidence(recipes, replayDtype));
  // The report's parts, in its fields' order; no two share a field (TensorFit is the
  // report without the head's). Joined as text: the object itself is never made here.
  const parts: Partial<TensorReport>[] = [tensorReportHead(group, verdict), fit, { sums: sumsOfMoments(moments) }];
  if (recipes !== null) parts.push({ recipes });
  parts.push(storageOf(group, grid));
  if (slices !== null) parts.push({ slices });
  const text = stringifyJoined(parts);
  // The text holds what it needs of the moments.
  engine.recycle(moments);
  return text;
}

/** The fields a tensor report opens with, full scan or sampled: what the tensor is, and its kind. */
export function tensorReportHead(group: AlignedGroup, verdict: TensorVerdict): Pick<TensorReport, 'name' | 'shape' | 'dtype' | 'parentDtypes' | 'component' | 'layer' | 'kind' | 'parent' | 'reason'> {
  const first = group.units[0]!;
  return {
    name: group.name,
    shape: [...group.shape],
    dtype: codesDtype(first.suspect.recipe),
    parentDtypes: first.parents.map((p) => codesDtype(p.recipe)),
    component: componentOf(group.name),
    layer: layerOf(group.name),
    kind: verdict.kind,
    parent: verdict.parent,
    reason: verdict.reason,
  };
}

/** How the tensor is stored, unless every input is a plain stored tensor, and the grid its suspect lies on. */
export function storageOf(group: AlignedGroup, grid: SuspectGrid | null): Pick<TensorReport, 'encodings' | 'grid'> {
  const storage: Pick<TensorReport, 'encodings' | 'grid'> = {};
  const first = group.units[0]!;
  if (![first.suspect, ...first.parents].every((t) => plainStored(t) !== null)) {
    storage.encodings = { suspect: first.suspect.encoding, parents: first.parents.map((p) => p.encoding) };
  }
  if (grid !== null) storage.grid = grid;
  return storage;
}

/**
 * The group's moments, its units' added in order (so the sums do not depend on which
 * finished first), and with several units each one's slice report. A unit's moments
 * (33 KB with the profile) are dropped as soon as they are added: a fused expert tensor
 * has hundreds of slices, and many tensors are in flight at once.
 */
async function groupMoments(
  group: AlignedGroup,
  units: readonly ScanTensor[],
  engine: ScanEngine,
  options: GroupReportOptions,
): Promise<{ moments: TensorMoments; slices: SliceReport[] | null }> {
  if (units.length === 1) return { moments: await engine.moments(units[0]!), slices: null };
  const moments = emptyMoments(options.parents, options.reference);
  const slices: SliceReport[] = new Array<SliceReport>(units.length);
  const arrived = new Map<number, TensorMoments>();
  let next = 0;
  // A window of units at a time, not all at once: a per-expert checkpoint's layer has
  // thousands of experts, and a pending scan per expert (its task and its promises)
  // outlived young-generation collections, which copied them over and over.
  await eachInLanes(
    units,
    engine.unitLanes,
    (unit) => engine.moments(unit),
    (part, i) => {
      slices[i] = sliceReport(group.units[i]!, part, options);
      arrived.set(i, part);
      while (arrived.has(next)) {
        const added = arrived.get(next)!;
        addMoments(moments, added);
        engine.recycle(added);
        arrived.delete(next++);
      }
    },
  );
  return { moments, slices };
}

function fitWithFloor(moments: TensorMoments, floor: 'suspect' | 'all' | undefined): TensorFit {
  const fit = fitTensor(moments);
  if (floor !== 'all') return fit;
  // The parents' noise enters with the squares of the weights just fitted.
  const weights = fit.weights.map((w, j) => w ?? fit.leastSquares.weights[j] ?? null);
  return fitTensor(withParentNoise(moments, weights));
}

function sliceReport(unit: AlignedUnit, moments: TensorMoments, options: GroupReportOptions): SliceReport {
  // --floor all refits with the parents' noise at weights that may come from the
  // least-squares block, which only the full fit has.
  const fit = options.floor === 'all' ? fitWithFloor(moments, options.floor) : fitSlice(moments);
  const verdict = tensorVerdict(fit, options.thresholds);
  return {
    name: unit.name,
    expert: expertOf(unit.name),
    elements: fit.elements,
    kind: verdict.kind,
    parent: verdict.parent,
    weights: fit.weights,
    noiseRatio: fit.noiseRatio,
    reproducedShare: fit.reproducedShare,
  };
}

/**
 * The grid every suspect value of the tensor lies on, when coarser than the storage
 * (statistics.md: a bf16 merge saved as F32 is judged against bf16's rounding): one pass
 * over the suspect alone, only for suspects stored unscaled in F32 or F64.
 */
async function suspectGridOf(group: AlignedGroup, engine: ScanEngine): Promise<ReturnType<typeof effectiveGrid>> {
  const stored = unscaledFloat(group.units[0]!.suspect.recipe);
  if (stored !== 'F32' && stored !== 'F64') return null;
  if (group.units.some((u) => unscaledFloat(u.suspect.recipe) !== stored)) return null;
  const flags = await mapInLanes(group.units, engine.unitLanes, (u) => engine.suspectGrids({ name: u.name, suspect: u.suspect, parents: u.parents }));
  return effectiveGrid(stored, flags.reduce((all, f) => all & f, 7));
}

/**
 * Workers when there is more than one tensor's worth of work and every input is a local
 * file a worker can open itself (a Hub source lives in this thread); else this thread.
 */
function createEngine(aligned: readonly AlignedGroup[], todo: readonly number[], options: TensorReportsOptions): ScanEngine {
  const settings: ScanSettings = { ...scanSettingsOf(options), onBytes: options.onBytes };
  const paths = new Map<object, string>();
  for (const layout of options.layouts) {
    for (const shard of layout.shards) {
      if (!(shard.source instanceof LocalFileSource)) continue;
      paths.set(shard, layout.kind === 'file' ? layout.root : join(layout.root, shard.file));
    }
  }
  const leavesOf = (t: LogicalTensor): TensorDescriptor[] => recipeLeaves(t.recipe);
  const local = todo.every((i) =>
    aligned[i]!.units.every((u) => [u.suspect, ...u.parents].every((t) => leavesOf(t).every((leaf) => paths.has(leaf.shard)))),
  );
  if (options.threads === 0 || todo.length === 0 || !local || !existsSync(fileURLToPath(WORKER_SCRIPT))) {
    void options.pool?.close();
    return new InProcessEngine(settings);
  }
  return new WorkerEngine(settings, {
    threads: options.threads,
    pathOf: (t: TensorDescriptor) => paths.get(t.shard)!,
    workerScript: WORKER_SCRIPT,
    pool: options.pool ?? null,
  });
}

const WORKER_SCRIPT = new URL('../engine/scan-worker.js', import.meta.url);

/** The scan settings that workers are started with (all but the progress callback). */
function scanSettingsOf(options: ScanOptions): ScanSettings {
  return {
    parents: options.parents,
    reference: options.reference,
    informativeUlps: options.thresholds.informativeUlps,
    parentCells: options.floor === 'all',
    ...(options.chunkElements === undefined ? {} : { chunkElements: options.chunkElements }),
    ...(options.pieceElements === undefined ? {} : { pieceElements: options.pieceElements }),
  };
}

type ScanOptions = Pick<TensorReportsOptions, 'parents' | 'reference' | 'thresholds' | 'floor' | 'chunkElements' | 'pieceElements' | 'threads'>;

/**
 * Scan workers started now for a tensorReports call to come with the same options
 * (worker-engine.ts WorkerPool): null when it would scan in this thread anyway (no
 * threads, or run from the TypeScript sources, which have no worker script). The
 * caller closes it after the scan (it stops only workers no engine took).
 */
export function startWorkerPool(options: ScanOptions): WorkerPool | null {
  if (options.threads === 0 || !existsSync(fileURLToPath(WORKER_SCRIPT))) return null;
  return WorkerPool.start(scanSettingsOf(options), { threads: options.threads, workerScript: WORKER_SCRIPT });
}
