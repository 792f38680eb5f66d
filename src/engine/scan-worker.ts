/**
 * A scanning thread: receives batches of pieces, reads their bytes itself (positional
 * reads on its own file handles) and replies with their moments, which are small
 * (~33 KB with the exact-hit profile). Nothing is shared with the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AlignedTensor } from '../align/align-tensors.js';
import { IoError, MalformedInputError } from '../errors.js';
import type { ShardDescriptor, TensorDescriptor } from '../format/model-layout.js';
import { LocalFileSource } from '../source/local-file.js';
import type { TensorMoments } from './moments.js';
import type { ReproducedCount } from './scan-engine.js';
import { TensorScanner } from './scan-tensor.js';
import type { WorkerError, WorkerInput, WorkerReply, WorkerSetup, WorkerTask } from './worker-protocol.js';

/** Open file handles kept per worker; a model of thousands of shards cycles through them. */
const MAX_OPEN_FILES = 64;

const setup = workerData as WorkerSetup;
const scanner = new TensorScanner(setup.parents, {
  reference: setup.reference,
  informativeUlps: setup.informativeUlps,
  chunkElements: setup.chunkElements,
  readBytes: setup.readBytes,
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

async function descriptorOf(name: string, elements: number, input: WorkerInput): Promise<TensorDescriptor> {
  const source = await sourceOf(input.path);
  // Only the fields the scanner reads are meaningful here.
  const shard: ShardDescriptor = { file: input.path, source, size: source.size, dataStart: 0, metadata: {}, tensorNames: [] };
  return { name, dtype: input.dtype, shape: [elements], elements, shard, start: input.start, byteLength: input.byteLength };
}

async function run(task: WorkerTask): Promise<TensorMoments | ReproducedCount> {
  const [suspect, ...parents] = await Promise.all(task.inputs.map((input) => descriptorOf(task.name, task.elements, input)));
  const tensor: AlignedTensor = { name: task.name, suspect: suspect!, parents };
  const range = { from: task.from, to: task.to };
  return task.weights === null ? scanner.scan(tensor, range) : scanner.countReproduced(tensor, task.weights, range);
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
port.on('message', (tasks: WorkerTask[]) => {
  void (async () => {
    const results: { id: number; result: TensorMoments | ReproducedCount }[] = [];
    for (const task of tasks) {
      try {
        results.push({ id: task.id, result: await run(task) });
      } catch (error) {
        const reply: WorkerReply = { kind: 'error', id: task.id, error: describeError(error) };
        port.postMessage(reply);
        return;
      }
    }
    const reply: WorkerReply = { kind: 'results', results };
    port.postMessage(reply);
  })();
});
