import { isDeepStrictEqual } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { AlignedGroup } from '../align/align-models.js';
import type { TensorDescriptor } from '../format/model-layout.js';
import { IoError, MalformedInputError } from '../errors.js';
import { pieceBytes, ScanEngine, UNIT_LANES, type PieceResult, type PieceTask, type ScanSettings } from './scan-engine.js';
import { DEFAULT_CHUNK_ELEMENTS, DEFAULT_READ_BYTES } from './scan-tensor.js';
import { PIECE_ELEMENTS } from './scan-plan.js';
import { mapRecipeNow, type LogicalTensor, type TensorRecipe } from '../format/logical-tensor.js';
import type { GroupReportOptions } from '../partial/tensor-reports.js';
import type { WorkerError, WorkerLeaf, WorkerReply, WorkerSetup, WorkerTask } from './worker-protocol.js';

/**
 * Small tasks travel to a worker in batches of up to this many elements (and
 * MAX_BATCH_TASKS tasks): a message per tensor would make per-tensor overhead dominate
 * on layouts with 100k+ per-expert tensors. The reply carries each task's result (a
 * piece's moments, 33 KB with the profile, or a tensor's report, a few KB), so a batch
 * of 64 answers in ~2 MB at most; 1,024 made 33 MB replies that the main thread held at
 * once.
 */
const BATCH_ELEMENTS = 1 << 22;
const MAX_BATCH_TASKS = 64;

/**
 * A worker's young generation, in MB (V8's default allows ~48). A worker's garbage is
 * small objects and short-lived buffers (file windows, moments it has sent); collected
 * sooner, they stop piling up: on the 1 GB bench, peak RSS 454–474 → 386–389 MB with two
 * workers, same time (4 MB measured the same as 8).
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/**
 * A worker's old-generation limit, in MB: the documented bound on its JavaScript heap,
 * and what makes it collect sooner. V8 lets a heap grow to up to 4x what survived its
 * last full collection when the limit is 2 GB or more (64-bit), and scales that down
 * to 1.3x at 256 MB (MemoryController::MaxGrowingFactor): 512 MB gives ~1.4x. A worker
 * keeps 5-8 MB alive (node --trace-gc on the 1 GB bench trio) but let its heap reach
 * 25-40 MB between full collections; with this limit peak RSS on the 1 GB bench trio went
 * 253-264 -> 223-226 MB with two workers, in the same time (docs/performance.md).
 * Reaching it is a bug, which Node mostly reports as ERR_WORKER_OUT_OF_MEMORY (some allocations abort the process instead). Node's own
 * --max-old-space-size, given on its command line or in NODE_OPTIONS, overrides it for
 * workers too (nodejs/node#43991).
 */
export const WORKER_HEAP_MB = 512;

export interface WorkerEngineOptions {
  threads: number;
  /** A tensor's file path, for workers to open; the engine is used only when every input has one. */
  pathOf: (tensor: TensorDescriptor) => string;
  /** The worker script; default: scan-worker.js beside this module (the built code). */
  workerScript?: URL;
  /** Each worker's old-generation limit in MB; default WORKER_HEAP_MB (tests set it small). */
  heapLimitMb?: number;
  /** Workers started early (WorkerPool.start with the same settings and options), taken instead of starting new ones. */
  pool?: WorkerPool | null;
}

/** How workers are started: what WorkerPool.start and an engine must agree on for the engine to take a pool's. */
interface WorkerStart {
  setup: WorkerSetup;
  script: URL;
  heapLimitMb: number;
  threads: number;
}

function workerStart(settings: ScanSettings, options: Pick<WorkerEngineOptions, 'threads' | 'workerScript' | 'heapLimitMb'>): WorkerStart {
  return {
    setup: {
      parents: settings.parents,
      reference: settings.reference,
      informativeUlps: settings.informativeUlps,
      chunkElements: settings.chunkElements ?? DEFAULT_CHUNK_ELEMENTS,
      readBytes: settings.readBytes ?? DEFAULT_READ_BYTES,
      parentCells: settings.parentCells ?? false,
      pieceElements: settings.pieceElements ?? PIECE_ELEMENTS,
    },
    script: options.workerScript ?? new URL('./scan-worker.js', import.meta.url),
    heapLimitMb: options.heapLimitMb ?? WORKER_HEAP_MB,
    threads: options.threads,
  };
}

