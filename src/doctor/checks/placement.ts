/**
 * Stream and bucket placement: every Meridian stream the reachable servers host is in the cluster
 * (region) `expectedHome` names and has a leader. Streams of a region whose servers all failed to
 * answer cannot be seen, which the report says instead of calling them fine.
 */
import { expectedHome } from '../placement.js';
import { reachable } from '../servers.js';
import type { CheckLine, Snapshot } from '../types.js';
import type { StreamDetail } from '../nats-json.js';

export function checkPlacement(s: Snapshot): CheckLine[] {
  const lines: CheckLine[] = [];
  const up = reachable(s);
  const streams = new Map<string, StreamDetail>();
  let others = 0;
  for (const p of up) {
    for (const acc of p.jsz?.account_details ?? []) {
      for (const st of acc.stream_detail ?? []) {
        if (st.name === undefined) continue;
        const key = `${acc.name ?? acc.id ?? '?'}/${st.name}`;
        const seen = streams.get(key);
        // A stream's replicas each list it; the leader's view names the leader, prefer that one.
        if (seen === undefined || ((seen.cluster?.leader ?? '') === '' && (st.cluster?.leader ?? '') !== '')) streams.set(key, st);
      }
    }
  }
  const accounts = new Set([...streams.keys()].map((k) => k.split('/')[0]));
  for (const [key, st] of [...streams].sort(([a], [b]) => a.localeCompare(b))) {
    const name = st.name!;
    const home = expectedHome(s.topology, name);
    if (home === undefined) {
      others++;
      continue;
    }
    const subject = accounts.size > 1 ? key : name;
    const cluster = st.cluster?.name;
    const leader = st.cluster?.leader ?? '';
    if (home.region === null) {
      lines.push({ check: 'placement', subject, verdict: 'warn', detail: `in ${cluster ?? '?'}; ${home.rule} (left over from a removed region or an earlier version?)` });
    } else if (cluster !== home.region) {
      lines.push({ check: 'placement', subject, verdict: 'FAIL', detail: `in ${cluster ?? 'no cluster'}, must be in ${home.region}: ${home.rule}` });
    } else if (leader === '') {
      lines.push({ check: 'placement', subject, verdict: 'FAIL', detail: `in ${cluster} as it must be, but without a leader: unavailable` });
    } else {
      // Replicas inside the home cluster (R3 in a three-server region): one down or behind is a warning.
      const weak = (st.cluster?.replicas ?? []).filter((r) => r.offline === true || r.current === false).map((r) => `${r.name ?? '?'} ${r.offline === true ? 'offline' : 'behind'}`);
      lines.push(
        weak.length > 0
          ? { check: 'placement', subject, verdict: 'warn', detail: `in ${cluster} (${home.rule}), leader ${leader}; replica ${weak.join(', ')}` }
          : { check: 'placement', subject, verdict: 'ok', detail: `in ${cluster} (${home.rule}), leader ${leader}` },
      );
    }
  }
  const answered = new Set(up.map((p) => p.region));
  for (const r of s.topology.regions.map((x) => x.name)) {
    if (!answered.has(r) && s.servers.length > 0) {
      lines.push({ check: 'placement', subject: `streams in ${r}`, verdict: 'warn', detail: `not checked: no NATS server of ${r} answered` });
    }
  }
  if (up.length > 0 && streams.size === others) {
    lines.push({ check: 'placement', subject: 'streams', verdict: 'ok', detail: 'no Meridian streams yet (region nodes create their log and buckets when they start)' });
  }
  if (others > 0) lines.push({ check: 'placement', subject: 'other streams', verdict: 'ok', detail: `${others} stream${others === 1 ? '' : 's'} not Meridian's, not checked` });
  return lines;
}
