/**
 * Nebula's PKI, made by the real `nebula-cert` (Debian package `nebula`) rather than by our own
 * code: Nebula certificates are its own protobuf format signed with Ed25519, and the tool that
 * ships with the daemon is the one format authority. We run it in a private temp dir, read the
 * files back and delete the dir; nothing is kept on disk but what the plan writes (0600).
 *
 * An existing CA (the plan's own `vpn/ca.crt` + `vpn/ca.key` from an earlier run) is reused, so
 * re-planning signs new host certificates that the running mesh still trusts; so are existing
 * host keys (`vpn/<host>.key`): their public key goes to `nebula-cert sign -in-pub`, so a host
 * keeps its key and only its certificate is re-signed.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, MeridianError } from '../../errors/mod.js';

const run = promisify(execFile);

/** The binary: `nebula-cert` on PATH, or MERIDIAN_NEBULA_CERT (read per call). */
export function nebulaCertBinary(): string {
  return process.env['MERIDIAN_NEBULA_CERT'] ?? 'nebula-cert';
}

export interface NebulaCa {
  readonly crt: string;
  readonly key: string;
}

export interface HostCertRequest {
  readonly name: string;
  /** `overlayIp/bits`: the bits are the whole overlay's, so one route covers the mesh. */
  readonly ip: string;
  readonly groups: readonly string[];
}

export interface NebulaPki {
  readonly ca: NebulaCa;
  /** By host name. */
  readonly hosts: ReadonlyMap<string, { readonly crt: string; readonly key: string }>;
}

async function nebulaCert(args: string[], cwd: string): Promise<void> {
  const NEBULA_CERT = nebulaCertBinary();
  try {
    await run(NEBULA_CERT, args, { cwd, timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === 'ENOENT') {
      throw new MeridianError(ErrorCode.NotAvailable, `${NEBULA_CERT} not found: install the Debian package "nebula" (apt-get install nebula) or set MERIDIAN_NEBULA_CERT`, {
        cause: err,
        details: { binary: NEBULA_CERT, package: 'nebula' },
      });
    }
    throw new MeridianError(ErrorCode.InvalidArgument, `nebula-cert ${args[0] ?? ''} failed: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: err, details: { args } });
  }
}

const PRIVATE_PEM = /^-----BEGIN NEBULA X25519 PRIVATE KEY-----\n([A-Za-z0-9+/=\n]+)-----END NEBULA X25519 PRIVATE KEY-----\n?$/;
/** PKCS#8 prefix of an X25519 private key (RFC 8410): node's crypto derives the public key from it. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * The public key file (`nebula-cert keygen -out-pub` format) of a Nebula host key, or undefined
 * when `keyPem` is not a Nebula X25519 private key. The derivation is node's X25519 (OpenSSL).
 */
export function nebulaPublicKey(keyPem: string): string | undefined {
  const m = PRIVATE_PEM.exec(keyPem.trim() + '\n');
  if (m === null) return undefined;
  const raw = Buffer.from(m[1]!.replace(/\n/g, ''), 'base64');
  if (raw.length !== 32) return undefined;
  try {
    const priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
    const x = (createPublicKey(priv).export({ format: 'jwk' }) as { x?: string }).x;
    if (x === undefined) return undefined;
    return `-----BEGIN NEBULA X25519 PUBLIC KEY-----\n${Buffer.from(x, 'base64url').toString('base64')}\n-----END NEBULA X25519 PUBLIC KEY-----\n`;
  } catch {
    return undefined;
  }
}

/**
 * A CA limited to the overlay CIDR and the groups the plan uses (so a leaked CA key cannot mint
 * certificates outside them), then one certificate per host.
 */
export async function makeNebulaPki(opts: {
  readonly caName: string;
  readonly cidr: string;
  readonly groups: readonly string[];
  readonly hosts: readonly HostCertRequest[];
  /** Reuse this CA instead of making one. */
  readonly existingCa?: NebulaCa;
  /** Keep these hosts' keys (host name → `.key` file content): only their certificates are signed anew. */
  readonly existingKeys?: ReadonlyMap<string, string>;
  /** CA lifetime (nebula-cert duration, e.g. 26280h = 3 years); host certs end 1 s before it. */
  readonly caDuration?: string;
}): Promise<NebulaPki> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-nebula-'));
  try {
    await chmod(dir, 0o700);
    if (opts.existingCa !== undefined) {
      await writeFile(join(dir, 'ca.crt'), opts.existingCa.crt, { mode: 0o600 });
      await writeFile(join(dir, 'ca.key'), opts.existingCa.key, { mode: 0o600 });
      // A CA from an earlier plan may predate a group (e.g. meridian-ops): nebula-cert would refuse
      // to sign it with a bare "group not present on the signing ca"; say what to do instead.
      const printed = await run(nebulaCertBinary(), ['print', '-json', '-path', 'ca.crt'], { cwd: dir, timeout: 30_000 }).catch(() => undefined);
      const caGroups = printed === undefined ? undefined : (JSON.parse(printed.stdout) as { details?: { groups?: string[] } }).details?.groups;
      const missing = caGroups === undefined || caGroups.length === 0 ? [] : [...new Set(opts.hosts.flatMap((h) => h.groups))].filter((g) => !caGroups.includes(g));
      if (missing.length > 0) {
        throw new MeridianError(ErrorCode.InvalidArgument, `the existing Nebula CA (vpn/ca.crt) does not allow the group${missing.length === 1 ? '' : 's'} ${missing.join(', ')} this plan signs: delete vpn/ca.crt and vpn/ca.key to make a new CA (then install every host's new certificate), or plan without those hosts`, { details: { missing } });
      }
    } else {
      await nebulaCert(['ca', '-name', opts.caName, '-ips', opts.cidr, '-groups', opts.groups.join(','), '-duration', opts.caDuration ?? '26280h', '-out-crt', 'ca.crt', '-out-key', 'ca.key'], dir);
    }
    const hosts = new Map<string, { crt: string; key: string }>();
    for (const h of opts.hosts) {
      const crt = `${h.name}.crt`;
      const key = `${h.name}.key`;
      const kept = opts.existingKeys?.get(h.name);
      const pub = kept === undefined ? undefined : nebulaPublicKey(kept);
      if (kept !== undefined && pub === undefined) {
        throw new MeridianError(ErrorCode.InvalidArgument, `${key} does not hold a Nebula X25519 private key (delete it to make a new one)`, { details: { host: h.name } });
      }
      const sign = ['sign', '-ca-crt', 'ca.crt', '-ca-key', 'ca.key', '-name', h.name, '-ip', h.ip, '-groups', h.groups.join(','), '-out-crt', crt];
      if (pub !== undefined) {
        await writeFile(join(dir, `${h.name}.pub`), pub, { mode: 0o600 });
        await nebulaCert([...sign, '-in-pub', `${h.name}.pub`], dir);
      } else {
        await nebulaCert([...sign, '-out-key', key], dir);
      }
      hosts.set(h.name, { crt: await readFile(join(dir, crt), 'utf8'), key: kept ?? (await readFile(join(dir, key), 'utf8')) });
    }
    return { ca: { crt: await readFile(join(dir, 'ca.crt'), 'utf8'), key: await readFile(join(dir, 'ca.key'), 'utf8') }, hosts };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
