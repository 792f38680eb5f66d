import type { AnalyzeOptions, ProgressListener } from '../analyze.js';
import type { ModelLayout } from '../format/model-layout.js';
import type { HubOptions } from '../source/hub/hub-session.js';
import type { Report } from '../report-schema.js';

export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * What the CLI needs from the world. main.ts passes the real ones; tests pass fakes,
 * so the whole command line (parsing, output, exit codes) runs without a model.
 */
export interface CliDependencies {
  readonly analyze: (options: AnalyzeOptions, onProgress?: ProgressListener) => Promise<Report>;
  /** Opens a local path, a cached snapshot or a Hub repo (see format/model-location.ts). */
  readonly loadModel: (input: string, hub?: HubOptions) => Promise<ModelLayout>;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds, monotonic enough for a progress rate. */
  readonly now: () => number;
  readonly version: string;
}
