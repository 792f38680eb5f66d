import { alignTensors } from './align/align-tensors.js';
import { componentOf, layerOf } from './align/tensor-name.js';
import { DEFAULT_CHUNK_ELEMENTS, TensorScanner } from './engine/scan-tensor.js';
import { UsageError } from './errors.js';
import { fitTensor } from './fit/tensor-fit.js';
import { readLocalDeclaredProvenance } from './format/declared-provenance.js';
import { modelFolder, recordInput } from './format/input-files.js';
import { loadModel } from './format/load-model.js';
import type { ModelLayout } from './format/model-layout.js';
import { verdictSentence, type ReportWithoutSummary } from './report/verdict-sentence.js';
import type { InputReport, Report, TensorReport, Thresholds } from './report-schema.js';
import { SCHEMA_VERSION } from './report-schema.js';
import { checkClaims } from './verdict/claims.js';
import { modelVerdict } from './verdict/model-verdict.js';
import { tensorVerdict } from './verdict/tensor-verdict.js';
import { DEFAULT_THRESHOLDS } from './verdict/thresholds.js';
import { TOOL_VERSION } from './version.js';

export interface AnalyzeOptions {
  /** Paths as the user typed them. */
  suspect: string;
  parents: string[];
  /** Index into `parents` of the reference (--base); default 0. */
  reference?: number;
  /** A tensor is analysed when it matches some include (or none are given) and no exclude. */
  include?: RegExp[];
  exclude?: RegExp[];
  thresholds?: Partial<Thresholds>;
  /** The command line, recorded in the report. */
  command?: string[];
  /** Elements per chunk read and decoded at once (bounded memory). */
  chunkElements?: number;
}

export interface AnalyzeProgress {
  phase: 'open' | 'scan' | 'done';
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
}

export type ProgressListener = (progress: AnalyzeProgress) => void;

/** "A", "B", … "Z", "P27", … : short names for parents in sentences and tables. */
export function parentLabel(index: number): string {
  return index < 26 ? String.fromCharCode(65 + index) : `P${index + 1}`;
}

function describeInput(layout: ModelLayout, label: string): InputReport {
  return {
    label,
    source: layout.input,
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

  const opened: ModelLayout[] = [];
  try {
    onProgress?.({ phase: 'open', bytesDone: 0, bytesTotal: 0, tensorsDone: 0, tensorsTotal: 0 });
    const suspect = await loadModel(options.suspect);
    opened.push(suspect);
    const parents: ModelLayout[] = [];
    for (const input of options.parents) {
      const parent = await loadModel(input);
      opened.push(parent);
      parents.push(parent);
    }

    const alignment = alignTensors(suspect, parents, { include, exclude });
    const bytesTotal = alignment.tensors.reduce(
      (sum, t) => sum + t.suspect.byteLength + t.parents.reduce((s, p) => s + p.byteLength, 0),
      0,
    );
    const progress: AnalyzeProgress = {
      phase: 'scan',
      bytesDone: 0,
      bytesTotal,
      tensorsDone: 0,
      tensorsTotal: alignment.tensors.length,
    };
    onProgress?.({ ...progress });
    const scanner = new TensorScanner(k, {
      reference,
      informativeUlps: thresholds.informativeUlps,
      chunkElements: options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS,
      onBytes: (bytes) => {
        progress.bytesDone += bytes;
        onProgress?.({ ...progress });
      },
    });

    const tensors: TensorReport[] = [];
    for (const aligned of alignment.tensors) {
      const moments = await scanner.scan(aligned);
      const fit = fitTensor(moments);
      if (fit.reproducedShare === null && fit.weights.every((w) => w !== null) && fit.informative > 0) {
        // No exact-hit profile (three or more parents, or no clear peak): a second read
        // counts what the fitted blend reproduces bit for bit.
        const counted = await scanner.countReproduced(aligned, fit.weights as number[]);
        fit.reproducedShare = counted.informative > 0 ? counted.reproduced / counted.informative : null;
      }
      const verdict = tensorVerdict(fit, thresholds);
      tensors.push({
        name: aligned.name,
        shape: [...aligned.suspect.shape],
        dtype: aligned.suspect.dtype,
        parentDtypes: aligned.parents.map((p) => p.dtype),
        component: componentOf(aligned.name),
        layer: layerOf(aligned.name),
        kind: verdict.kind,
        parent: verdict.parent,
        reason: verdict.reason,
        ...fit,
      });
      progress.tensorsDone++;
      onProgress?.({ ...progress });
    }

    // Recorded after the scan, so the record describes the files as they were read.
    const inputs = [await recordInput(suspect, 'suspect')];
    for (const [j, parent] of parents.entries()) inputs.push(await recordInput(parent, parentLabel(j)));
    const declared = await readLocalDeclaredProvenance(modelFolder(suspect));
    const verdict = modelVerdict(tensors, k, thresholds);
    const createdAt = new Date().toISOString();
    const command = options.command ?? [];
    const partial: ReportWithoutSummary = {
      schemaVersion: SCHEMA_VERSION,
      tool: { name: 'provcheck', version: TOOL_VERSION },
      createdAt,
      command,
      suspect: describeInput(suspect, 'suspect'),
      parents: parents.map((p, j) => describeInput(p, parentLabel(j))),
      reference,
      options: { include: include.map((re) => re.source), exclude: exclude.map((re) => re.source), thresholds },
      verdict,
      tensors,
      unmatched: { suspectOnly: alignment.suspectOnly, parentOnly: alignment.parentOnly },
      mismatched: alignment.mismatched,
      filtered: alignment.filtered,
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
          seed: null,
        },
        inputs,
      },
      claims: checkClaims({ declared, verdict, parentSources: options.parents, minWeight: thresholds.minWeight }),
    };
    const report: Report = { ...partial, verdict: { ...partial.verdict, summary: verdictSentence(partial) } };
    onProgress?.({ ...progress, phase: 'done' });
    return report;
  } finally {
    await Promise.allSettled(opened.map((layout) => layout.close()));
  }
}
