/**
 * Finds a model's safetensors files and reads every header: one file, a folder with
 * one file, a folder with a shard index, or a folder of shards without one. The folder
 * is on disk or a Hub repo at a commit (listed, then read with range requests); the
 * same rules apply to both. Never reads tensor data. Symlinks are followed (the
 * Hugging Face cache stores snapshots as links to blobs elsewhere).
 */
import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import type { Stats } from 'node:fs';
import { IoError, MalformedInputError } from '../errors.js';
import type { ByteSource } from '../source/byte-source.js';
import type { HubSession, RepoFile } from '../source/hub/hub-session.js';
import { describeReference } from '../source/hub/repo-reference.js';
import { LocalFileSource } from '../source/local-file.js';
import { locateModel, type ModelLocation } from './model-location.js';
import type { ModelLayout, ShardDescriptor, TensorDescriptor } from './model-layout.js';
import { parseSafetensorsHeader, type ParsedShard } from './safetensors-header.js';

const SAFETENSORS = '.safetensors';
const INDEX_SUFFIX = '.safetensors.index.json';
const DEFAULT_INDEX = 'model.safetensors.index.json';
const PICKLE_EXTENSIONS = ['.bin', '.pt', '.pth', '.ckpt', '.pkl', '.pickle'];

/**
 * The largest public indexes are a few MB (~90k entries); the cap bounds what a stray
 * huge file named like an index makes us read, the same bound as a safetensors header.
 */
const MAX_INDEX_BYTES = 100_000_000;

/** Headers read at once: enough to hide disk latency, few enough to be polite on 2 cores. */
const HEADER_CONCURRENCY = 8;

const PICKLE_REFUSAL =
  'is a pickle checkpoint; provcheck never unpickles (loading pickle can run arbitrary code). ' +
  'Convert it to safetensors in an environment you trust, e.g. transformers ' +
  '`model.save_pretrained(dir, safe_serialization=True)` or ' +
  '`from safetensors.torch import save_file; save_file(state_dict, "model.safetensors")`';

const GGUF_REFUSAL =
  'is a GGUF file, which provcheck does not read; point it at the safetensors checkpoint the GGUF was made from';

/** A model's layout and where it was found. */
export interface OpenedModel {
  readonly layout: ModelLayout;
  readonly location: ModelLocation;
}

/**
 * Opens the model an argument names: a local path, a snapshot in the Hugging Face
 * cache, or a Hub repo (see model-location.ts). A cached snapshot that lacks the
 * weights (e.g. only config.json was downloaded) is read from the Hub at the same
 * commit instead, unless offline.
 */
export async function openModel(input: string, hub: HubSession): Promise<OpenedModel> {
  const location = await locateModel(input, hub);
  switch (location.kind) {
    case 'local':
      return { location, layout: await loadModel(location.path) };
    case 'hf-cache':
      try {
        return { location, layout: await loadModel(location.path, input) };
      } catch (error) {
        if (!(error instanceof MalformedInputError) || hub.offline || !(await lacksWeights(location.path))) throw error;
        const sha = await hub.resolveRevision({ repo: location.reference.repo, revision: location.sha }, input);
        return openHubModel({ kind: 'hub', input, reference: location.reference, sha, endpoint: hub.endpointName }, hub);
      }
    case 'hub':
      return openHubModel(location, hub);
  }
}

/** Lists the repo once: the layout is read from the listing, and the location keeps it for the record. */
async function openHubModel(location: ModelLocation & { kind: 'hub' }, hub: HubSession): Promise<OpenedModel> {
  const files = await hub.listFiles(location.reference, location.sha, location.input);
  return { location: { ...location, files }, layout: await loadHubModel(location, hub, files) };
}

/** True when a cached snapshot has no weights, or an index naming shards it does not hold. */
async function lacksWeights(snapshot: string): Promise<boolean> {
  const names = await readdir(snapshot).catch(() => [] as string[]);
  const indexes = names.filter((n) => n.endsWith(INDEX_SUFFIX));
  if (indexes.length === 0) return !names.some((n) => n.endsWith(SAFETENSORS));
  for (const index of indexes) {
    const weightMap = await readWeightMap(join(snapshot, index), index).catch(() => null);
    if (weightMap === null) return false;
    for (const file of new Set(weightMap.values())) {
      if (!(await statOrNull(join(snapshot, file), file).catch(() => null))) return true;
    }
  }
  return false;
}

/**
 * Reads the layout of the model at `path` (a file or a folder), validating every
 * header. `input` is what messages and the layout call it (default: the path).
 */
