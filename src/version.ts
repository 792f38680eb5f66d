import { readFileSync } from 'node:fs';

/**
 * The version in package.json, read at load time relative to this module: from dist/
 * and from src/ alike the package root is one folder up. Never hard-coded, so a
 * release cannot report a stale number.
 */
function readPackageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
    return parsed.version;
  }
  throw new Error('package.json has no version string');
}

export const TOOL_VERSION = readPackageVersion();
