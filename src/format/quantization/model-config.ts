/**
 * The parts of a model folder's config.json (and ModelOpt's hf_quant_config.json) that
 * say how the weights are stored: the quantization config and whether the input
 * embedding doubles as the output head.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stat } from 'node:fs/promises';
import { MalformedInputError } from '../../errors.js';
import type { HubSession } from '../../source/hub/hub-session.js';
import { hubFileName, hubListing, readHubFile, type HubLocation } from '../hub-files.js';
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

function parseJson(text: string, display: string): Record<string, unknown> {
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

async function readJson(path: string, display: string): Promise<Record<string, unknown> | null> {
  const found = await stat(path).catch(() => null);
  if (!found || !found.isFile()) return null;
  if (found.size > MAX_CONFIG_BYTES) throw new MalformedInputError(display, `is ${found.size} bytes, too large for a config file`);
  return parseJson(await readFile(path, 'utf8'), display);
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** The config from config.json and ModelOpt's hf_quant_config.json, each parsed or absent; names are for messages. */
function modelConfigOf(
  config: Record<string, unknown> | null,
  configName: string,
  modelOpt: Record<string, unknown> | null,
  modelOptName: string,
): ModelConfig | null {
  if (!config && !modelOpt) return null;
  // Multimodal configs keep the language model's settings under text_config.
  const text = objectOrNull(config?.text_config);
  let quantization = objectOrNull(config?.quantization_config) ?? objectOrNull(text?.quantization_config);
  let quantizationFile = quantization ? configName : null;
  if (!quantization && modelOpt) {
    const block = objectOrNull(modelOpt.quantization);
    if (block) {
      quantization = { quant_method: 'modelopt', ...block };
      quantizationFile = modelOptName;
    }
  }
  const tie = config?.tie_word_embeddings ?? text?.tie_word_embeddings;
  return { file: config ? configName : modelOptName, quantization, quantizationFile, tieWordEmbeddings: tie === true };
}

/** Reads the config next to the model's shards; null when there is none (a bare file). */
export async function readModelConfig(layout: ModelLayout): Promise<ModelConfig | null> {
  const folder = layout.kind === 'file' ? dirname(layout.root) : layout.root;
  const configPath = join(folder, 'config.json');
  const modelOptPath = join(folder, 'hf_quant_config.json');
  return modelConfigOf(await readJson(configPath, configPath), configPath, await readJson(modelOptPath, modelOptPath), modelOptPath);
}

/** The same files of a Hub repo, read through the session at the input's sha. */
export async function readHubModelConfig(location: HubLocation, hub: HubSession): Promise<ModelConfig | null> {
  const listed = new Map((await hubListing(location, hub)).map((file) => [file.path, file]));
  const read = async (path: string): Promise<Record<string, unknown> | null> => {
    const file = listed.get(path);
    if (!file) return null;
    const name = hubFileName(location, path);
    if (file.size > MAX_CONFIG_BYTES) throw new MalformedInputError(name, `is ${file.size} bytes, too large for a config file`);
    return parseJson(new TextDecoder().decode(await readHubFile(location, hub, file)), name);
  };
  return modelConfigOf(await read('config.json'), hubFileName(location, 'config.json'), await read('hf_quant_config.json'), hubFileName(location, 'hf_quant_config.json'));
}
