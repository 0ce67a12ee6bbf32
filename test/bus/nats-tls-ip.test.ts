// A region node dialing its NATS server by IP address over TLS (overlay and VPN deployments):
// nats.js sends no server name for an IP, and Node then checked the certificate against
// "localhost". The certificate below names only 127.0.0.1: the bus connects, and refuses a
// certificate naming another address.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import { createCa, issueCert } from '../../src/deploy/tls/mod.js';
import { NatsServerProcess } from '../../src/testing/nats-server.js';
import { freePorts } from '../../src/testing/ports.js';
import { describeWithNats } from './nats-env.js';

describeWithNats('NATS over TLS by IP address', () => {
  let dir: string;
  const servers: NatsServerProcess[] = [];
  let ca: string;
  const urls: Record<string, string> = {};
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mrd-tls-ip-'));
    const authority = await createCa('tls-ip test CA');
    ca = authority.certPem;
    for (const [name, names] of [['right', ['127.0.0.1']], ['wrong', ['10.9.9.9', 'elsewhere.example']]] as const) {
      const cert = await issueCert(authority, { commonName: name, names });
      const [port, http] = (await freePorts(2)) as [number, number];
      await writeFile(join(dir, `${name}.pem`), cert.certPem);
      await writeFile(join(dir, `${name}-key.pem`), cert.keyPem);
      await writeFile(join(dir, 'ca.pem'), ca);
      const conf = join(dir, `${name}.conf`);
      await writeFile(conf, `listen: "127.0.0.1:${port}"\nhttp: "127.0.0.1:${http}"\ntls { cert_file: ${JSON.stringify(join(dir, `${name}.pem`))}, key_file: ${JSON.stringify(join(dir, `${name}-key.pem`))} }\n`);
      const p = new NatsServerProcess({ configFile: conf, logFile: join(dir, `${name}.log`), httpUrl: `http://127.0.0.1:${http}` });
      await p.start();
      await p.waitHealthy();
      servers.push(p);
      urls[name] = `tls://127.0.0.1:${port}`;
    }
  }, 30_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('connects when the certificate names the IP it dialed', async () => {
    const bus = await connectNatsBus({ region: 'r', servers: [urls['right']!], tls: { ca }, maxReconnectAttempts: 0 });
    const got = new Promise<string>((resolve) => bus.subscribe('mrd.sys.ping.r', (m) => resolve(new TextDecoder().decode(m.data))));
    await new Promise((r) => setTimeout(r, 50));
    bus.publish('mrd.sys.ping.r', new TextEncoder().encode('over tls'));
    expect(await got).toBe('over tls');
    await bus.close();
  });

  it('refuses a certificate that names other addresses', async () => {
    await expect(connectNatsBus({ region: 'r', servers: [urls['wrong']!], tls: { ca }, maxReconnectAttempts: 0 })).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
  });
});
