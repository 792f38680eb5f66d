import { closeSync, fdatasyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { IoError, UsageError } from '../errors.js';
import type { TensorReport } from '../report-schema.js';
import { parseExact, stringifyExact } from './tensor-json.js';

/**
 * What a run's per-tensor results depend on: the inputs exactly as the report records
 * them (paths, files and sizes, and whatever else the input records carry, such as a
 * Hub revision), the reference, the options, and the tool version (the fits may change
 * between versions). A checkpoint or partial report made under another identity is
 * refused.
 */
export interface RunIdentity {
  tool: string;
  inputs: unknown[];
  reference: number;
  options: unknown;
}

const HEADER_KEY = 'provcheckCheckpoint';
/** 2: strings starting with "#" escaped (partial/tensor-json.ts); format 1 read "#NaN" as a number, whatever it named. */
const FORMAT_VERSION = 2;
/** Flushing to the disk itself (not only the page cache, which survives SIGKILL) at most this often. */
const SYNC_INTERVAL_MS = 1000;

/**
 * `--checkpoint <file>`: one JSON line per line-delimited record, first the identity,
 * then one line per completed tensor, each written with one write(2) as the tensor
 * completes. A run killed at any moment leaves whole lines plus at most one torn last
 * line, which the next run cuts off and redoes.
 *
 * Records hold the tensor's results (TensorReport), which are a deterministic function
 * of its sums; keeping the raw sums instead would mean the 4,000-bin exact-hit profile,
 * 33 KB per tensor, too much for models of 100k tensors.
 */
export class Checkpoint {
  private lastSync = 0;

  private constructor(
    readonly path: string,
    private fd: number | null,
    /** Tensors finished by earlier runs, by name. */
    readonly done: ReadonlyMap<string, TensorReport>,
  ) {}

  static open(path: string, identity: RunIdentity): Checkpoint {
    const header = stringifyExact({ [HEADER_KEY]: FORMAT_VERSION, identity });
    let text: string | null = null;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if (!isMissing(error)) throw new IoError(path, `cannot read the checkpoint (${codeOf(error)})`, { cause: error });
    }
    const done = new Map<string, TensorReport>();
    let keep = 0;
    if (text !== null && text.length > 0) {
      const lines = text.split('\n');
      // The last element is '' after a complete line, or the torn remains of a killed write.
      const complete = lines.slice(0, -1);
      const first = complete[0];
      if (first === undefined) {
        keep = 0;
      } else {
        checkHeader(path, first, header);
        keep = Buffer.byteLength(first) + 1;
        for (const line of complete.slice(1)) {
          let record: { tensor?: TensorReport };
          try {
            record = parseExact(line) as { tensor?: TensorReport };
          } catch {
            break;
          }
          if (!record.tensor || typeof record.tensor.name !== 'string') break;
          done.set(record.tensor.name, record.tensor);
          keep += Buffer.byteLength(line) + 1;
        }
      }
    }
    let fd: number;
    try {
      fd = openSync(path, text === null ? 'w' : 'r+');
      ftruncateSync(fd, keep);
      if (keep === 0) writeSync(fd, `${header}\n`, 0);
      fdatasyncSync(fd);
    } catch (error) {
      throw new IoError(path, `cannot write the checkpoint (${codeOf(error)})`, { cause: error });
    }
    const checkpoint = new Checkpoint(path, fd, done);
    checkpoint.position = keep === 0 ? Buffer.byteLength(header) + 1 : keep;
    return checkpoint;
  }

  private position = 0;

  /**
   * Records a completed tensor; on return the line is in the kernel's hands (safe from
   * SIGKILL). `text`: the tensor's stringifyExact, when the caller has it already.
   */
  append(tensor: TensorReport, text = stringifyExact(tensor)): void {
    if (this.fd === null) throw new Error('checkpoint: append after close');
    // stringifyExact({ tensor }), which is this.
    const line = Buffer.from(`{"tensor":${text}}\n`);
    try {
      let written = 0;
      while (written < line.length) written += writeSync(this.fd, line, written, line.length - written, this.position + written);
      this.position += line.length;
      const now = Date.now();
      if (now - this.lastSync >= SYNC_INTERVAL_MS) {
        fdatasyncSync(this.fd);
        this.lastSync = now;
      }
    } catch (error) {
      throw new IoError(this.path, `cannot append to the checkpoint (${codeOf(error)})`, { cause: error });
    }
  }

  close(): void {
    if (this.fd === null) return;
    try {
      fdatasyncSync(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

function checkHeader(path: string, line: string, expected: string): void {
  let parsed: { [HEADER_KEY]?: unknown; identity?: RunIdentity };
  try {
    parsed = parseExact(line) as typeof parsed;
  } catch {
    throw new UsageError(`${path}: not a provcheck checkpoint (its first line is not JSON); give another file or delete it`);
  }
  if (parsed[HEADER_KEY] !== FORMAT_VERSION || !parsed.identity) {
    throw new UsageError(`${path}: not a provcheck checkpoint of format ${FORMAT_VERSION}; give another file or delete it`);
  }
  if (line !== expected) {
    const wanted = (parseExact(expected) as { identity: RunIdentity }).identity;
    throw new UsageError(`${path}: this checkpoint was made for other ${identityDifference(parsed.identity, wanted)}; give another file or delete it`);
  }
}

/** Names what differs between two identities, for the refusal message. */
export function identityDifference(found: RunIdentity, wanted: RunIdentity): string {
  const same = (a: unknown, b: unknown): boolean => stringifyExact(a) === stringifyExact(b);
  if (!same(found.inputs, wanted.inputs)) {
    const which = wanted.inputs.findIndex((input, i) => !same(input, found.inputs[i]));
    const label = (wanted.inputs[which] as { label?: string; source?: string } | undefined) ?? {};
    return `inputs (${label.label ?? 'an input'} ${label.source ?? ''}: other files, sizes or revision)`.replace(' :', ':');
  }
  if (found.reference !== wanted.reference) return 'options (--base)';
  if (!same(found.options, wanted.options)) return 'options (--include, --exclude or thresholds)';
  if (found.tool !== wanted.tool) return `provcheck version (${found.tool}, this is ${wanted.tool})`;
  return 'inputs or options';
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
