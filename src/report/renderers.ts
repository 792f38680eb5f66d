import type { Report } from '../report-schema.js';
import type { ModelSummary } from '../format/model-summary.js';
import { renderInspectJson, renderInspectText } from './render-inspect.js';
import { renderHtml } from './render-html.js';
import { renderJsonPieces } from './render-json.js';
import { renderMarkdown } from './render-markdown.js';
import { renderText } from './render-text.js';
import type { TextStyle } from './text-style.js';

/** Report formats, by the name `--format` takes. */
export const OUTPUT_FORMATS = ['text', 'json', 'markdown', 'html'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `inspect` lists files and tensors: a table for a terminal or data for a program. */
export const INSPECT_FORMATS = ['text', 'json'] as const;
export type InspectFormat = (typeof INSPECT_FORMATS)[number];

export interface RenderOptions {
  readonly style: TextStyle;
}

/** The report as pieces of text to write one after another. */
export type ReportRenderer = (report: Report, options: RenderOptions) => Iterable<string>;
export type InspectRenderer = (summary: ModelSummary, options: RenderOptions & { readonly all: boolean }) => string;

/**
 * One renderer per format; adding a format means adding it here (the Record demands it).
 * JSON comes one tensor at a time (a report of thousands of tensors is never one string),
 * the others whole.
 */
export const REPORT_RENDERERS: Readonly<Record<OutputFormat, ReportRenderer>> = {
  text: (report, options) => [renderText(report, options)],
  json: (report) => renderJsonPieces(report),
  markdown: (report) => [renderMarkdown(report)],
  html: (report) => [renderHtml(report)],
};

export const INSPECT_RENDERERS: Readonly<Record<InspectFormat, InspectRenderer>> = {
  text: renderInspectText,
  json: (summary) => renderInspectJson(summary),
};

export function isOutputFormat(name: string): name is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(name);
}

export function isInspectFormat(name: string): name is InspectFormat {
  return (INSPECT_FORMATS as readonly string[]).includes(name);
}
