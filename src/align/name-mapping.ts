/**
 * Tensor names as one spelling, whatever the checkpoint's wrapper: multimodal releases
 * put the language model under `model.language_model.` (Qwen3.5, Gemma 3, Llama 4) or
 * `language_model.model.` (LLaVA-style), text-only re-saves under `model.`. Users' own
 * renames come first (`--map 'regex=replacement'`), then these prefixes are normalised,
 * and every change is counted so the report can say what was renamed.
 */
import { UsageError } from '../errors.js';

export interface NameRule {
  readonly pattern: RegExp;
  readonly replacement: string;
  /** As the user typed it. */
  readonly text: string;
}

/** Parses `regex=replacement` (the first `=` not inside the regex's escapes splits them). */
export function parseMapRule(text: string): NameRule {
  const split = findSplit(text);
  if (split < 1) throw new UsageError(`--map '${text}': expected 'regex=replacement'`);
  const source = text.slice(0, split);
  try {
    return { pattern: new RegExp(source), replacement: text.slice(split + 1), text };
  } catch (error) {
    throw new UsageError(`--map '${text}': ${(error as Error).message}`);
  }
}

function findSplit(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '=') return i;
  }
  return -1;
}

/** Wrapper prefixes and the canonical spelling each stands for, longest first. */
const PREFIXES: readonly { from: string; to: string }[] = [
  { from: 'model.language_model.', to: 'model.' },
  { from: 'language_model.model.', to: 'model.' },
  { from: 'language_model.lm_head.', to: 'lm_head.' },
  { from: 'model.visual.', to: 'visual.' },
  { from: 'model.vision_tower.', to: 'vision_tower.' },
  { from: 'model.multi_modal_projector.', to: 'multi_modal_projector.' },
];

export interface CanonicalName {
  readonly name: string;
  /** The wrapper prefix that was normalised, if any ("model.language_model. → model."). */
  readonly prefix: string | null;
  /** Whether a --map rule changed it. */
  readonly mapped: boolean;
}

export function canonicalName(stored: string, rules: readonly NameRule[]): CanonicalName {
  let name = stored;
  let mapped = false;
  for (const rule of rules) {
    const next = name.replace(rule.pattern, rule.replacement);
    if (next !== name) mapped = true;
    name = next;
  }
  for (const { from, to } of PREFIXES) {
    if (name.startsWith(from)) return { name: to + name.slice(from.length), prefix: `${from} → ${to}`, mapped };
  }
  return { name, prefix: null, mapped };
}

const FUSED_EXPERTS = /^(.*\.experts)\.(gate_up_proj|down_proj)(\.weight)?$/;

/**
 * Fused expert tensors (transformers v5, Qwen3.5): `….experts.gate_up_proj` [E, 2I, H]
 * (gate rows first, then up) and `….experts.down_proj` [E, H, I], with or without a
 * `.weight` suffix. Returns the per-expert tensors each one holds.
 */
export function fusedExpertParts(name: string, shape: readonly number[]): { name: string; offset: number; shape: number[] }[] | null {
  if (!hasFusedExpertParts(name, shape)) return null;
  const [, experts, kind] = FUSED_EXPERTS.exec(name) as unknown as [string, string, string];
  const [count, rows, cols] = shape as [number, number, number];
  const matrix = rows * cols;
  const parts: { name: string; offset: number; shape: number[] }[] = [];
  for (let e = 0; e < count; e++) {
    if (kind === 'down_proj') {
      parts.push({ name: `${experts}.${e}.down_proj.weight`, offset: e * matrix, shape: [rows, cols] });
    } else {
      const half = rows / 2;
      parts.push({ name: `${experts}.${e}.gate_proj.weight`, offset: e * matrix, shape: [half, cols] });
      parts.push({ name: `${experts}.${e}.up_proj.weight`, offset: e * matrix + half * cols, shape: [half, cols] });
    }
  }
  return parts;
}

/**
 * Whether `fusedExpertParts` finds parts, without making them: a 3-D fused expert
 * tensor whose gate_up_proj rows split into equal gate and up halves, or that holds no
 * experts at all (an empty list of parts, as the parts were always found).
 */
export function hasFusedExpertParts(name: string, shape: readonly number[]): boolean {
  const match = FUSED_EXPERTS.exec(name);
  if (!match || shape.length !== 3) return false;
  return match[2] === 'down_proj' || shape[0] === 0 || shape[1]! % 2 === 0;
}

const PER_EXPERT = /^(.*\.experts)\.(\d+)\.(.+?)(\.weight)?$/;

/**
 * The tensor a per-expert tensor belongs to, named as a fused checkpoint names it:
 * `….experts.17.gate_proj.weight` and `….experts.17.up_proj.weight` in
 * `….experts.gate_up_proj`, `….experts.17.down_proj.weight` in `….experts.down_proj`
 * (`fusedExpertParts` the other way round), any other `….experts.17.<part>` in
 * `….experts.<part>` (a `.weight` suffix dropped, like the fused names'). Null for a
 * name that holds no expert index.
 */
export function expertGroupName(name: string): string | null {
  const match = PER_EXPERT.exec(name);
  if (!match) return null;
  const [, experts, , part] = match as unknown as [string, string, string, string];
  return `${experts}.${part === 'gate_proj' || part === 'up_proj' ? 'gate_up_proj' : part}`;
}

/** The per-expert name's expert index, or null: "expert 17 of layer 40" in reports. */
export function expertOf(name: string): number | null {
  // The last `.experts.N.`, as expertGroupName reads it.
  const match = /^.*\.experts\.(\d+)\./.exec(name);
  return match ? Number(match[1]) : null;
}
