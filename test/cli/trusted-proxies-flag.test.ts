/**
 * `meridian region --trusted-proxies LIST` as operators run it: a malformed entry stops the
 * command before it starts anything (exit 2, naming the entry); a region process believes
 * X-Forwarded-For from the proxies the flag lists and from no one else, the flag winning over the
 * topology's `trustedProxies:` (seen in the audit trail's `from` of refused requests).
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { eventually } from '../node/client.js';

const dir = mkdtempSync(join(tmpdir(), 'mrd-trusted-proxies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ADMIN = 'admin-token-for-trusted-proxy-flag';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

/** GET with a bad credential from `from`, claiming `xff`: refused and audited. */
function refused(url: string, from: string, xff: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/presence/bob`, { localAddress: from, agent: false, headers: { authorization: 'Bearer not-a-token', 'x-forwarded-for': xff } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('meridian region --trusted-proxies', () => {
  it('refuses a malformed entry before starting', async () => {
    const r = await cli(['region', 'eu-west', '--dev', '--port', '0', '--data', dir, '--trusted-proxies', '10.0.0.0/8,proxy.internal']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--trusted-proxies: "proxy.internal" is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal');
  });

  it('believes X-Forwarded-For from the listed proxies only, over the topology\'s list', async () => {
    const config = join(dir, 'meridian.yaml');
    // The topology trusts 127.0.0.3; the flag names 127.0.0.2 instead, and wins.
    writeFileSync(config, 'regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\ntrustedProxies: ["127.0.0.3"]\n');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'region', 'solo', '--config', config, '--dev', '--port', '0', '--data', join(dir, 'data'), '--admin-token', ADMIN, '--trusted-proxies', '127.0.0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await eventually(() => out.includes('ready.') || child.exitCode !== null, 'the region to listen', 30_000);
      const url = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(await refused(url!, '127.0.0.2', '198.51.100.1')).toBe(401);
      expect(await refused(url!, '127.0.0.3', '198.51.100.2')).toBe(401);
      let froms: string[] = [];
      await eventually(async () => {
        const res = await fetch(`${url!}/v1/audit?action=auth.refused`, { headers: { authorization: `Bearer ${ADMIN}` } });
        froms = ((await res.json()) as { entries: Array<{ from?: string }> }).entries.map((e) => e.from ?? '');
        return froms.length >= 2;
      }, 'both refusals in the audit trail');
      expect(froms.sort()).toEqual(['127.0.0.3', '198.51.100.1']);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 60_000);
});