export async function loadModel(path: string, input: string = path): Promise<ModelLayout> {
  const root = resolve(path);
  const stats = await statOrNull(root, input);
  if (!stats) {
    const link = await lstat(root).catch(() => null);
    throw new MalformedInputError(input, link?.isSymbolicLink() ? 'is a symlink to a missing file' : 'no such file or folder');
  }
  if (stats.isDirectory()) return loadFolder(input, root);
  if (!stats.isFile()) throw new MalformedInputError(input, 'is neither a file nor a folder');

  const name = basename(root);
  if (name.endsWith(INDEX_SUFFIX)) return loadIndexed(input, dirname(root), name, join(dirname(input), name));
  refuseUnsupported(input, name);
  if (!name.endsWith(SAFETENSORS)) {
    throw new MalformedInputError(input, 'is not a .safetensors file (expected a .safetensors file, a shard index or a model folder)');
  }
  return assemble(input, root, 'file', null, await openShards([localShard(name, root, input)]));
}

/** A Hub repo at a commit, as a folder: the same rules as loadFolder, over the listing. */
export async function loadHubModel(
  location: ModelLocation & { kind: 'hub' },
  hub: HubSession,
  listed?: readonly RepoFile[],
): Promise<ModelLayout> {
  const { input, reference, sha } = location;
  const listing = listed ?? location.files ?? (await hub.listFiles(reference, sha, input));
  const files = new Map(listing.map((f) => [f.path, f]));
  // Messages name files as org/name@<short sha>/file: enough to find them, and the
  // report carries the full sha.
  const prefix = `${describeReference({ repo: reference.repo, revision: sha.slice(0, 12) })}`;
  const display = (file: string): string => `${prefix}/${file}`;
  const root = `${location.endpoint}/${reference.repo}/tree/${sha}`;
  const open = (file: RepoFile): ByteSource => hub.openFile(reference.repo, sha, file, display(file.path));
  const names = listing.filter((f) => !f.path.includes('/')).map((f) => f.path).sort(compareNames);

  const index = chooseIndex(names, prefix);
  if (index !== null) {
    const indexFile = files.get(index)!;
    if (indexFile.size > MAX_INDEX_BYTES) {
      throw new MalformedInputError(display(index), `is ${indexFile.size} bytes, more than the ${MAX_INDEX_BYTES}-byte limit for a shard index`);
    }
    const source = open(indexFile);
    let text: string;
    try {
      text = new TextDecoder().decode(await source.read(0, source.size));
    } finally {
      await source.close();
    }
    const weightMap = parseWeightMap(text, display(index));
    const shardFiles = [...new Set(weightMap.values())].sort(compareNames);
    for (const file of shardFiles) {
      if (!files.has(file)) {
        const tensor = [...weightMap].find(([, f]) => f === file)![0];
        throw new MalformedInputError(display(index), `tensor ${quote(tensor)} is mapped to ${quote(file)}, which does not exist`);
      }
    }
    const shards = await openShards(
      shardFiles.map((file) => ({ file, displayName: display(file), open: async () => open(files.get(file)!) })),
    );
    try {
      checkAgainstIndex(shards, weightMap, display(index));
    } catch (error) {
      await closeAll(shards.map((s) => s.shard.source));
      throw error;
    }
    return assemble(input, root, 'folder-indexed', index, shards);
  }
  const weights = names.filter((n) => n.endsWith(SAFETENSORS));
  if (weights.length === 0) refuseWithoutWeights(input, names, display);
  const shards = await openShards(weights.map((file) => ({ file, displayName: display(file), open: async () => open(files.get(file)!) })));
  return assemble(input, root, weights.length === 1 ? 'folder-single' : 'folder-shards', null, shards);
}

/** The shard index to use among a folder's names, null when there is none; several without the default is an error. */
function chooseIndex(names: readonly string[], folderDisplay: string): string | null {
  const indexes = names.filter((n) => n.endsWith(INDEX_SUFFIX));
  if (indexes.length === 0) return null;
  if (indexes.includes(DEFAULT_INDEX)) return DEFAULT_INDEX;
  if (indexes.length === 1) return indexes[0]!;
  throw new MalformedInputError(folderDisplay, `has several shard indexes (${indexes.join(', ')}); pass the one to use`);
}

/** A folder without safetensors files: say what it holds instead, if we know the kind. */
function refuseWithoutWeights(input: string, names: readonly string[], display: (name: string) => string): never {
  const pickles = names.filter((n) => PICKLE_EXTENSIONS.some((ext) => n.endsWith(ext)));
  if (pickles.length > 0) throw new MalformedInputError(display(pickles[0]!), PICKLE_REFUSAL);
  const gguf = names.find((n) => n.endsWith('.gguf'));
  if (gguf) throw new MalformedInputError(display(gguf), GGUF_REFUSAL);
  throw new MalformedInputError(input, 'has no .safetensors files');
}

