import type { Report } from '../report-schema.js';
import { formatCount, formatSigma, formatWeight } from './format-numbers.js';
import { layerSummaries, noiseGrid } from './report-aggregates.js';
import { escapeXml, fixed, logTicks, SERIES_COLORS, svgOpen } from './svg-primitives.js';

/**
 * The report's charts as inline SVG: no script, no font, no external reference, so the
 * HTML report stays one file that renders the same offline, printed and in a mail.
 * Each chart carries `data-chart` (tests and readers find it by that), a <title> and a
 * <desc> that says in words what it shows.
 */

const WIDTH = 640;
const MARGIN = { top: 16, right: 16, bottom: 40, left: 56 } as const;

/** Decades of σ the heatmap's colour scale spans: 0.1σ (far below the floor) to 10,000σ. */
const HEAT_LOG_MIN = -1;
const HEAT_LOG_MAX = 4;
/**
 * Colour stops by log10(σ): blue below the rounding floor, neutral at 1σ (a blend up to
 * rounding), orange to dark red as training moves the weights further. Diverging at 1σ,
 * so the one value the reader must find is where the colour turns.
 */
const HEAT_STOPS: readonly { at: number; rgb: readonly [number, number, number] }[] = [
  { at: -1, rgb: [44, 123, 182] },
  { at: 0, rgb: [238, 236, 225] },
  { at: 1, rgb: [253, 174, 97] },
  { at: 2, rgb: [215, 25, 28] },
  { at: 4, rgb: [103, 0, 31] },
];

/** Weight of each parent per layer, with bands spanning the layer's tensors ± 2 s.e. */
export function weightsByLayerChart(report: Report): string | null {
  const layers = layerSummaries(report).filter((summary) => summary.weights.some((weight) => weight !== null));
  if (layers.length === 0) return null;
  const height = 260;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  let low = 0;
  let high = 1;
  for (const summary of layers) {
    for (const band of summary.bands) {
      if (band === null) continue;
      if (Number.isFinite(band.low)) low = Math.min(low, band.low);
      if (Number.isFinite(band.high)) high = Math.max(high, band.high);
    }
  }
  const pad = (high - low) * 0.05;
  low -= pad;
  high += pad;
  const first = layers[0]?.layer ?? 0;
  const last = layers.at(-1)?.layer ?? first;
  const x = (layer: number): number =>
    MARGIN.left + (last === first ? plotWidth / 2 : ((layer - first) / (last - first)) * plotWidth);
  const y = (weight: number): number => MARGIN.top + ((high - weight) / (high - low)) * plotHeight;

  const parts: string[] = [];
  for (const tick of linearTicks(low, high, 5)) {
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${fixed(y(tick))}" y2="${fixed(y(tick))}"/>`,
      `<text class="tick" x="${MARGIN.left - 6}" y="${fixed(y(tick) + 4)}" text-anchor="end">${tick.toFixed(decimalsOfStep(high - low))}</text>`,
    );
  }
  for (const layer of layerTicks(first, last)) {
    parts.push(`<text class="tick" x="${fixed(x(layer))}" y="${height - MARGIN.bottom + 16}" text-anchor="middle">${layer}</text>`);
  }
  parts.push(`<text class="axis" x="${MARGIN.left + plotWidth / 2}" y="${height - 6}" text-anchor="middle">layer</text>`);
  parts.push(axisLabelY('weight', MARGIN.top + plotHeight / 2));

  const legend: string[] = [];
  report.parents.forEach((parent, index) => {
    const color = SERIES_COLORS[index % SERIES_COLORS.length] ?? '#333';
    const points = layers.filter((summary) => summary.weights[index] !== null && summary.weights[index] !== undefined);
    if (points.length === 0) return;
    const upper = points.map((summary) => `${fixed(x(summary.layer))},${fixed(y(summary.bands[index]?.high ?? 0))}`);
    const lower = points.map((summary) => `${fixed(x(summary.layer))},${fixed(y(summary.bands[index]?.low ?? 0))}`).reverse();
    const line = points.map((summary) => `${fixed(x(summary.layer))},${fixed(y(summary.weights[index] ?? 0))}`);
    parts.push(
      `<polygon class="band" data-parent="${index}" fill="${color}" fill-opacity="0.18" stroke="none" points="${[...upper, ...lower].join(' ')}"/>`,
      `<polyline class="series" data-parent="${index}" fill="none" stroke="${color}" stroke-width="2" points="${line.join(' ')}"/>`,
      ...points.map(
        (summary) =>
          `<circle cx="${fixed(x(summary.layer))}" cy="${fixed(y(summary.weights[index] ?? 0))}" r="2.5" fill="${color}">` +
          `<title>${escapeXml(`${parent.label}, layer ${summary.layer}: ${formatWeight(summary.weights[index] ?? 0)}`)}</title></circle>`,
      ),
    );
    legend.push(`<tspan fill="${color}">■</tspan> ${escapeXml(parent.label)}`);
  });
  parts.push(`<text class="legend" x="${MARGIN.left + 4}" y="${MARGIN.top + 12}">${legend.join('  ')}</text>`);
  const description =
    `Blend weight of each parent per layer (element-weighted mean over the layer's tensors), for ${formatCount(layers.length)} layers; ` +
    'the shaded band is ± 2 standard errors of that mean (narrower than the line when the weights are precise). A single recipe gives flat lines; ' +
    'a per-layer recipe gives a profile.';
  return chart('weights-by-layer', 'Weights per layer', description, height, parts);
}

