import type {
  AlignmentReport,
  ClaimsReport,
  ExactHitProfile,
  FitReport,
  Identifiability,
  InputReport,
  ModelVerdict,
  Report,
  ReproducibilityRecord,
  SamplingReport,
  SliceReport,
  TensorRecipesReport,
  TensorReport,
  TensorSampleReport,
  TensorSums,
  WeightSummary,
} from '../report-schema.js';
import { TENSOR_KINDS } from './verdict-sentence.js';
import { elementwiseVerdictJson, forensicsJson, stackingVerdictJson } from './json-forensics.js';
import { parseJsonBytes, WHOLE_PARSE_BYTES } from './json-array-span.js';
import { hasNonFinite } from './non-finite.js';

/**
 * The JSON report. Keys come out in schema order (src/report-schema.ts) whatever order
 * the report object was built in, so two runs diff cleanly. JSON has no Infinity or
 * NaN: such numbers are written as the strings "Infinity", "-Infinity" and "NaN"
 * (docs/report-schema.md), never as null, which the schema reserves for "not defined
 * here". -0 is written as 0. `parseReportJson` reads them back.
 */
export function renderJson(report: Report): string {
  return [...renderJsonPieces(report)].join('');
}

/**
 * `renderJson`'s text in pieces, one tensor at a time: what is written to a file, so that
 * neither a reordered copy of the whole report nor its whole text (tens of MB for
 * thousands of tensors) is ever held at once. The pieces are exactly the text
 * `JSON.stringify(inSchemaOrder(report), encodeNumber, 2)` gives: the report without its
 * tensors is rendered whole, and the tensors are spliced in where it shows `"tensors": []`,
 * each indented as JSON.stringify indents the elements of a top-level array (JSON text
 * has no raw newline inside a string, so indenting after every newline is exact).
 */
export function* renderJsonPieces(report: Report): Generator<string> {
  const outline = JSON.stringify(inSchemaOrder({ ...report, tensors: [] }), encodeNumber, 2);
  // A top-level key is the only one indented by exactly two spaces.
  const marker = '\n  "tensors": []';
  const at = outline.indexOf(marker);
  if (at < 0) throw new Error('renderJsonPieces: the outline has no tensors array');
  yield `${outline.slice(0, at)}\n  "tensors": `;
  if (report.tensors.length === 0) {
    yield '[]';
  } else {
    yield '[\n';
    for (let i = 0; i < report.tensors.length; i++) {
      // Nested two arrays deep, JSON.stringify indents the tensor as the report's array
      // does; the wrapper's "[\n  [\n" and "\n  ]\n]" are cut off. Without a replacer
      // JSON.stringify takes V8's fast path (docs/performance.md), so the replacer is used
      // only for a tensor holding a non-finite number.
      const value = tensor(report.tensors[i]!);
      const text = hasNonFinite(value) ? JSON.stringify([[value]], encodeNumber, 2) : JSON.stringify([[value]], null, 2);
      yield `${i === 0 ? '' : ',\n'}${text.slice(TENSOR_WRAPPER, -TENSOR_WRAPPER)}`;
    }
    yield '\n  ]';
  }
  yield `${outline.slice(at + marker.length)}\n`;
}

/** Characters of `[[…]]`'s opening and closing lines around a tensor rendered two arrays deep. */
const TENSOR_WRAPPER = '[\n  [\n'.length;

/** Parses a rendered report, turning the non-finite number strings back into numbers. */
export function parseReportJson(text: string): Report {
  return JSON.parse(text, decodeNumbers) as Report;
}

/**
 * `parseReportJson` of a report's UTF-8 bytes, whatever their length: V8's strings stop
 * at 2^29 − 24 characters, and 100,000 tensors make a 648 MB report, so past
 * `wholeBelow` bytes its tensors are parsed one by one (json-array-span.ts).
 */
export function parseReportBytes(bytes: Uint8Array, wholeBelow = WHOLE_PARSE_BYTES): Report {
  return parseJsonBytes(bytes, ['tensors'], (text) => JSON.parse(text, decodeNumbers), wholeBelow) as Report;
}

const NON_FINITE: ReadonlyMap<string, number> = new Map([
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['NaN', Number.NaN],
]);

