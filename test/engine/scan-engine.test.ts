import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AlignedTensor } from '../../src/align/align-tensors.js';
import { InProcessEngine } from '../../src/engine/scan-engine.js';
import { TensorScanner } from '../../src/engine/scan-tensor.js';
import { WorkerEngine, WorkerPool } from '../../src/engine/worker-engine.js';
import type { TensorMoments } from '../../src/engine/moments.js';
import { storedTensor } from '../../src/format/logical-tensor.js';
import type { AlignedGroup } from '../../src/align/align-models.js';
import { DEFAULT_THRESHOLDS } from '../../src/verdict/thresholds.js';
import { FLOAT_FORMATS } from '../../src/format/dtype.js';
import type { ShardDescriptor, TensorDescriptor } from '../../src/format/model-layout.js';
import type { ByteSource } from '../../src/source/byte-source.js';
import { referenceMoments } from '../helpers/reference-moments.js';

/**
 * A bf16 tensor that exists only as a formula: element i of input `which` has a code
 * chosen from i, so any byte range can be produced without storing the tensor. Lets a
 * test place a tensor beyond 4 GiB of a file (and beyond a Node Buffer) in no memory.
 */
class FormulaSource implements ByteSource {
  readonly name: string;
  constructor(
    readonly size: number,
    private readonly tensorStart: number,
    private readonly which: number,
  ) {
    this.name = `formula-${which}`;
  }

  static code(i: number, which: number): number {
    // A base value near ±0.02 and per-input changes of a few ulps; every 997th suspect element NaN.
    const base = 0x3ca0 + ((i * 2654435761) >>> 20) % 64;
    const sign = (i >>> 3) % 2 === 0 ? 0 : 0x8000;
    if (which === 0 && i % 997 === 5) return 0x7fc0;
    const step = which === 0 ? ((i * 7) % 9) - 4 : which === 1 ? 0 : ((i * 13) % 11) - 5;
    return sign | (base + step);
  }

  read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
    const target = into ? into.subarray(0, end - start) : new Uint8Array(end - start);
    const codes = new Uint16Array(target.buffer, target.byteOffset, target.byteLength / 2);
    const first = (start - this.tensorStart) / 2;
    for (let k = 0; k < codes.length; k++) codes[k] = FormulaSource.code(first + k, this.which);
    return Promise.resolve(target);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function formulaTensor(elements: number, start: number): AlignedTensor {
  const descriptor = (which: number): TensorDescriptor => {
    const source = new FormulaSource(start + elements * 2, start, which);
    const shard: ShardDescriptor = { file: source.name, source, size: source.size, dataStart: 0, metadata: {}, tensorNames: ['t'] };
    return { name: 't', dtype: 'BF16', shape: [elements], elements, shard, start, byteLength: elements * 2 };
  };
  return { name: 't', suspect: descriptor(0), parents: [descriptor(1), descriptor(2)] };
}

function valuesOf(from: number, to: number, which: number): Float64Array {
  const codes = new Uint16Array(to - from);
  for (let i = from; i < to; i++) codes[i - from] = FormulaSource.code(i, which);
  const out = new Float32Array(codes.length);
  new Uint32Array(out.buffer).set(Array.from(codes, (c) => c << 16));
  return Float64Array.from(out);
}

function expectSameMoments(actual: TensorMoments, expected: TensorMoments, relative: number): void {
  expect([actual.elements, actual.used, actual.nonFinite, actual.parentsEqual, actual.informative.count]).toEqual([
    expected.elements,
    expected.used,
    expected.nonFinite,
    expected.parentsEqual,
    expected.informative.count,
  ]);
  expect(Array.from(actual.equal)).toEqual(Array.from(expected.equal));
  expect(Array.from(actual.profile!.hits)).toEqual(Array.from(expected.profile!.hits));
  const scale = Math.max(...Array.from(expected.gram, Math.abs));
  actual.gram.forEach((v, i) => expect(Math.abs(v - expected.gram[i]!)).toBeLessThanOrEqual(relative * scale));
  expect(Math.abs(actual.floor - expected.floor)).toBeLessThanOrEqual(relative * expected.floor);
}

describe('scanning by pieces', () => {
  it('reads a range of a bf16 tensor that lies beyond 4 GiB of its file, and matches the reference', async () => {
    const elements = 2 ** 31 + 3000; // 4 GiB + 6000 bytes per input
    const start = 2 ** 32 + 4096;
    const tensor = formulaTensor(elements, start);
    const from = elements - 150_000;
    const scanner = new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements: 1 << 16, readBytes: 1 << 16 });
    const actual = await scanner.scan(tensor, { from, to: elements });
    const expected = referenceMoments(valuesOf(from, elements, 0), [valuesOf(from, elements, 1), valuesOf(from, elements, 2)], FLOAT_FORMATS.BF16, 0, 4);
    expect(actual.nonFinite).toBeGreaterThan(100);
    expect(actual.informative.count).toBeGreaterThan(10_000);
    expectSameMoments(actual, expected, 1e-12);
  });

