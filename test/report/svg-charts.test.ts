import { describe, expect, it } from 'vitest';
import { alternativesChart, heatColor, noiseHeatmap, noiseHistogram, weightsByLayerChart } from '../../src/report/svg-charts.js';
import { layerSummaries } from '../../src/report/report-aggregates.js';
import { sampleReport } from '../helpers/sample-report.js';

const count = (svg: string, pattern: RegExp): number => svg.match(pattern)?.length ?? 0;

describe('charts of the sample report', () => {
  const report = sampleReport();

  it('draw one line and one band per parent over the three layers', () => {
    const svg = weightsByLayerChart(report) ?? '';
    expect(svg).toContain('data-chart="weights-by-layer"');
    expect(count(svg, /<polyline class="series"/g)).toBe(2);
    expect(count(svg, /<polygon class="band"/g)).toBe(2);
    expect(count(svg, /<circle /g)).toBe(6);
  });

  it('band each layer weight by ± 2 element-weighted standard errors', () => {
    // Layer 0: q_proj (4,096 elements, s.e. 0.0002) and up_proj (16,384, s.e. 0.0002) identifiable.
    const layer0 = layerSummaries(report)[0]!;
    const margin = (2 * Math.hypot(4096 * 0.0002, 16384 * 0.0002)) / (4096 + 16384);
    expect(layer0.weights[1]).toBeCloseTo(0.6, 12);
    expect(layer0.bands[1]!.high - 0.6).toBeCloseTo(margin, 12);
  });

  it('colour one heatmap cell per (layer or no layer) × component that has tensors', () => {
    const svg = noiseHeatmap(report) ?? '';
    // Layers 0–2 × attention, mlp, norm; outside the layers: embedding and head.
    expect(count(svg, /<rect class="cell"/g)).toBe(3 * 3 + 2);
    expect(svg).toContain('1σ: explained up to rounding');
  });

  it('bin every tensor once in the histogram, with 1σ and the blend threshold marked', () => {
    const svg = noiseHistogram(report) ?? '';
    const tensors = [...svg.matchAll(/: (\d+) tensors?<\/title><\/rect>/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(tensors).toBe(11);
    expect(svg).toContain('data-marker="one"');
    expect(svg).toContain('data-marker="threshold"');
  });

  it('show the blend and each parent alone', () => {
    const svg = alternativesChart(report) ?? '';
    expect(count(svg, /data-hypothesis="blend"/g)).toBe(1);
    expect(count(svg, /data-hypothesis="alone"/g)).toBe(2);
    expect(svg).toContain('3,810σ');
  });

  it('escape names that look like markup', () => {
    const hostile = structuredClone(report);
    hostile.parents[0]!.label = '<script>';
    expect(weightsByLayerChart(hostile)).not.toContain('<script>');
    expect(weightsByLayerChart(hostile)).toContain('&lt;script&gt;');
  });
});

describe('heatColor', () => {
  it('is neutral at 1σ, blue below, red far above, and clamps outside 0.1σ–10,000σ', () => {
    expect(heatColor(1)).toBe('rgb(238,236,225)');
    expect(heatColor(0.1)).toBe('rgb(44,123,182)');
    expect(heatColor(0.001)).toBe(heatColor(0.1));
    expect(heatColor(100)).toBe('rgb(215,25,28)');
    expect(heatColor(1e9)).toBe('rgb(103,0,31)');
  });
});
