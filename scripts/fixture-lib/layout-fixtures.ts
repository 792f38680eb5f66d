/**
 * Fixtures for checkpoints stored other than as tidy same-name BF16 tensors (issue 6): each
 * is a model whose plain-BF16 answer is known (a float32 blend of two fine-tunes, rounded
 * once to bf16), re-stored the way real releases store it, so provcheck must give the
 * same verdict and weights as on the plain model:
 * - fp8-block: the blend-large-delta suspect with every layer matrix in fine-grained FP8
 *   (F8_E4M3 codes × F32 weight_scale_inv per 128×128 block, ragged edges), as DeepSeek's
 *   and Qwen's FP8 releases are; embeddings, head and norms stay BF16, as there.
 * - fused-experts: a small MoE blended, saved with fused expert tensors
 *   (experts.gate_up_proj [E, 2I, H], experts.down_proj [E, H, I]) under
 *   model.language_model., against parents saved per expert under model.
 * - resized-vocab: that MoE blend with 16 tokens added to embed_tokens and lm_head.
 * - f32-bf16-blend: that MoE blend (bf16 values) saved in float32.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode, FLOAT_FORMATS } from '../../src/format/dtype.js';
import { writeModel, type TensorBytes } from '../../test/helpers/safetensors-writer.js';
import type { Answer } from '../make-fixtures.js';
import { quantizeFp8Blocks } from './quantize.js';
import { randomFor } from './random.js';
import { applyUpdate, blendInFloat32, initialise, tensorOf, type Weights } from './synthesis.js';
import { tinyQwenConfigJson, TINY_QWEN, type TensorSpec } from './tiny-qwen.js';

const MOE = { layers: 2, experts: 4, expertIntermediate: 16, addedTokens: 16 } as const;

/** A two-layer Qwen3-MoE-style model, per-expert tensor names (as transformers v4 saves them). */
export function tinyMoeTensors(): TensorSpec[] {
  const { vocabSize: v, hiddenSize: h, attentionHeads, keyValueHeads, headDim } = TINY_QWEN;
  const q = attentionHeads * headDim;
  const kv = keyValueHeads * headDim;
  const i = MOE.expertIntermediate;
  const matrix = (name: string, rows: number, cols: number): TensorSpec => ({ name, shape: [rows, cols], role: 'matrix' });
  const norm = (name: string, size: number): TensorSpec => ({ name, shape: [size], role: 'norm' });
  const specs: TensorSpec[] = [matrix('model.embed_tokens.weight', v, h)];
  for (let l = 0; l < MOE.layers; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      norm(`${p}.input_layernorm.weight`, h),
      matrix(`${p}.self_attn.q_proj.weight`, q, h),
      matrix(`${p}.self_attn.k_proj.weight`, kv, h),
      matrix(`${p}.self_attn.v_proj.weight`, kv, h),
      matrix(`${p}.self_attn.o_proj.weight`, h, q),
      norm(`${p}.post_attention_layernorm.weight`, h),
      matrix(`${p}.mlp.gate.weight`, MOE.experts, h),
    );
    for (let e = 0; e < MOE.experts; e++) {
      specs.push(
        matrix(`${p}.mlp.experts.${e}.gate_proj.weight`, i, h),
        matrix(`${p}.mlp.experts.${e}.up_proj.weight`, i, h),
        matrix(`${p}.mlp.experts.${e}.down_proj.weight`, h, i),
      );
    }
  }
  specs.push(norm('model.norm.weight', h), matrix('lm_head.weight', v, h));
  return specs;
}

function moeConfigJson(): string {
  const config = {
    architectures: ['Qwen3MoeForCausalLM'],
    hidden_size: TINY_QWEN.hiddenSize,
    model_type: 'qwen3_moe',
    moe_intermediate_size: MOE.expertIntermediate,
    num_experts: MOE.experts,
    num_hidden_layers: MOE.layers,
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    vocab_size: TINY_QWEN.vocabSize,
  };
  return JSON.stringify(config, null, 2) + '\n';
}

function bytesOf(name: string, shape: readonly number[], values: Float64Array, dtype: 'BF16' | 'F32' = 'BF16'): TensorBytes {
  return { name, dtype, shape: [...shape], data: encode(FLOAT_FORMATS[dtype], values) };
}

async function writeSorted(dir: string, tensors: TensorBytes[], config: string): Promise<void> {
  tensors.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  await writeModel(dir, tensors);
  await writeFile(join(dir, 'config.json'), config);
}