/** Median noiseRatio by layer × component, colour on a log scale diverging at 1σ. */
export function noiseHeatmap(report: Report): string | null {
  const grid = noiseGrid(report);
  if (grid.rows.length === 0 || grid.components.length === 0) return null;
  const left = 64;
  const legendHeight = 56;
  const top = 28;
  const rowHeight = Math.max(5, Math.min(22, Math.floor(420 / grid.rows.length)));
  const plotWidth = WIDTH - left - MARGIN.right;
  const columnWidth = plotWidth / grid.components.length;
  const height = top + rowHeight * grid.rows.length + legendHeight;
  const parts: string[] = [];
  grid.components.forEach((component, column) => {
    parts.push(
      `<text class="tick" x="${fixed(left + (column + 0.5) * columnWidth)}" y="${top - 8}" text-anchor="middle">${escapeXml(component)}</text>`,
    );
  });
  const labelEvery = Math.max(1, Math.ceil(12 / rowHeight));
  grid.rows.forEach((row, index) => {
    const rowTop = top + index * rowHeight;
    if (row.layer === null || index % labelEvery === 0 || index === grid.rows.length - 1) {
      parts.push(
        `<text class="tick" x="${left - 6}" y="${fixed(rowTop + rowHeight / 2 + 4)}" text-anchor="end">${escapeXml(row.layer === null ? 'no layer' : `layer ${row.label}`)}</text>`,
      );
    }
    grid.components.forEach((component, column) => {
      const value = grid.cells[index]?.[column] ?? null;
      if (value === null) return;
      const where = `${row.layer === null ? 'outside the layers' : `layer ${row.label}`} · ${component}`;
      parts.push(
        `<rect class="cell" x="${fixed(left + column * columnWidth + 0.5)}" y="${fixed(rowTop + 0.5)}" ` +
          `width="${fixed(columnWidth - 1)}" height="${fixed(rowHeight - 1)}" fill="${heatColor(value)}" stroke="#fff" stroke-width="1">` +
          `<title>${escapeXml(`${where}: ${formatSigma(value)}σ`)}</title></rect>`,
      );
      // Values written in the cells when they fit: a printed page has no tooltips.
      if (rowHeight >= 14 && columnWidth >= 44) {
        const dark = value >= 30 || value < 0.2;
        parts.push(
          `<text class="cell-value" x="${fixed(left + (column + 0.5) * columnWidth)}" y="${fixed(rowTop + rowHeight / 2 + 4)}" ` +
            `text-anchor="middle"${dark ? ' style="fill:#fff"' : ''}>${escapeXml(`${formatSigma(value)}σ`)}</text>`,
        );
      }
    });
  });
  // Narrower than the plot so the last label ("10,000σ") is not cut at the edge.
  parts.push(heatLegend(left, top + rowHeight * grid.rows.length + 14, plotWidth - 24, report.options.thresholds.blendMaxNoise));
  const description =
    `Median noiseRatio (residual of the blend fit in σ of rounding noise) per layer and component, ${formatCount(grid.rows.length)} rows. ` +
    'Colour is logarithmic and turns at 1σ: neutral means explained up to rounding, blue below the rounding floor, ' +
    'orange to dark red means change that no blend of the parents explains.';
  return chart('noise-heatmap', 'Residual by layer and component', description, height, parts);
}

