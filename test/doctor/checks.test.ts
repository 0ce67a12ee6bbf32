import { describe, expect, it } from 'vitest';
import { checkCerts, checkClocks, checkGatewayRtts, checkGateways, checkMeta, checkNodes, checkPlacement, checkResidency, checkServers } from '../../src/doctor/checks/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { rttVerdict } from '../../src/doctor/checks/gateways.js';
import { certVerdict } from '../../src/doctor/checks/tls.js';
import { skewVerdict } from '../../src/doctor/checks/clock.js';
import { runChecks, exitCode } from '../../src/doctor/mod.js';
import type { CheckLine, Snapshot } from '../../src/doctor/mod.js';
import { down, healthy, NOW, REGIONS, server, stream, topology } from './fixtures.js';

const verdicts = (lines: CheckLine[]): string[] => lines.map((l) => `${l.subject}: ${l.verdict}`);
const one = (lines: CheckLine[], subject: string): CheckLine => {
  const l = lines.find((x) => x.subject === subject);
  if (l === undefined) throw new Error(`no line for ${subject} in ${JSON.stringify(lines, null, 1)}`);
  return l;
};

describe('doctor checks on a healthy three-region super-cluster', () => {
  it('finds nothing wrong and exits 0', () => {
    const lines = runChecks(healthy());
    expect(lines.filter((l) => l.verdict !== 'ok')).toEqual([]);
    expect(exitCode(lines)).toBe(0);
    expect(new Set(lines.map((l) => l.check))).toEqual(new Set(['nats server', 'gateway', 'gateway rtt', 'meta leader', 'meta quorum', 'lose region', 'placement', 'clock']));
  });
});

describe('gateways', () => {
  it('checks every server against every other region, both ways', () => {
    const s = healthy();
    const lines = checkGateways(s);
    expect(lines).toHaveLength(6);
    expect(one(lines, 'us-east ⇄ eu-west').detail).toBe('connected both ways, rtt 20 ms');
  });

  it.each([
    ['an outbound connection missing', (p: ReturnType<typeof server>) => delete p.gatewayz!.outbound_gateways!['eu-west'], 'no outbound connection (the us-east → eu-west direction is down)'],
    ['an inbound connection missing', (p: ReturnType<typeof server>) => delete p.gatewayz!.inbound_gateways!['eu-west'], 'no inbound connection (the eu-west → us-east direction is down)'],
    ['both missing', (p: ReturnType<typeof server>) => {
      delete p.gatewayz!.inbound_gateways!['eu-west'];
      delete p.gatewayz!.outbound_gateways!['eu-west'];
    }, 'not connected either way'],
  ])('fails with %s', (_what, change, detail) => {
    const s = healthy();
    change(s.servers[0]!);
    const l = one(checkGateways(s), 'us-east ⇄ eu-west');
    expect(l).toMatchObject({ verdict: 'FAIL', detail });
  });

  it('fails a server with no gateway block and warns about a gateway outside the topology', () => {
    const s = healthy();
    s.servers[1]!.gatewayz!.name = '';
    s.servers[0]!.gatewayz!.outbound_gateways!['mars'] = { connection: { rtt: '1ms' } };
    const lines = checkGateways(s);
    expect(one(lines, 'eu-west')).toMatchObject({ verdict: 'FAIL', detail: 'no gateway configured: this region cannot reach the others' });
    expect(one(lines, 'us-east ⇄ mars').verdict).toBe('warn');
  });

  it.each([
    [20, 20, 'ok'],
    [40, 20, 'ok'],
    [41, 20, 'warn'],
    [0.4, 20, 'ok'],
    [60, 110, 'ok'],
    [44, 110, 'warn'],
    [311, 200, 'warn'],
  ] as const)('rtt %d ms against an expected %d ms is %s', (measured, expected, verdict) => {
    expect(rttVerdict(measured, expected)).toBe(verdict);
  });

  it('compares each pair\'s median measured RTT with twice the topology\'s one-way latency', () => {
    const s = healthy();
    const lines = checkGatewayRtts(s);
    expect(lines.map((l) => l.detail)).toEqual([
      'measured 20 ms, topology expects 20 ms (2 × 10 ms one way)',
      'measured 60 ms, topology expects 60 ms (2 × 30 ms one way)',
      'measured 40 ms, topology expects 40 ms (2 × 20 ms one way)',
    ]);
    const slow = { ...s, servers: s.servers.map((p) => server({ region: p.region, rttMs: () => 250 })) };
    expect(one(checkGatewayRtts(slow), 'us-east ⇄ eu-west')).toMatchObject({ verdict: 'warn', detail: 'measured 250 ms, topology expects 20 ms (2 × 10 ms one way): slower than the topology says, fix wan.links' });
  });

  it('says when an RTT could not be measured instead of guessing', () => {
    const s = healthy();
    const fresh = { ...s, servers: s.servers.map((p) => server({ region: p.region, rttMs: () => 0 })) };
    expect(one(checkGatewayRtts(fresh), 'us-east ⇄ eu-west')).toMatchObject({ verdict: 'warn', detail: 'not measured (no connected gateway between them); expected 20 ms' });
  });
});

