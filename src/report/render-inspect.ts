import type { StorageSummary } from '../align/model-storage.js';
import type { ModelSummary, TensorSummary } from '../format/model-summary.js';
import { formatBytes, formatCompact, formatCount } from './format-numbers.js';
import { MAX_LINE_WIDTH, renderTable, truncateMiddle, wrap, type Column } from './text-layout.js';
import type { TextStyle } from './text-style.js';

/** Version of the `inspect --format json` shape; bumped like the report's schemaVersion. */
export const INSPECT_SCHEMA_VERSION = 1;

/**
 * The model summary as JSON: `schemaVersion` first, then the summary's fields in the
 * order src/format/model-summary.ts declares them (docs/report-schema.md, "inspect").
 * Every number in it is a finite count or size.
 */
/** The header summary, and how the weights are stored when the inspect command read that too. */
export type InspectSummary = ModelSummary & { readonly storage?: StorageSummary };

export function renderInspectJson(summary: InspectSummary): string {
  return `${JSON.stringify({ schemaVersion: INSPECT_SCHEMA_VERSION, ...summary }, null, 2)}\n`;
}

export interface InspectTextOptions {
  readonly style: TextStyle;
  /** List every tensor instead of grouping repeated layers. */
  readonly all: boolean;
}

/** Up to this many tensors are listed one per row even without --all. */
const LIST_ALL_UP_TO = 60;
/** Rows of the grouped table before it is cut (a model with no layer structure). */
const MAX_GROUPED_ROWS = 80;
/** Metadata values can be whole JSON configs; a line shows only their start. */
const METADATA_VALUE_WIDTH = 60;

export function renderInspectText(summary: InspectSummary, options: InspectTextOptions): string {
  const { style } = options;
  const totalTensors = summary.tensors.length;
  const sections: string[][] = [
    [
      style.bold(summary.input),
      `  ${summary.kind}${summary.indexFile === null ? '' : ` (index ${summary.indexFile})`}, ` +
        `${formatCount(summary.files.length)} ${summary.files.length === 1 ? 'file' : 'files'}, ` +
        `${formatBytes(summary.totals.fileBytes)}, ${formatCount(totalTensors)} tensors`,
    ],
    [
      style.bold('Files'),
      ...renderTable(
        [
          { header: '#', align: 'right' },
          { header: 'file', align: 'left', shrink: 2 },
          { header: 'size', align: 'right' },
          { header: 'header', align: 'right' },
          { header: 'tensors', align: 'right' },
        ],
        summary.files.map((file, index) => [
          `${index + 1}`,
          file.file,
          formatBytes(file.bytes),
          formatBytes(file.headerBytes),
          formatCount(file.tensorCount),
        ]),
        { styleHeader: style.dim },
      ),
    ],
    metadataSection(summary, style),
    storageSection(summary.storage, style),
    [
      style.bold('Dtypes'),
      ...renderTable(
        [
          { header: 'dtype', align: 'left' },
          { header: 'tensors', align: 'right' },
          { header: 'elements', align: 'right' },
          { header: 'size', align: 'right' },
        ],
        summary.dtypes.map((entry) => [entry.dtype, formatCount(entry.tensors), formatCompact(entry.elements), formatBytes(entry.bytes)]),
        { styleHeader: style.dim },
      ),
    ],
    tensorSection(summary, options),
  ];
  return `${sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join('\n'))
    .join('\n\n')}\n`;
}

/** Scheme, layout and name mapping: what a comparison will read and match. */
function storageSection(storage: StorageSummary | undefined, style: TextStyle): string[] {
  if (!storage) return [];
  const lines: string[] = [];
  if (storage.schemes.length === 0) lines.push(`  scheme: plain floats${storage.quantMethod ? ` (config quant_method ${storage.quantMethod}: no tensors stored that way)` : ''}`);
  for (const scheme of storage.schemes) {
    lines.push(`  scheme: ${scheme.title}, ${scheme.detail}: ${formatCount(scheme.tensors)} weights`);
  }
  lines.push(
    `  ${formatCount(storage.logicalTensors)} weights to compare` +
      (storage.consumed > 0 ? `; ${formatCount(storage.consumed)} scale tensors read with their weights` : ''),
  );
  const { fusedTensors, fusedSlices, perExpertTensors } = storage.experts;
  if (fusedTensors > 0) lines.push(`  experts: ${formatCount(fusedTensors)} fused tensors (${formatCount(fusedSlices)} per-expert matrices)`);
  if (perExpertTensors > 0) lines.push(`  experts: ${formatCount(perExpertTensors)} per-expert tensors`);
  if (storage.tieWordEmbeddings) lines.push('  lm_head: tied to model.embed_tokens (config tie_word_embeddings)');
  for (const rename of storage.renames) lines.push(`  names: ${rename.rule} (${formatCount(rename.tensors)} tensors)`);
  for (const u of storage.unsupported.slice(0, 5)) lines.push(truncateMiddle(`  unreadable: ${u.name} (${u.dtype}): ${u.reason}`, MAX_LINE_WIDTH));
  if (storage.unsupported.length > 5) lines.push(`  … ${formatCount(storage.unsupported.length - 5)} more unreadable tensors`);
  return [style.bold('Storage'), ...lines];
}