function sameStart(a: WorkerStart, b: WorkerStart): boolean {
  return a.script.href === b.script.href && a.heapLimitMb === b.heapLimitMb && a.threads === b.threads && isDeepStrictEqual(a.setup, b.setup);
}

function startWorker(start: WorkerStart): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: start.heapLimitMb };
  return new Worker(start.script, { workerData: start.setup, resourceLimits });
}

/**
 * Scan workers started before the engine that uses them. A worker spends ~150 ms
 * starting (node's bootstrap, provcheck's modules, the WebAssembly kernels; node
 * --cpu-prof on the bench trio), which came after the main thread had read every header
 * and aligned the models, with every worker waiting. Started as soon as the models are
 * open, that runs beside the alignment on the cores it leaves idle. An engine takes the
 * workers only if they were started as it would start them; close() stops any it did not.
 */
export class WorkerPool {
  private workers: Worker[] | null;
  /** A worker's error or exit before an engine took it: the taking engine fails with it. */
  private failure: unknown = null;
  private closing: Promise<void> | null = null;

  private constructor(private readonly start: WorkerStart) {
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < start.threads; i++) {
        const worker = startWorker(start);
        // Listened to from the start: an 'error' nobody listens to would end the process.
        worker.on('error', (error) => this.failure ??= error);
        worker.on('exit', (code) => this.failure ??= new Error(`a scan worker exited (code ${code}) before it was given work`));
        workers.push(worker);
      }
    } catch (error) {
      // A thread that cannot be made (at a large --threads): the ones made would keep the process alive.
      for (const worker of workers) void worker.terminate();
      throw error;
    }
    this.workers = workers;
  }

  static start(settings: ScanSettings, options: Pick<WorkerEngineOptions, 'threads' | 'workerScript' | 'heapLimitMb'>): WorkerPool {
    return new WorkerPool(workerStart(settings, options));
  }

  /** The workers, once, if they were started as `start` says; else null. */
  take(start: WorkerStart): { workers: Worker[]; failure: unknown } | null {
    if (this.workers === null || !sameStart(start, this.start)) return null;
    const workers = this.workers;
    this.workers = null;
    return { workers, failure: this.failure };
  }

  /** Stops the workers no engine took (an engine stops its own); every call waits for the same stop. */
  close(): Promise<void> {
    if (this.closing === null) {
      const workers = this.workers ?? [];
      this.workers = null;
      this.closing = Promise.all(workers.map((worker) => worker.terminate())).then(() => undefined);
    }
    return this.closing;
  }
}

interface Pending {
  task: WorkerTask;
  /** Stored bytes the task reads, for progress. */
  bytes: number;
  /** Suspect elements it covers, for batching. */
  elements: number;
  resolve: (result: PieceResult | string) => void;
  reject: (error: unknown) => void;
}

/**
 * Batches a worker holds at once: while it works on one, the next is already in its
 * message queue, so it never waits for this thread (busy fitting, collecting garbage)
 * to answer a reply with new work. The worker runs them one after another.
 */
const BATCHES_IN_FLIGHT = 2;

interface Slot {
  worker: Worker;
  /** The batches sent and not yet answered, oldest first (a worker answers in order). */
  inFlight: Pending[][];
}

/** Pieces spread over worker threads, in file order, each worker with its own read-ahead. */
export class WorkerEngine extends ScanEngine {
  readonly unitLanes: number;
  private readonly slots: Slot[];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private failure: unknown = null;
  /** A dispatch is scheduled (setImmediate) and has not run yet. */
  private dispatching = false;

