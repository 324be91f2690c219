// Gross, net, long and short exposure per run over time, M4-downsampled (each of the four series
// keeps its exact first, last, minimum and maximum per pixel column). From the bar table of the
// level the filters need; M4 runs in the session (m4-series.ts).
import type { ExposureParams } from '../../../shared/messages.js';
import type { Catalog } from '../store.js';
import { planM4Series } from './m4-series.js';
import type { QueryPlan } from './plan.js';

const SERIES = ['gross', 'net', 'long', 'short'] as const;

export function planExposure(params: ExposureParams, catalog: Catalog): QueryPlan {
  return planM4Series(params, catalog, {
    measures: SERIES,
    what: 'exposures',
    series: (measures) => SERIES.map((name, i) => ({ name, values: measures[i]! })),
  });
}
