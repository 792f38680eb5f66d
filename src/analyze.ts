import { alignModels, groupBytes, groupUnits } from './align/align-models.js';
import { parseMapRule } from './align/name-mapping.js';
import { shardTensors, type ShardSpec } from './engine/scan-plan.js';
import { UsageError } from './errors.js';
import { collectGarbage } from './full-collection.js';
import { readHubDeclaredProvenance, readLocalDeclaredProvenance } from './format/declared-provenance.js';
import { modelFolder, recordInput } from './format/input-files.js';
import { openModel } from './format/load-model.js';
import { readHubModelConfig, readModelConfig } from './format/quantization/model-config.js';
import { logicalModel, type LogicalModel } from './format/quantization/schemes.js';
import type { ModelLayout } from './format/model-layout.js';
import type { ModelLocation } from './format/model-location.js';
import { verdictSentence, type ReportWithoutSummary } from './report/verdict-sentence.js';
import type { InputReport, Report, SamplingReport, TensorReport, Thresholds } from './report-schema.js';
import { SCHEMA_VERSION } from './report-schema.js';
import type { TransferStats } from './source/http-range-source.js';
import { HubSession, type HubOptions } from './source/hub/hub-session.js';
import { checkClaims } from './verdict/claims.js';
import { modelVerdict } from './verdict/model-verdict.js';
import { forensicsReport } from './verdict/recipes/forensics.js';
import { stackingVerdict, withStacking } from './verdict/recipes/stacking-verdict.js';
import { stackingPass } from './partial/stacking-pass.js';
import { Checkpoint } from './partial/checkpoint.js';
import { defaultThreads, startWorkerPool, tensorReports } from './partial/tensor-reports.js';
import type { WorkerPool } from './engine/worker-engine.js';
import { sampledReports, type SampleOptions } from './partial/sampled-reports.js';
import { DEFAULT_THRESHOLDS } from './verdict/thresholds.js';
import { TOOL_VERSION } from './version.js';

export interface AnalyzeOptions {
  /** Paths as the user typed them. */
  suspect: string;
  parents: string[];
  /** Index into `parents` of the reference (--base); default 0. */
  reference?: number;
  /** The reference was named with --base (so task-vector scales are read relative to it). */
  baseGiven?: boolean;
  /** A tensor is analysed when it matches some include (or none are given) and no exclude. */
  include?: RegExp[];
  exclude?: RegExp[];
  thresholds?: Partial<Thresholds>;
  /** The command line, recorded in the report. */
  command?: string[];
  /** Elements per chunk read and decoded at once (bounded memory). */
  chunkElements?: number;
  /**
   * Elements per piece of a long tensor (default 2^24, scan-plan.ts): tests make it small
   * so that tensors of a few thousand elements are cut, as 8 GB ones are.
   */
  pieceElements?: number;
  /** Scanning threads (default: every core); 0 scans in the calling thread. */
  threads?: number;
  /** Analyse only this deterministic, byte-balanced share of the tensors (--shard i/N). */
  shard?: ShardSpec;
  /** Append each tensor's results to this file as it completes, and skip the ones it holds. */
  checkpoint?: string;
  /** How to reach the Hub and its local cache for inputs that are Hub repos (default: huggingface.co, no token, no cache). */
  hub?: HubOptions;
  /** Read only seeded random blocks of each tensor, and report intervals (--sample; partial/sampled-reports.ts). */
  sample?: SampleOptions;
  /** Tensor renames applied before matching, as typed: 'regex=replacement' (--map). */
  map?: string[];
  /** 'all': add each parent's own rounding noise to the floor (--floor all); default 'suspect'. */
  floor?: 'suspect' | 'all';
  /**
   * false: skip the recipe pass (the second read: bit-for-bit replay of merge recipes,
   * element-wise merge sums) except where the direct residual is needed (a suspect on
   * a 32- or 64-bit grid, where the Gram residual cancels). Default true.
   */
  recipes?: boolean;
}

export interface AnalyzeProgress {
  phase: 'open' | 'scan' | 'done';
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
  /** Network transfer so far, when some input is read from the Hub. */
  network?: TransferStats;
}

export type ProgressListener = (progress: AnalyzeProgress) => void;

/** "A", "B", … "Z", "P27", … : short names for parents in sentences and tables. */
export function parentLabel(index: number): string {
  return index < 26 ? String.fromCharCode(65 + index) : `P${index + 1}`;
}

function describeInput(layout: ModelLayout, label: string, location: ModelLocation | undefined): InputReport {
  return {
    label,
    source: layout.input,
    origin: location?.kind ?? 'local',
    repo: location === undefined || location.kind === 'local' ? null : location.reference.repo,
    revision: location === undefined || location.kind === 'local' ? null : location.sha,
    layout: layout.kind,
    files: layout.shards.map((shard) => ({ path: shard.file, bytes: shard.size })),
    tensors: layout.tensors.size,
    bytes: layout.totalBytes,
  };
}