/** Fused gate_up [E, 2I, H] (each expert's gate rows, then its up rows) and down [E, H, I]. */
function fusedExperts(weights: Weights, layer: string): { gateUp: Float64Array; down: Float64Array } {
  const { experts, expertIntermediate: i } = MOE;
  const h = TINY_QWEN.hiddenSize;
  const gateUp = new Float64Array(experts * 2 * i * h);
  const down = new Float64Array(experts * h * i);
  for (let e = 0; e < experts; e++) {
    gateUp.set(tensorOf(weights, `${layer}.mlp.experts.${e}.gate_proj.weight`), e * 2 * i * h);
    gateUp.set(tensorOf(weights, `${layer}.mlp.experts.${e}.up_proj.weight`), e * 2 * i * h + i * h);
    down.set(tensorOf(weights, `${layer}.mlp.experts.${e}.down_proj.weight`), e * h * i);
  }
  return { gateUp, down };
}

export interface LayoutFixtureInputs {
  /** The tiny Qwen specs and the blend-large-delta suspect (bf16 values of 0.3·A_large + 0.7·B_large). */
  readonly specs: readonly TensorSpec[];
  readonly largeBlend: Weights;
}

/** Writes the cases (and the MoE parents under parents/moe-a, parents/moe-b) and returns their answers. */
export async function writeLayoutFixtures(outDir: string, prefix: string, inputs: LayoutFixtureInputs): Promise<Answer[]> {
  const answers: Answer[] = [];
  const answer = (name: string, parents: string[], weights: number[], tolerance: number, base: string): Answer => ({
    case: name,
    suspect: `${prefix}/${name}/suspect`,
    parents: parents.map((p) => `${prefix}/parents/${p}`),
    base: `${prefix}/parents/${base}`,
    kind: 'blend',
    weights,
    tolerance,
    notIdentifiable: [],
    undisclosedMerge: true,
  });

  // fp8-block: layer matrices quantized per 128×128 block; the rest as stored.
  const fp8: TensorBytes[] = [];
  for (const spec of inputs.specs) {
    const values = tensorOf(inputs.largeBlend, spec.name);
    if (spec.role === 'matrix' && spec.name.startsWith('model.layers.')) {
      const quantized = quantizeFp8Blocks(spec.name.slice(0, -'.weight'.length), values, spec.shape as [number, number], [128, 128], '.weight_scale_inv');
      fp8.push(...quantized.tensors);
    } else {
      fp8.push(bytesOf(spec.name, spec.shape, values));
    }
  }
  const fp8Config = JSON.parse(tinyQwenConfigJson()) as Record<string, unknown>;
  fp8Config.quantization_config = { activation_scheme: 'dynamic', fmt: 'e4m3', quant_method: 'fp8', weight_block_size: [128, 128] };
  const fp8Dir = join(outDir, 'fp8-block', 'suspect');
  await mkdir(fp8Dir, { recursive: true });
  await writeSorted(fp8Dir, fp8, JSON.stringify(fp8Config, null, 2) + '\n');
  // The FP8 rounding of each element is far coarser than bf16's: least squares over
  // the informative elements lands within a few thousandths of the recipe here.
  answers.push(answer('fp8-block', ['a-large', 'b-large'], [0.3, 0.7], 0.02, 'base'));

  // The MoE: base, two small-update fine-tunes, their float32 blend rounded to bf16.
  const specs = tinyMoeTensors();
  const base = initialise(specs, 'moe-base');
  const update = { matrixRelative: [4e-3, 1e-2], normRelative: [3e-3, 1.2e-2] } as const;
  const a = applyUpdate(specs, base, { label: 'moe-a', ...update });
  const b = applyUpdate(specs, base, { label: 'moe-b', ...update });
  const blend = blendInFloat32([a, b], [0.4, 0.6], specs);
  const plain = (weights: Weights, dtype: 'BF16' | 'F32' = 'BF16'): TensorBytes[] => specs.map((s) => bytesOf(s.name, s.shape, tensorOf(weights, s.name), dtype));
  for (const [key, weights] of [['moe-base', base], ['moe-a', a], ['moe-b', b]] as const) {
    const dir = join(outDir, 'parents', key);
    await mkdir(dir, { recursive: true });
    await writeSorted(dir, plain(weights), moeConfigJson());
  }

  // fused-experts: fused tensors, every language-model name under model.language_model.
  const fused: TensorBytes[] = [];
  const h = TINY_QWEN.hiddenSize;
  for (const spec of specs) {
    if (spec.name.includes('.mlp.experts.')) continue;
    const name = spec.name.startsWith('model.') ? `model.language_model.${spec.name.slice('model.'.length)}` : spec.name;
    fused.push(bytesOf(name, spec.shape, tensorOf(blend, spec.name)));
  }
  for (let l = 0; l < MOE.layers; l++) {
    const { gateUp, down } = fusedExperts(blend, `model.layers.${l}`);
    const p = `model.language_model.layers.${l}.mlp.experts`;
    fused.push(bytesOf(`${p}.gate_up_proj`, [MOE.experts, 2 * MOE.expertIntermediate, h], gateUp));
    fused.push(bytesOf(`${p}.down_proj`, [MOE.experts, h, MOE.expertIntermediate], down));
  }
  const fusedDir = join(outDir, 'fused-experts', 'suspect');
  await mkdir(fusedDir, { recursive: true });
  await writeSorted(fusedDir, fused, moeConfigJson());
  answers.push(answer('fused-experts', ['moe-a', 'moe-b'], [0.4, 0.6], 0.01, 'moe-base'));

  // resized-vocab: new tokens' rows appended to embed_tokens and lm_head (initialised as the base's).
  const random = randomFor('resized-vocab');
  const resized = plain(blend).map((t) => {
    if (t.name !== 'model.embed_tokens.weight' && t.name !== 'lm_head.weight') return t;
    const old = tensorOf(blend, t.name);
    const rows = TINY_QWEN.vocabSize + MOE.addedTokens;
    const grown = new Float64Array(rows * h);
    grown.set(old);
    for (let k = old.length; k < grown.length; k++) grown[k] = 0.02 * random.normal();
    return bytesOf(t.name, [rows, h], grown);
  });
  const resizedDir = join(outDir, 'resized-vocab', 'suspect');
  await mkdir(resizedDir, { recursive: true });
  await writeSorted(resizedDir, resized, moeConfigJson().replace(`"vocab_size": ${TINY_QWEN.vocabSize}`, `"vocab_size": ${TINY_QWEN.vocabSize + MOE.addedTokens}`));
  answers.push(answer('resized-vocab', ['moe-a', 'moe-b'], [0.4, 0.6], 0.01, 'moe-base'));

  // f32-bf16-blend: the bf16 blend's values saved in float32 (exactly: bf16 ⊂ f32).
  const f32Dir = join(outDir, 'f32-bf16-blend', 'suspect');
  await mkdir(f32Dir, { recursive: true });
  await writeSorted(f32Dir, plain(blend, 'F32'), moeConfigJson().replace('"torch_dtype": "bfloat16"', '"torch_dtype": "float32"'));
  answers.push(answer('f32-bf16-blend', ['moe-a', 'moe-b'], [0.4, 0.6], 0.01, 'moe-base'));
  return answers;
}

