/**
 * How one model stores its weights, as `provcheck inspect` shows it: the quantization
 * scheme(s) and the scale tensors they consume, tensors that cannot be read, the wrapper
 * prefixes that name normalisation removes (and --map renames), fused expert tensors and
 * per-expert ones, and a tied head. The same readers analyze() uses, so inspect shows
 * what a comparison will see.
 */
import type { LogicalModel } from '../format/quantization/schemes.js';
import { canonicalName, expertOf, fusedExpertParts, type NameRule } from './name-mapping.js';

export interface StorageSummary {
  quantMethod: string | null;
  schemes: { id: string; title: string; detail: string; tensors: number }[];
  /** Scale tensors (and activation scales) consumed with their weights. */
  consumed: number;
  unsupported: { name: string; dtype: string; reason: string }[];
  /** Logical weights: what alignment matches (quantized weights counted once). */
  logicalTensors: number;
  /** Name changes before matching: --map rules and wrapper prefixes, with the tensors each renamed. */
  renames: { rule: string; tensors: number }[];
  experts: { fusedTensors: number; fusedSlices: number; perExpertTensors: number };
  tieWordEmbeddings: boolean;
}

export function storageSummary(model: LogicalModel, rules: readonly NameRule[] = []): StorageSummary {
  const renames = new Map<string, number>();
  let fusedTensors = 0;
  let fusedSlices = 0;
  let perExpertTensors = 0;
  for (const [stored, tensor] of model.tensors) {
    const canonical = canonicalName(stored, rules);
    if (canonical.mapped) for (const rule of rules) if (stored.match(rule.pattern)) renames.set(`--map ${rule.text}`, (renames.get(`--map ${rule.text}`) ?? 0) + 1);
    if (canonical.prefix) renames.set(canonical.prefix, (renames.get(canonical.prefix) ?? 0) + 1);
    const parts = fusedExpertParts(canonical.name, tensor.shape);
    if (parts) {
      fusedTensors++;
      fusedSlices += parts.length;
    } else if (expertOf(canonical.name) !== null) {
      perExpertTensors++;
    }
  }
  return {
    quantMethod: model.quantMethod,
    schemes: model.schemes.map((s) => ({ id: s.id, title: s.title, detail: s.detail, tensors: s.tensors })),
    consumed: model.consumed.length,
    unsupported: model.unsupported.map((u) => ({ ...u })),
    logicalTensors: model.tensors.size,
    renames: [...renames].map(([rule, tensors]) => ({ rule, tensors })),
    experts: { fusedTensors, fusedSlices, perExpertTensors },
    tieWordEmbeddings: model.tieWordEmbeddings,
  };
}
