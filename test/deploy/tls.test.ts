/**
 * The plan's CA and server certificates, checked by independent implementations: Node's
 * X509Certificate (OpenSSL) for names, usages and signatures, and a real TLS handshake with
 * mutual authentication (what NATS routes and gateways do).
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createCa, issueCert } from '../../src/deploy/tls/mod.js';

describe('deploy tls', () => {
  it('issues server certificates signed by the CA, for the names asked, usable as server and client', async () => {
    const ca = await createCa('Test CA');
    const issued = await issueCert(ca, { commonName: 'us-east-nats-0', names: ['us-east-nats-0', '10.77.1.10', '127.0.0.1', 'localhost'] });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(issued.certPem);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkIP('10.77.1.10')).toBe('10.77.1.10');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('us-east-nats-1')).toBeUndefined();
    expect(cert.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(issued.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 300 * 86_400_000);
  });

  it('completes a mutual TLS handshake between two holders of CA-signed certificates, and refuses a stranger', async () => {
    const ca = await createCa();
    const server = await issueCert(ca, { commonName: 's', names: ['127.0.0.1'] });
    const client = await issueCert(ca, { commonName: 'c', names: ['c'] });
    const other = await issueCert(await createCa('Other CA'), { commonName: 'x', names: ['x'] });
    const srv = createServer({ cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
    srv.on('tlsClientError', () => undefined);
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as AddressInfo).port;
    const dial = (cert: { certPem: string; keyPem: string }): Promise<string> =>
      new Promise((resolve) => {
        const s = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: cert.certPem, key: cert.keyPem }, () => undefined);
        let data = '';
        s.on('data', (d: Buffer) => (data += d.toString()));
        s.on('end', () => resolve(data));
        s.on('error', (e: Error) => resolve(`error: ${e.message}`));
      });
    try {
      expect(await dial(client)).toBe('ok');
      expect(await dial(other)).not.toBe('ok');
    } finally {
      srv.close();
    }
  });
});
