/**
 * Read the certificate a TLS endpoint presents, for its expiry. HTTPS endpoints start TLS at once;
 * a NATS client port (2.9) first sends a plain-text `INFO {...}` line and upgrades when the client
 * answers with a TLS handshake, so for `nats://`/`tls://` URLs the INFO line is read first: when
 * it says `tls_required` (or the URL is `tls://`) the same socket is upgraded, otherwise the
 * endpoint has no TLS and nothing is reported. The handshake never refuses a certificate: the
 * point is to see it, expired or not; with the operator's CA given, whether it chains to it is
 * reported as well.
 */
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { PeerCertificate, TLSSocket } from 'node:tls';

export interface PeerCert {
  readonly notAfter: string;
  readonly subjectCn?: string;
  readonly issuerCn?: string;
  readonly untrusted?: string;
}

/** A certificate name's CN (node gives an array when the name holds several). */
const cn = (x: PeerCertificate['subject'] | undefined): string | undefined => {
  const v: unknown = x?.CN;
  return Array.isArray(v) ? (v[0] as string | undefined) : typeof v === 'string' ? v : undefined;
};

function handshake(opts: { host: string; port: number; socket?: Socket }, timeoutMs: number, ca: string | undefined): Promise<PeerCert> {
  return new Promise((resolve, reject) => {
    const servername = isIP(opts.host) === 0 ? opts.host : undefined;
    const tls: TLSSocket = tlsConnect({ ...opts, ...(servername === undefined ? {} : { servername }), ...(ca === undefined ? {} : { ca }), rejectUnauthorized: false });
    const timer = setTimeout(() => fail(new Error(`TLS handshake timed out after ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      tls.destroy();
      reject(err);
    };
    tls.once('error', fail);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = tls.getPeerCertificate();
      tls.destroy();
      if (cert === undefined || cert.valid_to === undefined) return reject(new Error('no certificate presented'));
      // Judged only against the operator's CA: the system roots never know a deployment's own CA.
      const untrusted = ca === undefined || tls.authorized ? undefined : String(tls.authorizationError ?? 'not verified');
      const subjectCn = cn(cert.subject);
      const issuerCn = cn(cert.issuer);
      resolve({
        notAfter: new Date(cert.valid_to).toISOString(),
        ...(subjectCn === undefined ? {} : { subjectCn }),
        ...(issuerCn === undefined ? {} : { issuerCn }),
        ...(untrusted === undefined ? {} : { untrusted }),
      });
    });
  });
}

/** The certificate of an https:// endpoint. */
export function httpsCert(url: URL, timeoutMs: number, ca?: string): Promise<PeerCert> {
  return handshake({ host: url.hostname, port: Number(url.port || 443) }, timeoutMs, ca);
}

/** The certificate of a NATS client port, or null when the server does not use TLS there. */
export function natsCert(url: URL, timeoutMs: number, ca?: string): Promise<PeerCert | null> {
  const host = url.hostname;
  const port = Number(url.port || 4222);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    let head = '';
    const timer = setTimeout(() => done(new Error(`no INFO from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | null, value?: PeerCert | null): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (err !== null) {
        socket.destroy();
        reject(err);
      } else resolve(value ?? null);
    };
    socket.once('error', (e) => done(e));
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n');
      if (end < 0) {
        if (head.length > 64 * 1024) done(new Error('no INFO line: not a NATS server?'));
        return;
      }
      const line = head.slice(0, end);
      if (!line.startsWith('INFO ')) return done(new Error(`not a NATS server (it said "${line.slice(0, 40)}")`));
      let info: { tls_required?: boolean };
      try {
        info = JSON.parse(line.slice(5)) as { tls_required?: boolean };
      } catch {
        return done(new Error('unreadable INFO line'));
      }
      if (info.tls_required !== true && url.protocol !== 'tls:') {
        socket.destroy();
        return done(null, null);
      }
      if (info.tls_required !== true) return done(new Error('the URL says tls:// but the server does not offer TLS'));
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.removeAllListeners('error');
      handshake({ host, port, socket }, timeoutMs, ca).then(resolve, reject);
    });
  });
}
