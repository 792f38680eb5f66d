/**
 * How a model argument names a Hub repository: `org/name`, `name` (the few legacy
 * repos without a namespace), `hf://org/name`, each optionally `@revision` (a branch,
 * tag or commit; `refs/pr/1` included). Pure: no file system, no network.
 */
import { UsageError } from '../../errors.js';

export interface RepoReference {
  /** `org/name` (or a legacy `name`), as the Hub spells it in URLs. */
  readonly repo: string;
  /** What the user pinned; null means the default branch. */
  readonly revision: string | null;
}

export const HF_SCHEME = 'hf://';

/**
 * The Hub's own rule for repo names (huggingface_hub validate_repo_id): letters, digits,
 * `-`, `_`, `.`; no `--` or `..`; not starting or ending with `-` or `.`; at most 96
 * characters. Anything else is not a repo id, so a mistyped path is never sent to the
 * network as one.
 */
const NAME_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const MAX_REPO_ID_LENGTH = 96;

/** Branch and tag names as git allows them, minus what would break a URL path. */
const REVISION = /^[A-Za-z0-9._\-/]+$/;
const MAX_REVISION_LENGTH = 256;

export const COMMIT_SHA = /^[0-9a-f]{40}$/;

/**
 * Parses `input` as a repo reference, or returns null when it cannot be one (the
 * caller then treats it as a path). With the `hf://` scheme a malformed id is an error
 * rather than null: the user said it is a repo.
 */
export function parseRepoReference(input: string): RepoReference | null {
  const explicit = input.startsWith(HF_SCHEME);
  const body = explicit ? input.slice(HF_SCHEME.length) : input;
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? null : body.slice(at + 1);
  const problem = repoIdProblem(repo) ?? (revision === null ? null : revisionProblem(revision));
  if (problem === null) return { repo, revision };
  if (explicit) throw new UsageError(`${input}: ${problem}`);
  return null;
}

function repoIdProblem(repo: string): string | null {
  if (repo === '') return 'no repository name';
  if (repo.length > MAX_REPO_ID_LENGTH) return `repository id is longer than ${MAX_REPO_ID_LENGTH} characters`;
  const parts = repo.split('/');
  if (parts.length > 2) return 'a repository id is "org/name"';
  for (const part of parts) {
    if (!NAME_PART.test(part) || part.includes('--') || part.includes('..')) {
      return `${JSON.stringify(part)} is not a valid repository name part (letters, digits, "-", "_", "."; no "--" or "..")`;
    }
  }
  return null;
}

function revisionProblem(revision: string): string | null {
  if (revision === '') return 'empty revision after "@"';
  if (revision.length > MAX_REVISION_LENGTH) return `revision is longer than ${MAX_REVISION_LENGTH} characters`;
  if (!REVISION.test(revision) || revision.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    return `${JSON.stringify(revision)} is not a valid revision (a branch, tag or 40-hex commit)`;
  }
  return null;
}

/** `org/name@revision`, or `org/name` for the default branch: how messages name a reference. */
export function describeReference(reference: RepoReference): string {
  return reference.revision === null ? reference.repo : `${reference.repo}@${reference.revision}`;
}