function metadataSection(summary: ModelSummary, style: TextStyle): string[] {
  const lines: string[] = [];
  for (const file of summary.files) {
    const entries = Object.entries(file.metadata);
    if (entries.length === 0) continue;
    if (summary.files.length > 1) lines.push(`  ${file.file}`);
    const indent = summary.files.length > 1 ? '    ' : '  ';
    for (const [key, value] of entries) {
      const oneLine = value.replace(/\s+/g, ' ');
      const line = `${indent}${key}: ${truncateMiddle(oneLine, METADATA_VALUE_WIDTH)}`;
      lines.push(truncateMiddle(line, MAX_LINE_WIDTH));
    }
  }
  return lines.length === 0 ? [] : [style.bold('Metadata'), ...lines];
}

function tensorSection(summary: ModelSummary, options: InspectTextOptions): string[] {
  const { style } = options;
  const total = summary.tensors.length;
  if (total === 0) return [style.bold('Tensors'), '  none'];
  const columns: Column[] = [
    { header: 'tensor', align: 'left', shrink: 2 },
    { header: 'dtype', align: 'left' },
    { header: 'shape', align: 'left' },
    { header: 'size', align: 'right' },
    // The file's number in the Files table: shard names are long and differ only inside.
    { header: 'file', align: 'right' },
  ];
  const fileNumber = new Map(summary.files.map((file, index) => [file.file, index + 1]));
  if (options.all || total <= LIST_ALL_UP_TO) {
    const rows = summary.tensors.map((tensor) => [
      tensor.name,
      tensor.dtype,
      shapeText(tensor.shape),
      formatBytes(tensor.bytes),
      `${fileNumber.get(tensor.file) ?? '?'}`,
    ]);
    return [style.bold('Tensors'), ...renderTable(columns, rows, { styleHeader: style.dim })];
  }
  columns.splice(4, 0, { header: 'count', align: 'right' });
  const groups = groupByPattern(summary.tensors);
  const shown = groups.slice(0, MAX_GROUPED_ROWS);
  const rows = shown.map((group) => [
    group.pattern,
    group.dtype,
    shapeText(group.shape),
    formatBytes(group.bytes),
    `×${formatCount(group.count)}`,
    fileNumbers([...group.files].map((file) => fileNumber.get(file) ?? 0)),
  ]);
  const cut = groups.length - shown.length;
  const note =
    `${formatCount(total)} tensors in ${formatCount(groups.length)} groups (numbered parts merged; size is per tensor)` +
    (cut > 0 ? `; first ${formatCount(shown.length)} groups shown` : '') +
    '; --all lists every tensor';
  return [
    style.bold('Tensors'),
    ...wrap(note, MAX_LINE_WIDTH, '  ').map((line) => style.dim(line)),
    ...renderTable(columns, rows, { styleHeader: style.dim }),
    ...(cut > 0 ? [style.dim(`  … ${formatCount(cut)} more groups`)] : []),
  ];
}

interface TensorGroup {
  pattern: string;
  dtype: string;
  shape: readonly number[];
  bytes: number;
  count: number;
  files: Set<string>;
}

/**
 * Groups tensors whose names differ only in numbered parts ("model.layers.7.mlp...")
 * and that share dtype and shape, so an 80-layer model reads as one row per kind of
 * tensor. Each numbered part is shown as the set it ranges over: {0..79}, {0,2,5}, or *.
 */
function groupByPattern(tensors: readonly TensorSummary[]): TensorGroup[] {
  const groups = new Map<string, { parts: string[]; slots: Set<number>[]; group: TensorGroup }>();
  for (const tensor of tensors) {
    const parts = tensor.name.split('.');
    const numbered = parts.map((part) => /^\d+$/.test(part));
    const template = parts.map((part, index) => (numbered[index] === true ? '\u0000' : part));
    const key = `${template.join('.')}\u0001${tensor.dtype}\u0001${tensor.shape.join(',')}`;
    let entry = groups.get(key);
    if (entry === undefined) {
      entry = {
        parts: template,
        slots: parts.map(() => new Set<number>()),
        group: { pattern: '', dtype: tensor.dtype, shape: tensor.shape, bytes: tensor.bytes, count: 0, files: new Set() },
      };
      groups.set(key, entry);
    }
    parts.forEach((part, index) => {
      if (numbered[index] === true) entry.slots[index]?.add(Number(part));
    });
    entry.group.count += 1;
    entry.group.files.add(tensor.file);
  }
  return [...groups.values()].map(({ parts, slots, group }) => ({
    ...group,
    pattern: parts.map((part, index) => (part === '\u0000' ? slotText(slots[index] ?? new Set()) : part)).join('.'),
  }));
}

function slotText(values: Set<number>): string {
  const sorted = [...values].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted.at(-1);
  if (first === undefined || last === undefined) return '*';
  if (sorted.length === 1) return `${first}`;
  if (last - first + 1 === sorted.length) return `{${first}..${last}}`;
  if (sorted.length <= 4) return `{${sorted.join(',')}}`;
  return '*';
}

/** "3", "1–2" for a contiguous run of files, "1,3" otherwise. */
function fileNumbers(numbers: number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted.at(-1);
  if (first === undefined || last === undefined) return '?';
  if (first === last) return `${first}`;
  if (last - first + 1 === sorted.length) return `${first}–${last}`;
  return sorted.join(',');
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
