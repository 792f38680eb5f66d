/**
 * The package's library entry (package.json main/exports → dist/index.js, from
 * src/index.ts), imported by the package's own name as a user's code would: it must
 * exist in the build and run the same analysis as the CLI. Runs the built code.
 */
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

type Library = typeof import('../../src/index.js');

describe('library API', () => {
  it("resolves by the package's name and analyzes the demo fixture to the CLI's verdict, rendered in every format", async () => {
    const library = (await import('provcheck')) as Library;
    const report = await library.analyze({
      suspect: `${REPO_ROOT}fixtures/blend-small-delta/suspect`,
      parents: [`${REPO_ROOT}fixtures/parents/a`, `${REPO_ROOT}fixtures/parents/b`],
      threads: 0,
    });
    expect(report.schemaVersion).toBe(library.SCHEMA_VERSION);
    expect(report.tool.version).toBe(library.TOOL_VERSION);
    expect(report.verdict.kind).toBe('blend');
    expect(library.parseReportJson(library.renderJson(report))).toEqual(JSON.parse(library.renderJson(report)));
    expect([...library.renderJsonPieces(report)].join('')).toBe(library.renderJson(report));
    expect(library.renderText(report, { style: library.PLAIN_STYLE })).toContain(report.verdict.summary.slice(0, 40));
    expect(library.renderMarkdown(report)).toContain(`provcheck: ${report.verdict.kind}`);
    expect(library.renderHtml(report)).toMatch(/^<!DOCTYPE html>/i);
  });

  it('exports the error classes the CLI tells apart', async () => {
    const library = (await import('provcheck')) as Library;
    await expect(library.analyze({ suspect: `${REPO_ROOT}fixtures/no-such-model`, parents: [`${REPO_ROOT}fixtures/parents/a`], threads: 0 })).rejects.toSatisfy(
      (error: unknown) => error instanceof library.UsageError || error instanceof library.IoError || error instanceof library.MalformedInputError,
    );
  });
});
