/**
 * A scanning thread: receives batches of tasks, reads their bytes itself (positional
 * reads on its own file handles) and replies with their results: a piece's moments
 * (~33 KB with the exact-hit profile), or a whole tensor's report, made here by the same
 * code as on the main thread. Nothing is shared with the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoError, MalformedInputError } from '../errors.js';
import type { TensorMoments } from './moments.js';
import { buildTensor, mapRecipe, mapRecipeNow, recipeLeaves, type LogicalTensor, type TensorRecipe } from '../format/logical-tensor.js';
import type { ShardDescriptor, TensorDescriptor } from '../format/model-layout.js';
import { LocalFileSource } from '../source/local-file.js';
import { tensorReportText } from '../partial/tensor-reports.js';
import { InProcessEngine, runScannerPiece, type PieceResult } from './scan-engine.js';
import { TensorScanner } from './scan-tensor.js';
import type { WorkerError, WorkerLeaf, WorkerPieceTask, WorkerReply, WorkerReportTask, WorkerResult, WorkerSetup, WorkerTask } from './worker-protocol.js';

/** Open file handles kept per worker; a model of thousands of shards cycles through them. */
const MAX_OPEN_FILES = 64;

const setup = workerData as WorkerSetup;
const scanner = new TensorScanner(setup.parents, {
  reference: setup.reference,
  informativeUlps: setup.informativeUlps,
  chunkElements: setup.chunkElements,
  readBytes: setup.readBytes,
  parentCells: setup.parentCells,
});
const open = new Map<string, Promise<LocalFileSource>>();

async function sourceOf(path: string): Promise<LocalFileSource> {
  let source = open.get(path);
  if (source) {
    // Most recently used last, so the first key is the one to close.
    open.delete(path);
    open.set(path, source);
    return source;
  }
  if (open.size >= MAX_OPEN_FILES) {
    const [oldest, closing] = open.entries().next().value as [string, Promise<LocalFileSource>];
    open.delete(oldest);
    void closing.then((s) => s.close()).catch(() => undefined);
  }
  source = LocalFileSource.open(path);
  open.set(path, source);
  source.catch(() => open.delete(path));
  return source;
}

async function descriptorOf(leaf: WorkerLeaf): Promise<TensorDescriptor> {
  const source = await sourceOf(leaf.path);
  // Opened here later than the main thread read its header: a file rewritten or
  // truncated in between would otherwise fail as a read outside the file.
  if (source.size !== leaf.fileSize) {
    throw new IoError(leaf.path, `changed while being analysed: ${leaf.fileSize} bytes when its header was read, ${source.size} now`);
  }
  // Only the fields the readers use are meaningful here.
  const shard: ShardDescriptor = { file: leaf.path, source, size: source.size, dataStart: 0, metadata: {}, tensorNames: [] };
  const elements = leaf.shape.reduce((a, b) => a * b, 1);
  return { name: leaf.name, dtype: leaf.dtype, shape: leaf.shape, elements, shard, start: leaf.start, byteLength: leaf.byteLength };
}

/**
 * Readers built lately for piece tasks, by recipe: the pieces of one long tensor reuse a
 * reader and its buffers instead of building one per piece (report tasks build their
 * units' readers directly: see report()). Tasks run one at a time here, so a reader
 * never serves two reads at once. A reader is reused only while every file it reads is
 * still open (the file cache may have closed one).
 */
const MAX_READERS = 32;
const readers = new Map<string, { reader: Promise<LogicalTensor>; files: Map<string, Promise<LocalFileSource>> }>();

function readerOf(recipe: TensorRecipe<WorkerLeaf>, key: string): Promise<LogicalTensor> {
  const cached = readers.get(key);
  if (cached) {
    readers.delete(key);
    if ([...cached.files].every(([path, source]) => open.get(path) === source)) {
      for (const path of cached.files.keys()) void sourceOf(path);
      readers.set(key, cached);
      return cached.reader;
    }
  }
  const built = buildReader(recipe);
  built.reader.catch(() => readers.delete(key));
  if (readers.size >= MAX_READERS) readers.delete(readers.keys().next().value!);
  readers.set(key, built);
  return built.reader;
}

function buildReader(recipe: TensorRecipe<WorkerLeaf>): { reader: Promise<LogicalTensor>; files: Map<string, Promise<LocalFileSource>> } {
  const files = new Map<string, Promise<LocalFileSource>>();
  const reader = mapRecipe(recipe, (leaf) => {
    const described = descriptorOf(leaf);
    files.set(leaf.path, open.get(leaf.path)!);
    return described;
  }).then(buildTensor);
  return { reader, files };
}