  it('gives bit-identical moments whatever the piece length, with the same pieces', async () => {
    const tensor = formulaTensor(300_000, 64);
    const engine = (pieceElements: number) => new InProcessEngine({ parents: 2, reference: 1, informativeUlps: 4, pieceElements, readBytes: 1 << 16 });
    const whole = await engine(1 << 24).moments(tensor);
    const pieces = await engine(70_000).moments(tensor);
    const again = await engine(70_000).moments(tensor);
    // Different cuts agree to rounding; the same cut agrees bit for bit (what threads and shards rely on).
    expectSameMoments(pieces, whole, 1e-13);
    expect(Array.from(again.gram)).toEqual(Array.from(pieces.gram));
    expect([again.floor, again.floorVar]).toEqual([pieces.floor, pieces.floorVar]);
    const expected = referenceMoments(valuesOf(0, 300_000, 0), [valuesOf(0, 300_000, 1), valuesOf(0, 300_000, 2)], FLOAT_FORMATS.BF16, 1, 4);
    expectSameMoments(pieces, expected, 1e-12);
  });

  it('counts reproduced elements by pieces as in one pass', async () => {
    const tensor = formulaTensor(200_000, 0);
    const weights = [0.5, 0.5];
    const whole = await new InProcessEngine({ parents: 2, reference: 0, informativeUlps: 4 }).reproduced(tensor, weights);
    const pieces = await new InProcessEngine({ parents: 2, reference: 0, informativeUlps: 4, pieceElements: 30_001 }).reproduced(tensor, weights);
    expect(pieces).toEqual(whole);
    expect(whole.informative).toBeGreaterThan(50_000);
  });
});

