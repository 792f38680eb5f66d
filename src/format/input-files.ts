import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { FileRecord, InputRecord } from '../report-schema.js';
import { MERGEKIT_CONFIG_FILES, MODEL_CARD_FILE } from './declared-provenance.js';
import type { ModelLayout } from './model-layout.js';

/**
 * Files up to this size are hashed: configs, the shard index, the model card, tiny test
 * models. Hashing a 16 GB shard would read it a second time (the analysis may only have
 * sampled it); its size and modification time identify it well enough locally, and the
 * Hub's LFS hash is free for remote files.
 */
export const MAX_HASHED_BYTES = 1_000_000;

/** Small files beside the weights that decide how a model is read or what it claims. */
const SIDECAR_FILES = ['config.json', 'generation_config.json', MODEL_CARD_FILE, ...MERGEKIT_CONFIG_FILES] as const;

/** The folder holding a model's files: the root itself, or the folder of a single file. */
export function modelFolder(layout: ModelLayout): string {
  return layout.kind === 'file' ? dirname(layout.root) : layout.root;
}

/**
 * The record of one input for the reproducibility section: every tensor file, the index
 * and the sidecar files present, each with size, modification time and (when small)
 * SHA-256. Files that are not on the local disk (a Hub model) keep their size only.
 */
export async function recordInput(layout: ModelLayout, label: string): Promise<InputRecord> {
  const folder = modelFolder(layout);
  const names = layout.shards.map((shard) => shard.file);
  if (layout.indexFile !== null) names.push(layout.indexFile);
  for (const sidecar of SIDECAR_FILES) if (!names.includes(sidecar)) names.push(sidecar);
  const sizes = new Map(layout.shards.map((shard) => [shard.file, shard.size]));

  const files: FileRecord[] = [];
  for (const name of names) {
    const record = await recordLocalFile(folder, name);
    if (record !== null) files.push(record);
    else if (sizes.has(name)) files.push({ path: name, bytes: sizes.get(name) ?? 0, modified: null, sha256: null, sha256From: null });
  }
  return { label, source: layout.input, resolved: resolve(layout.root), revision: null, files };
}

async function recordLocalFile(folder: string, name: string): Promise<FileRecord | null> {
  const path = join(folder, name);
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) return null;
  const sha256 = info.size <= MAX_HASHED_BYTES ? await sha256OfFile(path) : null;
  return { path: name, bytes: info.size, modified: info.mtime.toISOString(), sha256, sha256From: sha256 === null ? null : 'content' };
}

/** SHA-256 of a small file, hex; null when it cannot be read (the record then says less). */
export async function sha256OfFile(path: string): Promise<string | null> {
  try {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  } catch {
    return null;
  }
}
