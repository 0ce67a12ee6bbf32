/**
 * Region nodes: each answers /health and says it is ready on /ready (bus connected, not
 * draining, modules ready), as the region it is supposed to be.
 */
import type { CheckLine, HttpAnswer, NodeProbe, Snapshot } from '../types.js';

const field = (a: HttpAnswer | undefined, key: string): unknown => (a !== undefined && typeof a.body === 'object' && a.body !== null ? (a.body as Record<string, unknown>)[key] : undefined);

function nodeLine(n: NodeProbe): CheckLine {
  const base = { check: 'region node', subject: `${n.region} ${n.url}` };
  if (n.error !== undefined) return { ...base, verdict: 'FAIL', detail: `unreachable: ${n.error}` };
  const region = field(n.ready, 'region') ?? field(n.health, 'region');
  const node = field(n.ready, 'node') ?? field(n.health, 'node');
  if (typeof region === 'string' && region !== n.region) return { ...base, verdict: 'FAIL', detail: `answers as region ${region}, not ${n.region}` };
  const health = n.health?.status === 200 && field(n.health, 'status') === 'ok';
  const ready = n.ready?.status === 200 && field(n.ready, 'ready') === true;
  const who = typeof node === 'string' ? ` (node ${node})` : '';
  if (!health) return { ...base, verdict: 'FAIL', detail: `/health answered ${n.health?.status ?? 'nothing'}${who}` };
  if (!ready) {
    const reason = field(n.ready, 'reason');
    return { ...base, verdict: 'FAIL', detail: `not ready: ${typeof reason === 'string' ? reason : `/ready answered ${n.ready?.status ?? 'nothing'}`}${who}` };
  }
  return { ...base, verdict: 'ok', detail: `ready${who}` };
}

export function checkNodes(s: Snapshot): CheckLine[] {
  if (s.nodes === undefined) return [];
  const lines = s.nodes.map(nodeLine);
  const given = new Set(s.nodes.map((n) => n.region));
  for (const r of s.topology.regions) {
    if (!given.has(r.name)) lines.push({ check: 'region node', subject: r.name, verdict: 'warn', detail: 'no URL given (--regions): not checked' });
  }
  return lines;
}
