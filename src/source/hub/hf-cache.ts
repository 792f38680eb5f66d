/**
 * Reading the local Hugging Face hub cache as the Python and JS clients write it:
 *
 *   <cache>/models--org--name/refs/<branch or tag>     (holds a 40-hex commit sha)
 *   <cache>/models--org--name/snapshots/<sha>/<files>  (links into ../../blobs/)
 *
 * Only looks; never writes, never touches the network.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IoError } from '../../errors.js';
import { COMMIT_SHA, type RepoReference } from './repo-reference.js';

export interface CachedSnapshot {
  readonly sha: string;
  /** The snapshot folder. */
  readonly path: string;
}

/** The cache folder of a model repo: `/` becomes `--` (huggingface_hub repo_folder_name). */
export function repoCacheFolder(cacheDir: string, repo: string): string {
  return join(cacheDir, `models--${repo.split('/').join('--')}`);
}

/**
 * The snapshot `reference` names in the cache, or null when the cache does not hold it:
 * a pinned commit needs its snapshot folder; a branch or tag (default `main`) needs its
 * ref file and the snapshot that names.
 */
export async function findCachedSnapshot(cacheDir: string, reference: RepoReference): Promise<CachedSnapshot | null> {
  const folder = repoCacheFolder(cacheDir, reference.repo);
  const revision = reference.revision ?? 'main';
  let sha = revision;
  if (!COMMIT_SHA.test(revision)) {
    const refFile = join(folder, 'refs', ...revision.split('/'));
    const text = await readFile(refFile, 'utf8').catch((error: unknown) => missingOr(error, refFile));
    if (text === null) return null;
    sha = text.trim();
    if (!COMMIT_SHA.test(sha)) return null;
  }
  const path = join(folder, 'snapshots', sha);
  const found = await stat(path).catch((error: unknown) => missingOr(error, path));
  return found?.isDirectory() ? { sha, path } : null;
}

function missingOr(error: unknown, path: string): null {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return null;
  throw new IoError(path, `cannot read the Hugging Face cache (${typeof code === 'string' ? code : String(error)})`, { cause: error });
}