/** The fixtures README's section on these cases. */
export const LAYOUT_FIXTURES_README = `
## Checkpoints stored otherwise

Each of these is a model whose plain-BF16 answer is known, stored as real releases store
it; provcheck must give the verdict and weights it gives the plain model.

| case | suspect | parents | true answer |
|---|---|---|---|
| \`fp8-block\` | blend-large-delta's suspect with every layer matrix as F8_E4M3 codes × F32 \`weight_scale_inv\` per 128×128 block (ragged edges; \`quantization_config\` fp8, \`weight_block_size\` [128, 128]); embeddings, head and norms BF16 | \`a-large\`, \`b-large\` (BF16) | blend 0.3 / 0.7 |
| \`fused-experts\` | a two-layer, four-expert MoE: bf16(0.4·moe-a + 0.6·moe-b) in float32, saved with fused \`experts.gate_up_proj\` [4, 32, 64] and \`experts.down_proj\` [4, 64, 16] under \`model.language_model.\` | \`moe-a\`, \`moe-b\`: per-expert tensors under \`model.\` | blend 0.4 / 0.6 |
| \`resized-vocab\` | that MoE blend with 16 tokens appended to \`embed_tokens\` and \`lm_head\` (272 rows; the parents have 256) | \`moe-a\`, \`moe-b\` | blend 0.4 / 0.6 |
| \`f32-bf16-blend\` | that MoE blend's bf16 values saved as F32 | \`moe-a\`, \`moe-b\` | blend 0.4 / 0.6 |

\`moe-base\` is the MoE parents' common base; \`moe-a\` and \`moe-b\` are small-update
fine-tunes of it (as \`a\` and \`b\` are of \`base\`).
`;
