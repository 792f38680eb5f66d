/**
 * Parents' colours: Okabe–Ito, distinguishable with the common colour-vision
 * deficiencies and in greyscale print, in this order.
 */
export const SERIES_COLORS: readonly string[] = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

/** Text in SVG or HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A coordinate with one decimal: sub-pixel precision without bloating the file. */
export function fixed(value: number): string {
  if (!Number.isFinite(value)) return '0';
  const rounded = Math.round(value * 10) / 10;
  return Object.is(rounded, -0) ? '0' : String(rounded);
}

/** One tick per decade: { log: -1, label: "0.1σ" }, { log: 0, label: "1σ" }, … "10,000σ". */
export function logTicks(logLow: number, logHigh: number): { log: number; label: string }[] {
  const ticks: { log: number; label: string }[] = [];
  for (let log = Math.ceil(logLow); log <= Math.floor(logHigh); log++) {
    const value = 10 ** log;
    const label = log < 0 ? value.toFixed(-log) : new Intl.NumberFormat('en-US').format(value);
    ticks.push({ log, label: `${label}σ` });
  }
  return ticks;
}

/**
 * The opening tag of a chart: scales with its container (viewBox, no fixed size), and
 * announces itself to screen readers by its title and description.
 */
export function svgOpen(id: string, width: number, height: number, title: string, description: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeXml(id)}" viewBox="0 0 ${width} ${height}" ` +
    `role="img" aria-labelledby="${escapeXml(id)}-title ${escapeXml(id)}-desc">` +
    `<title id="${escapeXml(id)}-title">${escapeXml(title)}</title><desc id="${escapeXml(id)}-desc">${escapeXml(description)}</desc>`
  );
}
