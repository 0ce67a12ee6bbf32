/** Region health: active /ready probes with hysteresis plus passive outlier ejection. */
export { HealthMonitor } from './monitor.js';
export type { HealthMonitorOptions, HealthListener } from './monitor.js';
export { OutlierDetector } from './outlier.js';
export type { OutlierView } from './outlier.js';
export { DEFAULT_PROBE, DEFAULT_OUTLIER } from './types.js';
export type { ProbeConfig, OutlierConfig, HealthConfig, RegionHealth, Clock } from './types.js';