/** eu-west's server stopped: gone from the others' gateways, offline in the leader's view. */
function euDown(): Snapshot {
  const s = healthy();
  return {
    ...down(s, 'eu-west'),
    servers: [
      server({ region: 'us-east', offline: ['eu-west'], cut: ['eu-west'] }),
      { region: 'eu-west', url: 'http://eu-west.test:8222', error: 'ECONNREFUSED' },
      server({ region: 'ap-southeast', cut: ['eu-west'] }),
    ],
  };
}

describe('JetStream meta group', () => {
  it('reports the leader, the quorum and what losing each region does', () => {
    const lines = checkMeta(healthy());
    expect(verdicts(lines)).toEqual(['meta group: ok', '3 servers: ok', 'us-east: ok', 'eu-west: ok', 'ap-southeast: ok']);
    expect(one(lines, 'meta group').detail).toBe('us-east (region us-east); every server that answered agrees (3)');
    // No region holds anything the others need: losing the first one costs the same as any other.
    for (const r of ['us-east', 'eu-west', 'ap-southeast']) {
      expect(one(lines, r).detail).toBe('holds 1 of 3; without it 2 of 3 stay up ≥ majority 2: JetStream keeps working; its message log, the inbox and cursors of the conversations it homes, and its presence, workers, DLQ and audit buckets become unavailable');
    }
  });

  it('with one region down: quorum kept but at its margin, and losing either other region would lose it', () => {
    const lines = checkMeta(euDown());
    expect(verdicts(lines)).toEqual(['meta group: ok', '3 servers: warn', 'us-east: warn', 'eu-west: ok', 'ap-southeast: warn']);
    expect(one(lines, '3 servers').detail).toBe('2 of 3 up, majority is 2 (down: eu-west): one more lost server stops stream and bucket changes');
    expect(one(lines, 'eu-west').detail).toMatch(/^down now; holds 1 of 3/);
    expect(one(lines, 'ap-southeast').detail).toContain('1 of 3 stay up < majority 2: no stream or bucket can be created or changed anywhere');
  });

  it('fails without a majority, without a leader, and when servers disagree on the leader', () => {
    const minority = { ...healthy(), servers: [server({ region: 'us-east', offline: ['eu-west', 'ap-southeast'] })] };
    expect(one(checkMeta(minority), '3 servers')).toMatchObject({ verdict: 'FAIL' });
    const leaderless = healthy();
    for (const p of leaderless.servers) p.jsz!.meta_cluster!.leader = '';
    expect(one(checkMeta(leaderless), 'meta group')).toMatchObject({ verdict: 'FAIL', detail: 'no meta leader: no stream or bucket can be created or changed' });
    const split = healthy();
    split.servers[2]!.jsz!.meta_cluster!.leader = 'ap-southeast';
    expect(one(checkMeta(split), 'meta group')).toMatchObject({ verdict: 'FAIL', detail: 'servers disagree on the leader (us-east, eu-west: us-east; ap-southeast: ap-southeast)' });
  });

  it('warns about a member that is up but behind the leader', () => {
    const s = healthy();
    s.servers[0]!.jsz!.meta_cluster!.replicas![1]!.current = false;
    expect(one(checkMeta(s), '3 servers')).toMatchObject({ verdict: 'warn', detail: '3 of 3 up, majority is 2; behind the leader: ap-southeast' });
  });

  it('fails a leader that the others still name but that does not answer', () => {
    const s = { ...down(healthy(), 'us-east') };
    expect(one(checkMeta(s), 'meta group')).toMatchObject({ verdict: 'FAIL', detail: 'the servers name us-east (region us-east), which does not answer: an election is due (stream and bucket changes wait for it)' });
  });

  it('counts several servers per region by their planned names and warns about an even total', () => {
    const members = ['us-east-nats-0', 'us-east-nats-1', 'eu-west-nats-0', 'ap-southeast-nats-0'];
    const s: Snapshot = { ...healthy(), servers: [server({ region: 'us-east', name: 'us-east-nats-0', leader: 'us-east-nats-0', members })] };
    const lines = checkMeta(s);
    expect(one(lines, '4 servers')).toMatchObject({ verdict: 'warn', detail: '4 of 4 up, majority is 3; an even count: a split in half stops JetStream (prefer 5 or 3)' });
    expect(one(lines, 'us-east')).toMatchObject({ verdict: 'warn' });
    expect(one(lines, 'us-east').detail).toMatch(/^holds 2 of 4; without it 2 of 4 stay up < majority 3/);
    expect(one(lines, 'eu-west')).toMatchObject({ verdict: 'ok' });
  });

  it('fails a region with no JetStream server, and falls back to the monitoring URLs when the leader is not reachable', () => {
    const two: Snapshot = { ...healthy(), servers: [server({ region: 'us-east', members: ['us-east', 'eu-west', 'eu-west-2'] })] };
    expect(one(checkMeta(two), 'ap-southeast')).toMatchObject({ verdict: 'FAIL', detail: 'no JetStream server of ap-southeast is in the meta group: its message log cannot be placed there' });
    const noLeader = { ...healthy(), servers: healthy().servers.map((p) => server({ region: p.region, leader: 'elsewhere' })) };
    expect(one(checkMeta(noLeader), '3 servers').detail).toContain('members from the monitoring URLs');
  });
});

