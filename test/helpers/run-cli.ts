import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/provcheck.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built binary as a user would (`npm run build` first). PROVCHECK_NODE picks
 * another Node (CI runs these tests under Node 24 too).
 */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  const node = process.env.PROVCHECK_NODE ?? process.execPath;
  // An empty FORCE_COLOR forces colour (the supports-color convention): drop it entirely.
  const { FORCE_COLOR: _forced, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(node, [BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...inherited, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