/** Per-tensor noiseRatio as a histogram over log-spaced bins, with 1σ and the blend threshold marked. */
export function noiseHistogram(report: Report): string | null {
  const ratios = report.tensors.map((tensor) => tensor.noiseRatio).filter((ratio) => Number.isFinite(ratio) && ratio > 0);
  if (ratios.length === 0) return null;
  const binsPerDecade = 5;
  const threshold = report.options.thresholds.blendMaxNoise;
  const logs = ratios.map(Math.log10);
  const logLow = Math.min(-1, Math.floor(Math.min(...logs)));
  const logHigh = Math.max(1, Math.ceil(Math.max(...logs) + 1e-9));
  const binCount = (logHigh - logLow) * binsPerDecade;
  const counts = new Array<number>(binCount).fill(0);
  for (const value of logs) {
    const bin = Math.min(binCount - 1, Math.max(0, Math.floor((value - logLow) * binsPerDecade)));
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  const height = 240;
  // Room on the right for the last decade's label, centred on the plot's edge.
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right - 20;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const most = Math.max(...counts);
  const x = (log: number): number => MARGIN.left + ((log - logLow) / (logHigh - logLow)) * plotWidth;
  const y = (count: number): number => MARGIN.top + plotHeight - (count / most) * plotHeight;
  const parts: string[] = [];
  for (const tick of linearTicks(0, most, 4).filter((tick) => Number.isInteger(tick))) {
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${fixed(y(tick))}" y2="${fixed(y(tick))}"/>`,
      `<text class="tick" x="${MARGIN.left - 6}" y="${fixed(y(tick) + 4)}" text-anchor="end">${tick}</text>`,
    );
  }
  counts.forEach((count, bin) => {
    if (count === 0) return;
    const from = logLow + bin / binsPerDecade;
    const to = from + 1 / binsPerDecade;
    parts.push(
      `<rect class="bar" x="${fixed(x(from) + 0.5)}" y="${fixed(y(count))}" width="${fixed(x(to) - x(from) - 1)}" ` +
        `height="${fixed(MARGIN.top + plotHeight - y(count))}" fill="${heatColor(10 ** ((from + to) / 2))}" stroke="#555" stroke-width="0.5">` +
        `<title>${escapeXml(`${formatSigma(10 ** from)}–${formatSigma(10 ** to)}σ: ${count} ${count === 1 ? 'tensor' : 'tensors'}`)}</title></rect>`,
    );
  });
  for (const tick of logTicks(logLow, logHigh)) {
    parts.push(`<text class="tick" x="${fixed(x(tick.log))}" y="${height - MARGIN.bottom + 16}" text-anchor="middle">${tick.label}</text>`);
  }
  parts.push(marker(x(0), MARGIN.top, MARGIN.top + plotHeight, '1σ', 'one'));
  if (threshold > 0 && Number.isFinite(threshold)) {
    parts.push(marker(x(Math.log10(threshold)), MARGIN.top, MARGIN.top + plotHeight, `blend ≤ ${formatSigma(threshold)}σ`, 'threshold'));
  }
  parts.push(`<text class="axis" x="${MARGIN.left + plotWidth / 2}" y="${height - 6}" text-anchor="middle">noiseRatio (σ, log scale)</text>`);
  parts.push(axisLabelY('tensors', MARGIN.top + plotHeight / 2));
  const description =
    `How many of the ${formatCount(ratios.length)} tensors leave each residual, in σ of rounding noise on a log scale. ` +
    `An untouched blend piles up at or below 1σ; the dashed line at ${formatSigma(threshold)}σ is the blend threshold.`;
  return chart('noise-histogram', 'Residual per tensor', description, height, parts);
}

