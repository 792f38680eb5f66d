import type { Report, ReproducibilityRecord, TensorReport, WeightMethod } from '../report-schema.js';
import { forensicsHtmlSection } from './forensics-sections.js';
import { claimsWords } from './claims-words.js';
import {
  decimalsForError,
  formatBytes,
  formatCompact,
  formatCount,
  formatShare,
  formatSigma,
  formatSmall,
  formatWeight,
  formatWithError,
} from './format-numbers.js';
import { layerSummaries, tensorsWorthALook } from './report-aggregates.js';
import { fileIdentity, reproduceCommand, reproducibilityFacts } from './reproducibility-words.js';
import { alternativesChart, noiseHeatmap, noiseHistogram, weightsByLayerChart } from './svg-charts.js';
import { escapeXml as esc } from './svg-primitives.js';
import { TENSOR_KINDS, VERDICT_WORDS } from './verdict-sentence.js';

/** Tensors listed by name: the ones that disagree or fit worst. The JSON has them all. */
const WORST_TENSORS = 15;

const METHOD_WORDS: Readonly<Record<WeightMethod, string>> = {
  'exact-hit-profile': 'the exact-hit profile (the weight that reproduces the most elements bit for bit)',
  'informative-least-squares': 'least squares on informative elements (parents at least a few rounding steps apart)',
  'least-squares': 'least squares on all elements (biased toward one parent when parents differ by few rounding steps)',
};

/**
 * One self-contained HTML file: inline CSS and SVG, no script, no font or image to
 * fetch, so it opens offline, attaches to a mail, prints, and reads on a phone. Written
 * for an editor or a reader who is not an expert first (the plain-words part), then
 * for the expert who checks the numbers (evidence, methods, reproducibility).
 */
