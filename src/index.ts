/**
 * provcheck as a library: re-exports only (docs/architecture: the CLI is one user of
 * these). `analyze` runs what `provcheck suspect` runs and returns the report object
 * (the JSON report's schema: report-schema.ts); the renderers turn it into the CLI's
 * formats; `mergePartials` and `parsePartial` are `provcheck merge`.
 */
export { analyze, parentLabel, type AnalyzeOptions, type AnalyzeProgress, type ProgressListener } from './analyze.js';
export type { ShardSpec } from './engine/scan-plan.js';
export type { HubOptions } from './source/hub/hub-session.js';
export { MalformedInputError, UsageError, IoError } from './errors.js';
export { TOOL_VERSION } from './version.js';
export * from './report-schema.js';
export { renderJson, renderJsonPieces, parseReportJson, parseReportBytes } from './report/render-json.js';
export { renderText, type TextRenderOptions } from './report/render-text.js';
export { PLAIN_STYLE, type TextStyle } from './report/text-style.js';
export { renderMarkdown } from './report/render-markdown.js';
export { renderHtml } from './report/render-html.js';
export { mergePartials, parsePartial, serializePartial } from './partial/merge-partials.js';
