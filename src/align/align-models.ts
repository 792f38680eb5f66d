/**
 * Pairs the suspect's logical tensors with the parents' across the ways checkpoints of one
 * model differ: wrapper prefixes and user renames (name-mapping.ts), fused expert tensors
 * against per-expert ones (in both directions; fused against fused is compared expert by
 * expert too, so a report can say "expert 17 of layer 40 differs"; per-expert tensors on
 * every side are grouped as the fused tensor that holds them), a tied lm_head stored
 * once as the embedding, and vocabularies resized at the end (the common rows are
 * compared, the added rows reported).
 *
 * The unit of comparison is one 2-D matrix per expert; `group` names the tensor a unit
 * belongs to, so per-tensor statistics are the sums of its units' moments.
 */
import { codesDtype, sliceTensor, type LogicalTensor } from '../format/logical-tensor.js';
import type { LogicalModel } from '../format/quantization/schemes.js';
import { isSelected, type NameFilter } from './align-tensors.js';
import { canonicalName, expertGroupName, expertOf, fusedExpertParts, hasFusedExpertParts, type NameRule } from './name-mapping.js';

export interface AlignedUnit {
  /** Canonical name of the compared matrix. */
  readonly name: string;
  /** The canonical tensor it is part of (itself unless an expert slice). */
  readonly group: string;
  /** That tensor's logical shape (the suspect's, or the fused parent's for per-expert suspect tensors). */
  readonly groupShape: readonly number[];
  readonly shape: readonly number[];
  readonly suspect: LogicalTensor;
  /** In --parents order. */
  readonly parents: readonly LogicalTensor[];
}

export interface ModelAlignment {
  readonly units: AlignedUnit[];
  /** Prefix normalisations applied, per input (-1 = suspect), with how many names each changed. */
  readonly renames: { input: number; rule: string; tensors: number }[];
  readonly suspectOnly: string[];
  readonly parentOnly: { parent: number; names: string[] }[];
  readonly mismatched: { name: string; reason: 'shape' | 'unsupported-dtype'; detail: string }[];
  /** Vocabulary resizes: rows compared and rows only some inputs have. */
  readonly resized: { name: string; commonRows: number; rows: { suspect: number; parents: number[] } }[];
  /** Inputs whose lm_head is their tied embedding. */
  readonly tied: number[];
  readonly filtered: number;
}

interface Entry {
  /** The canonical name. */
  readonly name: string;
  readonly tensor: LogicalTensor;
  /**
   * A fused expert tensor with per-expert parts (`fusedExpertParts`). The parts are made
   * only when a per-expert tensor on another side asks for them: a model fused like the
   * others never does, and its parts were ~24,000 objects per model on the bench trios.
   */
  readonly fused: boolean;
}

interface Canonical {
  readonly entries: Map<string, Entry>;
  readonly renames: Map<string, number>;
  tied: boolean;
}

const HEAD = 'lm_head.weight';
const EMBEDDING = 'model.embed_tokens.weight';

function canonicalize(model: LogicalModel, rules: readonly NameRule[]): Canonical {
  const entries = new Map<string, Entry>();
  const renames = new Map<string, number>();
  for (const [stored, tensor] of model.tensors) {
    const canonical = canonicalName(stored, rules);
    if (canonical.prefix) renames.set(canonical.prefix, (renames.get(canonical.prefix) ?? 0) + 1);
    entries.set(canonical.name, { name: canonical.name, tensor, fused: hasFusedExpertParts(canonical.name, tensor.shape) });
  }
  let tied = false;
  if (!entries.has(HEAD) && model.tieWordEmbeddings) {
    const embedding = entries.get(EMBEDDING);
    if (embedding) {
      entries.set(HEAD, embedding);
      tied = true;
    }
  }
  return { entries, renames, tied };
}

/** Per-expert slices of a fused tensor, by the per-expert names they stand for. */
function slicesOf(entry: Entry): Map<string, LogicalTensor> {
  const out = new Map<string, LogicalTensor>();
  if (!entry.fused) return out;
  for (const part of fusedExpertParts(entry.name, entry.tensor.shape)!) out.set(part.name, sliceTensor(entry.tensor, part.offset, part.shape, part.name));
  return out;
}