/** The blend fit against each parent alone, in σ on a log scale: the evidence a sceptic asks for. */
export function alternativesChart(report: Report): string | null {
  const rows: { label: string; value: number; kind: 'blend' | 'alone' }[] = [];
  if (report.verdict.noiseRatio !== null) rows.push({ label: 'best blend (median)', value: report.verdict.noiseRatio.median, kind: 'blend' });
  report.verdict.alternatives.forEach((value, index) => {
    rows.push({ label: `${report.parents[index]?.label ?? `parent ${index + 1}`} alone`, value, kind: 'alone' });
  });
  const finite = rows.filter((row) => Number.isFinite(row.value) && row.value > 0);
  if (finite.length === 0) return null;
  const left = 150;
  const rowHeight = 30;
  const top = 12;
  const height = top + rows.length * rowHeight + 44;
  const logLow = Math.min(-1, Math.floor(Math.min(...finite.map((row) => Math.log10(row.value)))));
  const logHigh = Math.max(1, Math.ceil(Math.max(...finite.map((row) => Math.log10(row.value))) + 0.3));
  const plotWidth = WIDTH - left - 70;
  const x = (value: number): number => {
    const log = value <= 0 ? logLow : Number.isFinite(value) ? Math.log10(value) : logHigh;
    return left + ((Math.min(logHigh, Math.max(logLow, log)) - logLow) / (logHigh - logLow)) * plotWidth;
  };
  const parts: string[] = [];
  for (const tick of logTicks(logLow, logHigh)) {
    parts.push(
      `<line class="grid" x1="${fixed(x(10 ** tick.log))}" x2="${fixed(x(10 ** tick.log))}" y1="${top}" y2="${top + rows.length * rowHeight}"/>`,
      `<text class="tick" x="${fixed(x(10 ** tick.log))}" y="${top + rows.length * rowHeight + 16}" text-anchor="middle">${tick.label}</text>`,
    );
  }
  rows.forEach((row, index) => {
    const rowTop = top + index * rowHeight;
    const fill = row.kind === 'blend' ? '#4d4d4d' : (SERIES_COLORS[(index - (rows.length - report.parents.length)) % SERIES_COLORS.length] ?? '#888');
    const text = Number.isNaN(row.value) ? 'n/a' : `${formatSigma(row.value)}σ`;
    parts.push(
      `<text class="label" x="${left - 8}" y="${rowTop + 19}" text-anchor="end">${escapeXml(row.label)}</text>`,
      `<rect class="bar" data-hypothesis="${row.kind}" x="${left}" y="${rowTop + 6}" width="${fixed(Math.max(1, x(row.value) - left))}" height="${rowHeight - 12}" fill="${fill}">` +
        `<title>${escapeXml(`${row.label}: ${text}`)}</title></rect>`,
      `<text class="value" x="${fixed(x(row.value) + 6)}" y="${rowTop + 19}">${escapeXml(text)}</text>`,
    );
  });
  parts.push(marker(x(1), top, top + rows.length * rowHeight, '', 'one'));
  parts.push(`<text class="axis" x="${left + plotWidth / 2}" y="${height - 6}" text-anchor="middle">residual in σ of rounding noise (log scale)</text>`);
  const description =
    'The residual each hypothesis leaves, in σ of the suspect’s rounding noise: the fitted blend against "the suspect is ' +
    'that parent" for each parent. The dashed line is 1σ.';
  return chart('alternatives', 'Blend against each parent alone', description, height, parts);
}

/** A colour for a noiseRatio on the heatmap's scale (also used by the histogram's bars). */
export function heatColor(noiseRatio: number): string {
  const log = Number.isNaN(noiseRatio) ? HEAT_LOG_MIN : noiseRatio <= 0 ? HEAT_LOG_MIN : Math.log10(noiseRatio);
  const at = Math.min(HEAT_LOG_MAX, Math.max(HEAT_LOG_MIN, log));
  for (let index = 1; index < HEAT_STOPS.length; index++) {
    const lower = HEAT_STOPS[index - 1];
    const upper = HEAT_STOPS[index];
    if (lower === undefined || upper === undefined || at > upper.at) continue;
    const t = (at - lower.at) / (upper.at - lower.at);
    const channel = (c: 0 | 1 | 2): number => Math.round(lower.rgb[c] + t * (upper.rgb[c] - lower.rgb[c]));
    return `rgb(${channel(0)},${channel(1)},${channel(2)})`;
  }
  const lastStop = HEAT_STOPS.at(-1)?.rgb ?? [0, 0, 0];
  return `rgb(${lastStop[0]},${lastStop[1]},${lastStop[2]})`;
}

