import { describe, expect, it } from 'vitest';
import { VERDICT_KINDS } from '../../src/report-schema.js';
import { renderText } from '../../src/report/render-text.js';
import { MAX_LINE_WIDTH } from '../../src/report/text-layout.js';
import { PLAIN_STYLE, type TextStyle } from '../../src/report/text-style.js';
import { reportOfKind, sampleReport } from '../helpers/sample-report.js';

/** Marks styled text visibly, so tests see where colour would go without escapes. */
const MARKED_STYLE: TextStyle = {
  bold: (text) => `<b>${text}</b>`,
  dim: (text) => `<d>${text}</d>`,
  red: (text) => `<r>${text}</r>`,
  green: (text) => `<g>${text}</g>`,
  yellow: (text) => `<y>${text}</y>`,
  cyan: (text) => `<c>${text}</c>`,
};

describe('renderText', () => {
  it('renders the blend report', () => {
    expect(renderText(sampleReport(), { style: PLAIN_STYLE })).toMatchInlineSnapshot(`
      "suspect = 0.600·B + 0.400·A in every one of 11 tensors; median residual 1.00σ of bf16 rounding
      noise; >99.9% of informative elements reproduced bit for bit; B alone would leave 3,810σ.

      Verdict  blend
        11 tensors compared, 4.2M elements: blend 11 (100.0% of elements)

      Inputs
        label    source  layout
        suspect  merged  folder-single, 1 file, 16.6 MB, 12 tensors
        A        tune-a  folder-single, 1 file, 16.6 MB, 11 tensors, reference
        B        tune-b  folder-single, 1 file, 16.6 MB, 12 tensors

      Weights  blend fit, mean over identifiable tensors ± standard error
        parent                 mean ± s.e.  median   spread
        A       reference  0.4000 ± 0.0001  0.4000  0.00031
        B                  0.6000 ± 0.0001  0.6000  0.00031
        method: exact-hit profile (8 tensors)
        left out of the weights: 3 tensors where the parents are bit-identical

      Residual  in σ of the suspect's rounding noise, over tensors
        hypothesis  median   p90   max
        blend fit     1.00  1.19  1.20
        A alone      5,900
        B alone      3,810
        reproduced bit for bit: >99.9% of informative elements

      By component
        component  tensors  elements  kinds  weights A/B       median σ
        embedding        1      2.0M  blend  0.400/0.600          0.980
        attention        3     12.3k  blend  0.400/0.600           1.01
        mlp              3     49.2k  blend  0.400/0.600           1.09
        norm             3       192  blend  not identifiable     0.500
        head             1      2.0M  blend  0.400/0.600           1.20

      By layer
        layers  tensors  kinds  weights A/B  median σ  max σ
        0–1           6  blend  0.400/0.600     0.995   1.09
        2             3  blend  0.395/0.605      1.02   1.19

      Highest residuals  every tensor agrees with the verdict; 10 of 11
        tensor                                  kind   weights A/B           σ  reproduced
        lm_head.weight                          blend  0.400/0.600        1.20      >99.9%
        model.layers.2.mlp.up_proj.weight       blend  0.390/0.610        1.19      >99.9%
        model.layers.1.mlp.up_proj.weight       blend  0.400/0.600        1.09      >99.9%
        model.layers.2.self_attn.q_proj.weight  blend  0.400/0.600        1.02      >99.9%
        model.layers.1.self_attn.q_proj.weight  blend  0.400/0.600        1.01      >99.9%
        model.layers.0.self_attn.q_proj.weight  blend  0.400/0.600        1.00      >99.9%
        model.layers.0.mlp.up_proj.weight       blend  0.400/0.600       0.990      >99.9%
        model.embed_tokens.weight               blend  0.400/0.600       0.980      >99.9%
        model.layers.0.input_layernorm.weight   blend  not identifiable  0.500           –
        model.layers.1.input_layernorm.weight   blend  not identifiable  0.500           –

      Not compared
        only in suspect: 1 (model.extra_head.weight)
        only in B: 1 (model.rotary.inv_freq)

      How to read this
        σ is one standard deviation of the rounding noise that storing a value in the suspect's dtype
        adds. A blend fit at about 1σ or below reproduces the suspect up to rounding (a merge done in bf16
        arithmetic leaves a little more); any training leaves far more. "alone" rows test suspect = that
        parent, with nothing fitted. Weights are per parent and sum to 1.
        thresholds: blend-max-noise 2, min-weight 0.02, modified-min-weight 0.25, unrelated-residual 0.5,
        informative-ulps 4, agreement 0.95
        provcheck 0.1.0, report schema 2, 2025-01-01T00:00:00.000Z
      "
    `);
  });

  it('ranks tensors by residual alone when the verdict is mixed', () => {
    const text = renderText(reportOfKind('mixed'), { style: PLAIN_STYLE });
    const worst = text.slice(text.indexOf('Highest residuals'));
    expect(text).not.toContain('Tensors that disagree');
    expect(worst.split('\n')[2]).toContain('lm_head.weight');
  });

  it('lists tensors whose kind differs from the verdict before higher residuals', () => {
    const report = sampleReport();
    const embedding = report.tensors[0];
    if (embedding === undefined) throw new Error('fixture has no tensors');
    report.tensors[0] = { ...embedding, kind: 'derived', parent: 0, noiseRatio: 0.1 };
    const text = renderText(report, { style: PLAIN_STYLE });
    const section = text.slice(text.indexOf('Tensors that disagree with the verdict most'));
    expect(section.split('\n')[2]).toMatch(/^ {2}model\.embed_tokens\.weight +derived A +0\.400\/0\.600 +0\.100/);
  });

  it.each(VERDICT_KINDS)('keeps every line of a %s report within 100 columns', (kind) => {
    const report = reportOfKind(kind);
    report.tensors[0] = { ...report.tensors[0]!, name: `model.${'very_long_module_name.'.repeat(8)}weight` };
    report.unmatched.suspectOnly = Array.from({ length: 40 }, (_, i) => `model.layers.${i}.extra_adapter.lora_A.weight`);
    for (const line of renderText(report, { style: PLAIN_STYLE }).split('\n')) {
      expect(line.length).toBeLessThanOrEqual(MAX_LINE_WIDTH);
    }
  });

  it('styles only through the style it is given', () => {
    const marked = renderText(sampleReport(), { style: MARKED_STYLE });
    const plain = renderText(sampleReport(), { style: PLAIN_STYLE });
    expect(marked).toContain('<b>Verdict</b>  <r>blend</r>');
    expect(marked.replace(/<\/?[bdrgyc]>/g, '')).toBe(plain);
    expect(plain).not.toMatch(/\u001b\[/);
  });
});
