import { isProvcheckError, MalformedInputError, UsageError } from '../errors.js';
import { verdictSentence, type ReportWithoutSummary } from '../report/verdict-sentence.js';
import { parseJsonBytes, WHOLE_PARSE_BYTES } from '../report/json-array-span.js';
import type { Report, TensorReport } from '../report-schema.js';
import { checkClaims } from '../verdict/claims.js';
import { modelVerdict } from '../verdict/model-verdict.js';
import { forensicsReport } from '../verdict/recipes/forensics.js';
import { parseExact, stringifyExact } from './tensor-json.js';

const PARTIAL_KEY = 'provcheckPartial';
/** 2: strings starting with "#" escaped (tensor-json.ts); format 1 read "#NaN" as a number, whatever it named. */
const PARTIAL_FORMAT = 2;

/**
 * What `--shard i/N` writes: the report of a run over that shard's tensors, and which
 * shard it is. Shards are consecutive runs of tensors in file order (scan-plan.ts), so
 * the shards' tensors, concatenated in shard order, are the single run's tensors in its
 * order.
 */
export interface PartialReport {
  /** 1-based, as on the command line. */
  shard: number;
  of: number;
  report: Report;
}

/**
 * The partial report's text, a tensor at a time (a shard of 100,000 tensors is 364 MB,
 * two thirds of the longest string V8 makes): the report's tensors come last, each its
 * own piece.
 */
export function* serializePartial(partial: PartialReport): Generator<string> {
  const { tensors, ...rest } = partial.report;
  const head = stringifyExact({ [PARTIAL_KEY]: { format: PARTIAL_FORMAT, shard: partial.shard, of: partial.of }, report: rest });
  // head ends with the report's and the document's closing braces; the report has keys.
  yield `${head.slice(0, -2)},"tensors":[`;
  for (let i = 0; i < tensors.length; i++) yield `${i === 0 ? '' : ','}${stringifyExact(tensors[i])}`;
  yield ']}}\n';
}

/** A partial report from its bytes, whatever their length (parseJsonBytes). */
export function parsePartial(bytes: Uint8Array, file: string, wholeBelow = WHOLE_PARSE_BYTES): PartialReport {
  let parsed: { [PARTIAL_KEY]?: { format?: unknown; shard?: unknown; of?: unknown }; report?: Report };
  try {
    parsed = parseJsonBytes(bytes, ['report', 'tensors'], parseExact, wholeBelow) as typeof parsed;
  } catch {
    throw new MalformedInputError(file, 'not a provcheck partial report (not JSON)');
  }
  const head = parsed?.[PARTIAL_KEY];
  if (!head || head.format !== PARTIAL_FORMAT || !parsed.report || !Array.isArray(parsed.report.tensors)) {
    throw new MalformedInputError(file, `not a provcheck partial report of format ${PARTIAL_FORMAT} (write one with --shard i/N)`);
  }
  const unnamed = parsed.report.tensors.findIndex((t: unknown) => typeof t !== 'object' || t === null || typeof (t as { name?: unknown }).name !== 'string');
  if (unnamed >= 0) throw new MalformedInputError(file, `tensor report ${unnamed + 1} has no name: the partial report is damaged; make it again with --shard`);
  // Shards of one run must come from one version (mergePartials): a partial must say which.
  const tool = (parsed.report as { tool?: { version?: unknown } }).tool;
  if (typeof tool?.version !== 'string') {
    throw new MalformedInputError(file, 'the partial report does not say which provcheck version made it (report.tool.version)');
  }
  const { shard, of } = head;
  if (!Number.isInteger(shard) || !Number.isInteger(of) || (of as number) < 1 || (shard as number) < 1 || (shard as number) > (of as number)) {
    throw new MalformedInputError(file, `shard ${String(shard)}/${String(of)} is not a valid shard number`);
  }
  return { shard: shard as number, of: of as number, report: parsed.report };
}

/**
 * Everything of a shard's report that must be the same in every shard of one run: the
 * inputs, the options and the alignment. Tensors, the verdict built from them, and the
 * when and how of each run are not.
 */
function runIdentityOf(report: Report): string {
  const {
    tensors: _tensors,
    verdict: _verdict,
    createdAt: _createdAt,
    command: _command,
    reproducibility,
    claims,
    // Recomputed from the merged tensors, like the verdict.
    forensics: _forensics,
    ...rest
  } = report;
  return stringifyExact({
    ...rest,
    analysis: reproducibility?.analysis ?? null,
    inputs: reproducibility?.inputs ?? null,
    declared: claims?.declared ?? null,
  });
}

