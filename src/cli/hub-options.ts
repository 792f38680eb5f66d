import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { HubOptions } from '../source/hub/hub-session.js';

/** The Hub flags shared by `suspect` and `inspect`, as commander hands them over. */
export interface HubCommandOptions {
  offline?: boolean;
  tokenFile?: string;
}

export const HUB_OPTION_HELP = {
  offline: 'never use the network: Hub models must be in the local Hugging Face cache',
  tokenFile: 'read the Hub access token from this file (default: HF_TOKEN, then $HF_HOME/token)',
} as const;

export const HUB_ENVIRONMENT_HELP = `

Models on the Hugging Face Hub, local paths mixed in, one parent pinned to a tag:
    $ provcheck suspect org/merged --parents org/tune-a@v1.0 ./tune-b/

An argument that is not an existing path is a repo id,
org/name or hf://org/name, optionally @branch, @tag or @commit. Files are streamed with
range requests (never downloaded whole); a model already in the local Hugging Face cache
is read from there without the network. Environment: HF_TOKEN (access token),
HF_HOME (default ~/.cache/huggingface; the token file and the cache live there),
HF_HUB_CACHE (the cache folder), HF_ENDPOINT (a mirror or private Hub),
HF_HUB_OFFLINE=1 (as --offline).`;

/**
 * The Hub configuration from the flags and the environment, the way the Python and JS
 * clients read it: HF_ENDPOINT; the token from --token-file, else HF_TOKEN, else
 * $HF_HOME/token; the cache in HF_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. The token is never
 * printed: errors about it name the file, never the content.
 */
export async function hubOptionsFrom(
  options: HubCommandOptions,
  env: Readonly<Record<string, string | undefined>>,
  home: () => string = homedir,
): Promise<HubOptions> {
  const hfHome = nonEmpty(env.HF_HOME) ?? join(nonEmpty(env.XDG_CACHE_HOME) ?? join(home(), '.cache'), 'huggingface');
  const cacheDir = nonEmpty(env.HF_HUB_CACHE) ?? join(hfHome, 'hub');
  let token: string | null;
  if (options.tokenFile !== undefined) {
    token = await readTokenFile(options.tokenFile, '--token-file', true);
  } else {
    token = nonEmpty(env.HF_TOKEN)?.trim() ?? (await readTokenFile(join(hfHome, 'token'), '$HF_HOME/token', false));
  }
  const offlineFlag = env.HF_HUB_OFFLINE?.trim().toLowerCase();
  return {
    endpoint: nonEmpty(env.HF_ENDPOINT) ?? undefined,
    token,
    cacheDir,
    offline: options.offline === true || offlineFlag === '1' || offlineFlag === 'true' || offlineFlag === 'yes',
  };
}

async function readTokenFile(path: string, what: string, required: boolean): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required) return null;
    const code = (error as { code?: unknown } | null)?.code;
    throw new UsageError(`${what}: cannot read ${path} (${typeof code === 'string' ? code : 'unreadable'})`);
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) {
    if (!required) return null;
    throw new UsageError(`${what}: ${path} does not hold one token (expected a single line)`);
  }
  return token;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
