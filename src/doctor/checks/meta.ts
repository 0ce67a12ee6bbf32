/**
 * The JetStream meta group: one Raft group across every JetStream server of the super-cluster
 * (not per region). It must have one leader that every server agrees on, and a majority of its
 * servers up; without a majority no stream or bucket can be created, changed or deleted anywhere.
 * For each region the report says what losing it would do: how many servers it holds, whether
 * the rest keep a majority, and which of Meridian's streams go with it.
 *
 * Only the leader's /jsz lists the members; when the leader's monitor is not reachable the
 * members per region are taken from the monitoring URLs the operator gave.
 */
import { serverRegions, reachable } from '../servers.js';
import type { CheckLine, ServerProbe, Snapshot } from '../types.js';

interface Member {
  readonly name: string;
  readonly region: string;
  readonly up: boolean;
  /** Up but behind the leader's log (`current: false`). */
  readonly lagging?: boolean;
}

export const majorityOf = (n: number): number => Math.floor(n / 2) + 1;

function members(s: Snapshot, leaderView: ServerProbe | undefined): { list: Member[]; fromUrls: boolean } {
  const regionOf = serverRegions(s);
  const meta = leaderView?.jsz?.meta_cluster;
  if (meta?.leader !== undefined && meta.replicas !== undefined) {
    const list: Member[] = [{ name: meta.leader, region: regionOf.get(meta.leader) ?? '?', up: true }];
    for (const r of meta.replicas) {
      const name = r.name ?? '?';
      list.push({ name, region: regionOf.get(name) ?? '?', up: r.offline !== true, lagging: r.offline !== true && r.current === false });
    }
    return { list, fromUrls: false };
  }
  return {
    list: s.servers.map((p) => ({ name: p.varz?.server_name ?? p.url, region: p.region, up: p.error === undefined && p.jsz?.meta_cluster !== undefined })),
    fromUrls: true,
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function checkMeta(s: Snapshot): CheckLine[] {
  const lines: CheckLine[] = [];
  if (s.servers.length === 0) return lines;
  const up = reachable(s);
  const views = up.filter((p) => p.jsz?.meta_cluster !== undefined && p.jsz.disabled !== true);
  if (views.length === 0) {
    const detail = up.length === 0 ? 'no NATS server answered' : 'no server that answered is in a JetStream meta group (JetStream off, or not clustered)';
    return [{ check: 'meta leader', subject: 'meta group', verdict: 'FAIL', detail }];
  }
  const said = new Map<string, string[]>();
  for (const p of views) {
    const leader = p.jsz?.meta_cluster?.leader ?? '';
    said.set(leader, [...(said.get(leader) ?? []), p.varz?.server_name ?? p.url]);
  }
  const leaders = [...said.keys()].filter((l) => l !== '');
  const regionOf = serverRegions(s);
  if (leaders.length === 0) {
    lines.push({ check: 'meta leader', subject: 'meta group', verdict: 'FAIL', detail: 'no meta leader: no stream or bucket can be created or changed' });
  } else if (said.size > 1) {
    const who = [...said].map(([l, names]) => `${names.join(', ')}: ${l === '' ? 'none' : l}`).join('; ');
    lines.push({ check: 'meta leader', subject: 'meta group', verdict: 'FAIL', detail: `servers disagree on the leader (${who})` });
  } else {
    const l = leaders[0]!;
    const region = regionOf.get(l);
    // Followers keep naming a leader that just died until they elect another.
    const leaderDown = !up.some((p) => p.varz?.server_name === l) && region !== undefined && s.servers.some((p) => p.region === region) && s.servers.filter((p) => p.region === region).every((p) => p.error !== undefined);
    lines.push(
      leaderDown
        ? { check: 'meta leader', subject: 'meta group', verdict: 'FAIL', detail: `the servers name ${l} (region ${region}), which does not answer: an election is due (stream and bucket changes wait for it)` }
        : { check: 'meta leader', subject: 'meta group', verdict: 'ok', detail: `${l} (region ${region ?? '?'}); every server that answered agrees (${views.length})` },
    );
  }

  const leaderView = views.find((p) => leaders.includes(p.varz?.server_name ?? '\0'));
  const { list, fromUrls } = members(s, leaderView);
  const size = Math.max(list.length, leaderView?.jsz?.meta_cluster?.cluster_size ?? views[0]?.jsz?.meta_cluster?.cluster_size ?? 0);
  const majority = majorityOf(size);
  const upCount = list.filter((m) => m.up).length;
  const down = list.filter((m) => !m.up).map((m) => m.name);
  const lagging = list.filter((m) => m.lagging === true).map((m) => m.name);
  const behind = lagging.length > 0 ? `; behind the leader: ${lagging.join(', ')}` : '';
  const source = fromUrls ? ' (members from the monitoring URLs: the leader did not answer)' : '';
  const even = size % 2 === 0 ? `; an even count: a split in half stops JetStream (prefer ${size + 1} or ${size - 1})` : '';
  if (upCount < majority) {
    lines.push({ check: 'meta quorum', subject: plural(size, 'server'), verdict: 'FAIL', detail: `${upCount} of ${size} up, majority is ${majority}: no stream or bucket can be created or changed${down.length ? ` (down: ${down.join(', ')})` : ''}${source}` });
  } else if (down.length > 0 || even !== '' || behind !== '') {
    const margin = upCount - majority === 0 ? ': one more lost server stops stream and bucket changes' : '';
    lines.push({ check: 'meta quorum', subject: plural(size, 'server'), verdict: 'warn', detail: `${upCount} of ${size} up, majority is ${majority}${down.length ? ` (down: ${down.join(', ')})` : ''}${margin}${behind}${even}${source}` });
  } else {
    lines.push({ check: 'meta quorum', subject: plural(size, 'server'), verdict: 'ok', detail: `${upCount} of ${size} up, majority is ${majority}${source}` });
  }

  for (const r of s.topology.regions.map((x) => x.name)) {
    const here = list.filter((m) => m.region === r);
    if (here.length === 0) {
      lines.push({ check: 'lose region', subject: r, verdict: 'FAIL', detail: `no JetStream server of ${r} is in the meta group: its message log cannot be placed there` });
      continue;
    }
    const left = upCount - here.filter((m) => m.up).length;
    const goes = 'its message log, the inbox and cursors of the conversations it homes, and its presence, workers, DLQ and audit buckets';
    const now = here.every((m) => !m.up) ? 'down now; ' : '';
    const what = left >= majority ? `${left} of ${size} stay up ≥ majority ${majority}: JetStream keeps working` : `${left} of ${size} stay up < majority ${majority}: no stream or bucket can be created or changed anywhere`;
    lines.push({ check: 'lose region', subject: r, verdict: left >= majority ? 'ok' : 'warn', detail: `${now}holds ${here.length} of ${size}; without it ${what}; ${goes} become unavailable` });
  }
  const stray = list.filter((m) => m.region === '?');
  if (stray.length > 0) lines.push({ check: 'lose region', subject: 'unknown', verdict: 'warn', detail: `meta group members of no known region: ${stray.map((m) => m.name).join(', ')} (name servers <region>-…, or give their monitoring URLs)` });
  return lines;
}