function localShard(file: string, path: string, displayName: string): ShardToOpen {
  return { file, displayName, open: () => LocalFileSource.open(path, displayName) };
}

async function loadFolder(input: string, root: string): Promise<ModelLayout> {
  const names = (await readdir(root).catch((error: unknown) => ioFailure(input, 'cannot list the folder', error))).sort(
    compareNames,
  );
  const chosen = chooseIndex(names, input);
  if (chosen !== null) return loadIndexed(input, root, chosen, join(input, chosen));

  const files: string[] = [];
  const candidates = names.filter((name) => name.endsWith(SAFETENSORS));
  const stats = await statsInOrder(candidates.map((name) => [join(root, name), join(input, name)]));
  for (const [i, name] of candidates.entries()) {
    const found = stats[i]!();
    if (!found) throw new MalformedInputError(join(input, name), 'is a symlink to a missing file');
    if (found.isFile()) files.push(name);
  }
  if (files.length === 0) refuseWithoutWeights(input, names, (name) => join(input, name));
  const shards = await openShards(files.map((file) => localShard(file, join(root, file), join(input, file))));
  return assemble(input, root, files.length === 1 ? 'folder-single' : 'folder-shards', null, shards);
}

async function loadIndexed(input: string, root: string, indexName: string, indexDisplay: string): Promise<ModelLayout> {
  const weightMap = await readWeightMap(join(root, indexName), indexDisplay);
  const files = [...new Set(weightMap.values())].sort(compareNames);
  const stats = await statsInOrder(files.map((file) => [join(root, file), join(dirname(indexDisplay), file)]));
  for (const [i, file] of files.entries()) {
    const found = stats[i]!();
    if (!found?.isFile()) {
      const tensor = [...weightMap].find(([, f]) => f === file)![0];
      throw new MalformedInputError(
        indexDisplay,
        `tensor ${quote(tensor)} is mapped to ${quote(file)}, which ${found ? 'is not a file' : 'does not exist'}`,
      );
    }
  }
  const shards = await openShards(
    files.map((file) => localShard(file, join(root, file), join(dirname(indexDisplay), file))),
  );
  try {
    checkAgainstIndex(shards, weightMap, indexDisplay);
  } catch (error) {
    await closeAll(shards.map((s) => s.shard.source));
    throw error;
  }
  return assemble(input, root, 'folder-indexed', indexName, shards);
}

/** weight_map: tensor name → shard path relative to the index's folder, validated. */
async function readWeightMap(path: string, display: string): Promise<Map<string, string>> {
  const fail = (problem: string): never => {
    throw new MalformedInputError(display, problem);
  };
  const size = (await stat(path).catch((error: unknown) => ioFailure(display, 'cannot stat', error))).size;
  if (size > MAX_INDEX_BYTES) fail(`is ${size} bytes, more than the ${MAX_INDEX_BYTES}-byte limit for a shard index`);
  const text = await readFile(path, 'utf8').catch((error: unknown) => ioFailure(display, 'cannot read', error));
  return parseWeightMap(text, display);
}

/** weight_map of an index file's text, validated; messages name `display`. */
function parseWeightMap(text: string, display: string): Map<string, string> {
  const fail = (problem: string): never => {
    throw new MalformedInputError(display, problem);
  };
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return fail(`is not valid JSON (${error.message.replace(/\s+/g, ' ').slice(0, 120)})`);
  }
  if (!isPlainObject(index)) return fail('is not a JSON object');
  const weightMap = (index as Record<string, unknown>).weight_map;
  if (!isPlainObject(weightMap)) return fail('has no "weight_map" object');
  const map = new Map<string, string>();
  for (const [tensor, file] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof file !== 'string') return fail(`weight_map entry ${quote(tensor)} is not a file name`);
    const problem = shardPathProblem(file);
    if (problem) fail(`weight_map entry ${quote(tensor)} → ${quote(file)} ${problem}`);
    map.set(tensor, posix.normalize(file));
  }
  if (map.size === 0) fail('has an empty "weight_map"');
  return map;
}

/**
 * Index entries are trusted no further than the folder: a shard path must stay inside
 * it however it is spelled. Checked on the text, since the shards themselves may be
 * symlinks that legitimately point elsewhere (the Hugging Face cache).
 */
function shardPathProblem(file: string): string | null {
  if (file === '' || file.includes('\0')) return 'is not a usable file name';
  if (file.includes('\\')) return 'contains a backslash; shard paths use "/"';
  if (isAbsolute(file) || posix.isAbsolute(file) || /^[A-Za-z]:/.test(file)) return 'is an absolute path, outside the model folder';
  if (file.split('/').includes('..')) return 'points outside the model folder';
  if (!file.endsWith(SAFETENSORS)) return 'is not a .safetensors file';
  return null;
}