/**
 * The readers of one task's inputs (suspect first, then the parents). The engine reads
 * every input at once, and a reader serves one read at a time, so an input whose recipe
 * another input of the task already has (a model given as the suspect and as a parent)
 * gets a reader of its own.
 */
function readersOf(inputs: readonly TensorRecipe<WorkerLeaf>[]): Promise<LogicalTensor[]> {
  const taken = new Set<string>();
  return Promise.all(
    inputs.map((recipe) => {
      const key = JSON.stringify(recipe);
      if (taken.has(key)) return buildReader(recipe).reader;
      taken.add(key);
      return readerOf(recipe, key);
    }),
  );
}

async function run(task: WorkerTask): Promise<WorkerResult> {
  if (task.kind === 'report') return { id: task.id, report: await report(task) };
  return { id: task.id, result: await piece(task) };
}

async function piece(task: WorkerPieceTask): Promise<PieceResult> {
  const [suspect, ...parents] = await readersOf(task.inputs);
  const tensor = { name: task.name, suspect: suspect!, parents, suspectGrid: task.suspectGrid };
  return runScannerPiece(scanner, {
    tensor,
    range: { from: task.from, to: task.to },
    pass: task.pass,
    weights: task.weights,
    ...(task.recipes === null ? {} : { recipes: task.recipes }),
  });
}

/**
 * Pieces of the tensors this worker reports whole, on this worker's scanner (whose own
 * options rule the reads): the same cut and the same order of sums as the main
 * thread's engine.
 */
const local = new InProcessEngine(
  { parents: setup.parents, reference: setup.reference, informativeUlps: setup.informativeUlps, pieceElements: setup.pieceElements },
  scanner,
);

async function report(task: WorkerReportTask): Promise<string> {
  // Every unit gets readers of its own: units differ (a fused tensor's expert slices),
  // so the cache of readersOf, keyed by each recipe's JSON, would only make the keys (on
  // the 0.25 GB bench trio ~22 MB of a worker's ~620 MB of allocations, heap sampling).
  // The slices share their stored tensors' leaves and nodes (worker-engine.ts): each
  // leaf is described once, and each shared node mapped once (mapRecipeNow's memo).
  const leaves = new Set(task.units.flatMap((unit) => unit.inputs.flatMap((recipe) => recipeLeaves(recipe))));
  const described = new Map<WorkerLeaf, TensorDescriptor>();
  await Promise.all([...leaves].map(async (leaf) => described.set(leaf, await descriptorOf(leaf))));
  const memo = new WeakMap<TensorRecipe<WorkerLeaf>, TensorRecipe<TensorDescriptor>>();
  const units = task.units.map((unit) => {
    const [suspect, ...parents] = unit.inputs.map((recipe) => buildTensor(mapRecipeNow(recipe, (leaf) => described.get(leaf)!, memo)));
    return { name: unit.name, group: unit.group, groupShape: unit.groupShape, shape: unit.shape, suspect: suspect!, parents };
  });
  return tensorReportText({ name: task.name, shape: task.shape, units }, local, task.options);
}

function describeError(error: unknown): WorkerError {
  if (error instanceof IoError || error instanceof MalformedInputError) {
    const message = error instanceof IoError ? error.message.slice(error.file.length + 2) : error.problem;
    return { kind: error.name, file: error.file, message, stack: error.stack ?? null };
  }
  return { kind: 'Error', file: null, message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? (error.stack ?? null) : null };
}

const port = parentPort;
if (!port) throw new Error('scan-worker.ts runs only as a worker thread');
/** Batches run one after another (the engine sends the next before this one is answered). */
let previous: Promise<void> = Promise.resolve();
/** After a failure the engine rejects everything: later batches are not run. */
let failed = false;
port.on('message', (tasks: WorkerTask[]) => {
  previous = previous.then(() => runBatch(tasks));
});

async function runBatch(tasks: WorkerTask[]): Promise<void> {
  if (failed) return;
  const results: WorkerResult[] = [];
  const sent: TensorMoments[] = [];
  for (const task of tasks) {
    try {
      const result = await run(task);
      results.push(result);
      if ('result' in result && task.kind === 'piece' && task.pass === 'moments') sent.push(result.result as TensorMoments);
    } catch (error) {
      failed = true;
      const reply: WorkerReply = { kind: 'error', id: task.id, error: describeError(error) };
      port!.postMessage(reply);
      return;
    }
  }
  const reply: WorkerReply = { kind: 'results', results };
  port!.postMessage(reply);
  // Posting copied the moments: the scanner may fill them again.
  for (const moments of sent) scanner.recycle(moments);
}