/**
 * Combines the partial reports of shards 1…N of one run into the report the single run
 * gives: same tensors in the same order, and the model verdict, its sentence and the
 * claims computed from them as the single run computes them. Only `createdAt` and the
 * command (here: the merge's) differ.
 */
export function mergePartials(partials: readonly { file: string; partial: PartialReport }[], command: readonly string[]): Report {
  if (partials.length === 0) throw new UsageError('merge: give the partial reports of every shard');
  const of = partials[0]!.partial.of;
  const byShard = new Map<number, { file: string; partial: PartialReport }>();
  for (const entry of partials) {
    if (entry.partial.of !== of) {
      throw new UsageError(`${entry.file}: shard ${entry.partial.shard}/${entry.partial.of} is from a split into ${entry.partial.of}, not ${of} (${partials[0]!.file})`);
    }
    const twin = byShard.get(entry.partial.shard);
    if (twin) throw new UsageError(`${entry.file}: shard ${entry.partial.shard}/${of} is given twice (also ${twin.file})`);
    byShard.set(entry.partial.shard, entry);
  }
  const missing = Array.from({ length: of }, (_, i) => i + 1).filter((i) => !byShard.has(i));
  if (missing.length > 0) throw new UsageError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${of}`).join(', ')} missing`);

  const ordered = Array.from({ length: of }, (_, i) => byShard.get(i + 1)!);
  const first = ordered[0]!;
  const identity = runIdentityOf(first.partial.report);
  for (const entry of ordered.slice(1)) {
    // Versions may cut and report tensors differently (28731f4 grouped per-expert tensors): say so, not only that something differs.
    const [version, wanted] = [entry.partial.report.tool.version, first.partial.report.tool.version];
    if (version !== wanted) {
      throw new UsageError(`${entry.file}: made by provcheck ${version}, ${first.file} by ${wanted}; shards of one run must come from one version`);
    }
    if (runIdentityOf(entry.partial.report) !== identity) {
      throw new UsageError(`${entry.file}: made from other inputs or options than ${first.file}; shards of one run must share both`);
    }
  }
  const tensors = ordered.flatMap((entry) => entry.partial.report.tensors);
  const seen = new Set<string>();
  for (const tensor of tensors) {
    if (seen.has(tensor.name)) throw new UsageError(`merge: tensor ${tensor.name} is in two shards (were they made by different provcheck versions?)`);
    seen.add(tensor.name);
  }

  try {
    return combined(first.partial.report, tensors, command);
  } catch (error) {
    // A tensor report damaged by hand fails the computation: name the shard it is in.
    throw damagedShard(ordered, command) ?? error;
  }
}

/**
 * The first of `partials` whose report alone fails the merge's computation, or `render`
 * (the caller's renderer), as a refusal naming its file and the --shard to make again;
 * null when none does. Only asked for after the merged report failed: each shard's
 * verdict and forensics computed once more, nothing read again.
 */
export function damagedShard(
  partials: readonly { file: string; partial: PartialReport }[],
  command: readonly string[],
  render?: (report: Report) => void,
): MalformedInputError | null {
  for (const entry of partials) {
    try {
      const alone = combined(entry.partial.report, entry.partial.report.tensors, command);
      render?.(alone);
    } catch (error) {
      if (isProvcheckError(error)) throw error;
      const { shard, of } = entry.partial;
      const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
      return new MalformedInputError(entry.file, `a tensor report in it is damaged (${message}); was the file edited? Make it again with --shard ${shard}/${of}`);
    }
  }
  return null;
}

/** The report of a run from its first shard's report (inputs, options, record) and every shard's tensors. */
function combined(base: Report, tensors: TensorReport[], command: readonly string[]): Report {
  const { thresholds } = base.options;
  const verdict = modelVerdict(tensors, base.parents.length, thresholds);
  const createdAt = new Date().toISOString();
  const withoutSummary: ReportWithoutSummary = {
    ...base,
    createdAt,
    command: [...command],
    verdict,
    tensors,
    ...(base.reproducibility ? { reproducibility: { ...base.reproducibility, command: [...command], createdAt } } : {}),
    ...(base.claims
      ? {
          claims: checkClaims({
            declared: base.claims.declared,
            verdict,
            parentSources: base.reproducibility?.analysis.parents ?? base.parents.map((p) => p.source),
            minWeight: thresholds.minWeight,
          }),
        }
      : {}),
    ...(base.forensics
      ? {
          forensics: forensicsReport({
            tensors,
            verdict,
            parents: base.parents.length,
            reference: base.reference,
            baseGiven: base.forensics.base !== null,
          }),
        }
      : {}),
  };
  return { ...withoutSummary, verdict: { ...withoutSummary.verdict, summary: verdictSentence(withoutSummary) } };
}
