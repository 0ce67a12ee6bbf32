/**
 * `meridian doctor` against what `meridian plan` generates: a `--local` plan of the built-in
 * topology started for real (three nats-servers with the planned TLS on every listener, NKEY
 * users, mutual-TLS gateways). The doctor reads their monitoring endpoints and the certificates
 * of their TLS client ports (after the INFO line), checked against the plan's CA.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CheckLine } from '../../src/doctor/mod.js';
import { NatsServerProcess } from '../../src/testing/mod.js';
import { describeWithNats } from '../bus/nats-env.js';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'];
const host = (r: string): string => `${r}-nats-0`;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describeWithNats('meridian doctor on a planned (--local) NATS super-cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-doctor-plan-'));
  const out = join(dir, 'plan');
  const servers: NatsServerProcess[] = [];
  let args: string[];

  beforeAll(async () => {
    const planned = await run(['plan', '--out', out, '--only', 'nats', '--local']);
    expect(planned.code, planned.err).toBe(0);
    const ports = JSON.parse(readFileSync(join(out, 'local/ports.json'), 'utf8')) as Record<string, Record<string, number>>;
    const port = (r: string, listener: string): number => ports[host(r)]![listener]!;
    for (const r of REGIONS) {
      servers.push(new NatsServerProcess({ configFile: join(out, 'nats', `${host(r)}.conf`), logFile: join(dir, `${r}.log`), httpUrl: `http://127.0.0.1:${port(r, 'nats-monitor')}` }));
    }
    await Promise.all(servers.map((s) => s.start()));
    args = [
      'doctor',
      '--nats-monitor', REGIONS.map((r) => `${r}=http://127.0.0.1:${port(r, 'nats-monitor')}`).join(','),
      '--nats', REGIONS.map((r) => `${r}=tls://127.0.0.1:${port(r, 'nats-client')}`).join(','),
      '--ca', join(out, 'tls', 'ca.pem'),
      '--json',
    ];
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the gateways, the meta group and valid certificates of the plan CA, and exits 0', async () => {
    // The super-cluster forms over a few seconds after the servers start.
    let r = await run(args);
    // Formed: exit 0, the meta quorum ok and every gateway connected both ways (one connected
    // one way only is a warning, which exits 0 too).
    const formed = (x: { code: number; out: string }): boolean => {
      if (x.code !== 0) return false;
      const cs = (JSON.parse(x.out) as { checks: CheckLine[] }).checks;
      return cs.every((l) => l.check !== 'meta quorum' || l.verdict === 'ok') && cs.filter((l) => l.check === 'gateway' && l.verdict === 'ok').length === 6 && cs.filter((l) => l.check === 'gateway rtt').every((l) => l.detail.startsWith('measured'));
    };
    for (let i = 0; i < 40 && !formed(r); i++) {
      await new Promise((res) => setTimeout(res, 500));
      r = await run(args);
    }
    const checks = (JSON.parse(r.out) as { checks: CheckLine[] }).checks;
    expect(checks.filter((l) => l.verdict === 'FAIL'), r.out).toEqual([]);
    expect(r.code).toBe(0);
    const of = (check: string): CheckLine[] => checks.filter((l) => l.check === check);
    expect(of('nats server').map((l) => `${l.subject} ${l.verdict}`)).toEqual(REGIONS.map((x) => `${host(x)} ok`));
    expect(of('gateway').filter((l) => l.verdict === 'ok')).toHaveLength(6);
    expect(of('meta quorum')).toEqual([expect.objectContaining({ verdict: 'ok', detail: '3 of 3 up, majority is 2' })]);
    expect(of('lose region').every((l) => l.verdict === 'ok')).toBe(true);
    const certs = of('tls cert');
    expect(certs).toHaveLength(3);
    for (const [i, c] of certs.entries()) {
      expect(c.verdict).toBe('ok');
      expect(c.detail).toMatch(new RegExp(`^\\d+ days left \\(until .*\\); CN=${host(REGIONS[i]!)}, issuer Meridian NATS CA$`));
    }
    // Loopback is far faster than the topology's Ashburn–Dublin–Singapore model: a warning, never a failure.
    expect(of('gateway rtt')).toHaveLength(3);
    for (const l of of('gateway rtt')) expect(l.detail).toMatch(/^measured [\d.]+ ms, topology expects \d+ ms/);
  }, 60_000);
});
