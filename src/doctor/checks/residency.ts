/**
 * Residency: for each rule that places data (src/residency), the regions it allows, whether they
 * serve now, and what losing them means. A conversation under the rule lives only in those
 * regions (placement narrows homes and replicas to them; the per-region streams checked by
 * `placement` hold nothing else), so the rule's conversations are available while one of them
 * is: none ready is a FAIL (its conversations refuse sends until one returns), one left of
 * several a warning (no failover left), a rule allowing a single region a warning (never any).
 * Readiness comes from the region nodes (`--regions`); without them, from the region's NATS
 * servers answering; with neither the rule's regions are listed, unchecked.
 */
import { reachable } from '../servers.js';
import type { CheckLine, Snapshot } from '../types.js';

export function checkResidency(s: Snapshot): CheckLine[] {
  const rules = s.topology.residency.filter((r) => r.users.length > 0 || r.rooms.length > 0);
  if (rules.length === 0) return [];
  const nodeReady = new Map<string, boolean>();
  for (const n of s.nodes ?? []) {
    const body = n.ready?.body as { ready?: unknown } | undefined;
    const ready = n.error === undefined && n.ready?.status === 200 && body?.ready === true;
    nodeReady.set(n.region, (nodeReady.get(n.region) ?? false) || ready);
  }
  const serversUp = new Set(reachable(s).map((p) => p.region));
  const known = (r: string): boolean | undefined => (nodeReady.has(r) ? nodeReady.get(r) : s.servers.some((p) => p.region === r) ? serversUp.has(r) : undefined);
  return rules.map((rule): CheckLine => {
    const allowed = s.topology.regions.filter((r) => rule.jurisdictions.includes(r.jurisdiction)).map((r) => r.name);
    const subject = `rule ${rule.name} (${rule.mode})`;
    const states = allowed.map((r) => [r, known(r)] as const);
    const list = states.map(([r, st]) => `${r} ${st === undefined ? 'unchecked' : st ? 'ready' : 'down'}`).join(', ');
    if (states.every(([, st]) => st === undefined)) return { check: 'residency', subject, verdict: 'warn', detail: `stored only in ${allowed.join(', ')}: not checked (give --regions or --nats-monitor)` };
    const up = states.filter(([, st]) => st === true).length;
    if (up === 0) return { check: 'residency', subject, verdict: 'FAIL', detail: `${list}: no region the rule allows serves, so its conversations refuse sends until one returns (they are never moved out)` };
    if (allowed.length === 1) return { check: 'residency', subject, verdict: 'warn', detail: `${list}: the only region the rule allows, so its conversations have no failover` };
    if (up === 1) return { check: 'residency', subject, verdict: 'warn', detail: `${list}: one region left of ${allowed.length}, no failover until another returns` };
    return { check: 'residency', subject, verdict: 'ok', detail: list };
  });
}