function heatLegend(left: number, top: number, width: number, threshold: number): string {
  const steps = 60;
  const parts: string[] = [];
  for (let step = 0; step < steps; step++) {
    const log = HEAT_LOG_MIN + ((step + 0.5) / steps) * (HEAT_LOG_MAX - HEAT_LOG_MIN);
    parts.push(
      `<rect x="${fixed(left + (step / steps) * width)}" y="${top}" width="${fixed(width / steps + 0.5)}" height="10" fill="${heatColor(10 ** log)}"/>`,
    );
  }
  const x = (log: number): number => left + ((log - HEAT_LOG_MIN) / (HEAT_LOG_MAX - HEAT_LOG_MIN)) * width;
  for (const tick of logTicks(HEAT_LOG_MIN, HEAT_LOG_MAX)) {
    parts.push(`<text class="tick" x="${fixed(x(tick.log))}" y="${top + 24}" text-anchor="middle">${tick.label}</text>`);
  }
  parts.push(
    `<line class="one-sigma" x1="${fixed(x(0))}" x2="${fixed(x(0))}" y1="${top - 4}" y2="${top + 14}" stroke="#000" stroke-width="2"/>`,
    `<text class="tick" x="${fixed(x(0))}" y="${top + 38}" text-anchor="middle" font-weight="bold">1σ: explained up to rounding</text>`,
  );
  if (threshold > 0 && Number.isFinite(threshold)) {
    const at = x(Math.min(HEAT_LOG_MAX, Math.max(HEAT_LOG_MIN, Math.log10(threshold))));
    parts.push(`<line x1="${fixed(at)}" x2="${fixed(at)}" y1="${top - 4}" y2="${top + 14}" stroke="#000" stroke-dasharray="2 2"/>`);
  }
  return `<g class="legend-scale">${parts.join('')}</g>`;
}

function marker(x: number, top: number, bottom: number, label: string, kind: 'one' | 'threshold'): string {
  const dash = kind === 'one' ? '' : ' stroke-dasharray="4 3"';
  const text = label === '' ? '' : `<text class="marker-label" x="${fixed(x + 4)}" y="${top + 10}">${escapeXml(label)}</text>`;
  return `<g class="marker" data-marker="${kind}"><line x1="${fixed(x)}" x2="${fixed(x)}" y1="${top}" y2="${bottom}" stroke="#000" stroke-width="1.5"${dash}/>${text}</g>`;
}

function axisLabelY(text: string, middle: number): string {
  return `<text class="axis" transform="translate(14 ${fixed(middle)}) rotate(-90)" text-anchor="middle">${escapeXml(text)}</text>`;
}

function chart(id: string, title: string, description: string, height: number, parts: readonly string[]): string {
  return `${svgOpen(id, WIDTH, height, title, description)}${parts.join('')}</svg>`;
}

/** About `count` round values covering [low, high]. */
function linearTicks(low: number, high: number, count: number): number[] {
  const span = high - low;
  if (!(span > 0)) return [low];
  const rough = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? rough;
  const ticks: number[] = [];
  for (let tick = Math.ceil(low / step) * step; tick <= high + step * 1e-9; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

function decimalsOfStep(span: number): number {
  return span >= 2 ? 0 : span >= 0.2 ? 1 : span >= 0.02 ? 2 : 3;
}

/** Layer numbers to label: all of a few, else about ten evenly spaced. */
function layerTicks(first: number, last: number): number[] {
  const span = last - first;
  const step = Math.max(1, Math.ceil(span / 10));
  const ticks: number[] = [];
  for (let layer = first; layer <= last; layer += step) ticks.push(layer);
  if (ticks.at(-1) !== last) ticks.push(last);
  return ticks;
}
