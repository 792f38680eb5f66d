/**
 * The fixtures' architecture: a tiny Qwen3-style causal LM, tensor names exactly as
 * transformers' Qwen3ForCausalLM state dict spells them, untied lm_head.
 */

export const TINY_QWEN = {
  vocabSize: 256,
  hiddenSize: 64,
  layers: 4,
  attentionHeads: 4,
  keyValueHeads: 2,
  headDim: 16,
  intermediateSize: 172,
} as const;

/** Matrices get N(0, σ²) weights and low-rank + noise updates; norms sit near 1. */
export type TensorRole = 'matrix' | 'norm';

export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly role: TensorRole;
}

/** Every tensor, in state-dict order (the order transformers shards in). */
export function tinyQwenTensors(): TensorSpec[] {
  const { vocabSize: v, hiddenSize: h, layers, attentionHeads, keyValueHeads, headDim, intermediateSize: f } = TINY_QWEN;
  const q = attentionHeads * headDim;
  const kv = keyValueHeads * headDim;
  const matrix = (name: string, rows: number, cols: number): TensorSpec => ({ name, shape: [rows, cols], role: 'matrix' });
  const norm = (name: string, size: number): TensorSpec => ({ name, shape: [size], role: 'norm' });
  const specs: TensorSpec[] = [matrix('model.embed_tokens.weight', v, h)];
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      norm(`${p}.input_layernorm.weight`, h),
      matrix(`${p}.self_attn.q_proj.weight`, q, h),
      matrix(`${p}.self_attn.k_proj.weight`, kv, h),
      matrix(`${p}.self_attn.v_proj.weight`, kv, h),
      matrix(`${p}.self_attn.o_proj.weight`, h, q),
      norm(`${p}.self_attn.q_norm.weight`, headDim),
      norm(`${p}.self_attn.k_norm.weight`, headDim),
      norm(`${p}.post_attention_layernorm.weight`, h),
      matrix(`${p}.mlp.gate_proj.weight`, f, h),
      matrix(`${p}.mlp.up_proj.weight`, f, h),
      matrix(`${p}.mlp.down_proj.weight`, h, f),
    );
  }
  specs.push(norm('model.norm.weight', h), matrix('lm_head.weight', v, h));
  return specs;
}

export function elementCount(spec: TensorSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

/**
 * config.json as transformers' save_pretrained writes it: keys sorted, two-space
 * indent, Python's float spellings (1e-06, 0.0), so it is written as text.
 */
export function tinyQwenConfigJson(): string {
  const c = TINY_QWEN;
  return `{
  "architectures": [
    "Qwen3ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "head_dim": ${c.headDim},
  "hidden_act": "silu",
  "hidden_size": ${c.hiddenSize},
  "initializer_range": 0.02,
  "intermediate_size": ${c.intermediateSize},
  "max_position_embeddings": 2048,
  "max_window_layers": ${c.layers},
  "model_type": "qwen3",
  "num_attention_heads": ${c.attentionHeads},
  "num_hidden_layers": ${c.layers},
  "num_key_value_heads": ${c.keyValueHeads},
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.3",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": ${c.vocabSize}
}
`;
}
