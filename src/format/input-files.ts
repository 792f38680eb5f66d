import { createHash } from 'node:crypto';
import { readFile, readlink, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { FileRecord, InputRecord } from '../report-schema.js';
import type { HubSession, RepoFile } from '../source/hub/hub-session.js';
import { MERGEKIT_CONFIG_FILES, MODEL_CARD_FILE } from './declared-provenance.js';
import { hubListing, readHubFile, type HubLocation } from './hub-files.js';
import type { ModelLayout } from './model-layout.js';
import type { ModelLocation } from './model-location.js';

/**
 * Files up to this size are hashed: configs, the shard index, the model card, tiny test
 * models. Hashing a 16 GB shard would read it a second time (the analysis may only have
 * sampled it); its size and modification time identify it well enough locally, and the
 * Hub's LFS hash is free for remote files.
 */
export const MAX_HASHED_BYTES = 1_000_000;

/** Small files beside the weights that decide how a model is read or what it claims. */
const SIDECAR_FILES = ['config.json', 'generation_config.json', MODEL_CARD_FILE, ...MERGEKIT_CONFIG_FILES] as const;

/** A blob of the Hugging Face cache named by its SHA-256: how the clients store LFS files. */
const SHA256_BLOB = /^[0-9a-f]{64}$/;

/** The folder holding a model's files: the root itself, or the folder of a single file. */
export function modelFolder(layout: ModelLayout): string {
  return layout.kind === 'file' ? dirname(layout.root) : layout.root;
}

/**
 * The record of one input for the reproducibility section: every tensor file, the index
 * and the sidecar files present, each with size and, where cheap, SHA-256. Local files
 * carry their modification time and are hashed when small. A Hub input is recorded from
 * its listing: the LFS SHA-256 the Hub keeps for every large file (never re-hashed:
 * that would mean downloading the weights), the small git-stored sidecars fetched and
 * hashed. A cached snapshot's LFS files link to blobs named by their SHA-256, which is
 * taken as is. `hub` is needed for Hub inputs only.
 */
export async function recordInput(
  layout: ModelLayout,
  label: string,
  location?: ModelLocation,
  hub?: HubSession,
): Promise<InputRecord> {
  const names = recordedNames(layout);
  if (location?.kind === 'hub' && hub !== undefined) {
    return { label, source: layout.input, resolved: location.reference.repo, revision: location.sha, files: await recordHubFiles(location, hub, names) };
  }
  const folder = modelFolder(layout);
  const cached = location?.kind === 'hf-cache';
  const sizes = new Map(layout.shards.map((shard) => [shard.file, shard.size]));
  const files: FileRecord[] = [];
  for (const name of names) {
    const record = await recordLocalFile(folder, name, cached);
    if (record !== null) files.push(record);
    else if (sizes.has(name)) files.push({ path: name, bytes: sizes.get(name) ?? 0, modified: null, sha256: null, sha256From: null });
  }
  if (location !== undefined && location.kind !== 'local') {
    return { label, source: layout.input, resolved: location.reference.repo, revision: location.sha, files };
  }
  return { label, source: layout.input, resolved: resolve(layout.root), revision: null, files };
}

/** The tensor files, the index, then the sidecars, each once. */
function recordedNames(layout: ModelLayout): string[] {
  const names = layout.shards.map((shard) => shard.file);
  if (layout.indexFile !== null) names.push(layout.indexFile);
  for (const sidecar of SIDECAR_FILES) if (!names.includes(sidecar)) names.push(sidecar);
  return names;
}

async function recordHubFiles(location: HubLocation, hub: HubSession, names: readonly string[]): Promise<FileRecord[]> {
  const listed = new Map((await hubListing(location, hub)).map((file) => [file.path, file]));
  const files: FileRecord[] = [];
  for (const name of names) {
    const file = listed.get(name);
    if (file === undefined) continue;
    const lfs = file.lfsSha256 ?? null;
    const sha256 = lfs ?? (file.size <= MAX_HASHED_BYTES ? await sha256OfHubFile(location, hub, file) : null);
    files.push({ path: name, bytes: file.size, modified: null, sha256, sha256From: lfs !== null ? 'hub-lfs' : sha256 === null ? null : 'content' });
  }
  return files;
}

/** SHA-256 of a small Hub file, hex; null when it cannot be fetched (the record then says less, as for a local file). */
async function sha256OfHubFile(location: HubLocation, hub: HubSession, file: RepoFile): Promise<string | null> {
  try {
    return createHash('sha256').update(await readHubFile(location, hub, file)).digest('hex');
  } catch {
    return null;
  }
}

/**
 * `cached`: the folder is a Hugging Face cache snapshot, whose files link to blobs; a
 * blob named by 64 hex digits is an LFS file stored under its SHA-256.
 */
async function recordLocalFile(folder: string, name: string, cached: boolean): Promise<FileRecord | null> {
  const path = join(folder, name);
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) return null;
  const modified = info.mtime.toISOString();
  if (cached) {
    const blob = basename(await readlink(path).catch(() => ''));
    if (SHA256_BLOB.test(blob)) return { path: name, bytes: info.size, modified, sha256: blob, sha256From: 'hub-lfs' };
  }
  const sha256 = info.size <= MAX_HASHED_BYTES ? await sha256OfFile(path) : null;
  return { path: name, bytes: info.size, modified, sha256, sha256From: sha256 === null ? null : 'content' };
}

/** SHA-256 of a small file, hex; null when it cannot be read (the record then says less). */
export async function sha256OfFile(path: string): Promise<string | null> {
  try {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  } catch {
    return null;
  }
}
