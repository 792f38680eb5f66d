import { visibleWidth } from './text-style.js';

/** Every line of text output fits a 100-column terminal or code review window. */
export const MAX_LINE_WIDTH = 100;

/** Greedy word wrap; words longer than the width stay whole on their own line. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((part) => part.length > 0)) {
    const candidate = line.length === 0 ? indent + word : `${line} ${word}`;
    if (line.length > 0 && visibleWidth(candidate) > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = candidate;
    }
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/** Shortens text to `width` columns by cutting out its middle, where tensor names repeat least. */
export function truncateMiddle(text: string, width: number): string {
  const characters = [...text];
  if (characters.length <= width) return text;
  if (width <= 1) return '…'.slice(0, width);
  const head = Math.ceil((width - 1) / 2);
  const tail = width - 1 - head;
  return `${characters.slice(0, head).join('')}…${tail > 0 ? characters.slice(-tail).join('') : ''}`;
}

/** A cut column keeps at least this much: enough of a name's start and end to recognise it. */
const MIN_SHRUNK_WIDTH = 16;

/** Shortens text to `width` columns by cutting its start: "…00001-of-00004.safetensors". */
export function truncateStart(text: string, width: number): string {
  const characters = [...text];
  if (characters.length <= width) return text;
  if (width <= 1) return '…'.slice(0, width);
  return `…${characters.slice(-(width - 1)).join('')}`;
}

export interface Column {
  readonly header: string;
  readonly align: 'left' | 'right';
  /**
   * Columns that give up width (cut in the middle) when a row would be too wide, lowest
   * number first: a file name column goes before the tensor names people search for.
   */
  readonly shrink?: number;
  /** Narrowest a shrinking column may get (default 16). */
  readonly minWidth?: number;
  /** Where a cut removes text: the middle (names), or the start (file names end in what differs). */
  readonly cut?: 'middle' | 'start';
}

/**
 * A plain table: two spaces between columns, header row, no borders. Cells are plain
 * text; only the header is styled, after padding, so escapes never break the alignment
 * or get cut in half. Rows that would exceed `width` shrink the `shrink` columns.
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  options: { indent?: string; width?: number; styleHeader?: (text: string) => string } = {},
): string[] {
  const indent = options.indent ?? '  ';
  const width = options.width ?? MAX_LINE_WIDTH;
  const styleHeader = options.styleHeader ?? ((text: string) => text);
  const widths = columns.map((column, index) =>
    Math.max(visibleWidth(column.header), ...rows.map((row) => visibleWidth(row[index] ?? ''))),
  );
  const gap = 2;
  const total = indent.length + widths.reduce((sum, w) => sum + w, 0) + gap * (columns.length - 1);
  let excess = total - width;
  const shrinkable = columns
    .map((column, index) => ({ index, priority: column.shrink }))
    .filter((entry): entry is { index: number; priority: number } => entry.priority !== undefined)
    .sort((a, b) => a.priority - b.priority);
  for (const { index } of shrinkable) {
    if (excess <= 0) break;
    const current = widths[index] ?? 0;
    const narrowest = Math.max(visibleWidth(columns[index]?.header ?? ''), columns[index]?.minWidth ?? MIN_SHRUNK_WIDTH);
    const narrowed = Math.max(narrowest, current - excess);
    widths[index] = Math.min(current, narrowed);
    excess -= current - (widths[index] ?? current);
  }
  const line = (cells: readonly string[], header: boolean): string => {
    const padded = columns.map((column, index) => {
      const columnWidth = widths[index] ?? 0;
      let cell = cells[index] ?? '';
      if (visibleWidth(cell) > columnWidth) {
        cell = column.cut === 'start' ? truncateStart(cell, columnWidth) : truncateMiddle(cell, columnWidth);
      }
      const padding = ' '.repeat(Math.max(0, columnWidth - visibleWidth(cell)));
      const last = index === columns.length - 1;
      const aligned = column.align === 'right' ? padding + cell : last ? cell : cell + padding;
      return header ? styleHeader(aligned) : aligned;
    });
    return (indent + padded.join(' '.repeat(gap))).trimEnd();
  };
  return [line(columns.map((column) => column.header), true), ...rows.map((row) => line(row, false))];
}
