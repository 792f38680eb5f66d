/**
 * Small files of a Hub repo read whole (a model card, a recipe, a config): through the
 * same session and verified range transport as the weights, pinned to the input's sha.
 */
import type { HubSession, RepoFile } from '../source/hub/hub-session.js';
import { describeReference } from '../source/hub/repo-reference.js';
import type { ModelLocation } from './model-location.js';

export type HubLocation = ModelLocation & { kind: 'hub' };

/** The repo's files at the input's sha: the listing the model was opened from, else a new one. */
export async function hubListing(location: HubLocation, hub: HubSession): Promise<readonly RepoFile[]> {
  return location.files ?? (await hub.listFiles(location.reference, location.sha, location.input));
}

/** How messages name a file of a Hub input: org/name@<short sha>/file, as the loader does. */
export function hubFileName(location: HubLocation, path: string): string {
  return `${describeReference({ repo: location.reference.repo, revision: location.sha.slice(0, 12) })}/${path}`;
}

/**
 * Every byte of `file`. Callers bound the size first: this holds the whole file in
 * memory. Throws the transport's typed errors (IoError after the retries).
 */
export async function readHubFile(location: HubLocation, hub: HubSession, file: RepoFile): Promise<Uint8Array> {
  const source = hub.openFile(location.reference.repo, location.sha, file, hubFileName(location, file.path));
  try {
    return await source.read(0, source.size);
  } finally {
    await source.close();
  }
}
