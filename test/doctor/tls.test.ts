import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/deploy/tls/reflect.js';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnose } from '../../src/doctor/mod.js';
import { freePorts, NatsServerProcess } from '../../src/testing/mod.js';
import { describeWithNats } from '../bus/nats-env.js';
import { topology } from './fixtures.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const DAY = 86_400_000;

/** A self-signed P-256 certificate for 127.0.0.1 that expires `days` from now. */
async function makeCert(days: number, cn: string): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + days * DAY),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
}

const certs = new Map<string, string>();

async function httpsNode(days: number, cn: string): Promise<Server> {
  const { cert, key } = await makeCert(days, cn);
  certs.set(cn, cert);
  const server = createServer({ cert, key }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/ready' ? { ready: true, region: 'us-east', node: cn } : { status: 'ok', region: 'us-east', node: cn }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const urlOf = (s: Server): string => `https://127.0.0.1:${(s.address() as AddressInfo).port}`;

describe('doctor: TLS certificates of https endpoints', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  it('reads each certificate and grades its days left: ok, warn under 30, FAIL under 7', async () => {
    for (const [days, cn] of [[90, 'fresh'], [20, 'aging'], [5.5, 'expiring']] as const) servers.push(await httpsNode(days, cn));
    const [fresh, aging, expiring] = servers.map(urlOf);
    const { lines } = await diagnose({
      topology: topology(),
      natsMonitors: [],
      regionNodes: [{ region: 'us-east', url: fresh! }],
      natsClients: [],
      timeoutMs: 3000,
      ca: certs.get('fresh')!,
    });
    // The node behind TLS answers: the probe went through https.
    expect(lines.find((l) => l.check === 'region node' && l.subject.startsWith('us-east'))).toMatchObject({ verdict: 'ok', detail: 'ready (node fresh)' });
    const cert = lines.find((l) => l.check === 'tls cert');
    expect(cert).toMatchObject({ verdict: 'ok', subject: `region node us-east ${new URL(fresh!).host}` });
    expect(cert!.detail).toMatch(/^89 days left \(until \d{4}-\d\d-\d\d\); CN=fresh, issuer fresh$/);

    const more = await diagnose({ topology: topology(), natsMonitors: [{ region: 'eu-west', url: aging! }], regionNodes: [{ region: 'ap-southeast', url: expiring! }], natsClients: [] });
    const graded = more.lines.filter((l) => l.check === 'tls cert').map((l) => `${l.subject.split(' ').slice(0, 3).join(' ')}: ${l.verdict} ${l.detail.split(' (')[0]}`);
    expect(graded).toEqual(['NATS monitor eu-west: warn 19 days left', 'region node ap-southeast: FAIL 5 days left']);
    // Without the CA the https probes themselves fail, and say what to do.
    expect(more.lines.find((l) => l.check === 'region node')!.detail).toBe('unreachable: DEPTH_ZERO_SELF_SIGNED_CERT (a private CA? pass it with --ca FILE)');
  });

  it('fails a certificate that does not chain to the CA given', async () => {
    const { lines } = await diagnose({ topology: topology(), natsMonitors: [], regionNodes: [{ region: 'us-east', url: urlOf(servers[1]!) }], natsClients: [], ca: certs.get('fresh')! });
    expect(lines.find((l) => l.check === 'tls cert')).toMatchObject({ verdict: 'FAIL', detail: 'not signed by the --ca certificate: DEPTH_ZERO_SELF_SIGNED_CERT' });
  });
});

describeWithNats('doctor: TLS certificate of a NATS client port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-doctor-tls-'));
  const procs: NatsServerProcess[] = [];
  let tlsUrl = '';
  let plainUrl = '';
  beforeAll(async () => {
    const { cert, key } = await makeCert(20, 'us-east-nats-0');
    writeFileSync(join(dir, 'cert.pem'), cert);
    writeFileSync(join(dir, 'key.pem'), key);
    const [p1, h1, p2, h2] = (await freePorts(4)) as [number, number, number, number];
    const conf = (port: number, http: number, tls: boolean): string =>
      [`listen: "127.0.0.1:${port}"`, `http: "127.0.0.1:${http}"`, ...(tls ? [`tls { cert_file: ${JSON.stringify(join(dir, 'cert.pem'))}, key_file: ${JSON.stringify(join(dir, 'key.pem'))} }`] : [])].join('\n') + '\n';
    writeFileSync(join(dir, 'tls.conf'), conf(p1, h1, true));
    writeFileSync(join(dir, 'plain.conf'), conf(p2, h2, false));
    procs.push(new NatsServerProcess({ configFile: join(dir, 'tls.conf'), logFile: join(dir, 'tls.log'), httpUrl: `http://127.0.0.1:${h1}` }));
    procs.push(new NatsServerProcess({ configFile: join(dir, 'plain.conf'), logFile: join(dir, 'plain.log'), httpUrl: `http://127.0.0.1:${h2}` }));
    await Promise.all(procs.map((p) => p.start()));
    tlsUrl = `nats://127.0.0.1:${p1}`;
    plainUrl = `nats://127.0.0.1:${p2}`;
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades after the INFO line to read the certificate, and skips a port without TLS', async () => {
    const { snapshot, lines } = await diagnose({
      topology: topology(),
      natsMonitors: [],
      natsClients: [
        { region: 'us-east', url: tlsUrl },
        { region: 'eu-west', url: plainUrl },
      ],
    });
    expect(snapshot.certs).toHaveLength(1);
    expect(lines).toEqual([expect.objectContaining({ check: 'tls cert', subject: `NATS client us-east ${new URL(tlsUrl).host}`, verdict: 'warn' })]);
    expect(lines[0]!.detail).toMatch(/^19 days left .*CN=us-east-nats-0/);
  });

  it('fails a tls:// URL whose server offers no TLS', async () => {
    const { lines } = await diagnose({ topology: topology(), natsMonitors: [], natsClients: [{ region: 'eu-west', url: plainUrl.replace('nats:', 'tls:') }] });
    expect(lines).toEqual([expect.objectContaining({ verdict: 'FAIL', detail: 'the URL says tls:// but the server does not offer TLS' })]);
  });
});
