/**
 * What a model argument refers to: a local file or folder, a snapshot in the local
 * Hugging Face cache, or a repo on the Hub at a commit. Decided once per input,
 * before anything is read; a Hub revision is resolved here to its 40-hex sha so that
 * every later request names the same commit.
 */
import { lstat } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { findCachedSnapshot } from '../source/hub/hf-cache.js';
import type { HubSession, RepoFile } from '../source/hub/hub-session.js';
import { HF_SCHEME, parseRepoReference, type RepoReference } from '../source/hub/repo-reference.js';

export type ModelLocation =
  | { readonly kind: 'local'; readonly input: string; readonly path: string }
  | {
      readonly kind: 'hf-cache';
      readonly input: string;
      readonly reference: RepoReference;
      readonly sha: string;
      /** The snapshot folder. */
      readonly path: string;
    }
  | {
      readonly kind: 'hub';
      readonly input: string;
      readonly reference: RepoReference;
      readonly sha: string;
      /** The Hub it is on, as messages show it. */
      readonly endpoint: string;
      /** The repo's files at `sha`, once listed (their sizes and LFS hashes go into the record). */
      readonly files?: readonly RepoFile[];
    };

/**
 * An existing path is local (a folder named like `org/name` wins over the Hub); an
 * `hf://` argument, or one that is not a path but reads as `org/name[@revision]`, is a
 * Hub repo, taken from the cache when there and from the Hub otherwise. Anything else
 * is a local path that the loader will report missing.
 */
export async function locateModel(input: string, hub: HubSession): Promise<ModelLocation> {
  let reference: RepoReference | null;
  if (input.startsWith(HF_SCHEME)) {
    reference = parseRepoReference(input);
  } else {
    if (await exists(input)) return { kind: 'local', input, path: input };
    reference = parseRepoReference(input);
  }
  if (reference === null) return { kind: 'local', input, path: input };

  if (hub.cacheDir !== null) {
    const cached = await findCachedSnapshot(hub.cacheDir, reference);
    if (cached) return { kind: 'hf-cache', input, reference, sha: cached.sha, path: cached.path };
  }
  if (hub.offline) {
    const cache = hub.cacheDir === null ? 'no Hugging Face cache is set' : `the Hugging Face cache (${hub.cacheDir}) does not hold it`;
    throw new UsageError(`${input}: not a local path, and ${cache}; --offline forbids fetching it from the Hub`);
  }
  const sha = await hub.resolveRevision(reference, input);
  return { kind: 'hub', input, reference, sha, endpoint: hub.endpointName };
}

async function exists(path: string): Promise<boolean> {
  // lstat: a dangling symlink is still a path the user meant (the loader says it dangles).
  return lstat(path).then(
    () => true,
    () => false,
  );
}