/** Runs one analysis: open inputs, align, scan, fit, judge, build the report. */
export async function analyze(options: AnalyzeOptions, onProgress?: ProgressListener): Promise<Report> {
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const k = options.parents.length;
  if (k < 1) throw new UsageError('at least one parent is needed (a blend needs two)');
  const reference = options.reference ?? 0;
  if (!Number.isInteger(reference) || reference < 0 || reference >= k) {
    throw new UsageError(`the reference parent index ${reference} is not one of the ${k} parents`);
  }
  const include = options.include ?? [];
  const exclude = options.exclude ?? [];
  if (options.sample && options.checkpoint !== undefined) {
    throw new UsageError('--checkpoint: not with --sample (a sampled run is short: run it again instead)');
  }
  if (options.sample && options.floor === 'all') {
    // The sampled scan estimates the suspect's own floor only; a report would claim the other.
    throw new UsageError('--floor all: not with --sample (a sampled run estimates the suspect\'s floor only)');
  }

  const opened: ModelLayout[] = [];
  // A sampled run reads scattered blocks, never a stream: with read-ahead, two fetches
  // that happen to continue each other (adjacent small tensors) open 16 MiB windows the
  // sample never uses (200 MB of them beside a 60 MB sample of four layers of the 400B bench).
  const hub = new HubSession(options.sample ? { ...options.hub, readAheadBudgetBytes: 0 } : options.hub);
  const locations = new Map<ModelLayout, ModelLocation>();
  let pool: WorkerPool | null = null;
  const open = async (input: string): Promise<ModelLayout> => {
    const { layout, location } = await openModel(input, hub);
    opened.push(layout);
    locations.set(layout, location);
    return layout;
  };
  try {
    onProgress?.({ phase: 'open', bytesDone: 0, bytesTotal: 0, tensorsDone: 0, tensorsTotal: 0 });
    const suspect = await open(options.suspect);
    const parents: ModelLayout[] = [];
    for (const input of options.parents) parents.push(await open(input));
    // What the full scan's engine starts its workers with: the same object for the pool
    // started here and for tensorReports, so that the engine takes the pool's workers.
    const scanOptions = {
      parents: k,
      reference,
      thresholds,
      threads: options.threads ?? defaultThreads(),
      ...(options.floor === undefined ? {} : { floor: options.floor }),
      ...(options.chunkElements === undefined ? {} : { chunkElements: options.chunkElements }),
      ...(options.pieceElements === undefined ? {} : { pieceElements: options.pieceElements }),
    };
    // Workers start now, beside the alignment, when they will be used: every input is a
    // local folder or file (a Hub source is read on this thread) and the scan is full.
    if (!options.sample && [...locations.values()].every((location) => location.kind === 'local')) {
      pool = startWorkerPool(scanOptions);
    }

    const mapRules = (options.map ?? []).map(parseMapRule);
    const floorOption = options.floor === 'all' ? { floor: 'all' as const } : {};
    const models: LogicalModel[] = [];
    for (const layout of [suspect, ...parents]) {
      const location = locations.get(layout);
      const config = location?.kind === 'hub' ? await readHubModelConfig(location, hub) : await readModelConfig(layout);
      models.push(logicalModel(layout, config));
    }
    const alignment = alignModels(models[0]!, models.slice(1), { include, exclude }, mapRules);
    const groups = groupUnits(alignment.units);
    // The headers' parsed JSON and the alignment's scaffolding are garbage now; collected
    // before the scan, they do not set the size the heap grows to (full-collection.ts).
    collectGarbage();
    const bytesTotal = groups.reduce((sum, g) => sum + groupBytes(g), 0);
    const progress: AnalyzeProgress = {
      phase: 'scan',
      bytesDone: 0,
      bytesTotal,
      tensorsDone: 0,
      tensorsTotal: groups.length,
    };
    onProgress?.({ ...progress });
    // Retries and transfer show up while the scan waits on the network, not only per chunk.
    hub.onActivity(() => onProgress?.({ ...progress, network: { ...hub.stats } }));
    const describedInputs = [suspect, ...parents].map((layout, i) =>
      describeInput(layout, i === 0 ? 'suspect' : parentLabel(i - 1), locations.get(layout)),
    );
    const checkpoint =
      options.checkpoint === undefined
        ? null
        : Checkpoint.open(options.checkpoint, {
            tool: TOOL_VERSION,
            inputs: describedInputs,
            reference,
            options: { include: include.map((re) => re.source), exclude: exclude.map((re) => re.source), thresholds, ...floorOption },
          });
    const selected = options.shard ? shardTensors(groups, options.shard, groupBytes) : groups.map((_, index) => index);
    let tensors: TensorReport[];
    let sampling: SamplingReport | undefined;
    // What both scans share: the parent set, the thresholds, the recipe replay and the progress.
    const common = {
      parents: k,
      reference,
      thresholds,
      ...(options.recipes === false ? { recipes: false } : {}),
      baseGiven: options.baseGiven ?? false,
      onBytes: (bytes: number) => {
        progress.bytesDone += bytes;
        onProgress?.({ ...progress });
      },
      onTensor: () => {
        progress.tensorsDone++;
        onProgress?.({ ...progress });
      },
    };
    try {
      if (options.sample) {
        const sampled = await sampledReports(groups, selected, { ...common, sample: options.sample });
        tensors = sampled.tensors;
        sampling = sampled.sampling;
      } else {
        tensors = await tensorReports(groups, selected, {
          ...common,
          ...scanOptions,
          layouts: [suspect, ...parents],
          checkpoint,
          pool,
        });
      }
    } finally {
      checkpoint?.close();
    }

    // Recorded after the scan, so the record describes the files as they were read.
    const inputs = [await recordInput(suspect, 'suspect', locations.get(suspect), hub)];
    for (const [j, parent] of parents.entries()) inputs.push(await recordInput(parent, parentLabel(j), locations.get(parent), hub));
    const suspectLocation = locations.get(suspect);
    const declared =
      suspectLocation?.kind === 'hub'
        ? await readHubDeclaredProvenance(suspectLocation, hub)
        : await readLocalDeclaredProvenance(modelFolder(suspect));
    // Layers stacked under other indexes (passthrough): found by content, not by name. A sampled run reads no whole tensor, so it skips this.
    const storedSlices = new Set(alignment.units.filter((u) => u.name !== u.group && u.suspect.recipe.kind !== 'slice').map((u) => u.name));
    const stacking = options.sample ? null : await stackingPass({ suspect: models[0]!, parents: models.slice(1), tensors, suspectOnly: alignment.suspectOnly, storedSlices });
    const verdict = withStacking(modelVerdict(tensors, k, thresholds), stacking && stackingVerdict(stacking, thresholds.agreement));
    const createdAt = new Date().toISOString();
    const command = options.command ?? [];
    const partial: ReportWithoutSummary = {
      schemaVersion: SCHEMA_VERSION,
      tool: { name: 'provcheck', version: TOOL_VERSION },
      createdAt,
      command,
      suspect: describeInput(suspect, 'suspect', locations.get(suspect)),
      parents: parents.map((p, j) => describeInput(p, parentLabel(j), locations.get(p))),
      reference,
      options: { include: include.map((re) => re.source), exclude: exclude.map((re) => re.source), thresholds, ...floorOption },
      verdict,
      tensors,
      unmatched: { suspectOnly: alignment.suspectOnly, parentOnly: alignment.parentOnly },
      mismatched: alignment.mismatched,
      filtered: alignment.filtered,
      alignment: {
        renames: alignment.renames,
        mapRules: mapRules.map((rule) => rule.text),
        resized: alignment.resized,
        tied: alignment.tied,
        inputs: models.map((model, i) => ({
          input: i - 1,
          quantMethod: model.quantMethod,
          schemes: model.schemes.map((scheme) => ({ ...scheme })),
          consumed: model.consumed.length,
        })),
        groups: { tensors: groups.filter((g) => g.units.length > 1).length, units: groups.reduce((n, g) => n + (g.units.length > 1 ? g.units.length : 0), 0) },
      },
      reproducibility: {
        tool: { name: 'provcheck', version: TOOL_VERSION },
        runtime: { node: process.version, platform: process.platform, arch: process.arch },
        command,
        workingDirectory: process.cwd(),
        createdAt,
        analysis: {
          suspect: options.suspect,
          parents: [...options.parents],
          reference,
          include: include.map((re) => re.source),
          exclude: exclude.map((re) => re.source),
          thresholds,
          seed: options.sample ? options.sample.seed : null,
          map: [...(options.map ?? [])],
          floor: options.floor ?? 'suspect',
          recipes: options.recipes !== false,
          sample: options.sample ?? null,
          baseGiven: options.baseGiven ?? false,
        },
        inputs,
      },
      claims: checkClaims({ declared, verdict, parentSources: options.parents, minWeight: thresholds.minWeight }),
      forensics: forensicsReport({ tensors, verdict, parents: k, reference, baseGiven: options.baseGiven ?? false, stacking }),
      ...(sampling ? { sampling } : {}),
    };
    const report: Report = { ...partial, verdict: { ...partial.verdict, summary: verdictSentence(partial) } };
    onProgress?.({ ...progress, phase: 'done' });
    return report;
  } finally {
    await pool?.close();
    await Promise.allSettled(opened.map((layout) => layout.close()));
  }
}
