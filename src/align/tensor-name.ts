import type { Component } from '../report-schema.js';

/**
 * Where a tensor sits in the model, from its name alone. Names follow the conventions
 * of transformers checkpoints (Llama/Qwen/Mistral/GPT-2/NeoX/Falcon styles); anything
 * unrecognised is `other` rather than a guess.
 */
export function componentOf(name: string): Component {
  const n = name.toLowerCase();
  if (/(^|\.)(visual|vision_tower|vision_model|vision|image_encoder|mm_projector|multi_modal_projector)\./.test(n)) return 'vision';
  if (/(^|\.)(lm_head|embed_out|output)\.(weight|bias)$/.test(n)) return 'head';
  if (/(embed_tokens|wte|wpe|word_embeddings|position_embeddings|token_type_embeddings|tok_embeddings|embed_positions)/.test(n)) return 'embedding';
  if (/(norm|ln_\d|ln_f|layernorm|layer_norm)[^.]*\.(weight|bias)$/.test(n) || /norm(\.weight|\.bias)?$/.test(n)) return 'norm';
  if (/\.experts\.|\.experts$|block_sparse_moe|\.experts_/.test(n)) return 'experts';
  if (/(self_attn|attention|\.attn\.|linear_attn|q_proj|k_proj|v_proj|o_proj|qkv|c_attn|query_key_value|dense_attn)/.test(n)) return 'attention';
  if (/(mlp|feed_forward|ffn|gate_proj|up_proj|down_proj|c_fc|dense_h_to_4h|dense_4h_to_h|shared_expert|\.gate\.)/.test(n)) return 'mlp';
  return 'other';
}

/** The transformer block index in a name (`layers.12.`, `h.3.`, `blocks.7.`), else null. */
export function layerOf(name: string): number | null {
  const match = /(?:^|\.)(?:layers|layer|h|blocks|block)\.(\d+)\./.exec(name);
  return match ? Number(match[1]) : null;
}
