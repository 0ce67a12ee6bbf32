/**
 * Gateways: every server has an outbound and an inbound gateway connection with every other
 * region (NATS connects each server of a cluster to each remote cluster), and the measured RTT of
 * each region pair against what the topology expects: twice the one-way latency of its WAN model
 * (`wan.links` or distance × `wan.msPer100Km`, src/topology/wan.ts), which steering and the
 * embedded bus use. A far-off RTT is a warning, not a failure: the deployment works, but the
 * topology misleads steering until it is corrected.
 */
import { linkLatencyMs } from '../../topology/mod.js';
import { parseGoDurationMs } from '../../testing/monitor.js';
import { reachable, serverLabel } from '../servers.js';
import type { CheckLine, Snapshot, Verdict } from '../types.js';

/** Measured RTT outside [expected/2 - 10, expected×1.5 + 10] ms is "far off". */
export function rttVerdict(measuredMs: number, expectedMs: number): Verdict {
  return measuredMs > expectedMs * 1.5 + 10 || measuredMs < expectedMs / 2 - 10 ? 'warn' : 'ok';
}

const ms = (x: number): string => `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`;

export function checkGateways(s: Snapshot): CheckLine[] {
  const lines: CheckLine[] = [];
  const regions = s.topology.regions.map((r) => r.name);
  if (regions.length < 2) return lines;
  for (const p of reachable(s)) {
    const gw = p.gatewayz;
    if (gw === undefined || (gw.name ?? '') === '') {
      lines.push({ check: 'gateway', subject: serverLabel(p), verdict: 'FAIL', detail: 'no gateway configured: this region cannot reach the others' });
      continue;
    }
    for (const other of regions) {
      if (other === p.region) continue;
      const out = gw.outbound_gateways?.[other]?.connection;
      const inbound = gw.inbound_gateways?.[other] ?? [];
      const missing = [out === undefined ? 'outbound' : undefined, inbound.length === 0 ? 'inbound' : undefined].filter((x) => x !== undefined);
      const rtt = out?.rtt === undefined ? Number.NaN : parseGoDurationMs(out.rtt);
      lines.push({
        check: 'gateway',
        subject: `${serverLabel(p)} ⇄ ${other}`,
        verdict: missing.length === 0 ? 'ok' : 'FAIL',
        detail:
          missing.length === 0
            ? `connected both ways${Number.isFinite(rtt) && rtt > 0 ? `, rtt ${ms(rtt)}` : ''}`
            : missing.length === 2
              ? 'not connected either way'
              : `no ${missing[0]} connection (the ${missing[0] === 'outbound' ? `${p.region} → ${other}` : `${other} → ${p.region}`} direction is down)`,
      });
    }
    for (const name of Object.keys(gw.outbound_gateways ?? {})) {
      if (!regions.includes(name) && name !== p.region) {
        lines.push({ check: 'gateway', subject: `${serverLabel(p)} ⇄ ${name}`, verdict: 'warn', detail: `connected to "${name}", which is not a region of the topology` });
      }
    }
  }
  return lines;
}

export function checkGatewayRtts(s: Snapshot): CheckLine[] {
  const lines: CheckLine[] = [];
  const regions = s.topology.regions.map((r) => r.name);
  const servers = reachable(s);
  if (s.servers.length === 0) return lines;
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i]!;
      const b = regions[j]!;
      const samples: number[] = [];
      for (const p of servers) {
        const to = p.region === a ? b : p.region === b ? a : undefined;
        const rtt = to === undefined ? undefined : p.gatewayz?.outbound_gateways?.[to]?.connection?.rtt;
        const v = rtt === undefined ? Number.NaN : parseGoDurationMs(rtt);
        if (v > 0) samples.push(v);
      }
      const expected = 2 * linkLatencyMs(s.topology, a, b);
      if (samples.length === 0) {
        const seen = servers.some((p) => p.region === a || p.region === b);
        lines.push({ check: 'gateway rtt', subject: `${a} ⇄ ${b}`, verdict: 'warn', detail: `not measured (${seen ? 'no connected gateway between them' : 'no server of either region answered'}); expected ${ms(expected)}` });
        continue;
      }
      samples.sort((x, y) => x - y);
      const measured = samples[Math.floor(samples.length / 2)]!;
      const verdict = rttVerdict(measured, expected);
      const why = verdict === 'ok' ? '' : measured > expected ? ': slower than the topology says, fix wan.links' : ': faster than the topology says, fix wan.links';
      lines.push({ check: 'gateway rtt', subject: `${a} ⇄ ${b}`, verdict, detail: `measured ${ms(measured)}, topology expects ${ms(expected)} (2 × ${ms(expected / 2)} one way)${why}` });
    }
  }
  return lines;
}
