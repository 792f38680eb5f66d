/**
 * The parts of a model folder's config.json (and ModelOpt's hf_quant_config.json) that
 * say how the weights are stored: the quantization config and whether the input
 * embedding doubles as the output head.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stat } from 'node:fs/promises';
import { MalformedInputError } from '../../errors.js';
import type { ModelLayout } from '../model-layout.js';

export interface ModelConfig {
  /** Where it came from, for messages. */
  readonly file: string;
  /** config.json's quantization_config (or the hf_quant_config.json "quantization" block), if any. */
  readonly quantization: Readonly<Record<string, unknown>> | null;
  readonly quantizationFile: string | null;
  readonly tieWordEmbeddings: boolean;
}

/** Config files are a few KB; anything far larger is not a config. */
const MAX_CONFIG_BYTES = 10_000_000;

async function readJson(path: string, display: string): Promise<Record<string, unknown> | null> {
  const found = await stat(path).catch(() => null);
  if (!found || !found.isFile()) return null;
  if (found.size > MAX_CONFIG_BYTES) throw new MalformedInputError(display, `is ${found.size} bytes, too large for a config file`);
  const text = await readFile(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new MalformedInputError(display, `is not valid JSON (${error.message.replace(/\s+/g, ' ').slice(0, 120)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MalformedInputError(display, 'is not a JSON object');
  return parsed as Record<string, unknown>;
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** Reads the config next to the model's shards; null when there is none (a bare file). */
export async function readModelConfig(layout: ModelLayout): Promise<ModelConfig | null> {
  const folder = layout.kind === 'file' ? dirname(layout.root) : layout.root;
  const configPath = join(folder, 'config.json');
  const config = await readJson(configPath, configPath);
  const modelOptPath = join(folder, 'hf_quant_config.json');
  const modelOpt = await readJson(modelOptPath, modelOptPath);
  if (!config && !modelOpt) return null;
  // Multimodal configs keep the language model's settings under text_config.
  const text = objectOrNull(config?.text_config);
  let quantization = objectOrNull(config?.quantization_config) ?? objectOrNull(text?.quantization_config);
  let quantizationFile = quantization ? configPath : null;
  if (!quantization && modelOpt) {
    const block = objectOrNull(modelOpt.quantization);
    if (block) {
      quantization = { quant_method: 'modelopt', ...block };
      quantizationFile = modelOptPath;
    }
  }
  const tie = config?.tie_word_embeddings ?? text?.tie_word_embeddings;
  return { file: config ? configPath : modelOptPath, quantization, quantizationFile, tieWordEmbeddings: tie === true };
}