describe('placement', () => {
  it('passes streams in their home cluster and fails one anywhere else', () => {
    const s = healthy();
    s.servers[1]!.jsz!.account_details![0]!.stream_detail!.push(stream('KV_mrd-workers-us-east', 'eu-west'), stream('KV_mrd-dlq-eu-west', 'eu-west'), stream('KV_mrd-homes', 'eu-west'), stream('ORDERS', 'eu-west'));
    const lines = checkPlacement(s);
    expect(one(lines, 'KV_mrd-workers-us-east')).toMatchObject({ verdict: 'FAIL', detail: 'in eu-west, must be in us-east: bucket mrd-workers-us-east belongs to us-east' });
    expect(one(lines, 'KV_mrd-homes')).toMatchObject({ verdict: 'warn', detail: 'in eu-west; bucket mrd-homes belongs to no region of the topology (left over from a removed region or an earlier version?)' });
    expect(one(lines, 'KV_mrd-dlq-eu-west').verdict).toBe('ok');
    expect(one(lines, 'MRD_LOG_ap-southeast')).toMatchObject({ verdict: 'ok', detail: "in ap-southeast (ap-southeast's message log lives in ap-southeast), leader ap-southeast" });
    expect(one(lines, 'other streams')).toMatchObject({ verdict: 'ok', detail: "1 stream not Meridian's, not checked" });
  });

  it('warns about a stream replica that is offline or behind', () => {
    const s = healthy();
    s.servers[0]!.jsz!.account_details![0]!.stream_detail![1] = { name: 'MRD_LOG_us-east', cluster: { name: 'us-east', leader: 'us-east-nats-0', replicas: [{ name: 'us-east-nats-1', current: true }, { name: 'us-east-nats-2', current: false, offline: true }] } };
    expect(one(checkPlacement(s), 'MRD_LOG_us-east')).toMatchObject({ verdict: 'warn', detail: "in us-east (us-east's message log lives in us-east), leader us-east-nats-0; replica us-east-nats-2 offline" });
  });

  it('fails a stream without a leader, warns about a log of no region, and says which regions it could not see', () => {
    const s = down(healthy(), 'ap-southeast');
    s.servers[0]!.jsz!.account_details![0]!.stream_detail!.push(stream('MRD_LOG_old-region', 'us-east'));
    s.servers[1]!.jsz!.account_details![0]!.stream_detail![0] = stream('MRD_LOG_eu-west', 'eu-west', '');
    const lines = checkPlacement(s);
    expect(one(lines, 'MRD_LOG_eu-west')).toMatchObject({ verdict: 'FAIL', detail: 'in eu-west as it must be, but without a leader: unavailable' });
    expect(one(lines, 'MRD_LOG_old-region').verdict).toBe('warn');
    expect(one(lines, 'streams in ap-southeast')).toMatchObject({ verdict: 'warn', detail: 'not checked: no NATS server of ap-southeast answered' });
  });
});

