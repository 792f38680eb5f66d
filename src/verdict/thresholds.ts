import type { Thresholds } from '../report-schema.js';

/**
 * Default thresholds. Their calibration (which merge, in which arithmetic, gives which
 * noiseRatio) is in docs/calibration.md; change a value only with that page.
 */
export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = {
  blendMaxNoise: 2.5,
  minWeight: 0.02,
  unrelatedResidual: 0.5,
  modifiedMinWeight: 0.25,
  informativeUlps: 4,
  agreement: 0.95,
};
