import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { freePort } from '../../src/testing/mod.js';
import { defaultMonitors, expectedHome, formatJson, formatTable, parseTargets } from '../../src/doctor/mod.js';
import type { CheckLine } from '../../src/doctor/mod.js';
import { parseTopology, DEFAULT_TOPOLOGY_YAML } from '../../src/topology/mod.js';
import { topology } from './fixtures.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('meridian doctor (command line)', () => {
  it('documents its options', async () => {
    const r = await run(['doctor', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--config FILE', '--nats-monitor URLS', '--regions URLS', '--nats URLS', '--ca FILE', '--timeout MS', '--json']) expect(r.out).toContain(flag);
  });

  it('refuses unknown options, bad pairs and an empty job with exit 2', async () => {
    expect((await run(['doctor', '--bogus'])).code).toBe(2);
    const unknown = await run(['doctor', '--nats-monitor', 'mars=http://127.0.0.1:1']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('region "mars" is not in the topology');
    expect((await run(['doctor', '--regions', 'us-east=nats://127.0.0.1:1'])).err).toContain('must be http or https://');
    const nothing = await run(['doctor']);
    expect(nothing.code).toBe(2);
    expect(nothing.err).toContain('nothing to check');
    expect((await run(['doctor', '--regions', 'us-east=http://127.0.0.1:1', '--timeout', 'soon'])).code).toBe(2);
    expect((await run(['doctor', '--regions', 'us-east=http://127.0.0.1:1', '--ca', '/nonexistent/ca.pem'])).err).toContain('cannot read --ca /nonexistent/ca.pem: ENOENT');
  });

  it('reports an unreadable topology like validate does, with exit 1', async () => {
    const r = await run(['doctor', '--config', '/nonexistent/meridian.yaml', '--regions', 'us-east=http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot read topology file');
  });

  it('exits 1 with a FAIL line for a region node that does not answer', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await run(['doctor', '--regions', `us-east=${url}`, '--timeout', '1000', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as { ok: boolean; summary: { fail: number; warn: number }; checks: CheckLine[] };
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toMatchObject({ check: 'region node', subject: `us-east ${url}`, verdict: 'FAIL', detail: 'unreachable: ECONNREFUSED' });
    expect(report.summary).toMatchObject({ fail: 1, warn: 2 });
  });
});

describe('doctor targets and report', () => {
  it('takes several URLs per region and normalizes them to origins', () => {
    expect(parseTargets('us-east=http://a:8222/, us-east=http://b:8222,eu-west=https://c', topology(), ['http', 'https'], '--x')).toEqual([
      { region: 'us-east', url: 'http://a:8222' },
      { region: 'us-east', url: 'http://b:8222' },
      { region: 'eu-west', url: 'https://c' },
    ]);
    expect(() => parseTargets('us-east', topology(), ['http'], '--x')).toThrow('is not region=url');
    expect(() => parseTargets('', topology(), ['http'], '--x')).toThrow('no region=url pairs');
  });

  it('derives monitoring URLs from the topology\'s NATS hosts and deploy.nats.ports.monitor', () => {
    const yaml = DEFAULT_TOPOLOGY_YAML.replace('    fallback: [eu-west]\n', '    fallback: [eu-west]\n    nats: [nats://10.77.1.10:4222, tls://10.77.1.11:4222]\n') + 'deploy:\n  nats:\n    ports: { monitor: 9222 }\n';
    expect(defaultMonitors(parseTopology(yaml))).toEqual([
      { region: 'us-east', url: 'http://10.77.1.10:9222' },
      { region: 'us-east', url: 'http://10.77.1.11:9222' },
    ]);
  });

  it.each([
    ['KV_mrd-presence-eu-west', 'eu-west'],
    ['KV_mrd-workers-ap-southeast', 'ap-southeast'],
    ['KV_mrd-inbox-us-east', 'us-east'],
    ['KV_mrd-cursors-eu-west', 'eu-west'],
    ['KV_mrd-presence', null],
    ['KV_mrd-homes', null],
    ['KV_mrd-dlq-eu-west', 'eu-west'],
    ['KV_mrd-dlq-mars', null],
    ['KV_mrd-audit-ap-southeast', 'ap-southeast'],
    ['MRD_LOG_ap-southeast', 'ap-southeast'],
    ['MRD_LOGHEAD_eu-west', 'eu-west'],
    ['MRD_LOG_gone', null],
  ] as const)('places %s in %s', (stream, region) => {
    expect(expectedHome(topology(), stream)?.region).toBe(region);
  });

  it('leaves streams that are not Meridian\'s alone', () => {
    expect(expectedHome(topology(), 'ORDERS')).toBeUndefined();
  });

  it('aligns the table columns and ends with the counts', () => {
    const lines: CheckLine[] = [
      { check: 'gateway', subject: 'us-east ⇄ eu-west', verdict: 'ok', detail: 'connected both ways' },
      { check: 'meta quorum', subject: '3 servers', verdict: 'FAIL', detail: '1 of 3 up' },
    ];
    expect(formatTable(lines)).toBe(
      [
        'check        subject            verdict  detail',
        'gateway      us-east ⇄ eu-west  ok       connected both ways',
        'meta quorum  3 servers          FAIL     1 of 3 up',
        '',
        'doctor: 1 ok, 0 warn, 1 FAIL — exit 1',
        '',
      ].join('\n'),
    );
    expect(JSON.parse(formatJson(lines))).toEqual({ ok: false, summary: { ok: 1, warn: 0, fail: 1 }, checks: lines });
  });
});