describe('servers and region nodes', () => {
  it('fails an unreachable server, a cluster named unlike its region and JetStream off', () => {
    const s = down(healthy(), 'eu-west');
    s.servers[2]!.varz!.cluster = { name: 'apac' };
    delete s.servers[0]!.varz!.jetstream;
    const lines = checkServers(s);
    expect(verdicts(lines)).toEqual(['us-east: FAIL', 'eu-west http://eu-west.test:8222: FAIL', 'ap-southeast: FAIL']);
    expect(lines[0]!.detail).toMatch(/^JetStream is off/);
    expect(lines[1]!.detail).toBe('monitoring endpoint unreachable: ECONNREFUSED');
    expect(lines[2]!.detail).toMatch(/^its cluster is "apac", not ap-southeast/);
  });

  it('checks routes between the servers of a region', () => {
    const s: Snapshot = { ...healthy(), servers: [server({ region: 'us-east', name: 'us-east-nats-0' }), server({ region: 'us-east', name: 'us-east-nats-1' })] };
    s.servers[0]!.routez!.num_routes = 1;
    expect(verdicts(checkServers(s).filter((l) => l.check === 'cluster routes'))).toEqual(['us-east-nats-0: ok', 'us-east-nats-1: FAIL']);
  });

  it('passes ready nodes and fails the rest with the reason', () => {
    const ok = (region: string) => ({ region, url: `http://${region}.test:7701`, ready: { status: 200, body: { ready: true, region, node: `${region}-1` } }, health: { status: 200, body: { status: 'ok', region } } });
    const s: Snapshot = {
      ...healthy(),
      nodes: [
        ok('us-east'),
        { ...ok('eu-west'), ready: { status: 503, body: { ready: false, region: 'eu-west', node: 'eu-west-1', reason: 'bus_disconnected' } } },
        { ...ok('ap-southeast'), ready: { status: 200, body: { ready: true, region: 'us-east' } } },
      ],
    };
    expect(checkNodes(s).map((l) => `${l.verdict} ${l.detail}`)).toEqual(['ok ready (node us-east-1)', 'FAIL not ready: bus_disconnected (node eu-west-1)', 'FAIL answers as region us-east, not ap-southeast']);
    const partial: Snapshot = { ...healthy(), nodes: [{ region: 'us-east', url: 'http://x.test:1', error: 'ECONNREFUSED' }] };
    expect(checkNodes(partial).map((l) => `${l.subject} ${l.verdict}`)).toEqual(['us-east http://x.test:1 FAIL', 'eu-west warn', 'ap-southeast warn']);
    expect(checkNodes(healthy())).toEqual([]);
  });
});

