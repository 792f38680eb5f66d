import { describe, expect, it } from 'vitest';
import { textStyle, wantsColor } from '../../src/cli/color.js';
import { formatDuration, formatProgress, ProgressLine } from '../../src/cli/progress.js';
import { PLAIN_STYLE } from '../../src/report/text-style.js';

describe('wantsColor', () => {
  it.each([
    [true, {}, true, true],
    [true, {}, false, false],
    [false, {}, true, false],
    [false, { FORCE_COLOR: '1' }, true, false],
    [true, { NO_COLOR: '1' }, true, false],
    [true, { NO_COLOR: '' }, true, true],
    [true, { FORCE_COLOR: '1' }, false, true],
    [true, { FORCE_COLOR: '' }, false, true],
    [true, { FORCE_COLOR: '0' }, true, false],
    [true, { FORCE_COLOR: 'false' }, true, false],
    [true, { FORCE_COLOR: '1', NO_COLOR: '1' }, false, true],
    [true, { TERM: 'dumb' }, true, false],
  ] as const)('flag %s, env %j, tty %s → %s', (flag, env, isTTY, expected) => {
    expect(wantsColor({ flag, env, isTTY })).toBe(expected);
  });

  it('gives escapes only when colour is wanted', () => {
    expect(textStyle(false)).toBe(PLAIN_STYLE);
    expect(textStyle(true).red('x')).toBe('\u001b[31mx\u001b[39m');
  });
});

describe('progress', () => {
  const scan = { phase: 'scan', bytesDone: 1_000_000_000, bytesTotal: 4_000_000_000, tensorsDone: 40, tensorsTotal: 291 } as const;

  it('formats bytes, share, rate, ETA and tensors', () => {
    expect(formatProgress(scan, 2000)).toBe('scanning  1.0 GB / 4.0 GB  25%  500.0 MB/s  ETA 6s  tensors 40/291');
    expect(formatProgress({ ...scan, phase: 'open' }, 0)).toBe('opening inputs…');
    expect(formatProgress({ ...scan, bytesDone: 0 }, 0)).toBe('scanning  0 B / 4.0 GB  0%  tensors 40/291');
  });

  it('formats durations', () => {
    expect(formatDuration(36.4)).toBe('36s');
    expect(formatDuration(185)).toBe('3m 05s');
    expect(formatDuration(3720)).toBe('1h 02m');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });

  it('redraws at most every 100 ms, always for done, and erases itself', () => {
    const writes: string[] = [];
    let time = 0;
    const line = new ProgressLine({ write: (text) => writes.push(text), columns: 200 }, () => time);
    line.update(scan);
    time = 50;
    line.update(scan);
    time = 120;
    line.update(scan);
    time = 130;
    line.update({ ...scan, phase: 'done', bytesDone: 4_000_000_000 });
    line.finish();
    expect(writes).toEqual([
      '\rscanning  1.0 GB / 4.0 GB  25%  tensors 40/291\u001b[K',
      '\rscanning  1.0 GB / 4.0 GB  25%  8.3 GB/s  ETA 0s  tensors 40/291\u001b[K',
      '\rdone  4.0 GB / 4.0 GB  100%  30.8 GB/s  tensors 40/291\u001b[K',
      '\r\u001b[K',
    ]);
  });

  it('fits the terminal width', () => {
    const writes: string[] = [];
    new ProgressLine({ write: (text) => writes.push(text), columns: 30 }, () => 1000).update(scan);
    expect(writes[0]).toBe('\rscanning  1.0 GB / 4.0 GB  25\u001b[K');
  });
});
