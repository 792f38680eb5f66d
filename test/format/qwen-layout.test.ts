/**
 * Parses headers rebuilt from the recorded layout of Qwen3.5-397B-A17B (see
 * data/README.md): real names, shapes, dtypes and header lengths, and shard
 * files of ~9.6 GB, served by a source that has only the header bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alignModels, groupUnits } from '../../src/align/align-models.js';
import { byteLengthOf } from '../../src/format/dtype.js';
import type { ModelLayout, TensorDescriptor } from '../../src/format/model-layout.js';
import { logicalModel } from '../../src/format/quantization/schemes.js';
import { parseSafetensorsHeader } from '../../src/format/safetensors-header.js';
import type { ByteSource } from '../../src/source/byte-source.js';

const LAYOUT_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../data/qwen3_5_397b_a17b_layout.json');

interface LayoutFile {
  tensors: { name: string; shape: number[]; dtype: string }[];
  shards: {
    files: { file: string; header_json_bytes: number; payload_bytes: number; file_bytes: number; tensors: string[] }[];
  };
}

function readLayout(): LayoutFile {
  if (!existsSync(LAYOUT_PATH)) {
    throw new Error(`the layout fixture is missing: expected ${LAYOUT_PATH} (a copy of shared/data, see data/README.md)`);
  }
  return JSON.parse(readFileSync(LAYOUT_PATH, 'utf8')) as LayoutFile;
}

/** A file of `size` bytes that holds `head` at its start and zeros after it, without storing them. */
class SparseSource implements ByteSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly head: Uint8Array,
  ) {}

  read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
    if (start < 0 || end > this.size || start > end) return Promise.reject(new RangeError(`${this.name}: [${start}, ${end})`));
    const out = into ? into.subarray(0, end - start) : new Uint8Array(end - start);
    out.fill(0);
    if (start < this.head.byteLength) out.set(this.head.subarray(start, Math.min(end, this.head.byteLength)));
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The header as the reference writer lays it out: compact JSON in on-disk order, spaces to a multiple of 8. */
function rebuildHeader(layout: LayoutFile, shardNumber: number): { head: Uint8Array; file: LayoutFile['shards']['files'][number] } {
  const file = layout.shards.files[shardNumber - 1]!;
  const byName = new Map(layout.tensors.map((t) => [t.name, t]));
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of file.tensors) {
    const t = byName.get(name)!;
    const bytes = byteLengthOf(t.dtype, t.shape.reduce((a, b) => a * b, 1))!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  expect(offset).toBe(file.payload_bytes);
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const json = new TextEncoder().encode(text);
  const head = new Uint8Array(8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  head.set(json, 8);
  return { head, file };
}

describe('Qwen3.5-397B-A17B shard headers rebuilt from the recorded layout', () => {
  for (const shardNumber of [91, 94]) {
    it(`shard ${shardNumber}: header length matches the published one and every tensor parses`, async () => {
      const layout = readLayout();
      const { head, file } = rebuildHeader(layout, shardNumber);
      expect(head.byteLength - 8).toBe(file.header_json_bytes);
      expect(8 + file.header_json_bytes + file.payload_bytes).toBe(file.file_bytes);

      const { shard, tensors } = await parseSafetensorsHeader(new SparseSource(file.file, file.file_bytes, head), file.file);
      expect(shard.dataStart).toBe(8 + file.header_json_bytes);
      expect(shard.size).toBe(file.file_bytes);
      expect(shard.metadata).toEqual({});
      expect(shard.tensorNames).toEqual(file.tensors);
      const byName = new Map(layout.tensors.map((t) => [t.name, t]));
      for (const t of tensors) {
        const recorded = byName.get(t.name)!;
        expect([t.dtype, t.shape]).toEqual([recorded.dtype, recorded.shape]);
      }
      const last = tensors[tensors.length - 1]!;
      expect(last.start + last.byteLength).toBe(file.file_bytes);
      expect(tensors.reduce((sum, t) => sum + t.byteLength, 0)).toBe(file.payload_bytes);
    });
  }

  it('shard 91: offsets beyond 4 GiB stay exact', async () => {
    const layout = readLayout();
    const { head, file } = rebuildHeader(layout, 91);
    const { shard, tensors } = await parseSafetensorsHeader(new SparseSource(file.file, file.file_bytes, head), file.file);
    expect(tensors.slice(0, 2).map((t) => [t.name, t.start, t.byteLength])).toEqual([
      ['lm_head.weight', shard.dataStart, 248320 * 4096 * 2],
      ['model.language_model.embed_tokens.weight', shard.dataStart + 248320 * 4096 * 2, 248320 * 4096 * 2],
    ]);
    let at = shard.dataStart;
    for (const t of tensors) {
      expect(t.start).toBe(at);
      at += t.byteLength;
    }
    expect(tensors.filter((t) => t.start > 2 ** 32).length).toBeGreaterThan(40);
  });

  it('aligned with itself: fused experts expert by expert, the per-expert MTP experts grouped like them', async () => {
    const recorded = readLayout();
    const tensors = new Map<string, TensorDescriptor>();
    const shards = [];
    for (let n = 1; n <= recorded.shards.files.length; n++) {
      const { head, file } = rebuildHeader(recorded, n);
      const parsed = await parseSafetensorsHeader(new SparseSource(file.file, file.file_bytes, head), file.file);
      shards.push(parsed.shard);
      for (const t of parsed.tensors) tensors.set(t.name, t);
    }
    const layout: ModelLayout = {
      input: 'qwen',
      root: 'qwen',
      kind: 'folder-indexed',
      indexFile: 'model.safetensors.index.json',
      shards,
      tensors,
      totalBytes: shards.reduce((sum, s) => sum + s.size, 0),
      close: () => Promise.resolve(),
    };
    const model = logicalModel(layout, null);
    const groups = groupUnits(alignModels(model, [model, model], { include: [], exclude: [] }).units);
    expect(tensors.size).toBe(2924);
    // 1,536 per-expert MTP tensors (512 experts × gate, up, down) in 2 tensors.
    expect(groups.length).toBe(2924 - 1536 + 2);
    const group = (name: string) => groups.find((g) => g.name === name)!;
    const units = (name: string) => [group(name).shape, group(name).units.length, group(name).units[0]!.shape];
    // Fused against fused: one unit per expert; stored per expert: one per stored matrix
    // (gate and up apart), as a fused tensor against per-expert parents is cut.
    expect(units('model.layers.0.mlp.experts.gate_up_proj')).toEqual([[512, 2048, 4096], 512, [2048, 4096]]);
    expect(units('mtp.layers.0.mlp.experts.gate_up_proj')).toEqual([[512, 2048, 4096], 1024, [1024, 4096]]);
    expect(units('model.layers.0.mlp.experts.down_proj')).toEqual([[512, 4096, 1024], 512, [4096, 1024]]);
    expect(units('mtp.layers.0.mlp.experts.down_proj')).toEqual([[512, 4096, 1024], 512, [4096, 1024]]);
  });
});