describe('residency', () => {
  const rule = (name: string, jurisdictions: string[], mode: 'store' | 'strict' = 'store'): Topology['residency'][number] => ({ name, countries: [], users: [`${name}-*`], userJurisdictions: [], rooms: [], jurisdictions, strict: true, mode });
  const withRules = (s: Snapshot): Snapshot => ({ ...s, topology: { ...s.topology, residency: [...s.topology.residency, rule('gdpr', ['EU'], 'strict'), rule('pacific', ['US', 'SG'])] } });
  const node = (region: string, ready: boolean) => ({ region, url: `http://${region}.test:7701`, ready: { status: ready ? 200 : 503, body: { ready, region } }, health: { status: 200, body: { status: 'ok', region } } });

  it('says where each data rule keeps its conversations and whether those regions serve (steering-only rules are not listed)', () => {
    const s = withRules({ ...healthy(), nodes: REGIONS.map((r) => node(r, true)) });
    expect(checkResidency(s).map((l) => `${l.subject}: ${l.verdict} ${l.detail}`)).toEqual([
      'rule gdpr (strict): warn eu-west ready: the only region the rule allows, so its conversations have no failover',
      'rule pacific (store): ok us-east ready, ap-southeast ready',
    ]);
    expect(checkResidency(healthy())).toEqual([]);
  });

  it('fails a rule none of whose regions serves, warns at the last one; reads NATS servers without --regions', () => {
    const s = withRules({ ...healthy(), nodes: [node('us-east', false), node('eu-west', false), node('ap-southeast', true)] });
    expect(verdicts(checkResidency(s))).toEqual(['rule gdpr (strict): FAIL', 'rule pacific (store): warn']);
    expect(one(checkResidency(s), 'rule pacific (store)').detail).toBe('us-east down, ap-southeast ready: one region left of 2, no failover until another returns');
    const viaServers = withRules(down(healthy(), 'eu-west'));
    expect(verdicts(checkResidency(viaServers))).toEqual(['rule gdpr (strict): FAIL', 'rule pacific (store): ok']);
    const blind = withRules({ ...healthy(), servers: [] });
    expect(checkResidency(blind).map((l) => l.verdict)).toEqual(['warn', 'warn']);
  });
});

describe('certificates and clocks', () => {
  it.each([
    [90, 'ok'],
    [30, 'ok'],
    [29.9, 'warn'],
    [7, 'warn'],
    [6.9, 'FAIL'],
    [-1, 'FAIL'],
  ] as const)('%d days left is %s', (days, verdict) => {
    expect(certVerdict(days)).toBe(verdict);
  });

  it('reports days left, an expired certificate and a failed handshake', () => {
    const at = (days: number): string => new Date(NOW + days * 86_400_000).toISOString();
    const s: Snapshot = {
      ...healthy(),
      certs: [
        { kind: 'NATS client', region: 'us-east', endpoint: 'n1:4222', notAfter: at(45.5), subjectCn: 'us-east-nats-0', issuerCn: 'Meridian CA' },
        { kind: 'region node', region: 'eu-west', endpoint: 'r:443', notAfter: at(-3) },
        { kind: 'NATS monitor', region: 'eu-west', endpoint: 'm:8222', error: 'ECONNRESET' },
      ],
    };
    expect(checkCerts(s).map((l) => `${l.verdict} ${l.detail}`)).toEqual([
      'ok 45 days left (until 2027-01-19); CN=us-east-nats-0, issuer Meridian CA',
      'FAIL expired 3 days ago (until 2026-12-01)',
      'FAIL ECONNRESET',
    ]);
  });

  it.each([
    [0, 'ok'],
    [-499, 'ok'],
    [501, 'warn'],
    [-5001, 'FAIL'],
  ] as const)('a skew of %d ms is %s', (ms, verdict) => {
    expect(skewVerdict(ms)).toBe(verdict);
  });

  it('discounts half the round trip and reports the spread between regions', () => {
    const s: Snapshot = {
      ...healthy(),
      servers: [server({ region: 'us-east', nowOffsetMs: 900 }), server({ region: 'eu-west', nowOffsetMs: -40 }), server({ region: 'ap-southeast', nowOffsetMs: 6000 })],
    };
    (s.servers[1] as { varzClock: { midMs: number; rttMs: number } }).varzClock = { midMs: NOW, rttMs: 100 };
    const lines = checkClocks(s);
    expect(lines.map((l) => `${l.subject} ${l.verdict} ${l.detail}`)).toEqual([
      'us-east warn +900 ms vs this machine (±1 ms)',
      'eu-west ok -40 ms vs this machine (±50 ms)',
      'ap-southeast FAIL +6000 ms vs this machine (±1 ms)',
      'between regions FAIL 5999 ms between ap-southeast (ahead) and eu-west (warn > 500 ms, FAIL > 5000 ms)',
    ]);
  });
});

describe('the fixture', () => {
  it('names the three harness regions in topology order', () => {
    expect(topology().regions.map((r) => r.name)).toEqual([...REGIONS]);
  });
});
