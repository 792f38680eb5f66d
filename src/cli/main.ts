import { analyze } from '../analyze.js';
import { openModel } from '../format/load-model.js';
import { HubSession } from '../source/hub/hub-session.js';
import { TOOL_VERSION } from '../version.js';
import { runCli } from './run-cli.js';

/*
 * The executable's entry (bin/provcheck.js imports this module). process.exitCode,
 * not process.exit(): the report may still be draining into a pipe.
 */
// `provcheck ... | head` closes the pipe early: the reader has what it wanted, so stop
// quietly instead of crashing on EPIPE. Any other stdout failure is an I/O failure (3).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') return;
  process.stderr.write(`provcheck: cannot write to stdout: ${error.message}\n`);
  process.exitCode = 3;
});

try {
  process.exitCode = await runCli(process.argv.slice(2), {
    analyze,
    loadModel: async (input, hub) => (await openModel(input, new HubSession(hub))).layout,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    now: () => performance.now(),
    version: TOOL_VERSION,
  });
} catch (error) {
  // runCli handles every error itself; reaching this is a bug in provcheck (or a broken
  // installation, e.g. an unreadable package.json), never a user error.
  process.stderr.write(`provcheck: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 3;
}
