import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkOutputTarget, gathered, writeFileAtomically } from '../../src/cli/write-output.js';
import { UsageError } from '../../src/errors.js';

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'provcheck-output-'));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('writeFileAtomically', () => {
  it('writes a new file and leaves no temporary file behind', async () => {
    const path = join(folder, 'report.json');
    await writeFileAtomically(path, '{"a":1}\n', { force: false });
    expect(await readFile(path, 'utf8')).toBe('{"a":1}\n');
    expect(await readdir(folder)).toEqual(['report.json']);
  });

  it('writes pieces one after another, gathered into writes of about 1 MB, multi-byte characters included', async () => {
    const path = join(folder, 'report.json');
    // 3,000 pieces of ~1 KB with a 3-byte character each: several 1 MB writes and a tail.
    const pieces = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(5, '0')}σ${'x'.repeat(1000)}\n`);
    await writeFileAtomically(path, pieces, { force: false });
    expect(await readFile(path, 'utf8')).toBe(pieces.join(''));
    expect(await readdir(folder)).toEqual(['report.json']);
    const written = [...gathered(pieces)];
    expect(written.length).toBe(3);
    expect(written.join('')).toBe(pieces.join(''));
  });

  it('refuses to replace an existing file without force, and keeps it intact', async () => {
    const path = join(folder, 'report.json');
    await writeFile(path, 'precious');
    await expect(writeFileAtomically(path, 'new', { force: false })).rejects.toThrow(
      new UsageError(`--output: '${path}' already exists; pass --force to replace it`),
    );
    expect(await readFile(path, 'utf8')).toBe('precious');
    expect(await readdir(folder)).toEqual(['report.json']);
  });

  it('replaces an existing file with force', async () => {
    const path = join(folder, 'report.json');
    await writeFile(path, 'old');
    await writeFileAtomically(path, 'new', { force: true });
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(folder)).toEqual(['report.json']);
  });

  it('reports a folder that vanished as an I/O error naming the file', async () => {
    const path = join(folder, 'gone', 'report.json');
    await expect(writeFileAtomically(path, 'x', { force: false })).rejects.toMatchObject({
      name: 'IoError',
      file: path,
    });
  });
});

describe('checkOutputTarget', () => {
  it('accepts a new name in an existing folder', async () => {
    await expect(checkOutputTarget(join(folder, 'new.json'), false)).resolves.toBeUndefined();
  });

  it('rejects a missing folder, an existing file without force, and a folder', async () => {
    await writeFile(join(folder, 'old.json'), 'x');
    await expect(checkOutputTarget(join(folder, 'no', 'r.json'), false)).rejects.toThrow(
      `--output: folder '${join(folder, 'no')}' does not exist`,
    );
    await expect(checkOutputTarget(join(folder, 'old.json'), false)).rejects.toThrow('already exists');
    await expect(checkOutputTarget(join(folder, 'old.json'), true)).resolves.toBeUndefined();
    await expect(checkOutputTarget(folder, true)).rejects.toThrow('is a folder');
  });
});
