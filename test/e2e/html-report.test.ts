import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chromium, findChromium } from '../helpers/chromium.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';

/**
 * The HTML report opened in headless Chromium (Debian's `chromium`, which .ci/run
 * installs). A missing browser fails this test instead of skipping it, so CI can never
 * go green without having looked at the page; PROVCHECK_SKIP_BROWSER=1 opts out on a
 * developer's machine without one. The page, its screenshots and its PDF are kept in
 * test-output/ (git-ignored) for a person to look at.
 */
const OUTPUT = join(REPO_ROOT, 'test-output');
const skip = process.env.PROVCHECK_SKIP_BROWSER === '1';

describe.skipIf(skip)('--format html in a browser', () => {
  let browser: Chromium;
  let url: string;

  beforeAll(async () => {
    const executable = findChromium();
    if (executable === null) {
      throw new Error('no Chromium found (install Debian\'s `chromium`, set PROVCHECK_CHROMIUM, or PROVCHECK_SKIP_BROWSER=1 to opt out)');
    }
    mkdirSync(OUTPUT, { recursive: true });
    const file = join(OUTPUT, 'html-report.html');
    const result = await runCli(['suspect', 'fixtures/blend-small-delta/suspect', '--parents', 'fixtures/parents/a', 'fixtures/parents/b', '--format', 'html', '--output', file, '--force', '--quiet']);
    expect(result.code).toBe(0);
    url = pathToFileURL(file).href;
    browser = await Chromium.launch(executable);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('opens offline with no console error and no request for anything outside the file', async () => {
    const page = await browser.open(url, { width: 1000, height: 800, mobile: false });
    expect(page.problems.console).toEqual([]);
    expect(page.problems.network).toEqual([]);
    const external = await page.evaluate<number>(
      `document.querySelectorAll('script, link, img, iframe, object, embed, [src], [href]:not(a)').length`,
    );
    expect(external).toBe(0);
    writeFileSync(join(OUTPUT, 'html-report-desktop.png'), await page.screenshot());
    writeFileSync(join(OUTPUT, 'html-report-charts.png'), await page.screenshotOf('#charts'));
    const pdf = await page.pdf();
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    writeFileSync(join(OUTPUT, 'html-report.pdf'), pdf);
  }, 60_000);

  it('draws the four charts with their parts, each laid out with a size', async () => {
    const page = await browser.open(url, { width: 1000, height: 800, mobile: false });
    const charts = await page.evaluate<{ id: string; width: number; height: number }[]>(
      `[...document.querySelectorAll('svg[data-chart]')].map((svg) => { const box = svg.getBoundingClientRect();` +
        ` return { id: svg.dataset.chart, width: Math.round(box.width), height: Math.round(box.height) }; })`,
    );
    expect(charts.map((chart) => chart.id)).toEqual(['weights-by-layer', 'noise-heatmap', 'noise-histogram', 'alternatives']);
    for (const chart of charts) expect(chart.width * chart.height, chart.id).toBeGreaterThan(100 * 100);
    const parts = await page.evaluate<Record<string, number>>(`({
      lines: document.querySelectorAll('[data-chart="weights-by-layer"] polyline.series').length,
      bands: document.querySelectorAll('[data-chart="weights-by-layer"] polygon.band').length,
      cells: document.querySelectorAll('[data-chart="noise-heatmap"] rect.cell').length,
      oneSigma: document.querySelectorAll('[data-chart="noise-heatmap"] .one-sigma, [data-chart="noise-histogram"] [data-marker="one"]').length,
      bars: document.querySelectorAll('[data-chart="alternatives"] rect.bar').length,
    })`);
    // Two parents; 4 layers × (attention, mlp, norm) + embedding, final norm and head outside the layers.
    expect(parts).toEqual({ lines: 2, bands: 2, cells: 4 * 3 + 3, oneSigma: 2, bars: 3 });
  }, 60_000);

  it('explains, states the claims, and records every input file by its hash', async () => {
    const page = await browser.open(url, { width: 1000, height: 800, mobile: false });
    const text = await page.evaluate<string>('document.body.innerText');
    for (const heading of ['In plain words', 'Claims', 'Charts', 'Evidence', 'Methods', 'Reproducibility']) {
      expect(text).toContain(heading);
    }
    expect(text).toContain('undisclosed merge');
    expect(text).toContain('1σ is the leftover that rounding alone would produce');
    const suspectBytes = readFileSync(join(REPO_ROOT, 'fixtures/blend-small-delta/suspect/model.safetensors'));
    expect(text).toContain(createHash('sha256').update(suspectBytes).digest('hex'));
  }, 60_000);

  it('fits a phone: nothing wider than the screen but the tables that scroll inside their box', async () => {
    const page = await browser.open(url, { width: 390, height: 844, mobile: true });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    writeFileSync(join(OUTPUT, 'html-report-phone.png'), await page.screenshot());
    expect(page.problems.console).toEqual([]);
  }, 60_000);
});
