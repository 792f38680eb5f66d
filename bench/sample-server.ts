/**
 * A loopback Hub-like server whose models exist only as formulas: the real layout of
 * Qwen3.5-397B-A17B (data/qwen3_5_397b_a17b_layout.json, 94 shards, ~807 GB of bf16 per
 * model) for a base, two fine-tunes, a 0.6/0.4 blend of them, and that blend after a
 * small update. Every element is computed from (seed, tensor, index) alone, so any byte
 * range of any shard is served without storing anything:
 *
 *   base code  = a hashed bf16 code, magnitude 2^-10 … 2^-7, random sign
 *   A, B       = base code ± a hashed offset of up to 4 codes (fine-tunes a few ulps apart)
 *   blend      = round_bf16(0.6·A + 0.4·B), exact arithmetic rounded once
 *   updated    = blend code + a hashed offset in −2 … 2 codes (a small update after merging)
 *
 * Endpoints: revision info, the recursive tree, and resolve with Range (served directly,
 * as the Hub serves small files). Run as a child process (`tsx bench/sample-server.ts`):
 * it prints its port on stdout and answers until killed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readRealLayout, scaleModel, type ScaledShard, type ScaledTensor } from './scaled-layout.js';

export const REPOS = ['bench/base', 'bench/fine-tune-a', 'bench/fine-tune-b', 'bench/blend', 'bench/blend-updated'] as const;
type Repo = (typeof REPOS)[number];
const SHA: Readonly<Record<Repo, string>> = {
  'bench/base': '1'.repeat(40),
  'bench/fine-tune-a': '2'.repeat(40),
  'bench/fine-tune-b': '3'.repeat(40),
  'bench/blend': '4'.repeat(40),
  'bench/blend-updated': '5'.repeat(40),
};
const WEIGHT_A = 0.6;
const SEED = 20250101;

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The hash of element `index` (beyond 2^32 in the largest tensors) of tensor `key`, stream `stream`. */
function elementHash(key: number, index: number, stream: number): number {
  const low = index >>> 0;
  const high = Math.floor(index / 4294967296);
  return mix(mix(low ^ key ^ Math.imul(stream, 0x9e3779b1)) ^ high);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const BF16_TO_F64 = new Float64Array(65536);
for (let code = 0; code < 65536; code++) {
  u32[0] = code << 16;
  BF16_TO_F64[code] = f32[0]!;
}

/** Round to nearest even bf16 (via float32: a double rounding that only matters on exact float32 ties). */
function toBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function baseCode(key: number, i: number): number {
  const h = elementHash(key, i, 0);
  return (h & 0x8000) | ((117 + ((h >>> 1) & 3)) << 7) | ((h >>> 3) & 0x7f);
}

function offset(key: number, i: number, stream: number, span: number): number {
  return (elementHash(key, i, stream) % (2 * span + 1)) - span;
}

/** The value of element i of tensor `key` in `repo`, as a bf16 code (or a float for F32 tensors). */
function value(repo: Repo, key: number, i: number): number {
  const base = baseCode(key, i);
  if (repo === 'bench/base') return BF16_TO_F64[base]!;
  const a = BF16_TO_F64[base + offset(key, i, 1, 4)]!;
  if (repo === 'bench/fine-tune-a') return a;
  const b = BF16_TO_F64[base + offset(key, i, 2, 4)]!;
  if (repo === 'bench/fine-tune-b') return b;
  const blend = BF16_TO_F64[toBf16(WEIGHT_A * a + (1 - WEIGHT_A) * b)]!;
  if (repo === 'bench/blend') return blend;
  return BF16_TO_F64[toBf16(blend) + offset(key, i, 3, 2)]!;
}

/** Writes elements [first, first + count) of `tensor` into `out` at `at`. */
function fillTensor(repo: Repo, tensor: ScaledTensor, key: number, first: number, count: number, out: Buffer, at: number): void {
  if (tensor.dtype === 'BF16' && (out.byteOffset + at) % 2 === 0) {
    const codes = new Uint16Array(out.buffer, out.byteOffset + at, count);
    for (let i = 0; i < count; i++) codes[i] = toBf16(value(repo, key, first + i));
  } else if (tensor.dtype === 'BF16') {
    for (let i = 0; i < count; i++) out.writeUInt16LE(toBf16(value(repo, key, first + i)), at + 2 * i);
  } else {
    for (let i = 0; i < count; i++) out.writeFloatLE(value(repo, key, first + i), at + 4 * i);
  }
}

interface ServedShard {
  shard: ScaledShard;
  /** Absolute start of each tensor's data, in shard order. */
  starts: number[];
  keys: number[];
}

function nameKey(name: string): number {
  let h = 0x811c9dc5 ^ SEED;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function serve(shard: ServedShard, repo: Repo, start: number, end: number): Buffer {
  const out = Buffer.alloc(end - start);
  const header = shard.shard.header;
  const dataStart = 8 + header.byteLength;
  if (start < dataStart) {
    const prefix = Buffer.alloc(dataStart);
    prefix.writeBigUInt64LE(BigInt(header.byteLength), 0);
    header.copy(prefix, 8);
    prefix.copy(out, 0, start, Math.min(end, dataStart));
  }
  for (const [t, tensor] of shard.shard.tensors.entries()) {
    const tensorStart = shard.starts[t]!;
    const tensorEnd = tensorStart + tensor.bytes;
    if (tensorEnd <= start || tensorStart >= end) continue;
    const width = tensor.dtype === 'BF16' ? 2 : 4;
    // Ranges from the client are element-aligned; a misaligned edge is rounded outward and trimmed.
    const firstElement = Math.floor((Math.max(start, tensorStart) - tensorStart) / width);
    const lastElement = Math.ceil((Math.min(end, tensorEnd) - tensorStart) / width);
    // Not from the pool: its own buffer, so 2-byte views of it are aligned.
    const piece = Buffer.allocUnsafeSlow((lastElement - firstElement) * width);
    fillTensor(repo, tensor, shard.keys[t]!, firstElement, lastElement - firstElement, piece, 0);
    const pieceStart = tensorStart + firstElement * width;
    const from = Math.max(start, pieceStart);
    const to = Math.min(end, pieceStart + piece.byteLength);
    piece.copy(out, from - start, from - pieceStart, to - pieceStart);
  }
  return out;
}

export function startSampleServer(port = 0): Promise<{ port: number; close: () => Promise<void> }> {
  const model = scaleModel(readRealLayout(fileURLToPath(new URL('../data/qwen3_5_397b_a17b_layout.json', import.meta.url))), 1, 512);
  const shards = new Map<string, ServedShard>();
  const weightMap: Record<string, string> = {};
  for (const shard of model.shards) {
    let at = 8 + shard.header.byteLength;
    const starts: number[] = [];
    for (const tensor of shard.tensors) {
      starts.push(at);
      at += tensor.bytes;
      weightMap[tensor.name] = shard.file;
    }
    shards.set(shard.file, { shard, starts, keys: shard.tensors.map((t) => nameKey(t.name)) });
  }
  const index = Buffer.from(JSON.stringify({ metadata: { total_size: model.fileBytes }, weight_map: weightMap }));
  const files = [
    { path: model.indexFile, size: index.byteLength },
    ...model.shards.map((s) => ({ path: s.file, size: s.fileBytes })),
  ];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    let match: RegExpExecArray | null;
    if ((match = /^\/api\/models\/(bench\/[^/]+)\/revision\/([^/]+)$/.exec(path))) {
      const repo = match[1] as Repo;
      if (!(repo in SHA)) return void res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end();
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ _id: repo, id: repo, sha: SHA[repo], private: false }));
    }
    if ((match = /^\/api\/models\/(bench\/[^/]+)\/tree\/([^/]+)/.exec(path))) {
      const repo = match[1] as Repo;
      if (!(repo in SHA)) return void res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end();
      const entries = files.map((f) => ({ type: 'file', path: f.path, size: f.size, oid: '0'.repeat(40) }));
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(entries));
    }
    if ((match = /^\/(bench\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path))) {
      const repo = match[1] as Repo;
      const file = match[3]!;
      const shard = shards.get(file);
      const size = file === model.indexFile ? index.byteLength : shard?.shard.fileBytes;
      if (!(repo in SHA) || size === undefined) return void res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
      const etag = `"${SHA[repo]}-${file}"`;
      const common = { 'X-Repo-Commit': SHA[repo], ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (req.method === 'HEAD' || !range) {
        res.writeHead(200, { ...common, 'Content-Length': String(size) });
        return void res.end();
      }
      const start = Number(range[1]);
      const end = range[2] === '' ? size : Math.min(size, Number(range[2]) + 1);
      if (start >= size) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      const body = shard ? serve(shard, repo, start, end) : index.subarray(start, end);
      res.writeHead(206, { ...common, 'Content-Length': String(body.byteLength), 'Content-Range': `bytes ${start}-${end - 1}/${size}` });
      return void res.end(body);
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { port } = await startSampleServer(Number(process.argv[2] ?? 0));
  process.stdout.write(`${port}\n`);
}
