/**
 * `meridian doctor` as a library: check a live deployment (NATS super-cluster, region nodes, TLS
 * endpoints) against its topology. `diagnose()` collects and runs every check; the checks
 * themselves are pure functions of a `Snapshot` (checks/), tested by tables.
 */
import { runChecks } from './checks/mod.js';
import { collect } from './collect.js';
import type { CollectOptions } from './collect.js';
import type { CheckLine, Snapshot } from './types.js';

export interface Diagnosis {
  readonly snapshot: Snapshot;
  readonly lines: readonly CheckLine[];
}

export async function diagnose(o: CollectOptions): Promise<Diagnosis> {
  const snapshot = await collect(o);
  return { snapshot, lines: runChecks(snapshot) };
}

export { collect, runChecks };
export type { CollectOptions };
export { expectedHome } from './placement.js';
export type { ExpectedHome } from './placement.js';
export { defaultMonitors, parseTargets, topologyNatsUrls } from './targets.js';
export { exitCode, formatJson, formatTable, summarize } from './report.js';
export type { Summary } from './report.js';
export type { CertProbe, Check, CheckLine, NodeProbe, ServerProbe, Snapshot, Target, Verdict } from './types.js';
