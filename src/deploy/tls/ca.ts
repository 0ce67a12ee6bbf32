/**
 * A private certificate authority for the NATS links of a planned deployment: one CA, one
 * certificate per server, made with @peculiar/x509 over Node's WebCrypto (no hand-rolled ASN.1 or
 * crypto). Keys are ECDSA P-256, which nats-server (Go crypto/tls) and Node's TLS both accept, and
 * private keys are PKCS#8 PEM ("PRIVATE KEY").
 *
 * Server certificates carry both serverAuth and clientAuth: a server is the TLS client when it
 * dials a route or a gateway, and route/gateway TLS uses `verify: true` (mutual TLS), so each
 * side proves it holds a certificate from this CA.
 */
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import './reflect.js';
import * as x509 from '@peculiar/x509';

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
const crypto = webcrypto;

export interface CertificateAuthority {
  /** PEM certificate (public). */
  readonly certPem: string;
  /** PKCS#8 PEM private key (secret). */
  readonly keyPem: string;
  readonly cert: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

export interface IssuedCert {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertRequest {
  /** Subject common name. */
  readonly commonName: string;
  /** DNS names and IP addresses the certificate is valid for. */
  readonly names: readonly string[];
  readonly validDays?: number;
}

function pemKey(der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** Random serial, positive (high bit clear), 16 bytes. */
function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // An hour of slack for clocks that are slightly behind the planning machine.
  const now = Date.now();
  return { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + days * DAY_MS) };
}

/** A new self-signed CA (10 years). */
export async function createCa(commonName = 'Meridian NATS CA', validDays = 3650): Promise<CertificateAuthority> {
  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${commonName}, O=Meridian`,
      ...validity(validDays),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const keyPem = pemKey(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem'), keyPem, cert, keys };
}

/** A server certificate signed by `ca`, valid for every name in `req.names` (2 years by default). */
export async function issueCert(ca: CertificateAuthority, req: CertRequest): Promise<IssuedCert> {
  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const names = [...new Set(req.names)].map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=${req.commonName}, O=Meridian`,
      issuer: ca.cert.subject,
      ...validity(req.validDays ?? 730),
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const keyPem = pemKey(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem'), keyPem };
}

/** A CA from its PEM certificate and PKCS#8 PEM key (a previous plan's `tls/ca.pem` + `tls/ca-key.pem`). */
export async function loadCa(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(certPem);
  const der = x509.PemConverter.decodeFirst(keyPem);
  const privateKey = await crypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
  const publicKey = await crypto.subtle.importKey('spki', cert.publicKey.rawData, ALG, true, ['verify']);
  return { certPem: cert.toString('pem'), keyPem, cert, keys: { privateKey, publicKey } };
}
