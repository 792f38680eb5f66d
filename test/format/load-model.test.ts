import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MalformedInputError } from '../../src/errors.js';
import { encode, FLOAT_FORMATS } from '../../src/format/dtype.js';
import { loadModel } from '../../src/format/load-model.js';
import type { ModelLayout } from '../../src/format/model-layout.js';
import { summarizeModel } from '../../src/format/model-summary.js';
import { serializeSafetensors, writeModel, type TensorBytes } from '../helpers/safetensors-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'provcheck-load-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function bf16(name: string, values: number[], shape = [values.length]): TensorBytes {
  return { name, dtype: 'BF16', shape, data: encode(FLOAT_FORMATS.BF16, values) };
}

const TENSORS = [
  bf16('embed.weight', [1, 2, 3, 4, 5, 6], [3, 2]),
  bf16('layers.0.weight', [0.5, -0.5]),
  { name: 'layers.0.norm', dtype: 'F32', shape: [2], data: encode(FLOAT_FORMATS.F32, [1, 1]) },
  bf16('lm_head.weight', [7, 8, 9, 10]),
];
const NAMES = TENSORS.map((t) => t.name);

let serial = 0;
async function folder(): Promise<string> {
  const path = join(dir, `case-${serial++}`);
  await mkdir(path, { recursive: true });
  return path;
}

