import { randomBytes } from 'node:crypto';
import { link, lstat, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IoError, UsageError } from '../errors.js';
import { REPORT_RENDERERS, type OutputFormat } from '../report/renderers.js';
import { PLAIN_STYLE } from '../report/text-style.js';
import type { Report } from '../report-schema.js';
import { textStyle, wantsColor } from './color.js';
import type { CliDependencies } from './dependencies.js';

/**
 * Checks, before a long analysis starts, that --output can be written: its folder
 * exists and, without --force, nothing is there yet. The final write checks again
 * (atomically), so this is only to fail early.
 */
export async function checkOutputTarget(path: string, force: boolean): Promise<void> {
  const folder = dirname(path);
  const folderStat = await stat(folder).catch(() => null);
  if (folderStat === null || !folderStat.isDirectory()) {
    throw new UsageError(`--output: folder '${folder}' does not exist`);
  }
  const existing = await lstat(path).catch(() => null);
  if (existing === null) return;
  if (existing.isDirectory()) throw new UsageError(`--output: '${path}' is a folder`);
  if (!force) throw new UsageError(`--output: '${path}' already exists; pass --force to replace it`);
}

/**
 * Pieces of text (a JSON report one tensor at a time) gathered into strings of about
 * 1 MB: one write each to a stream (the terminal), and never the whole report in one
 * string.
 */
export function* gathered(pieces: Iterable<string>): Generator<string> {
  let pending = '';
  for (const piece of pieces) {
    pending += piece;
    if (pending.length >= 1 << 20) {
      yield pending;
      pending = '';
    }
  }
  if (pending.length > 0) yield pending;
}

/**
 * Writes `contents` to `path` so that a reader sees either the old file or the whole new
 * one, never a half-written report: write a temporary file in the same folder (same
 * file system), flush it, then move it into place. Without `force`, the move is a hard
 * link, which fails if the name exists, so a file that appeared meanwhile is not lost.
 */
export async function writeFileAtomically(path: string, contents: string | Iterable<string>, options: { force: boolean }): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'wx');
    try {
      await writePieces(handle, typeof contents === 'string' ? [contents] : contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.force) {
      await rename(temporary, path);
    } else {
      await placeWithoutOverwriting(temporary, path);
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // The report could not be made (a renderer failed): not a failure to write the file.
    if (error instanceof ContentFailure) throw error.cause;
    throw new IoError(path, `cannot write the report: ${messageOf(error)}`, { cause: error });
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/** Bytes encoded before a write (see writePieces). */
const WRITE_BUFFER_BYTES = 1 << 20;

/**
 * Writes text pieces one after another, encoded into one reused 1 MiB buffer: one write
 * per MiB. (Gathering them into strings first costs more than the encoding: the joined
 * string must be flattened before it can be encoded; docs/performance.md has the
 * measured difference.) A piece longer than the buffer is written on its own.
 */
async function writePieces(handle: FileHandle, pieces: Iterable<string>): Promise<void> {
  const buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  let used = 0;
  const flush = async (): Promise<void> => {
    for (let done = 0; done < used; ) done += (await handle.write(buffer, done, used - done)).bytesWritten;
    used = 0;
  };
  const iterator = pieces[Symbol.iterator]();
  for (;;) {
    let step: IteratorResult<string>;
    try {
      step = iterator.next();
    } catch (error) {
      throw new ContentFailure(error);
    }
    if (step.done === true) break;
    const piece = step.value;
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    if (used + piece.length * 3 > buffer.length) {
      await flush();
      if (piece.length * 3 > buffer.length) {
        // Each write to the handle continues where the last one ended.
        await handle.writeFile(piece, 'utf8');
        continue;
      }
    }
    used += buffer.write(piece, used, 'utf8');
  }
  await flush();
}

/** An error thrown while the pieces were being made (by a renderer), told apart from the file system's. */
class ContentFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('the report could not be made');
  }
}

async function placeWithoutOverwriting(temporary: string, path: string): Promise<void> {
  try {
    await link(temporary, path);
    return;
  } catch (error) {
    if (codeOf(error) === 'EEXIST') {
      throw new UsageError(`--output: '${path}' already exists; pass --force to replace it`);
    }
    // Some file systems (FAT, some network mounts) have no hard links: fall back to a
    // check-then-rename, which leaves only a tiny window for a file to appear.
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(codeOf(error) ?? '')) throw error;
  }
  if ((await lstat(path).catch(() => null)) !== null) {
    throw new UsageError(`--output: '${path}' already exists; pass --force to replace it`);
  }
  await rename(temporary, path);
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A finished report to --output (never coloured; stdout then gets only the one-line
 * verdict, unless quiet) or to stdout (coloured when `color` allows and stdout is a
 * terminal), written in pieces either way.
 */
export async function emitReport(
  report: Report,
  target: { format: OutputFormat; output: string | null; force: boolean; quiet: boolean; color: boolean },
  deps: CliDependencies,
): Promise<void> {
  if (target.output !== null) {
    await writeFileAtomically(target.output, REPORT_RENDERERS[target.format](report, { style: PLAIN_STYLE }), { force: target.force });
    if (!target.quiet) deps.stdout.write(`${report.verdict.summary}\n`);
    return;
  }
  const color = wantsColor({ flag: target.color, env: deps.env, isTTY: deps.stdout.isTTY === true });
  for (const text of gathered(REPORT_RENDERERS[target.format](report, { style: textStyle(color) }))) deps.stdout.write(text);
}