describe('worker threads', () => {
  /**
   * A WorkerEngine on two stand-in workers that answer every task of a batch with their
   * thread id and the batch's size, a little later (300 ms when a task's tensor is named
   * "slow…", else 5 ms), and a tensor to ask for by name.
   */
  async function standInEngine(): Promise<{ engine: WorkerEngine; ask: (name: string) => Promise<string>; done: () => Promise<void> }> {
    const dir = await mkdtemp(join(tmpdir(), 'provcheck-batches-'));
    const script = join(dir, 'batches.mjs');
    await writeFile(
      script,
      "import { parentPort, threadId } from 'node:worker_threads';\n" +
        "parentPort.on('message', (tasks) => setTimeout(() => parentPort.postMessage({ kind: 'results', results: tasks.map((t) => ({ id: t.id, report: `${threadId}:${tasks.length}` })) }), tasks.some((t) => t.name.startsWith('slow')) ? 300 : 5));\n",
    );
    const engine = new WorkerEngine(
      { parents: 2, reference: 0, informativeUlps: 4 },
      { threads: 2, pathOf: (t) => t.shard.file, workerScript: pathToFileURL(script) },
    );
    const tensor = formulaTensor(1000, 0);
    const group = (name: string): AlignedGroup => ({
      name,
      shape: [1000],
      units: [{ name, group: name, groupShape: [1000], shape: [1000], suspect: storedTensor(tensor.suspect), parents: tensor.parents.map((p) => storedTensor(p)) }],
    });
    const options = { parents: 2, reference: 0, thresholds: DEFAULT_THRESHOLDS };
    return {
      engine,
      ask: (name) => engine.report(group(name), options, 6000),
      done: async () => {
        await engine.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  /** How many answers said each thing. */
  function count(answers: string[]): Map<string, number> {
    const perAnswer = new Map<string, number>();
    for (const answer of answers) perAnswer.set(answer, (perAnswer.get(answer) ?? 0) + 1);
    return perAnswer;
  }

  it('tasks queued in one turn go out as one batch per worker, shared evenly', async () => {
    const { ask, done } = await standInEngine();
    try {
      // Forty tensors asked for in one turn, then ten more once the first answers are in
      // (as tensorReports' lanes do, each in its own microtask).
      const firstAnswers = await Promise.all(Array.from({ length: 40 }, (_, i) => ask(`t${i}`)));
      const later = await Promise.all(Array.from({ length: 10 }, (_, i) => Promise.resolve().then(() => ask(`t${40 + i}`))));
      // Two workers, twenty tasks each in one message (dispatching per task sent the first alone).
      expect([...count(firstAnswers).entries()].map(([answer, n]) => [answer.split(':')[1], n])).toEqual([
        ['20', 20],
        ['20', 20],
      ]);
      expect(new Set(firstAnswers.map((answer) => answer.split(':')[0])).size).toBe(2);
      expect([...count(later).values()]).toEqual([5, 5]);
      expect(later.every((answer) => answer.endsWith(':5'))).toBe(true);
    } finally {
      await done();
    }
  });

  it('a busy worker does not take a share of what an idle one can take at once', async () => {
    const { ask, done } = await standInEngine();
    try {
      const slow = ask('slow');
      // While one worker holds the slow task, eight asked for in one turn go to the other,
      // in one message (a share per worker would have split them over both, and in three).
      await new Promise((resolve) => setTimeout(resolve, 50));
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(`t${i}`)));
      const slowAnswer = await slow;
      expect([...count(answers).keys()]).toHaveLength(1);
      expect(answers[0]!.endsWith(':8')).toBe(true);
      expect(answers[0]!.split(':')[0]).not.toBe(slowAnswer.split(':')[0]);
    } finally {
      await done();
    }
  });

  it('workers started early go to an engine that starts workers the same way, and to no other', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'provcheck-pool-'));
    const script = pathToFileURL(join(dir, 'ids.mjs'));
    // A stand-in worker that answers with its thread id (ids grow in the order workers start).
    await writeFile(
      fileURLToPath(script),
      "import { parentPort, threadId } from 'node:worker_threads';\n" +
        "parentPort.on('message', (tasks) => parentPort.postMessage({ kind: 'results', results: tasks.map((t) => ({ id: t.id, report: String(threadId) })) }));\n",
    );
    const settings = { parents: 2, reference: 0, informativeUlps: 4 };
    const pool = WorkerPool.start(settings, { threads: 2, workerScript: script });
    const options = (threads: number) => ({ threads, pathOf: (t: TensorDescriptor) => t.shard.file, workerScript: script, pool });
    // Not the same start (another threshold, another thread count): these start their own.
    const other = new WorkerEngine({ ...settings, informativeUlps: 5 }, options(2));
    const fewer = new WorkerEngine(settings, options(1));
    const engine = new WorkerEngine(settings, options(2));
    const again = new WorkerEngine(settings, options(2));
    // Stops only what no engine took: nothing here.
    await pool.close();
    const tensor = formulaTensor(1000, 0);
    const group: AlignedGroup = {
      name: 't',
      shape: [1000],
      units: [{ name: 't', group: 't', groupShape: [1000], shape: [1000], suspect: storedTensor(tensor.suspect), parents: tensor.parents.map((p) => storedTensor(p)) }],
    };
    const ids = async (e: WorkerEngine): Promise<number[]> =>
      (await Promise.all(Array.from({ length: 8 }, () => e.report(group, { parents: 2, reference: 0, thresholds: DEFAULT_THRESHOLDS }, 6000)))).map(Number);
    try {
      const [early, others, fewers, agains] = [await ids(engine), await ids(other), await ids(fewer), await ids(again)];
      // The pool's two workers, started before any engine's own.
      expect(new Set(early).size).toBe(2);
      expect(Math.max(...early)).toBeLessThan(Math.min(...others, ...fewers, ...agains));
    } finally {
      await Promise.all([engine, other, fewer, again].map((e) => e.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an engine that takes an early worker which failed to start fails its tasks with that error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'provcheck-pool-'));
    const script = pathToFileURL(join(dir, 'broken.mjs'));
    await writeFile(fileURLToPath(script), "throw new Error('this worker cannot start');\n");
    const settings = { parents: 2, reference: 0, informativeUlps: 4 };
    const pool = WorkerPool.start(settings, { threads: 1, workerScript: script });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const engine = new WorkerEngine(settings, { threads: 1, pathOf: (t) => t.shard.file, workerScript: script, pool });
    try {
      const failure = await engine.moments(formulaTensor(1000, 0)).catch((error: unknown) => error);
      expect((failure as Error).message).toBe('this worker cannot start');
    } finally {
      await engine.close();
      await pool.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a worker that reaches its heap limit fails the scan with one clear line', async () => {
    // A stand-in worker that hoards memory on its first task.
    const dir = await mkdtemp(join(tmpdir(), 'provcheck-hoard-'));
    const script = join(dir, 'hoard.mjs');
    await writeFile(
      script,
      "import { parentPort } from 'node:worker_threads';\nconst hoard = [];\nparentPort.on('message', () => { for (;;) hoard.push(Array.from({ length: 1000 }, (_, i) => ({ i }))); });\n",
    );
    const engine = new WorkerEngine(
      { parents: 2, reference: 0, informativeUlps: 4 },
      { threads: 1, pathOf: (t) => t.shard.file, workerScript: pathToFileURL(script), heapLimitMb: 16 },
    );
    try {
      const failure = await engine.moments(formulaTensor(1000, 0)).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toBe(
        "a scan worker ran out of memory: its JavaScript heap reached its limit (16 MB unless node's --max-old-space-size is set; a bug in provcheck; --threads 0 runs without workers)",
      );
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
