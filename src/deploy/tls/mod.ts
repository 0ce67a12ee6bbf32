/**
 * TLS material of a plan: `tls/ca.pem` (public), `tls/ca-key.pem` (secret) and per server
 * `tls/<host>.pem` + `tls/<host>-key.pem` (secret), from a CA generated for the plan, or from the
 * operator's own PEM files (`deploy.nats.tls`), copied under the same names so every consumer
 * (server configs, region nodes, Kubernetes secrets) finds them in one place.
 *
 * The CA is one secret of the plan (`tls/ca`), so planning several targets signs with one CA.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { PlanContext, PlannedFile } from '../types.js';
import { createCa, issueCert, loadCa } from './ca.js';
import type { CertificateAuthority } from './ca.js';

export { createCa, issueCert, loadCa } from './ca.js';
export type { CertificateAuthority, IssuedCert, CertRequest } from './ca.js';

export interface TlsSubject {
  /** Inventory host name; becomes the file names and the certificate's common name. */
  readonly host: string;
  /** DNS names and IPs the certificate must be valid for. */
  readonly names: readonly string[];
}

export function planCa(ctx: Pick<PlanContext, 'secrets'>): Promise<CertificateAuthority> {
  return ctx.secrets.get('tls/ca', () => createCa());
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Re-planning into a previous plan's directory (`--force`) keeps its CA, so the CA file already
 * on every region node stays valid and only server certificates are re-issued. Returns true when
 * a CA was found. Delete `tls/ca.pem` and `tls/ca-key.pem` to rotate it.
 */
export async function reuseCa(ctx: Pick<PlanContext, 'secrets' | 'outDir' | 'topology'>): Promise<boolean> {
  if (ctx.topology.deploy.nats.tls !== undefined) return false;
  const [cert, key] = await Promise.all([readIfThere(join(ctx.outDir, 'tls', 'ca.pem')), readIfThere(join(ctx.outDir, 'tls', 'ca-key.pem'))]);
  if (cert === undefined || key === undefined) return false;
  let ca: CertificateAuthority;
  try {
    ca = await loadCa(cert, key);
  } catch (err) {
    throw new MeridianError(ErrorCode.InvalidArgument, `cannot reuse the CA in ${join(ctx.outDir, 'tls')}: ${(err as Error).message} (delete tls/ca.pem and tls/ca-key.pem to make a new one)`, { cause: err });
  }
  void ctx.secrets.get('tls/ca', () => Promise.resolve(ca));
  return true;
}

export async function planTls(ctx: Pick<PlanContext, 'secrets' | 'topology'>, subjects: readonly TlsSubject[]): Promise<PlannedFile[]> {
  const provided = ctx.topology.deploy.nats.tls;
  if (provided !== undefined) {
    // Read errors are reported by the NATS checks (located at deploy.nats.tls.*) before this runs.
    const [ca, cert, key] = await Promise.all([readFile(provided.ca, 'utf8'), readFile(provided.cert, 'utf8'), readFile(provided.key, 'utf8')]);
    return [
      { path: 'tls/ca.pem', content: ca, about: 'the CA that signed your certificate (deploy.nats.tls.ca): every NATS server and region node' },
      ...subjects.flatMap((s) => [
        { path: `tls/${s.host}.pem`, content: cert, about: `${s.host}: its certificate (your deploy.nats.tls.cert)` },
        { path: `tls/${s.host}-key.pem`, content: key, secret: true, about: `${s.host} only: its private key (your deploy.nats.tls.key)` },
      ]),
    ];
  }
  const ca = await planCa(ctx);
  const files: PlannedFile[] = [
    { path: 'tls/ca.pem', content: ca.certPem, about: 'CA certificate: every NATS server (/etc/nats/tls/ca.pem) and region node (/etc/meridian/tls/ca.pem)' },
    { path: 'tls/ca-key.pem', content: ca.keyPem, secret: true, about: 'CA private key: keep offline; only needed to sign new server certificates' },
  ];
  for (const s of subjects) {
    const issued = await ctx.secrets.get(`tls/cert/${s.host}`, () => issueCert(ca, { commonName: s.host, names: s.names }));
    files.push(
      { path: `tls/${s.host}.pem`, content: issued.certPem, about: `${s.host} only: /etc/nats/tls/${s.host}.pem (valid for ${s.names.join(', ')})` },
      { path: `tls/${s.host}-key.pem`, content: issued.keyPem, secret: true, about: `${s.host} only: /etc/nats/tls/${s.host}-key.pem` },
    );
  }
  return files;
}
