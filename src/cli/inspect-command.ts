import { UsageError } from '../errors.js';
import { storageSummary } from '../align/model-storage.js';
import { summarizeModel } from '../format/model-summary.js';
import { readModelConfig } from '../format/quantization/model-config.js';
import { logicalModel } from '../format/quantization/schemes.js';
import { INSPECT_FORMATS, INSPECT_RENDERERS, isInspectFormat } from '../report/renderers.js';
import { textStyle, wantsColor } from './color.js';
import type { CliDependencies } from './dependencies.js';
import { hubOptionsFrom, type HubCommandOptions } from './hub-options.js';

export interface InspectCommandOptions extends HubCommandOptions {
  format: string;
  all?: boolean;
  color: boolean;
  debug?: boolean;
}

/** `provcheck inspect`: what a model holds, from its headers only (no tensor data is read). */
export async function runInspect(model: string, options: InspectCommandOptions, deps: CliDependencies): Promise<void> {
  const format = options.format;
  if (!isInspectFormat(format)) {
    throw new UsageError(`--format: expected one of ${INSPECT_FORMATS.join(', ')}, got '${format}'`);
  }
  const layout = await deps.loadModel(model, await hubOptionsFrom(options, deps.env));
  try {
    const color = wantsColor({ flag: options.color, env: deps.env, isTTY: deps.stdout.isTTY === true });
    // The readers a comparison would build: scheme, scales consumed, experts, renames.
    const storage = storageSummary(logicalModel(layout, await readModelConfig(layout)));
    const summary = { ...summarizeModel(layout), storage };
    deps.stdout.write(INSPECT_RENDERERS[format](summary, { style: textStyle(color), all: options.all === true }));
  } finally {
    await layout.close();
  }
}