/** The per-expert names of the fused expert tensor `name` with `count` experts. */
function expertNames(name: string, count: number): string[] {
  const match = /^(.*\.experts)\.([^.]+)(\.weight)?$/.exec(name)!;
  return Array.from({ length: count }, (_, e) => `${match[1]}.${e}.${match[2]}`);
}

/** Slices along the first dimension of an expert-batched tensor [E, …], one per expert, named by `names` (expertNames). */
function perExpert(names: readonly string[], tensor: LogicalTensor): LogicalTensor[] {
  const [, ...rest] = tensor.shape as number[];
  const matrix = rest.reduce((a, b) => a * b, 1);
  return names.map((name, e) => sliceTensor(tensor, e * matrix, rest, name));
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Embeddings and heads may grow rows when tokens are added; nothing else may. */
function isVocabulary(name: string): boolean {
  return /(embed_tokens|lm_head|wte|embed_out|word_embeddings)\.weight$/.test(name);
}

export function alignModels(suspect: LogicalModel, parents: readonly LogicalModel[], filter: NameFilter, rules: readonly NameRule[] = []): ModelAlignment {
  const s = canonicalize(suspect, rules);
  const ps = parents.map((p) => canonicalize(p, rules));
  const units: AlignedUnit[] = [];
  const suspectOnly: string[] = [];
  const mismatched: ModelAlignment['mismatched'] = [];
  const resized: ModelAlignment['resized'] = [];
  const matchedInParent = ps.map(() => new Set<string>());
  let filtered = 0;
  /** Groups named by expertGroupName: their shapes are set once every unit is known. */
  const synthesized = new Set<string>();

  const addUnit = (name: string, group: string, tensors: LogicalTensor[], groupShape?: readonly number[]): void => {
    // slice, not a rest element: an array built by the iterator is over-allocated (room
    // for 17), ~120 B a unit kept for the whole run (12 MB on 100,000 per-expert tensors).
    const own = tensors[0]!;
    const others = tensors.slice(1);
    if (others.every((t) => sameShape(t.shape, own.shape))) {
      units.push({ name, group, groupShape: groupShape ?? own.shape, shape: own.shape, suspect: own, parents: others });
      return;
    }
    const rank2 = tensors.every((t) => t.shape.length === 2 && t.shape[1] === own.shape[1]);
    if (rank2 && isVocabulary(name)) {
      const commonRows = Math.min(...tensors.map((t) => t.shape[0]!));
      const cut = (t: LogicalTensor): LogicalTensor => (t.shape[0] === commonRows ? t : sliceTensor(t, 0, [commonRows, own.shape[1]!], t.name));
      resized.push({ name, commonRows, rows: { suspect: own.shape[0]!, parents: others.map((t) => t.shape[0]!) } });
      units.push({ name, group, groupShape: [commonRows, own.shape[1]!], shape: [commonRows, own.shape[1]!], suspect: cut(own), parents: others.map(cut) });
      return;
    }
    const text = (t: LogicalTensor): string => `[${t.shape.join(', ')}]`;
    mismatched.push({ name, reason: 'shape', detail: `suspect ${text(own)}; parents ${others.map(text).join(', ')}` });
  };

  /**
   * The per-expert slices of one parent's fused tensors, by the per-expert names they
   * stand for: made on first need, since a suspect fused like its parents never asks
   * (each parent of the 1 GB bench trio would make 23,760 of them, for nothing: gate and
   * up for each expert of 60 gate_up_proj, one for each of 60 down_proj).
   */
  const slicedCache = ps.map((): Map<string, { tensor: LogicalTensor; fused: string }> | null => null);
  const sliced = (j: number): Map<string, { tensor: LogicalTensor; fused: string }> => {
    let map = slicedCache[j];
    if (!map) {
      map = new Map();
      for (const [name, entry] of ps[j]!.entries) for (const [part, tensor] of slicesOf(entry)) map.set(part, { tensor, fused: name });
      slicedCache[j] = map;
    }
    return map;
  };

  for (const [name, entry] of s.entries) {
    const group = expertGroupName(name);
    if (!selectedName(name, group, filter)) {
      filtered++;
      continue;
    }
    const whole = ps.map((p) => p.entries.get(name));
    if (whole.every((e) => e !== undefined)) {
      ps.forEach((_, j) => matchedInParent[j]!.add(name));
      const tensors = [entry.tensor, ...whole.map((e) => e!.tensor)];
      if (entry.fused && tensors.every((t) => t.shape.length === 3 && sameShape(t.shape, entry.tensor.shape))) {
        // Fused on every side: compare expert by expert, whatever the inner layout.
        // One list of names for every side (their shapes are equal).
        const names = expertNames(name, entry.tensor.shape[0]!);
        const slices = tensors.map((t) => perExpert(names, t));
        names.forEach((part, e) => addUnit(part, name, slices.map((list) => list[e]!), entry.tensor.shape));
      } else {
        // Per-expert on every side: the experts of one layer's projection are one tensor,
        // as a fused checkpoint stores them (its name unless the suspect has a tensor of
        // that name), so that per-tensor work and reports come once per projection and
        // layer, not once per expert (100,000+ tensors on a per-expert MoE checkpoint).
        if (group !== null && !s.entries.has(group)) {
          const before = units.length;
          addUnit(name, group, tensors);
          if (units.length > before) synthesized.add(group);
        } else {
          addUnit(name, name, tensors);
        }
      }
      continue;
    }
    if (entry.fused) {
      // A fused suspect tensor against per-expert parents (or parents fused the same way).
      const own = slicesOf(entry);
      let complete = true;
      for (const [part, tensor] of own) {
        const found = ps.map((p, j) => p.entries.get(part)?.tensor ?? sliced(j).get(part)?.tensor);
        if (found.some((t) => t === undefined)) {
          complete = false;
          continue;
        }
        ps.forEach((p, j) => matchedInParent[j]!.add(p.entries.has(part) ? part : sliced(j).get(part)!.fused));
        addUnit(part, name, [tensor, ...(found as LogicalTensor[])], entry.tensor.shape);
      }
      if (!complete) suspectOnly.push(name);
      continue;
    }
    // A per-expert suspect tensor against fused parents.
    const found = ps.map((p, j) => p.entries.get(name)?.tensor ?? sliced(j).get(name)?.tensor);
    if (found.every((t) => t !== undefined)) {
      ps.forEach((p, j) => matchedInParent[j]!.add(p.entries.has(name) ? name : sliced(j).get(name)!.fused));
      const fusedIn = ps.findIndex((_, j) => sliced(j).has(name) && !ps[j]!.entries.has(name));
      const fused = fusedIn < 0 ? name : sliced(fusedIn).get(name)!.fused;
      const fusedShape = fusedIn < 0 ? undefined : ps[fusedIn]!.entries.get(fused)!.tensor.shape;
      addUnit(name, fused, [entry.tensor, ...(found as LogicalTensor[])], fusedShape);
      continue;
    }
    suspectOnly.push(name);
  }

  withExpertGroupShapes(units, synthesized);

  const parentOnly = ps.map((p, parent) => ({
    parent,
    // The matched names (nearly all) first: the filter's test reads each name's expert group (a regular expression).
    names: [...p.entries.keys()].filter((n) => !matchedInParent[parent]!.has(n) && !(n === HEAD && p.tied) && selectedName(n, expertGroupName(n), filter)),
  }));
  const unsupported = (model: LogicalModel, input: string): ModelAlignment['mismatched'] =>
    model.unsupported.map((u) => ({ name: u.name, reason: 'unsupported-dtype' as const, detail: `${input}: ${u.reason}` }));
  mismatched.push(...unsupported(suspect, 'suspect'), ...parents.flatMap((p, j) => unsupported(p, `parent ${j + 1}`)));

  const renames = [s, ...ps].flatMap((c, i) => [...c.renames].map(([rule, tensors]) => ({ input: i - 1, rule, tensors })));
  const tied = [s, ...ps].flatMap((c, i) => (c.tied ? [i - 1] : []));
  return { units, renames, suspectOnly, parentOnly, mismatched, resized, tied, filtered };
}

/**
 * `isSelected` for a name that may hold an expert: a per-expert tensor is also known by
 * `group`, the name of the tensor it is reported in (expertGroupName), and either name selects
 * it (`--include '….experts.gate_up_proj'`, as a report names it) or leaves it out.
 */
function selectedName(name: string, group: string | null, filter: NameFilter): boolean {
  if (group === null) return isSelected(name, filter);
  const matches = (re: RegExp): boolean => re.test(name) || re.test(group);
  if (filter.include.length > 0 && !filter.include.some(matches)) return false;
  return !filter.exclude.some(matches);
}

/**
 * The shape of each per-expert group in `groups` (expertGroupName), as a fused tensor
 * of its experts has it: [experts, rows × matrices per expert, …] (gate_up_proj: two
 * matrices per expert, the gate's rows then the up's). A group whose units differ in
 * shape or in how an input stores them (dtype, encoding), or hold unequal numbers of
 * matrices per expert, or a gate_up_proj without both halves of each expert (one left
 * out by --exclude), is none: its units are reported one by one, as they are stored.
 * Replaces the units in `units`.
 */
function withExpertGroupShapes(units: AlignedUnit[], groups: ReadonlySet<string>): void {
  const members = new Map<string, number[]>();
  units.forEach((unit, i) => {
    if (!groups.has(unit.group)) return;
    const list = members.get(unit.group);
    if (list) list.push(i);
    else members.set(unit.group, [i]);
  });
  for (const indexes of members.values()) {
    const first = units[indexes[0]!]!;
    const perExpert = new Map<number, number>();
    for (const i of indexes) {
      const expert = expertOf(units[i]!.name)!;
      perExpert.set(expert, (perExpert.get(expert) ?? 0) + 1);
    }
    const matrices = perExpert.get(expertOf(first.name)!)!;
    // A gate_up_proj holds each expert's gate and up: with one of them filtered out (or never stored), there is no such tensor.
    const expected = first.group.endsWith('.gate_up_proj') ? 2 : 1;
    // One tensor: one shape, and every input stored alike (the report takes its dtypes and encodings from one unit).
    const stored = (unit: AlignedUnit): string => [unit.suspect, ...unit.parents].map((t) => `${codesDtype(t.recipe)} ${t.encoding}`).join('|');
    const firstStored = stored(first);
    const uniform =
      matrices === expected &&
      indexes.every((i) => sameShape(units[i]!.shape, first.shape) && stored(units[i]!) === firstStored) &&
      [...perExpert.values()].every((n) => n === matrices);
    const [rows, ...rest] = first.shape;
    const shape = rows === undefined ? [perExpert.size, matrices] : [perExpert.size, rows * matrices, ...rest];
    for (const i of indexes) {
      const unit = units[i]!;
      units[i] = uniform ? { ...unit, groupShape: shape } : { ...unit, group: unit.name, groupShape: unit.shape };
    }
  }
}

/** The units of one canonical tensor, analysed together (per-tensor statistics are their sums). */
export interface AlignedGroup {
  readonly name: string;
  readonly shape: readonly number[];
  readonly units: AlignedUnit[];
}

/** Stored bytes a tensor's scan reads: every unit's inputs, weights and scales. */
export function groupBytes(group: AlignedGroup): number {
  return group.units.reduce((sum, u) => sum + [u.suspect, ...u.parents].reduce((s, t) => s + t.storedBytes, 0), 0);
}

/**
 * Units grouped by `group`, in the order each group first appears (the suspect's file
 * order), and within a group in the suspect's order too: per-expert tensors are read in
 * the order they are stored (a header's names sorted as text put expert 10 before
 * expert 2, but a run of small tensors is read from one window of the file only in its order).
 */
export function groupUnits(units: readonly AlignedUnit[]): AlignedGroup[] {
  const groups = new Map<string, AlignedUnit[]>();
  const shapes = new Map<string, readonly number[]>();
  for (const unit of units) {
    const list = groups.get(unit.group);
    if (list) list.push(unit);
    else {
      groups.set(unit.group, [unit]);
      shapes.set(unit.group, unit.groupShape);
    }
  }
  return [...groups].map(([name, list]) => ({ name, shape: shapes.get(name)!, units: list }));
}