  constructor(
    settings: ScanSettings,
    private readonly options: WorkerEngineOptions,
  ) {
    super(settings);
    this.unitLanes = Math.max(UNIT_LANES, 2 * options.threads);
    const start = workerStart(settings, options);
    const { heapLimitMb } = start;
    const taken = options.pool?.take(start) ?? null;
    this.slots = Array.from({ length: options.threads }, (_, i) => {
      const slot: Slot = { worker: taken?.workers[i] ?? startWorker(start), inFlight: [] };
      slot.worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
      slot.worker.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ERR_WORKER_OUT_OF_MEMORY') return this.fail(error);
        this.fail(
          new Error(
            `a scan worker ran out of memory: its JavaScript heap reached its limit (${heapLimitMb} MB unless node's --max-old-space-size is set; a bug in provcheck; --threads 0 runs without workers)`,
            { cause: error },
          ),
        );
      });
      slot.worker.on('exit', (code) => {
        if (slot.inFlight.length > 0) this.fail(new Error(`a scan worker exited (code ${code}) with work in hand`));
      });
      return slot;
    });
    if (taken && taken.failure !== null) this.fail(taken.failure);
  }

  protected async runPiece(task: PieceTask): Promise<PieceResult> {
    const inputs = this.wireInputs([task.tensor.suspect, ...task.tensor.parents], new Map());
    return this.enqueue(
      {
        kind: 'piece',
        id: this.nextId++,
        name: task.tensor.name,
        inputs,
        suspectGrid: task.tensor.suspectGrid ?? null,
        from: task.range.from,
        to: task.range.to,
        pass: task.pass,
        weights: task.weights === null ? null : [...task.weights],
        recipes: task.recipes ?? null,
      },
      pieceBytes(task),
      task.range.to - task.range.from,
    ) as Promise<PieceResult>;
  }

  /**
   * Can a worker report this tensor whole (`report`)? When it is no longer than a piece:
   * a longer one is cut into pieces spread over every worker instead.
   */
  reportsWhole(group: AlignedGroup): boolean {
    return suspectElements(group) <= this.pieceElements;
  }

  /**
   * A tensor's report made on a worker, by the same code and the same cut as on this
   * thread (tensor-reports.ts tensorReportText on an in-process engine): bit for bit the
   * report this thread would make, as its JSON text (partial/tensor-json.ts), which the
   * caller parses and a checkpoint appends as it is. `bytes` are its stored bytes, for
   * progress.
   */
  async report(group: AlignedGroup, options: GroupReportOptions, bytes: number): Promise<string> {
    // One memo for the group: its expert slices share their stored tensors' wire form.
    const memo = new WeakMap<TensorRecipe<TensorDescriptor>, TensorRecipe<WorkerLeaf>>();
    const leaves = new Map<TensorDescriptor, WorkerLeaf>();
    const units = group.units.map((u) => ({
      name: u.name,
      group: u.group,
      // Not copied: a message sends an array its units share once.
      groupShape: u.groupShape,
      shape: u.shape,
      inputs: this.wireInputs([u.suspect, ...u.parents], leaves, memo),
    }));
    const task: WorkerTask = { kind: 'report', id: this.nextId++, name: group.name, shape: [...group.shape], units, options };
    return this.enqueue(task, bytes, suspectElements(group)) as Promise<string>;
  }

  /**
   * Readers travel as recipes; their leaves as file paths and offsets. A leaf is made
   * once per stored tensor and task (`leaves`) and shared: a fused tensor's expert
   * slices all read the same three, and a message's structured clone sends a shared
   * object once. Kept no longer than the task's message is made: an engine-wide cache
   * held every stored tensor's leaf to the end of the run (100,000 per-expert tensors:
   * peak RSS median 397 -> 372 MB without it, 9c037af). Synchronous: on the 0.25 GB bench trio (15,840 expert
   * slices) the promises of an asynchronous mapping were ~70 MB of this thread's
   * ~400 MB of allocations (heap sampling).
   */
  private wireInputs(
    tensors: readonly LogicalTensor[],
    leaves: Map<TensorDescriptor, WorkerLeaf>,
    memo?: WeakMap<TensorRecipe<TensorDescriptor>, TensorRecipe<WorkerLeaf>>,
  ): TensorRecipe<WorkerLeaf>[] {
    return tensors.map((t) => mapRecipeNow(t.recipe, (d: TensorDescriptor) => this.leafOf(d, leaves), memo));
  }

  private leafOf(d: TensorDescriptor, leaves: Map<TensorDescriptor, WorkerLeaf>): WorkerLeaf {
    let leaf = leaves.get(d);
    if (!leaf) {
      leaf = { path: this.options.pathOf(d), fileSize: d.shard.size, name: d.name, dtype: d.dtype, shape: [...d.shape], start: d.start, byteLength: d.byteLength };
      leaves.set(d, leaf);
    }
    return leaf;
  }

  private enqueue(task: WorkerTask, bytes: number, elements: number): Promise<PieceResult | string> {
    return new Promise((resolve, reject) => {
      if (this.failure !== null) return reject(this.failure);
      this.queue.push({ task, bytes, elements, resolve, reject });
      this.scheduleDispatch();
    });
  }

  /**
   * Batches go out once the tasks queued in this turn of the event loop are all there.
   * Dispatching on every enqueue sent the first task of a turn alone: a reply resolves
   * its tensors, whose callers then enqueue the next ones one by one, and each found a
   * slot free. On 10,000 small tensors a worker got ~1.7 tasks per message, and posting
   * a reply cost it ~180 µs (2,820 posts: ~510 ms, hrtime around postMessage).
   */
  private scheduleDispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    setImmediate(() => {
      this.dispatching = false;
      if (this.failure === null) this.dispatch();
    });
  }

  /**
   * Fills every slot with room, first round first; the tasks queued are shared evenly
   * among the slots that take a batch in a round, so one worker does not take them all
   * while another waits.
   */
  private dispatch(): void {
    for (let round = 0; round < BATCHES_IN_FLIGHT; round++) {
      const free = this.slots.filter((slot) => slot.inFlight.length <= round).length;
      const share = Math.min(MAX_BATCH_TASKS, Math.ceil(this.queue.length / Math.max(free, 1)));
      for (const slot of this.slots) {
        if (slot.inFlight.length > round || this.queue.length === 0) continue;
        const batch: Pending[] = [];
        let elements = 0;
        while (this.queue.length > 0 && batch.length < share) {
          const next = this.queue[0]!;
          if (batch.length > 0 && elements + next.elements > BATCH_ELEMENTS) break;
          batch.push(this.queue.shift()!);
          elements += next.elements;
        }
        slot.inFlight.push(batch);
        slot.worker.postMessage(batch.map((p) => p.task));
      }
    }
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    const batch = slot.inFlight.shift() ?? [];
    if (reply.kind === 'error') {
      const error = rebuildError(reply.error);
      for (const pending of batch) pending.reject(error);
      this.fail(error);
      return;
    }
    const byId = new Map(batch.map((p) => [p.task.id, p]));
    for (const result of reply.results) {
      const pending = byId.get(result.id);
      if (!pending) continue;
      this.settings.onBytes?.(pending.bytes);
      pending.resolve('report' in result ? result.report : result.result);
    }
    this.scheduleDispatch();
  }

  /** The first failure ends the run: everything queued or in hand is rejected with it. */
  private fail(error: unknown): void {
    if (this.failure === null) this.failure = error;
    const waiting = [...this.queue, ...this.slots.flatMap((s) => s.inFlight.flat())];
    this.queue.length = 0;
    for (const slot of this.slots) slot.inFlight = [];
    for (const pending of waiting) pending.reject(this.failure);
  }

  async close(): Promise<void> {
    // Whatever is still queued or asked for later is refused, not left to wait on a
    // stopped worker (a scan ends early when, say, its checkpoint cannot be written).
    this.fail(new Error('the scan engine is closed'));
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}

function suspectElements(group: AlignedGroup): number {
  return group.units.reduce((sum, u) => sum + u.suspect.elements, 0);
}

function rebuildError(error: WorkerError): Error {
  let rebuilt: Error;
  if (error.kind === 'IoError' && error.file !== null) rebuilt = new IoError(error.file, error.message);
  else if (error.kind === 'MalformedInputError' && error.file !== null) rebuilt = new MalformedInputError(error.file, error.message);
  else rebuilt = new Error(error.message);
  if (error.stack !== null) rebuilt.stack = error.stack;
  return rebuilt;
}