export function renderHtml(report: Report): string {
  const title = `provcheck: ${report.suspect.source} — ${VERDICT_WORDS[report.verdict.kind].title}`;
  const body = [
    header(report),
    plainWords(report),
    claimsSection(report),
    forensicsHtmlSection(report, esc),
    chartsSection(report),
    evidenceSection(report),
    methodsSection(report),
    reproducibilitySection(report.reproducibility),
    `<footer>provcheck ${esc(report.tool.version)} · report schema ${report.schemaVersion} · ${esc(report.createdAt)}</footer>`,
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="provcheck ${esc(report.tool.version)}">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function header(report: Report): string {
  const { verdict } = report;
  const undisclosed = report.claims?.undisclosedMerge === true ? '<span class="badge warn">undisclosed merge</span>' : '';
  return `<header>
<p class="kicker">provcheck report · ${esc(report.suspect.source)}</p>
<h1><span class="badge kind-${verdict.kind}">${esc(VERDICT_WORDS[verdict.kind].title)}</span>${undisclosed}</h1>
<p class="summary">${esc(verdict.summary)}</p>
</header>`;
}

function plainWords(report: Report): string {
  const { verdict } = report;
  const labels = report.parents.map((parent) => `<b>${esc(parent.label)}</b> (<code>${esc(parent.source)}</code>)`);
  const blend = verdict.noiseRatio === null ? null : formatSigma(verdict.noiseRatio.median);
  const alternatives = verdict.alternatives
    .map((value, index) => `${esc(report.parents[index]?.label ?? '?')} alone ${formatSigma(value)}σ`)
    .join(', ');
  const here =
    blend === null
      ? ''
      : `<p>Here, the best blend leaves <b>${blend}σ</b> (median over tensors)${alternatives === '' ? '' : `; ${alternatives}`}.</p>`;
  return `<section id="plain-words">
<h2>In plain words</h2>
<p>A language model is, in the end, a long list of numbers: its weights. This report asks whether the weights of
<b>the suspect</b> (<code>${esc(report.suspect.source)}</code>) were made from the weights of ${labels.length === 1 ? 'the candidate parent' : 'the candidate parents'}
${labels.join(', ')}.</p>
<p><b>A blend</b> (a “merge”) takes two or more models and averages their weights, number by number: 0.6 of one plus 0.4 of
another, say. It costs no training at all. Done honestly, it is a legitimate technique; presented as new work, it is not.</p>
<p>A blend leaves a fingerprint. Weights are stored with limited precision, so every stored number is rounded, a little like
prices rounded to the cent. For each part of the model, provcheck finds the mix of parents that comes closest to the suspect and
measures what is left over, in units of that rounding: <b>1σ is the leftover that rounding alone would produce</b>. A suspect that
is exactly a blend of the parents, then rounded, leaves about 1σ or less — nothing but rounding is left to explain.</p>
<p><b>Trained weights would look different.</b> Training moves every number a little in its own direction, and no mix of the
parents can follow it: the leftover is then many σ (tens to thousands), and copying one parent alone leaves far more still.</p>
${here}
</section>`;
}

function claimsSection(report: Report): string {
  const claims = report.claims;
  if (claims === undefined) return '';
  const words = claimsWords(report, claims);
  const badge = claims.undisclosedMerge ? 'warn' : claims.status === 'consistent' ? 'ok' : claims.status === 'inconsistent' ? 'warn' : 'info';
  const files = claims.declared.files.length > 0 ? ` <span class="muted">(${claims.declared.files.map((file) => `<code>${esc(file)}</code>`).join(', ')})</span>` : '';
  const findings = words.findings.length === 0 ? '' : `<ul>${words.findings.map((finding) => `<li>${esc(finding)}</li>`).join('')}</ul>`;
  return `<section id="claims">
<h2>Claims <span class="badge ${badge}">${esc(words.status)}</span></h2>
<dl class="claims">
<dt>Declared${files}</dt><dd>${esc(words.declared)}</dd>
<dt>Measured</dt><dd>${esc(words.measured)}</dd>
</dl>
<p>${esc(words.conclusion)}</p>
${findings}
</section>`;
}

function chartsSection(report: Report): string {
  const figures: [string | null, string, string][] = [
    [weightsByLayerChart(report), 'Weights per layer', 'Each parent’s weight, layer by layer (element-weighted mean of the layer’s tensors); bands are ± 2 standard errors, invisible when narrower than the line.'],
    [noiseHeatmap(report), 'Residual by layer and component', 'Median residual in σ of rounding noise (log colour scale; 1σ is where the colour turns).'],
    [noiseHistogram(report), 'Residual per tensor', 'How many tensors leave which residual (log scale), with 1σ and the blend threshold marked.'],
    [alternativesChart(report), 'The blend against each parent alone', 'The residual each hypothesis leaves, in σ (log scale).'],
  ];
  const shown = figures
    .filter((figure): figure is [string, string, string] => figure[0] !== null)
    .map(([svg, title, caption]) => `<figure>${svg}<figcaption><b>${esc(title)}.</b> ${esc(caption)}</figcaption></figure>`);
  if (shown.length === 0) return '';
  return `<section id="charts">\n<h2>Charts</h2>\n${shown.join('\n')}\n</section>`;
}

function evidenceSection(report: Report): string {
  const { verdict } = report;
  const elements = TENSOR_KINDS.reduce((sum, kind) => sum + verdict.counts[kind].elements, 0);
  const kinds = TENSOR_KINDS.filter((kind) => verdict.counts[kind].tensors > 0).map((kind) => [
    VERDICT_WORDS[kind].title,
    formatCount(verdict.counts[kind].tensors),
    elements > 0 ? formatShare(verdict.counts[kind].elements / elements) : '–',
  ]);
  const inputs = [report.suspect, ...report.parents].map((input, index) => [
    input.label,
    `<code>${esc(input.source)}</code>`,
    index === 0 ? 'suspect' : index - 1 === report.reference ? 'parent (reference)' : 'parent',
    `${esc(input.layout)}, ${formatCount(input.files.length)} ${input.files.length === 1 ? 'file' : 'files'}`,
    formatBytes(input.bytes),
  ]);
  const weights =
    verdict.weights === null
      ? `<p>Weights not estimated: the verdict is ${esc(VERDICT_WORDS[verdict.kind].title)}.</p>`
      : table(
          ['parent', 'mean ± s.e.', 'median', 'spread'],
          report.parents.map((parent, index) => {
            const stats = verdict.weightStats[index] ?? null;
            const weight = verdict.weights?.[index];
            if (stats === null) return [esc(parent.label), weight === undefined ? '–' : formatWeight(weight), '–', '–'];
            return [esc(parent.label), formatWithError(stats.mean, stats.stdErr), stats.median.toFixed(decimalsForError(stats.stdErr)), formatSmall(stats.spread)];
          }),
          'numbers',
        );
  const residualRows: string[][] = [];
  if (verdict.noiseRatio !== null) {
    residualRows.push(['best blend', `${formatSigma(verdict.noiseRatio.median)}σ`, `${formatSigma(verdict.noiseRatio.p90)}σ`, `${formatSigma(verdict.noiseRatio.max)}σ`]);
  }
  verdict.alternatives.forEach((value, index) => residualRows.push([`${esc(report.parents[index]?.label ?? '?')} alone`, `${formatSigma(value)}σ`, '', '']));
  const reproduced =
    verdict.reproducedShare === null ? '' : `<p>Reproduced bit for bit: <b>${formatShare(verdict.reproducedShare)}</b> of informative elements.</p>`;
  const layers = layerSummaries(report);
  const labels = report.parents.map((parent) => parent.label).join('/');
  const layerTable =
    layers.length === 0
      ? ''
      : `<h3>By layer</h3>${table(
          ['layer', 'tensors', 'kinds', `weights ${esc(labels)}`, 'median σ', 'max σ'],
          layers.map((summary) => [
            String(summary.layer),
            formatCount(summary.tensors),
            summary.kinds.map((entry) => `${VERDICT_WORDS[entry.kind].title} ${entry.tensors}`).join(', '),
            summary.weights.map((weight) => (weight === null ? '–' : formatWeight(weight))).join(' / '),
            formatSigma(summary.medianNoiseRatio),
            formatSigma(summary.maxNoiseRatio),
          ]),
          'numbers',
        )}`;
  const worst = tensorsWorthALook(report, WORST_TENSORS);
  const worstTitle = worst.some((entry) => entry.differs) ? 'Tensors that disagree with the verdict most' : 'Highest residuals';
  const worstTable =
    worst.length === 0
      ? ''
      : `<h3>${worstTitle}</h3>${table(
          ['tensor', 'kind', `weights ${esc(labels)}`, 'σ', 'reproduced'],
          worst.map(({ tensor }) => [
            `<code>${esc(tensor.name)}</code>`,
            esc(tensorKind(report, tensor)),
            tensor.weights.map((weight) => (weight === null ? '–' : formatWeight(weight))).join(' / '),
            formatSigma(tensor.noiseRatio),
            tensor.reproducedShare === null ? '–' : formatShare(tensor.reproducedShare),
          ]),
          'numbers',
        )}`;
  const notCompared = notComparedList(report);
  return `<section id="evidence">
<h2>Evidence</h2>
<p>${formatCount(report.tensors.length)} tensors compared, ${formatCompact(elements)} elements.${verdict.reason === null ? '' : ` Why: ${esc(verdict.reason)}.`}</p>
${table(['kind', 'tensors', 'elements'], kinds, 'numbers')}
<h3>Inputs</h3>
${table(['', 'source', 'role', 'layout', 'size'], inputs)}
<h3>Weights</h3>
${weights}
<h3>Residual</h3>
<p class="muted">In σ of the suspect’s rounding noise, over tensors.</p>
${table(['hypothesis', 'median', 'p90', 'max'], residualRows, 'numbers')}
${reproduced}
${layerTable}
${worstTable}
${notCompared}
</section>`;
}

function notComparedList(report: Report): string {
  const items: string[] = [];
  if (report.unmatched.suspectOnly.length > 0) items.push(`only in the suspect: ${formatCount(report.unmatched.suspectOnly.length)} tensors`);
  for (const { parent, names } of report.unmatched.parentOnly) {
    if (names.length > 0) items.push(`only in ${esc(report.parents[parent]?.label ?? '?')}: ${formatCount(names.length)} tensors`);
  }
  if (report.mismatched.length > 0) items.push(`not comparable (shape or dtype): ${formatCount(report.mismatched.length)} tensors`);
  if (report.filtered > 0) items.push(`left out by --include/--exclude: ${formatCount(report.filtered)} tensors`);
  return items.length === 0 ? '' : `<h3>Not compared</h3><ul>${items.map((item) => `<li>${item}</li>`).join('')}</ul>`;
}

function methodsSection(report: Report): string {
  const { thresholds } = report.options;
  const methods = new Map<WeightMethod, number>();
  for (const tensor of report.tensors) {
    if (tensor.identifiability.identifiable) methods.set(tensor.weightMethod, (methods.get(tensor.weightMethod) ?? 0) + 1);
  }
  const used = [...methods.entries()].map(([method, count]) => `<li>${esc(METHOD_WORDS[method])}: ${formatCount(count)} ${count === 1 ? 'tensor' : 'tensors'}</li>`);
  const reference = report.parents[report.reference];
  return `<section id="methods">
<h2>Methods</h2>
<p>Every tensor of the suspect is compared with the same-named tensor of each parent. All values are decoded to real numbers
and one streaming pass sums, in float64, every pairwise dot product of the reference parent
(${esc(reference?.label ?? '?')}), the parents’ differences from it, and the suspect’s difference from it, together with the
rounding floor <code>Σ ulp(s)²/12</code>: the squared error that storing an exact blend in the suspect’s dtype would add.
Everything below is computed from those sums.</p>
<ul>
<li><b>Blend fit.</b> The suspect’s change from the reference is fitted as a weighted sum of the parents’ changes, weights
summing to 1. Its residual, as <code>noiseRatio = sqrt(rss / floor)</code>, is the residual in standard deviations (σ) of the
suspect’s own rounding noise.</li>
<li><b>Single-parent hypotheses.</b> <code>suspect = parent</code>, with nothing fitted, for each parent (the “alone” rows).</li>
<li><b>Weights that rounding does not bias.</b> Where parents differ by only a few rounding steps, plain least squares leans toward
one parent; weights come from elements at least ${formatCount(thresholds.informativeUlps)} rounding steps apart, and the share of
those elements the blend reproduces bit for bit is reported.</li>
<li><b>Identifiability.</b> Where parents are bit-identical (frozen tensors) their weights cannot be told apart; such tensors are
judged on their residual and left out of the weight estimates.</li>
</ul>
<p>Weight estimates used:</p>
<ul>${used.join('') || '<li>none (no identifiable tensor)</li>'}</ul>
<p>Thresholds: a blend fit at or below <b>${formatSigma(thresholds.blendMaxNoise)}σ</b> is explained up to rounding (this admits
merges done in bf16 arithmetic); a parent counts as mixed in at weight ≥ ${thresholds.minWeight}; a modified blend needs a second
parent at weight ≥ ${thresholds.modifiedMinWeight}; a relative residual above ${thresholds.unrelatedResidual} means the parents do
not explain the suspect; ${formatShare(thresholds.agreement)} of elements must agree for a model-level kind other than mixed.
Every kind and field is defined in <code>docs/verdicts.md</code> and <code>docs/report-schema.md</code> of provcheck.</p>
</section>`;
}

function reproducibilitySection(record: ReproducibilityRecord | undefined): string {
  if (record === undefined) return '';
  const facts = reproducibilityFacts(record).map(([label, value]) => [esc(label), label === 'command' || label === 'working directory' ? `<code>${esc(value)}</code>` : esc(value)]);
  const files = record.inputs.flatMap((input) =>
    input.files.map((file) => [
      esc(input.label),
      `<code>${esc(file.path)}</code>`,
      formatBytes(file.bytes),
      file.sha256 === null ? esc(fileIdentity(file)) : `<code class="hash">${esc(file.sha256)}</code>`,
    ]),
  );
  const sources = record.inputs.map(
    (input) =>
      `<li><b>${esc(input.label)}</b>: <code>${esc(input.source)}</code> → <code>${esc(input.resolved)}</code>${
        input.revision === null ? '' : ` at commit <code>${esc(input.revision)}</code>`
      }</li>`,
  );
  return `<section id="reproducibility">
<h2>Reproducibility</h2>
<p>Re-run the same analysis on the same inputs and compare: <code>${esc(reproduceCommand())}</code> (with this report saved as JSON,
<code>--format json</code>).</p>
${table(['', ''], facts)}
<h3>Inputs</h3>
<ul>${sources.join('')}</ul>
${table(['input', 'file', 'size', 'SHA-256, or why not'], files, 'files')}
</section>`;
}

function tensorKind(report: Report, tensor: TensorReport): string {
  const title = VERDICT_WORDS[tensor.kind].title;
  if (tensor.parent !== null) return `${title} ${report.parents[tensor.parent]?.label ?? '?'}`;
  return tensor.reason === null ? title : `${title}: ${tensor.reason}`;
}

/** Cells are HTML already (escaped by the caller); the wrapper scrolls sideways on a phone. */
function table(headers: readonly string[], rows: readonly (readonly string[])[], className = ''): string {
  const head = `<tr>${headers.map((header) => `<th>${header}</th>`).join('')}</tr>`;
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table${className === '' ? '' : ` class="${className}"`}><thead>${head}</thead><tbody>\n${body}\n</tbody></table></div>`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1b1b1b; --muted: #5c5c5c; --rule: #d9d9d9; --paper: #fff; --tint: #f5f5f2; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: .2rem 0 .6rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-top: .6rem; border-top: 1px solid var(--rule); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p, li, dd { max-width: 44rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .88em; overflow-wrap: anywhere; }
.kicker { color: var(--muted); margin: 0; font-size: .9rem; overflow-wrap: anywhere; }
.summary { font-size: 1.15rem; font-weight: 600; background: var(--tint); border-left: 4px solid #333; padding: .7rem .9rem; margin: .4rem 0 0; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: .1rem .55rem; border-radius: .3rem; font-size: .85em; font-weight: 700; margin-right: .4rem;
  background: #e8e8e8; color: #1b1b1b; border: 1px solid #bbb; }
.badge.kind-blend, .badge.kind-identical { background: #fbe3e2; border-color: #c0392b; color: #8e1b12; }
.badge.kind-modified-blend, .badge.kind-mixed, .badge.warn { background: #fff1d6; border-color: #c77c02; color: #7a4a00; }
.badge.kind-derived, .badge.info { background: #e1eef8; border-color: #2c7bb6; color: #174d75; }
.badge.kind-unrelated, .badge.ok { background: #e3f3e6; border-color: #2e8540; color: #1d5a2a; }
dl.claims { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .4rem 0; }
dl.claims dt { font-weight: 700; }
dl.claims dd { margin: 0; }
figure { margin: 1.2rem 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
svg.chart { width: 100%; height: auto; display: block; background: #fff; }
svg.chart text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #333; }
svg.chart text.axis { font-size: 12px; fill: #555; }
svg.chart text.label, svg.chart text.value, svg.chart text.legend { font-size: 12px; }
svg.chart line.grid { stroke: #e6e6e6; stroke-width: 1; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: .4rem 0; }
table { border-collapse: collapse; font-size: .9rem; min-width: 50%; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
table.numbers td + td { font-variant-numeric: tabular-nums; }
table.files code.hash { font-size: .78em; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
@media (max-width: 36rem) {
  body { font-size: 15px; }
  main { padding: 1rem .75rem 2rem; }
  h1 { font-size: 1.35rem; }
  dl.claims { grid-template-columns: 1fr; }
  dl.claims dd { margin-bottom: .4rem; }
  th, td { padding: .2rem .4rem; }
}
@media print {
  @page { margin: 16mm 14mm; }
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .scroll { overflow: visible; }
  table { break-inside: auto; }
  tr, figure, .summary { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