/** Every header tensor must be where the index says, and every index entry in its shard. */
function checkAgainstIndex(shards: ParsedShard[], weightMap: Map<string, string>, indexDisplay: string): void {
  for (const { shard, tensors } of shards) {
    for (const tensor of tensors) {
      const mapped = weightMap.get(tensor.name);
      if (mapped === undefined) {
        throw new MalformedInputError(shard.source.name, `holds tensor ${quote(tensor.name)}, which the index ${indexDisplay} does not list`);
      }
      if (mapped !== shard.file) {
        throw new MalformedInputError(
          shard.source.name,
          `holds tensor ${quote(tensor.name)}, which the index ${indexDisplay} places in ${quote(mapped)}`,
        );
      }
    }
  }
  const byFile = new Map(shards.map((s) => [s.shard.file, new Set(s.shard.tensorNames)]));
  for (const [tensor, file] of weightMap) {
    if (!byFile.get(file)?.has(tensor)) {
      throw new MalformedInputError(indexDisplay, `places tensor ${quote(tensor)} in ${quote(file)}, whose header has no such tensor`);
    }
  }
}

interface ShardToOpen {
  /** Relative to the model root. */
  file: string;
  /** What messages call it: the path as the user would type it. */
  displayName: string;
  open: () => Promise<ByteSource>;
}

/** Opens and parses every shard, at most HEADER_CONCURRENCY at a time; on failure closes all. */
async function openShards(toOpen: ShardToOpen[]): Promise<ParsedShard[]> {
  const parsed: ParsedShard[] = new Array(toOpen.length);
  const opened: ByteSource[] = [];
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < toOpen.length) {
      const at = next++;
      const { file, open } = toOpen[at]!;
      try {
        const source = await open();
        opened.push(source);
        parsed[at] = await parseSafetensorsHeader(source, file);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(HEADER_CONCURRENCY, toOpen.length) }, worker));
  if (failure !== null) {
    await closeAll(opened);
    throw (failure as { error: unknown }).error;
  }
  return parsed;
}

async function assemble(
  input: string,
  root: string,
  kind: ModelLayout['kind'],
  indexFile: string | null,
  parsed: ParsedShard[],
): Promise<ModelLayout> {
  const shards: ShardDescriptor[] = parsed.map((p) => p.shard);
  const tensors = new Map<string, TensorDescriptor>();
  for (const { tensors: inShard } of parsed) {
    for (const tensor of inShard) {
      const earlier = tensors.get(tensor.name);
      if (earlier) {
        await closeAll(shards.map((s) => s.source));
        throw new MalformedInputError(
          tensor.shard.source.name,
          `holds tensor ${quote(tensor.name)}, which ${earlier.shard.source.name} holds too`,
        );
      }
      tensors.set(tensor.name, tensor);
    }
  }
  let closed: Promise<void> | null = null;
  return {
    input,
    root,
    kind,
    indexFile,
    shards,
    tensors,
    totalBytes: shards.reduce((sum, s) => sum + s.size, 0),
    close: () => (closed ??= closeAll(shards.map((s) => s.source))),
  };
}

async function closeAll(sources: readonly ByteSource[]): Promise<void> {
  const results = await Promise.allSettled(sources.map((s) => s.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function refuseUnsupported(input: string, name: string): void {
  if (PICKLE_EXTENSIONS.some((ext) => name.endsWith(ext))) throw new MalformedInputError(input, PICKLE_REFUSAL);
  if (name.endsWith('.gguf')) throw new MalformedInputError(input, GGUF_REFUSAL);
}

/**
 * `statOrNull` of every [path, display] pair at once (a shard list's stats, one after
 * another, were ~0.1 ms each of waiting per file on the main thread before any worker
 * has a task). Each result is taken by calling it, which throws that stat's failure:
 * a caller that takes them in list order fails where one stat after another would.
 */
async function statsInOrder(paths: readonly (readonly [string, string])[]): Promise<(() => Stats | null)[]> {
  const settled = await Promise.allSettled(paths.map(([path, display]) => statOrNull(path, display)));
  return settled.map((result) => () => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
}

async function statOrNull(path: string, display: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (error) {
    if (isMissing(error)) return null;
    return ioFailure(display, 'cannot stat', error);
  }
}

function ioFailure(display: string, what: string, error: unknown): never {
  const code = (error as { code?: unknown } | null)?.code;
  throw new IoError(display, `${what} (${typeof code === 'string' ? code : String(error)})`, { cause: error });
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Code-unit order: the same on every machine and locale, and 00002 before 00010. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quote(text: string): string {
  const quoted = JSON.stringify(text);
  return quoted.length > 120 ? `${quoted.slice(0, 117)}...` : quoted;
}
