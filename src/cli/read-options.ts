import type { AnalyzeOptions } from '../analyze.js';
import { parseMapRule } from '../align/name-mapping.js';
import { UsageError } from '../errors.js';

/** How the inputs are read and matched: commander's strings, unvalidated. */
export interface ReadCommandOptions {
  map?: string[];
  floor?: string;
  /** Commander's negated flag: false with --no-recipes. */
  recipes?: boolean;
}

export const READ_OPTION_HELP = {
  map: "rename tensors before matching: 'regex=replacement' (JavaScript regex, $1 … in the replacement); repeatable, applied in order",
  floor: "rounding noise the residual is measured against: 'suspect' (its own storage, default) or 'all' (adds each parent's, weighted by the blend)",
  recipes:
    'skip the second read that replays merge recipes bit for bit and reads element-wise merges (about halves the time; kept where an F32/F64 suspect needs it for an exact residual)',
} as const;

const FLOORS = ['suspect', 'all'] as const;

/** --map rules are checked here (a bad regex is a usage error before any file is opened); analyze() parses them again. */
export function parseReadOptions(options: ReadCommandOptions): Pick<AnalyzeOptions, 'map' | 'floor' | 'recipes'> {
  const map = options.map ?? [];
  for (const rule of map) parseMapRule(rule);
  const floor = options.floor;
  if (floor !== undefined && !(FLOORS as readonly string[]).includes(floor)) {
    throw new UsageError(`--floor: expected ${FLOORS.join(' or ')}, got '${floor}'`);
  }
  return {
    ...(map.length > 0 ? { map: [...map] } : {}),
    ...(floor === undefined ? {} : { floor: floor as 'suspect' | 'all' }),
    ...(options.recipes === false ? { recipes: false } : {}),
  };
}