function encodeNumber(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

/**
 * Every key whose value is a number, a number-or-null, or an array of them, anywhere in
 * the schema. Decoding is keyed on these names so that a tensor or a regex that happens
 * to be spelled "NaN" (in `names`, `command`, `include`) stays a string. No key in the
 * schema holds a number in one place and free text in another.
 */
const NUMERIC_KEYS: ReadonlySet<string> = new Set([
  'schemaVersion',
  'tensors',
  'bytes',
  'reference',
  'layer',
  'elements',
  'nonFinite',
  'parent',
  'weights',
  'weightsStdErr',
  'stdErr',
  'rss',
  'noiseRatio',
  'z',
  'explained',
  'relativeResidual',
  'alternatives',
  'sum',
  'equalShare',
  'informative',
  'reproducedShare',
  'floor',
  'rank',
  'conditionNumber',
  'peak',
  'plateau',
  'hitShare',
  'chanceShare',
  'mean',
  'median',
  'spread',
  'p90',
  'max',
  'filtered',
  'shape',
  'blendMaxNoise',
  'minWeight',
  'unrelatedResidual',
  'modifiedMinWeight',
  'informativeUlps',
  'agreement',
  'requestedFraction',
  'seed',
  'confidence',
  'replicates',
  'blockElements',
  'bytesRead',
  'bytesTotal',
  'fractionRead',
  'requests',
  'tensorsSettled',
  'tensorsUnsettled',
  'blocks',
  'blocksTotal',
  'elementsRead',
]);

function decodeNumbers(key: string, value: unknown): unknown {
  if (!NUMERIC_KEYS.has(key)) return value;
  if (typeof value === 'string') return NON_FINITE.get(value) ?? value;
  if (Array.isArray(value)) {
    return value.map((item: unknown) => (typeof item === 'string' ? (NON_FINITE.get(item) ?? item) : item));
  }
  return value;
}

/*
 * One function per schema interface, each returning an object literal typed as that
 * interface: the compiler rejects a missing or unknown key, so a field added to the
 * schema cannot silently drop out of the JSON, and the literal's order is the order
 * written.
 */

function inSchemaOrder(report: Report): Report {
  return {
    schemaVersion: report.schemaVersion,
    tool: { name: report.tool.name, version: report.tool.version },
    createdAt: report.createdAt,
    command: [...report.command],
    suspect: input(report.suspect),
    parents: report.parents.map(input),
    reference: report.reference,
    options: {
      include: [...report.options.include],
      exclude: [...report.options.exclude],
      thresholds: {
        blendMaxNoise: report.options.thresholds.blendMaxNoise,
        minWeight: report.options.thresholds.minWeight,
        unrelatedResidual: report.options.thresholds.unrelatedResidual,
        modifiedMinWeight: report.options.thresholds.modifiedMinWeight,
        informativeUlps: report.options.thresholds.informativeUlps,
        agreement: report.options.thresholds.agreement,
      },
      ...(report.options.floor === undefined ? {} : { floor: report.options.floor }),
    },
    verdict: verdict(report.verdict),
    tensors: report.tensors.map(tensor),
    unmatched: {
      suspectOnly: [...report.unmatched.suspectOnly],
      parentOnly: report.unmatched.parentOnly.map((entry) => ({ parent: entry.parent, names: [...entry.names] })),
    },
    mismatched: report.mismatched.map((entry) => ({ name: entry.name, reason: entry.reason, detail: entry.detail })),
    filtered: report.filtered,
    ...(report.reproducibility === undefined ? {} : { reproducibility: reproducibility(report.reproducibility) }),
    ...(report.claims === undefined ? {} : { claims: claims(report.claims) }),
    ...(report.forensics === undefined ? {} : { forensics: forensicsJson(report.forensics) }),
    ...(report.alignment === undefined ? {} : { alignment: alignment(report.alignment) }),
    ...(report.sampling === undefined ? {} : { sampling: sampling(report.sampling) }),
  };
}

function alignment(report: AlignmentReport): AlignmentReport {
  return {
    renames: report.renames.map((r) => ({ input: r.input, rule: r.rule, tensors: r.tensors })),
    mapRules: [...report.mapRules],
    resized: report.resized.map((r) => ({
      name: r.name,
      commonRows: r.commonRows,
      rows: { suspect: r.rows.suspect, parents: [...r.rows.parents] },
    })),
    tied: [...report.tied],
    inputs: report.inputs.map((i) => ({
      input: i.input,
      quantMethod: i.quantMethod,
      schemes: i.schemes.map((s) => ({ id: s.id, title: s.title, detail: s.detail, tensors: s.tensors })),
      consumed: i.consumed,
    })),
    groups: { tensors: report.groups.tensors, units: report.groups.units },
  };
}

function sampling(report: SamplingReport): SamplingReport {
  return {
    mode: report.mode,
    requestedFraction: report.requestedFraction,
    seed: report.seed,
    confidence: report.confidence,
    method: report.method,
    replicates: report.replicates,
    blockElements: report.blockElements,
    bytesRead: report.bytesRead,
    bytesTotal: report.bytesTotal,
    fractionRead: report.fractionRead,
    requests: report.requests,
    tensorsSettled: report.tensorsSettled,
    tensorsUnsettled: report.tensorsUnsettled,
  };
}

function reproducibility(record: ReproducibilityRecord): ReproducibilityRecord {
  const { analysis } = record;
  return {
    tool: { name: record.tool.name, version: record.tool.version },
    runtime: { node: record.runtime.node, platform: record.runtime.platform, arch: record.runtime.arch },
    command: [...record.command],
    workingDirectory: record.workingDirectory,
    createdAt: record.createdAt,
    analysis: {
      suspect: analysis.suspect,
      parents: [...analysis.parents],
      reference: analysis.reference,
      include: [...analysis.include],
      exclude: [...analysis.exclude],
      thresholds: { ...analysis.thresholds },
      seed: analysis.seed,
      ...(analysis.map === undefined ? {} : { map: [...analysis.map] }),
      ...(analysis.floor === undefined ? {} : { floor: analysis.floor }),
      ...(analysis.recipes === undefined ? {} : { recipes: analysis.recipes }),
      ...(analysis.sample === undefined ? {} : { sample: analysis.sample === null ? null : structuredClone(analysis.sample) }),
      ...(analysis.baseGiven === undefined ? {} : { baseGiven: analysis.baseGiven }),
    },
    inputs: record.inputs.map((input) => ({
      label: input.label,
      source: input.source,
      resolved: input.resolved,
      revision: input.revision,
      files: input.files.map((file) => ({
        path: file.path,
        bytes: file.bytes,
        modified: file.modified,
        sha256: file.sha256,
        sha256From: file.sha256From,
      })),
    })),
  };
}

function claims(report: ClaimsReport): ClaimsReport {
  const { declared } = report;
  return {
    declared: {
      files: [...declared.files],
      baseModels: [...declared.baseModels],
      relation: declared.relation,
      tags: [...declared.tags],
      mergekit:
        declared.mergekit === null
          ? null
          : {
              method: declared.mergekit.method,
              baseModel: declared.mergekit.baseModel,
              dtype: declared.mergekit.dtype,
              models: declared.mergekit.models.map((model) => ({ model: model.model, weight: model.weight })),
            },
      problems: [...declared.problems],
    },
    declaredAs: report.declaredAs,
    measuredAs: report.measuredAs,
    parentsDeclared: [...report.parentsDeclared],
    declaredWeights: report.declaredWeights === null ? null : [...report.declaredWeights],
    status: report.status,
    findings: report.findings.map((finding) => ({ ...finding })),
    undisclosedMerge: report.undisclosedMerge,
  };
}

function input(report: InputReport): InputReport {
  return {
    label: report.label,
    source: report.source,
    // Optional within schema 1 (reports from before Hub inputs lack them).
    ...(report.origin === undefined ? {} : { origin: report.origin, repo: report.repo ?? null, revision: report.revision ?? null }),
    layout: report.layout,
    files: report.files.map((file) => ({ path: file.path, bytes: file.bytes })),
    tensors: report.tensors,
    bytes: report.bytes,
  };
}

function verdict(report: ModelVerdict): ModelVerdict {
  const counts = {} as ModelVerdict['counts'];
  for (const kind of TENSOR_KINDS) {
    counts[kind] = { tensors: report.counts[kind].tensors, elements: report.counts[kind].elements };
  }
  return {
    kind: report.kind,
    weights: report.weights === null ? null : [...report.weights],
    parent: report.parent,
    summary: report.summary,
    reason: report.reason,
    counts,
    weightStats: report.weightStats.map((stats) => (stats === null ? null : weightSummary(stats))),
    noiseRatio:
      report.noiseRatio === null
        ? null
        : { median: report.noiseRatio.median, p90: report.noiseRatio.p90, max: report.noiseRatio.max },
    alternatives: [...report.alternatives],
    reproducedShare: report.reproducedShare,
    ...(report.elementwise ? { elementwise: elementwiseVerdictJson(report.elementwise) } : {}),
    ...(report.stacking ? { stacking: stackingVerdictJson(report.stacking) } : {}),
  };
}

function weightSummary(stats: WeightSummary): WeightSummary {
  return { mean: stats.mean, median: stats.median, spread: stats.spread, stdErr: stats.stdErr };
}

function tensor(report: TensorReport): TensorReport {
  return {
    name: report.name,
    shape: [...report.shape],
    dtype: report.dtype,
    parentDtypes: [...report.parentDtypes],
    component: report.component,
    layer: report.layer,
    elements: report.elements,
    nonFinite: report.nonFinite,
    kind: report.kind,
    parent: report.parent,
    reason: report.reason,
    weights: [...report.weights],
    weightsStdErr: [...report.weightsStdErr],
    weightMethod: report.weightMethod,
    noiseRatio: report.noiseRatio,
    z: report.z,
    explained: report.explained,
    relativeResidual: report.relativeResidual,
    alternatives: [...report.alternatives],
    freeFit: { weights: [...report.freeFit.weights], sum: report.freeFit.sum, noiseRatio: report.freeFit.noiseRatio },
    leastSquares: fit(report.leastSquares),
    equalShare: [...report.equalShare],
    informative: report.informative,
    profile: report.profile === null ? null : profile(report.profile),
    reproducedShare: report.reproducedShare,
    identifiability: identifiability(report.identifiability),
    floor: report.floor,
    rss: report.rss,
    ...(report.sums === undefined ? {} : { sums: tensorSums(report.sums) }),
    ...(report.encodings === undefined ? {} : { encodings: { suspect: report.encodings.suspect, parents: [...report.encodings.parents] } }),
    ...(report.grid === undefined ? {} : { grid: report.grid }),
    ...(report.slices === undefined ? {} : { slices: report.slices.map(slice) }),
    ...(report.rssMethod === undefined ? {} : { rssMethod: report.rssMethod }),
    ...(report.recipes === undefined ? {} : { recipes: tensorRecipes(report.recipes) }),
    ...(report.sample === undefined ? {} : { sample: tensorSample(report.sample) }),
  };
}

function slice(report: SliceReport): SliceReport {
  return {
    name: report.name,
    expert: report.expert,
    elements: report.elements,
    kind: report.kind,
    parent: report.parent,
    weights: [...report.weights],
    noiseRatio: report.noiseRatio,
    reproducedShare: report.reproducedShare,
  };
}

function tensorSample(report: TensorSampleReport): TensorSampleReport {
  return {
    blocks: report.blocks,
    blocksTotal: report.blocksTotal,
    elementsRead: report.elementsRead,
    whole: report.whole,
    weights: report.weights.map((w) => (w === null ? null : [w[0], w[1]])),
    noiseRatio: [report.noiseRatio[0], report.noiseRatio[1]],
    agreement: report.agreement,
    settled: report.settled,
  };
}

function tensorRecipes(recipes: TensorRecipesReport): TensorRecipesReport {
  const e = recipes.elementwise;
  return {
    replayed: recipes.replayed,
    parentsDiffer: recipes.parentsDiffer,
    candidates: recipes.candidates.map((c) => ({
      weights: [...c.weights],
      arithmetic: c.arithmetic,
      normalise: c.normalise,
      origin: c.origin,
      digits: c.digits,
      reproduced: c.reproduced,
      reproducedWhereParentsDiffer: c.reproducedWhereParentsDiffer,
      // SLERP and task arithmetic: without these a candidate reads as the weighted sum with the same weights.
      ...(c.method === undefined ? {} : { method: c.method }),
      ...(c.t === undefined ? {} : { t: c.t }),
      ...(c.base === undefined ? {} : { base: c.base }),
      ...(c.cosine === undefined ? {} : { cosine: c.cosine }),
    })),
    elementwise: {
      parents: e.parents,
      reference: e.reference,
      finite: e.finite,
      changed: e.changed,
      changedKeptBase: e.changedKeptBase,
      allMoved: e.allMoved,
      allMovedKeptBase: e.allMovedKeptBase,
      large: e.large,
      largeKeptBase: e.largeKeptBase,
      conflicts: e.conflicts,
      conflictsAtParent: e.conflictsAtParent,
      agreements: e.agreements,
      agreementsAtParent: e.agreementsAtParent,
      moved: e.moved,
      movedGram: [...e.movedGram],
      largeGram: [...e.largeGram],
    },
  };
}

function tensorSums(sums: TensorSums): TensorSums {
  return {
    used: sums.used,
    gram: [...sums.gram],
    floor: sums.floor,
    floorVar: sums.floorVar,
    parentsEqual: sums.parentsEqual,
    informative: { count: sums.informative.count, gram: [...sums.informative.gram], floor: sums.informative.floor },
  };
}

function fit(report: FitReport): FitReport {
  return {
    weights: [...report.weights],
    stdErr: [...report.stdErr],
    rss: report.rss,
    noiseRatio: report.noiseRatio,
    z: report.z,
  };
}

function profile(report: ExactHitProfile): ExactHitProfile {
  return {
    peak: report.peak,
    plateau: report.plateau,
    hitShare: report.hitShare,
    chanceShare: report.chanceShare,
    informative: report.informative,
  };
}

function identifiability(report: Identifiability): Identifiability {
  return {
    identifiable: report.identifiable,
    rank: report.rank,
    conditionNumber: report.conditionNumber,
    reason: report.reason,
  };
}