async function failureOf(input: string): Promise<MalformedInputError> {
  const error = await loadModel(input).then(
    async (layout) => {
      await layout.close();
      return null;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MalformedInputError);
  expect((error as Error).message).not.toContain('\n');
  return error as MalformedInputError;
}

async function withLayout<T>(input: string, use: (layout: ModelLayout) => T | Promise<T>): Promise<T> {
  const layout = await loadModel(input);
  try {
    return await use(layout);
  } finally {
    await layout.close();
  }
}

async function writeIndex(path: string, weightMap: Record<string, unknown>, name = 'model.safetensors.index.json'): Promise<void> {
  await writeFile(join(path, name), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
}

describe('loadModel: the four layouts', () => {
  it('a single .safetensors file', async () => {
    const path = join(await folder(), 'solo.safetensors');
    const bytes = serializeSafetensors(TENSORS, { metadata: { format: 'pt' } });
    await writeFile(path, bytes);
    await withLayout(path, async (layout) => {
      expect([layout.kind, layout.input, layout.root, layout.indexFile]).toEqual(['file', path, resolve(path), null]);
      expect(layout.shards.map((s) => [s.file, s.size, s.source.name])).toEqual([['solo.safetensors', bytes.byteLength, path]]);
      expect([...layout.tensors.keys()]).toEqual(NAMES);
      expect(layout.totalBytes).toBe(bytes.byteLength);
      const norm = layout.tensors.get('layers.0.norm')!;
      expect([...(await norm.shard.source.read(norm.start, norm.start + norm.byteLength))]).toEqual([...TENSORS[2]!.data]);
    });
  });

  it('a folder with one file', async () => {
    const path = await folder();
    await writeModel(path, TENSORS);
    await writeFile(join(path, 'README.md'), 'not a model file');
    await withLayout(path, (layout) => {
      expect([layout.kind, layout.root, layout.indexFile]).toEqual(['folder-single', resolve(path), null]);
      expect(layout.shards.map((s) => s.file)).toEqual(['model.safetensors']);
      expect(layout.shards[0]!.metadata).toEqual({ format: 'pt' });
      expect([...layout.tensors.keys()]).toEqual(NAMES);
    });
  });

  it('a folder with an index: shard order, then on-disk order; files the index does not name are ignored', async () => {
    const path = await folder();
    await writeModel(path, TENSORS, { shards: [['lm_head.weight', 'embed.weight'], ['layers.0.weight', 'layers.0.norm']] });
    // Mistral-style repositories keep a consolidated copy next to the HF shards.
    await writeFile(join(path, 'consolidated.safetensors'), serializeSafetensors([bf16('tok_embeddings.weight', [1])]));
    await withLayout(path, (layout) => {
      expect([layout.kind, layout.indexFile]).toEqual(['folder-indexed', 'model.safetensors.index.json']);
      expect(layout.shards.map((s) => s.file)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
      expect([...layout.tensors.keys()]).toEqual(['lm_head.weight', 'embed.weight', 'layers.0.weight', 'layers.0.norm']);
      expect(layout.tensors.get('layers.0.norm')!.shard).toBe(layout.shards[1]);
      expect(layout.totalBytes).toBe(layout.shards[0]!.size + layout.shards[1]!.size);
    });
  });

  it('the index file itself, or any single *.safetensors.index.json, selects the indexed layout', async () => {
    const path = await folder();
    await writeModel(path, TENSORS, { shards: [['embed.weight', 'layers.0.weight'], ['layers.0.norm', 'lm_head.weight']], index: false });
    await writeIndex(
      path,
      Object.fromEntries(NAMES.map((n, i) => [n, `model-0000${i < 2 ? 1 : 2}-of-00002.safetensors`])),
      'diffusion_pytorch_model.safetensors.index.json',
    );
    await withLayout(path, (layout) => {
      expect([layout.kind, layout.indexFile]).toEqual(['folder-indexed', 'diffusion_pytorch_model.safetensors.index.json']);
      expect([...layout.tensors.keys()]).toEqual(NAMES);
    });
    await withLayout(join(path, 'diffusion_pytorch_model.safetensors.index.json'), (layout) => {
      expect([layout.kind, layout.root]).toEqual(['folder-indexed', resolve(path)]);
      expect(layout.tensors.size).toBe(4);
    });
  });

  it('a folder of shards without an index, sorted by file name', async () => {
    const path = await folder();
    await writeFile(join(path, 'b.safetensors'), serializeSafetensors(TENSORS.slice(0, 2)));
    await writeFile(join(path, 'a.safetensors'), serializeSafetensors(TENSORS.slice(2)));
    await withLayout(path, (layout) => {
      expect([layout.kind, layout.indexFile]).toEqual(['folder-shards', null]);
      expect(layout.shards.map((s) => s.file)).toEqual(['a.safetensors', 'b.safetensors']);
      expect([...layout.tensors.keys()]).toEqual(['layers.0.norm', 'lm_head.weight', 'embed.weight', 'layers.0.weight']);
    });
  });

  it('follows symlinks, as in the Hugging Face cache (snapshot links to blobs)', async () => {
    const cache = await folder();
    await mkdir(join(cache, 'blobs'));
    await mkdir(join(cache, 'snapshots', 'abc123'), { recursive: true });
    await writeModel(join(cache, 'blobs'), TENSORS, { shards: [['embed.weight', 'layers.0.weight'], ['layers.0.norm', 'lm_head.weight']] });
    for (const name of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']) {
      await symlink(join('..', '..', 'blobs', name), join(cache, 'snapshots', 'abc123', name));
    }
    await symlink(join(cache, 'snapshots', 'abc123'), join(cache, 'latest'));
    await withLayout(join(cache, 'latest'), (layout) => {
      expect(layout.kind).toBe('folder-indexed');
      expect(layout.root).toBe(join(cache, 'latest'));
      expect([...layout.tensors.keys()]).toEqual(NAMES);
      expect(layout.shards[0]!.source.name).toBe(join(cache, 'latest', 'model-00001-of-00002.safetensors'));
    });
  });

  it('close closes every shard, once', async () => {
    const path = await folder();
    await writeModel(path, TENSORS, { shards: [['embed.weight'], ['layers.0.weight', 'layers.0.norm', 'lm_head.weight']] });
    const layout = await loadModel(path);
    await layout.close();
    await layout.close();
    for (const shard of layout.shards) await expect(shard.source.read(0, 8)).rejects.toThrow('read after close');
  });
});

describe('loadModel: refusals', () => {
  it('a missing path, an empty folder, an unknown file type', async () => {
    const path = await folder();
    const missing = await failureOf(join(path, 'nowhere'));
    expect([missing.file, missing.problem]).toEqual([join(path, 'nowhere'), 'no such file or folder']);
    const empty = await failureOf(path);
    expect([empty.file, empty.problem]).toEqual([path, 'has no .safetensors files']);
    await writeFile(join(path, 'weights.npz'), 'x');
    const other = await failureOf(join(path, 'weights.npz'));
    expect(other.problem).toBe('is not a .safetensors file (expected a .safetensors file, a shard index or a model folder)');
  });

  it('pickle checkpoints, as a file or as a folder of pytorch_model*.bin', async () => {
    const path = await folder();
    for (const name of ['model.bin', 'model.pt', 'model.pth', 'model.ckpt']) {
      await writeFile(join(path, name), 'pickle');
      const refusal = await failureOf(join(path, name));
      expect(refusal.file).toBe(join(path, name));
      expect(refusal.problem).toMatch(/^is a pickle checkpoint; provcheck never unpickles \(loading pickle can run arbitrary code\)/);
      expect(refusal.problem).toContain('save_pretrained(dir, safe_serialization=True)');
      expect(refusal.problem).toContain('from safetensors.torch import save_file');
    }
    const hf = await folder();
    await writeFile(join(hf, 'pytorch_model-00001-of-00002.bin'), 'pickle');
    await writeFile(join(hf, 'pytorch_model-00002-of-00002.bin'), 'pickle');
    await writeFile(join(hf, 'config.json'), '{}');
    const refusal = await failureOf(hf);
    expect(refusal.file).toBe(join(hf, 'pytorch_model-00001-of-00002.bin'));
    expect(refusal.problem).toMatch(/^is a pickle checkpoint/);
  });

  it('GGUF, as a file or as the only model file in a folder', async () => {
    const path = await folder();
    await writeFile(join(path, 'model-Q4_K_M.gguf'), 'GGUF');
    const file = await failureOf(join(path, 'model-Q4_K_M.gguf'));
    expect(file.problem).toBe(
      'is a GGUF file, which provcheck does not read; point it at the safetensors checkpoint the GGUF was made from',
    );
    expect((await failureOf(path)).file).toBe(join(path, 'model-Q4_K_M.gguf'));
  });

  it('a malformed shard names that shard', async () => {
    const path = await folder();
    await writeModel(path, TENSORS, { shards: [['embed.weight', 'layers.0.weight'], ['layers.0.norm', 'lm_head.weight']] });
    await writeFile(join(path, 'model-00002-of-00002.safetensors'), serializeSafetensors(TENSORS.slice(2), { trailing: new Uint8Array(2) }));
    const error = await failureOf(path);
    expect(error.file).toBe(join(path, 'model-00002-of-00002.safetensors'));
    expect(error.problem).toMatch(/^the last 2 bytes of the file belong to no tensor/);
  });

  it('duplicate tensor names across shards without an index', async () => {
    const path = await folder();
    await writeFile(join(path, 'a.safetensors'), serializeSafetensors(TENSORS.slice(0, 2)));
    await writeFile(join(path, 'b.safetensors'), serializeSafetensors(TENSORS.slice(1)));
    const error = await failureOf(path);
    expect([error.file, error.problem]).toEqual([
      join(path, 'b.safetensors'),
      `holds tensor "layers.0.weight", which ${join(path, 'a.safetensors')} holds too`,
    ]);
  });

  it('a dangling symlink to a shard', async () => {
    const path = await folder();
    await writeModel(path, TENSORS);
    await symlink(join(path, 'gone.bin'), join(path, 'model-extra.safetensors'));
    const error = await failureOf(path);
    expect([error.file, error.problem]).toEqual([join(path, 'model-extra.safetensors'), 'is a symlink to a missing file']);
  });
});

describe('loadModel: shard index validation', () => {
  async function indexed(): Promise<string> {
    const path = await folder();
    await writeModel(path, TENSORS, { shards: [['embed.weight', 'layers.0.weight'], ['layers.0.norm', 'lm_head.weight']] });
    return path;
  }
  const goodMap = (): Record<string, string> => ({
    'embed.weight': 'model-00001-of-00002.safetensors',
    'layers.0.weight': 'model-00001-of-00002.safetensors',
    'layers.0.norm': 'model-00002-of-00002.safetensors',
    'lm_head.weight': 'model-00002-of-00002.safetensors',
  });

  async function indexProblem(path: string): Promise<string> {
    const error = await failureOf(path);
    expect(error.file).toBe(join(path, 'model.safetensors.index.json'));
    return error.problem;
  }

  it('accepts ./-prefixed entries that stay inside the folder', async () => {
    const path = await indexed();
    await writeIndex(path, { ...goodMap(), 'embed.weight': './model-00001-of-00002.safetensors' });
    await withLayout(path, (layout) => expect(layout.tensors.size).toBe(4));
  });

  it('entries that escape the folder', async () => {
    const path = await indexed();
    await writeFile(join(dir, 'outside.safetensors'), serializeSafetensors([bf16('embed.weight', [1])]));
    const cases: [string, string][] = [
      ['../outside.safetensors', 'points outside the model folder'],
      ['sub/../../outside.safetensors', 'points outside the model folder'],
      [join(dir, 'outside.safetensors'), 'is an absolute path, outside the model folder'],
      ['C:/models/outside.safetensors', 'is an absolute path, outside the model folder'],
      ['..\\outside.safetensors', 'contains a backslash; shard paths use "/"'],
      ['', 'is not a usable file name'],
      ['model-00001-of-00002.bin', 'is not a .safetensors file'],
    ];
    for (const [target, problem] of cases) {
      await writeIndex(path, { ...goodMap(), 'embed.weight': target });
      expect(await indexProblem(path)).toBe(`weight_map entry "embed.weight" → ${JSON.stringify(target)} ${problem}`);
    }
  });

  it('a missing shard', async () => {
    const path = await indexed();
    await writeIndex(path, { ...goodMap(), 'lm_head.weight': 'model-00003-of-00003.safetensors' });
    expect(await indexProblem(path)).toBe('tensor "lm_head.weight" is mapped to "model-00003-of-00003.safetensors", which does not exist');
  });

  it('an index that is not JSON, has no weight_map, or maps to non-strings', async () => {
    const path = await indexed();
    await writeFile(join(path, 'model.safetensors.index.json'), '{"weight_map": ');
    expect(await indexProblem(path)).toMatch(/^is not valid JSON \(.+\)$/);
    await writeFile(join(path, 'model.safetensors.index.json'), '{"metadata": {}}');
    expect(await indexProblem(path)).toBe('has no "weight_map" object');
    await writeIndex(path, { ...goodMap(), 'embed.weight': 1 });
    expect(await indexProblem(path)).toBe('weight_map entry "embed.weight" is not a file name');
    await writeIndex(path, {});
    expect(await indexProblem(path)).toBe('has an empty "weight_map"');
  });

  it('headers that disagree with the index', async () => {
    const path = await indexed();
    const shard1 = join(path, 'model-00001-of-00002.safetensors');
    const shard2 = join(path, 'model-00002-of-00002.safetensors');
    const indexPath = join(path, 'model.safetensors.index.json');

    // The index places a tensor in a shard whose header lacks it.
    await writeIndex(path, { ...goodMap(), 'extra.weight': 'model-00001-of-00002.safetensors' });
    expect(await indexProblem(path)).toBe(
      'places tensor "extra.weight" in "model-00001-of-00002.safetensors", whose header has no such tensor',
    );

    // A header holds a tensor the index does not list.
    const partial = goodMap();
    delete partial['layers.0.weight'];
    await writeIndex(path, partial);
    let error = await failureOf(path);
    expect([error.file, error.problem]).toEqual([shard1, `holds tensor "layers.0.weight", which the index ${indexPath} does not list`]);

    // The index places a tensor in another shard than the one that holds it.
    await writeIndex(path, { ...goodMap(), 'lm_head.weight': 'model-00001-of-00002.safetensors' });
    error = await failureOf(path);
    expect([error.file, error.problem]).toEqual([
      shard2,
      `holds tensor "lm_head.weight", which the index ${indexPath} places in "model-00001-of-00002.safetensors"`,
    ]);

    // The same name in two shards: one of them is not where the index says.
    await writeIndex(path, goodMap());
    await writeFile(shard2, serializeSafetensors([...TENSORS.slice(2), TENSORS[0]!]));
    error = await failureOf(path);
    expect([error.file, error.problem]).toEqual([
      shard2,
      `holds tensor "embed.weight", which the index ${indexPath} places in "model-00001-of-00002.safetensors"`,
    ]);
  });

  it('several indexes and none of them the default', async () => {
    const path = await indexed();
    await rm(join(path, 'model.safetensors.index.json'));
    await writeIndex(path, goodMap(), 'a.safetensors.index.json');
    await writeIndex(path, goodMap(), 'b.safetensors.index.json');
    const error = await failureOf(path);
    expect([error.file, error.problem]).toEqual([
      path,
      'has several shard indexes (a.safetensors.index.json, b.safetensors.index.json); pass the one to use',
    ]);
  });
});

describe('summarizeModel', () => {
  it('counts per file, per dtype and in total', async () => {
    const path = await folder();
    await writeModel(path, TENSORS, { shards: [['embed.weight', 'layers.0.weight'], ['layers.0.norm', 'lm_head.weight']] });
    await withLayout(path, (layout) => {
      const summary = summarizeModel(layout);
      expect(summary.kind).toBe('folder-indexed');
      expect(summary.indexFile).toBe('model.safetensors.index.json');
      expect(summary.files.map((f) => [f.file, f.bytes, f.headerBytes, f.tensorCount, f.metadata])).toEqual(
        layout.shards.map((s) => [s.file, s.size, s.dataStart - 8, 2, { format: 'pt' }]),
      );
      expect(summary.dtypes).toEqual([
        { dtype: 'BF16', tensors: 3, elements: 12, bytes: 24 },
        { dtype: 'F32', tensors: 1, elements: 2, bytes: 8 },
      ]);
      expect(summary.totals).toEqual({ tensors: 4, elements: 14, tensorBytes: 32, fileBytes: layout.totalBytes });
      expect(summary.tensors).toEqual([
        { name: 'embed.weight', dtype: 'BF16', shape: [3, 2], bytes: 12, file: 'model-00001-of-00002.safetensors' },
        { name: 'layers.0.weight', dtype: 'BF16', shape: [2], bytes: 4, file: 'model-00001-of-00002.safetensors' },
        { name: 'layers.0.norm', dtype: 'F32', shape: [2], bytes: 8, file: 'model-00002-of-00002.safetensors' },
        { name: 'lm_head.weight', dtype: 'BF16', shape: [4], bytes: 8, file: 'model-00002-of-00002.safetensors' },
      ]);
      expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
    });
  });
});
